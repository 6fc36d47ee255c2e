// Queries to the zone's primary, signed with our TSIG key, whose answers count only when the server
// signed them over our query (named and Knot sign every answer to a query signed with a key they know).
// What publish reads at the primary decides what it sends and what it reports: the RRset the UPDATE's
// prerequisite names, the TTL that sets the rollover's waits, "already published", "secure". Unsigned,
// anyone on the path could choose that TTL, or replay a recorded signed answer (its RRSIGs stay valid
// for days) to make us report a key as published when it is not. A TSIG MAC covers our query's MAC,
// so an answer cannot be replayed, and every byte of it is the server's.
import { randomInt } from 'node:crypto';
import type { QueryFn } from '../dnssec/fetcher';
import { OednsError, TransportError } from '../util/errors';
import { decodeMessage, encodeMessage, makeQuery } from '../wire/message';
import { nameEquals } from '../wire/name';
import type { Message } from '../wire/types';
import { PublishError } from './errors';
import { badTimeSkew, DEFAULT_FUDGE, signRequest, TsigError, verifyResponse, type ResponseCheck, type TsigKey } from './tsig';

export interface SignedQueryIo {
  /** One message over TCP to `server`; resolves with the answer's bytes. */
  send(wire: Uint8Array): Promise<Uint8Array>;
  /** Unix seconds. */
  now(): number;
}

const TYPE_TSIG = 250;

/**
 * A QueryFn (RD off, DO and CD on: our validator judges) whose every answer carries a valid TSIG with
 * `key` over the query. Throws TransportError when no answer comes, PublishError `tsig-badkey`,
 * `tsig-badsig`, `tsig-badtime` when the server rejects our key, `read-unauthenticated` when the answer
 * is not signed over our query. The answer is returned without its TSIG record.
 */
export function signedQuery(where: string, key: TsigKey, io: SignedQueryIo, fudge = DEFAULT_FUDGE): QueryFn {
  return async (name, type) => {
    const q = makeQuery(name, type, { id: randomInt(0, 65536), rd: false, do: true, cd: true, udpSize: 1232 });
    const timeSigned = Math.floor(io.now());
    const signed = signRequest(encodeMessage(q), key, timeSigned, fudge);
    const wire = await io.send(signed.wire);
    let m: Message;
    try {
      m = decodeMessage(wire);
    } catch (e) {
      throw new TransportError('mismatch', `${where}: unreadable answer to ${name || '.'}/${type}: ${(e as Error).message}`, { cause: e });
    }
    const qq = m.questions[0]!;
    if (!m.qr || m.id !== q.id || m.questions.length !== 1 || !nameEquals(qq.name, name) || qq.type !== type || qq.class !== 1) {
      throw new TransportError('mismatch', `${where}: the answer does not match our query for ${name || '.'}/${type}`);
    }
    let check: ResponseCheck | { ok: false; reason: 'malformed' };
    try {
      check = verifyResponse(wire, key, signed.mac, io.now());
    } catch (e) {
      if (!(e instanceof OednsError)) throw e;
      check = { ok: false, reason: 'malformed' };
    }
    const tsig = 'tsig' in check ? check.tsig : undefined;
    const signedByServer = check.ok || check.reason === 'bad-time';
    const unsigned = signedByServer ? '' : " (that answer is not signed, so it may not be the server's)";
    if (tsig?.error === TsigError.BADTIME && signedByServer) {
      const skew = badTimeSkew(tsig, timeSigned);
      throw new PublishError(
        'tsig-badtime',
        `${where} rejected our TSIG time: its clock and ours differ ${skew === undefined ? 'by an unknown amount' : `by ${skew} s`}, more than the fudge of ${fudge} s; fix the clock (NTP) on one side`,
        false,
        { skew, fudge, authenticated: true },
      );
    }
    if (tsig?.error === TsigError.BADKEY) {
      throw new PublishError(
        'tsig-badkey',
        `${where} does not know TSIG key ${key.name} with algorithm ${key.algorithm}: check the key name and algorithm against its named.conf${unsigned}`,
        false,
        { authenticated: signedByServer },
      );
    }
    if (tsig?.error === TsigError.BADSIG) {
      throw new PublishError(
        'tsig-badsig',
        `${where} could not verify our TSIG signature with key ${key.name}: the secret differs from the server's${unsigned}`,
        false,
        { authenticated: signedByServer },
      );
    }
    if (!check.ok) {
      const why =
        check.reason === 'unsigned'
          ? 'carries no TSIG (a server that does not sign answers to signed queries, or someone on the path)'
          : `has a TSIG that does not check with key ${key.name} (${check.reason}${check.reason === 'bad-time' ? `, signed ${check.skew} s from our clock` : ''})`;
      throw new PublishError(
        'read-unauthenticated',
        `${where}: the answer to our signed query for ${name || '.'}/${type} ${why}: it is not used`,
        false,
        { authenticated: false },
      );
    }
    if (check.tsig.error !== 0)
      throw new PublishError('tsig-error', `${where} answered our signed query with TSIG error ${check.tsig.error}`, false, {
        authenticated: true,
      });
    return { ...m, additionals: m.additionals.filter((r) => r.type !== TYPE_TSIG) };
  };
}
