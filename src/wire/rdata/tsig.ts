// TSIG RDATA, RFC 8945 §4.2. TSIG is a meta-record (class ANY, TTL 0, last in the additional section)
// that carries a MAC over the message; src/publish/tsig.ts computes and checks that MAC. The algorithm
// name is never compressed (§4.2: "in canonical wire format"); Time Signed is a 48-bit count of seconds.
import { ParseError } from '../../util/errors';
import { checkUint, Out, Reader } from '../bytes';
import { encodeName } from '../name';
import type { Codec } from '../codec';
import type { Name } from '../types';

/** TSIG error field values (RFC 8945 §3, plus the DNS rcodes it may carry). */
export const TsigError = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

export interface Tsig {
  algorithm: Name;
  /** Seconds since the epoch, 48 bits. */
  timeSigned: number;
  /** Seconds of clock difference the signer allows. */
  fudge: number;
  mac: Uint8Array;
  /** The message id when it was signed (a forwarder may change the header's id). */
  originalId: number;
  error: number;
  /** With BADTIME: the server's time, 48 bits (RFC 8945 §5.2.3). */
  otherData: Uint8Array;
}

const MAX_48 = 2 ** 48 - 1;

export function checkTime48(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > MAX_48) throw new ParseError('out-of-range', `time ${v} does not fit 48 bits`);
  return v;
}

/** A 48-bit big-endian number as bytes (Time Signed, and the server time in BADTIME other data). */
export function time48(v: number): Uint8Array {
  checkTime48(v);
  const out = new Uint8Array(6);
  new Out(out, 0).u16(Math.floor(v / 2 ** 32)).u32(v % 2 ** 32);
  return out;
}

export function readTime48(b: Uint8Array, at = 0): number {
  return ((b[at]! << 8) | b[at + 1]!) * 2 ** 32 + (((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0);
}

export const tsig: Codec<Tsig> = {
  encodingLength: (v) => encodeName(v.algorithm).length + 16 + v.mac.length + v.otherData.length,
  encode: (v, out, at) =>
    new Out(out, at)
      .bytes(encodeName(v.algorithm, { lowercase: true }))
      .bytes(time48(v.timeSigned))
      .u16(checkUint(v.fudge, 16, 'fudge'))
      .u16(checkUint(v.mac.length, 16, 'MAC size'))
      .bytes(v.mac)
      .u16(checkUint(v.originalId, 16, 'original id'))
      .u16(checkUint(v.error, 16, 'error'))
      .u16(checkUint(v.otherData.length, 16, 'other len'))
      .bytes(v.otherData).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'TSIG');
    const algorithm = r.name();
    const t = r.bytes(6);
    const fudge = r.u16();
    const mac = r.bytes(r.u16());
    const originalId = r.u16();
    const error = r.u16();
    const otherData = r.bytes(r.u16());
    return { value: { algorithm, timeSigned: readTime48(t), fudge, mac, originalId, error, otherData }, next: r.p };
  },
};
