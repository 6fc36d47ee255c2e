// TSIG (RFC 8945): sign a request and check the server's signed answer, over whole wire messages.
// The MAC covers the message exactly as sent, so this works on bytes: encode first, then append the
// TSIG record and bump ARCOUNT (§4.3). Pure apart from node:crypto's HMAC; the time is passed in.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WireError } from '../util/errors';
import { concat, Out } from '../wire/bytes';
import { decodeHeader } from '../wire/message';
import { decodeName, encodeName, nameEquals } from '../wire/name';
import { readTime48, time48, tsig as tsigCodec, type Tsig } from '../wire/rdata/tsig';
import type { Name } from '../wire/types';

export { TsigError, type Tsig } from '../wire/rdata/tsig';

const TYPE_TSIG = 250;
const CLASS_ANY = 255;

/** Algorithm names as they go on the wire (RFC 8945 §6), with node's digest name and MAC length. */
export const TSIG_ALGORITHMS = {
  'hmac-md5.sig-alg.reg.int': { digest: 'md5', size: 16 },
  'hmac-sha1': { digest: 'sha1', size: 20 },
  'hmac-sha224': { digest: 'sha224', size: 28 },
  'hmac-sha256': { digest: 'sha256', size: 32 },
  'hmac-sha384': { digest: 'sha384', size: 48 },
  'hmac-sha512': { digest: 'sha512', size: 64 },
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKey {
  /** The key's name, which the server looks it up by (and update-policy grants to). */
  name: Name;
  algorithm: TsigAlgorithm;
  secret: Uint8Array;
}

/** Default fudge: BIND's and RFC 8945 §5.2.3's recommendation. */
export const DEFAULT_FUDGE = 300;

/** The TSIG variables of RFC 8945 §4.3.3 (names lowercased, class ANY, TTL 0). */
function variables(key: TsigKey, t: Pick<Tsig, 'timeSigned' | 'fudge' | 'error' | 'otherData'>): Uint8Array {
  const timers = new Uint8Array(8);
  new Out(timers, 0).bytes(time48(t.timeSigned)).u16(t.fudge);
  const head = new Uint8Array(6);
  new Out(head, 0).u16(CLASS_ANY).u32(0);
  const tail = new Uint8Array(4);
  new Out(tail, 0).u16(t.error).u16(t.otherData.length);
  return concat([
    encodeName(key.name, { lowercase: true }),
    head,
    encodeName(key.algorithm, { lowercase: true }),
    timers,
    tail,
    t.otherData,
  ]);
}

function hmac(key: TsigKey, parts: Uint8Array[]): Uint8Array {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm].digest, key.secret);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function withArcount(wire: Uint8Array, delta: number, id?: number): Uint8Array {
  const out = wire.slice();
  const ar = ((out[10]! << 8) | out[11]!) + delta;
  out[10] = ar >>> 8;
  out[11] = ar & 0xff;
  if (id !== undefined) {
    out[0] = id >>> 8;
    out[1] = id & 0xff;
  }
  return out;
}

function tsigRecord(key: TsigKey, t: Tsig): Uint8Array {
  const rdata = new Uint8Array(tsigCodec.encodingLength(t));
  tsigCodec.encode(t, rdata, 0);
  const head = new Uint8Array(10);
  new Out(head, 0).u16(TYPE_TSIG).u16(CLASS_ANY).u32(0).u16(rdata.length);
  return concat([encodeName(key.name, { lowercase: true }), head, rdata]);
}

/**
 * Signs an encoded request (no TSIG in it yet): returns the message to send and the MAC, which the
 * answer's MAC covers (§5.3).
 */
export function signRequest(wire: Uint8Array, key: TsigKey, nowSec: number, fudge = DEFAULT_FUDGE): { wire: Uint8Array; mac: Uint8Array } {
  const h = decodeHeader(wire);
  const t: Tsig = {
    algorithm: key.algorithm,
    timeSigned: Math.floor(nowSec),
    fudge,
    mac: new Uint8Array(0),
    originalId: h.id,
    error: 0,
    otherData: new Uint8Array(0),
  };
  t.mac = hmac(key, [wire, variables(key, t)]);
  return { wire: concat([withArcount(wire, 1), tsigRecord(key, t)]), mac: t.mac };
}

