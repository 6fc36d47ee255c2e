// What the primary's answer to our signed UPDATE means (RFC 2136 §2.2 rcodes, RFC 8945 §5.3 TSIG
// errors), as a typed outcome. Only an answer whose MAC checks over our request's MAC is the server's
// (RFC 8945 §5.3.2: answers not validly signed SHOULD NOT be considered acceptable): then an error
// means nothing was applied (an UPDATE is applied whole or not at all). Any other error answer keeps
// its code, but the zone may have changed: anyone on the path could have sent it after dropping the
// server's success. Pure.
import { decodeMessage } from '../wire/message';
import type { Name } from '../wire/types';
import { PublishError, type PublishErrorCode } from './errors';
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
  // A MAC over our request's MAC is fresh and the server's even when its clock is off: that is how a
  // BADTIME answer comes (signed, §5.2.3).
  const authentic = check.ok || check.reason === 'bad-time';
  const tsig = 'tsig' in check ? check.tsig : undefined;
  const tsigErr = tsig?.error ?? 0;
  const key = sent.key.name;
  // The server cannot sign when it could not check our request (BADKEY/BADSIG with NOTAUTH, §5.2.2):
  // that unsigned form is what a real server sends, so it gets no "may be forged" note, but it is no
  // more authentic than any other unsigned answer.
  const unsignableError =
    !check.ok && check.reason === 'unsigned-error' && msg.rcode === 9 && (tsigErr === TsigError.BADKEY || tsigErr === TsigError.BADSIG);
  const note = authentic || unsignableError ? '' : " (this answer is not signed with our key, so it may not be the server's)";
  const fail = (code: PublishErrorCode, text: string, detail: Record<string, unknown> = {}): never => {
    throw new PublishError(code, `${text}${note}`, authentic ? false : 'unknown', { ...detail, authenticated: authentic });
  };

  if (tsigErr === TsigError.BADTIME) {
    if (!authentic)
      fail(
        'tsig-badtime',
        'an answer claims the server rejected our TSIG time (BADTIME), but a real BADTIME answer is signed; compare the clocks, and check with oedns lookup whether the update was applied',
        { fudge: sent.fudge },
      );
    const skew = badTimeSkew(tsig!, sent.timeSigned);
    const s = skew === undefined ? 'by an unknown amount' : `by ${skew} s (server ${skew > 0 ? 'ahead' : 'behind'})`;
    fail(
      'tsig-badtime',
      `the server rejected our TSIG time: its clock and ours differ ${s}, more than the fudge of ${sent.fudge} s; fix the clock (NTP) on one side`,
      { skew, fudge: sent.fudge },
    );
  }
  if (tsigErr === TsigError.BADKEY) {
    fail(
      'tsig-badkey',
      `the server does not know TSIG key ${key} with algorithm ${sent.key.algorithm}: check the key name and algorithm against its named.conf`,
    );
  }
  if (tsigErr === TsigError.BADSIG) {
    fail('tsig-badsig', `the server could not verify our TSIG signature with key ${key}: the secret differs from the server's`);
  }
  if (tsigErr !== 0) fail('tsig-error', `the server answered with TSIG error ${tsigErr}`);

  const zone = sent.zone || '.';
  switch (msg.rcode) {
    case 0:
      break;
    case 5:
      fail(
        'update-refused',
        `the server refused the update: its update-policy (or allow-update) does not let key ${key} change IPSECKEY at ${sent.name}, or updates to ${zone} are off`,
      );
      break;
    case 9:
      fail('update-notauth', `the server is not authoritative for ${zone} (send the update to the zone's primary with --server)`);
      break;
    case 10:
      fail('update-notzone', `${sent.name} is not inside zone ${zone} (check --zone)`);
      break;
    case 6:
    case 7:
    case 8:
      fail(
        'publish-conflict',
        `the IPSECKEY records at ${sent.name} changed after we read them (rcode ${msg.rcode})${authentic ? '; nothing was applied' : ''}: run the command again to see the new state`,
      );
      break;
    case 4:
      fail('update-notimp', 'the server does not accept DNS UPDATE');
      break;
    case 1:
      fail('update-formerr', 'the server could not parse the update (FORMERR)');
      break;
    case 2:
      fail('update-servfail', 'the server failed to apply the update (SERVFAIL); see its log');
      break;
    default:
      fail('update-rcode', `the server answered rcode ${msg.rcode}`);
  }
  if (!check.ok) {
    if (check.reason === 'unsigned') {
      throw new PublishError(
        'tsig-response-unsigned',
        `the success answer carries no TSIG: we cannot tell whether ${sent.name} was updated; check with oedns lookup`,
        'unknown',
        { authenticated: false },
      );
    }
    const skew = check.reason === 'bad-time' ? ` (signed ${check.skew} s from our clock)` : '';
    throw new PublishError(
      'tsig-response-bad',
      `the success answer's TSIG does not check (${check.reason}${skew}): we cannot tell whether ${sent.name} was updated; check with oedns lookup`,
      'unknown',
      { authenticated: false },
    );
  }
}
