// What the primary's answer to our signed UPDATE means (RFC 2136 §2.2 rcodes, RFC 8945 §5.3 TSIG
// errors), as a typed outcome. An error answer whose TSIG does not check is still an error (at worst an
// attacker stops our update); a success is believed only when the server's MAC checks. Pure.
import { decodeMessage } from '../wire/message';
import type { Name } from '../wire/types';
import { PublishError } from './errors';
import { badTimeSkew, TsigError, verifyResponse, type TsigKey } from './tsig';

export interface SentUpdate {
  zone: Name;
  name: Name;
  key: TsigKey;
  requestMac: Uint8Array;
  timeSigned: number;
  fudge: number;
}

/** Returns when the update was applied; throws PublishError otherwise. */
export function checkUpdateAnswer(wire: Uint8Array, sent: SentUpdate, nowSec: number): void {
  const msg = decodeMessage(wire);
  const check = verifyResponse(wire, sent.key, sent.requestMac, nowSec);
  const tsigErr = 'tsig' in check ? check.tsig.error : 0;
  const key = sent.key.name;
  // BADKEY/BADSIG answers cannot be signed (§5.3.2); any other unsigned error might not be the server's.
  const note = check.ok || check.reason === 'unsigned-error' ? '' : ' (this answer is not signed with our key, so it may not be the server\'s)';

  if (tsigErr === TsigError.BADTIME && 'tsig' in check) {
    const skew = badTimeSkew(check.tsig, sent.timeSigned);
    const s = skew === undefined ? 'by an unknown amount' : `by ${skew} s (server ${skew > 0 ? 'ahead' : 'behind'})`;
    throw new PublishError('tsig-badtime', `the server rejected our TSIG time: its clock and ours differ ${s}, more than the fudge of ${sent.fudge} s; fix the clock (NTP) on one side${note}`, false, { skew, fudge: sent.fudge });
  }
  if (tsigErr === TsigError.BADKEY) {
    throw new PublishError('tsig-badkey', `the server does not know TSIG key ${key} with algorithm ${sent.key.algorithm}: check the key name and algorithm against its named.conf${note}`);
  }
  if (tsigErr === TsigError.BADSIG) {
    throw new PublishError('tsig-badsig', `the server could not verify our TSIG signature with key ${key}: the secret differs from the server's${note}`);
  }
  if (tsigErr !== 0) throw new PublishError('tsig-error', `the server answered with TSIG error ${tsigErr}${note}`);

  const zone = sent.zone || '.';
  switch (msg.rcode) {
    case 0:
      break;
    case 5:
      throw new PublishError('update-refused', `the server refused the update: its update-policy (or allow-update) does not let key ${key} change IPSECKEY at ${sent.name}, or updates to ${zone} are off${note}`);
    case 9:
      throw new PublishError('update-notauth', `the server is not authoritative for ${zone} (send the update to the zone's primary with --server)${note}`);
    case 10:
      throw new PublishError('update-notzone', `${sent.name} is not inside zone ${zone} (check --zone)${note}`);
    case 6:
    case 7:
    case 8:
      throw new PublishError('publish-conflict', `the IPSECKEY records at ${sent.name} changed after we read them (rcode ${msg.rcode}); nothing was applied: run the command again to see the new state${note}`);
    case 4:
      throw new PublishError('update-notimp', `the server does not accept DNS UPDATE${note}`);
    case 1:
      throw new PublishError('update-formerr', `the server could not parse the update (FORMERR)${note}`);
    case 2:
      throw new PublishError('update-servfail', `the server failed to apply the update (SERVFAIL); see its log${note}`);
    default:
      throw new PublishError('update-rcode', `the server answered rcode ${msg.rcode}${note}`);
  }
  if (!check.ok) {
    if (check.reason === 'unsigned') {
      throw new PublishError('tsig-response-unsigned', `the success answer carries no TSIG: we cannot tell whether ${sent.name} was updated; check with oedns lookup`, 'unknown');
    }
    const skew = check.reason === 'bad-time' ? ` (signed ${check.skew} s from our clock)` : '';
    throw new PublishError('tsig-response-bad', `the success answer's TSIG does not check (${check.reason}${skew}): we cannot tell whether ${sent.name} was updated; check with oedns lookup`, 'unknown');
  }
}