/** Where the last additional record starts, or -1 when there is none. Bounded by the header counts. */
function lastRecordOffset(wire: Uint8Array): number {
  const h = decodeHeader(wire);
  if (h.arcount === 0) return -1;
  let p = 12;
  for (let i = 0; i < h.qdcount; i++) p = decodeName(wire, p).next + 4;
  const records = h.ancount + h.nscount + h.arcount;
  let start = -1;
  for (let i = 0; i < records; i++) {
    start = p;
    const after = decodeName(wire, p).next;
    if (after + 10 > wire.length) throw new WireError('truncated', `record at offset ${p} is cut off`);
    p = after + 10 + ((wire[after + 8]! << 8) | wire[after + 9]!);
  }
  if (p !== wire.length) throw new WireError('trailing-data', 'bytes after the last record');
  return start;
}

/** The TSIG record of a message (the last additional record), or null when it carries none. */
export function findTsig(wire: Uint8Array): { keyName: Name; tsig: Tsig; at: number } | null {
  const at = lastRecordOffset(wire);
  if (at < 0) return null;
  const { name, next } = decodeName(wire, at);
  const type = (wire[next]! << 8) | wire[next + 1]!;
  if (type !== TYPE_TSIG) return null;
  const rdStart = next + 10;
  const { value } = tsigCodec.decode(wire, rdStart, wire.length);
  return { keyName: name, tsig: value, at };
}

/** What a check of the server's answer found. Only `ok` means the answer is the server's. */
export type ResponseCheck =
  | { ok: true; tsig: Tsig }
  /** No TSIG at all. */
  | { ok: false; reason: 'unsigned' }
  /** A TSIG with an empty MAC: the server could not check our request (BADKEY/BADSIG, §5.3.2). */
  | { ok: false; reason: 'unsigned-error'; tsig: Tsig }
  | { ok: false; reason: 'wrong-key' | 'bad-mac' | 'short-mac'; tsig: Tsig }
  /** MAC good, but signed outside the fudge window. `skew` = their time - ours, seconds. */
  | { ok: false; reason: 'bad-time'; tsig: Tsig; skew: number };

/**
 * Checks the answer to a request signed with `requestMac` (RFC 8945 §5.3): same key and algorithm,
 * MAC over (request MAC, answer without its TSIG and with the original id, TSIG variables), and the
 * time within the fudge. Our requests carry the full MAC, so the answer must too (§5.2.2.1: a
 * server answers with at least the request's MAC length): a truncated one is `short-mac`.
 */
export function verifyResponse(wire: Uint8Array, key: TsigKey, requestMac: Uint8Array, nowSec: number): ResponseCheck {
  const found = findTsig(wire);
  if (!found) return { ok: false, reason: 'unsigned' };
  const t = found.tsig;
  if (!nameEquals(found.keyName, key.name) || !nameEquals(t.algorithm, key.algorithm)) return { ok: false, reason: 'wrong-key', tsig: t };
  if (t.mac.length === 0) return { ok: false, reason: 'unsigned-error', tsig: t };
  const full = TSIG_ALGORITHMS[key.algorithm].size;
  if (t.mac.length !== full) return { ok: false, reason: 'short-mac', tsig: t };
  const reqLen = new Uint8Array(2);
  new Out(reqLen, 0).u16(requestMac.length);
  const body = withArcount(wire.subarray(0, found.at), -1, t.originalId);
  const mac = hmac(key, [reqLen, requestMac, body, variables(key, t)]).subarray(0, t.mac.length);
  if (!timingSafeEqual(mac, t.mac)) return { ok: false, reason: 'bad-mac', tsig: t };
  const skew = t.timeSigned - Math.floor(nowSec);
  if (Math.abs(skew) > t.fudge) return { ok: false, reason: 'bad-time', tsig: t, skew };
  return { ok: true, tsig: t };
}

/** The server's clock minus ours, from a BADTIME answer's other data (§5.2.3), if it carries it. */
export function badTimeSkew(t: Tsig, requestTimeSigned: number): number | undefined {
  if (t.otherData.length !== 6) return undefined;
  return readTime48(t.otherData) - requestTimeSigned;
}
