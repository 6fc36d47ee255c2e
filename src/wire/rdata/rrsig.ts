// RRSIG RDATA, RFC 4034 §3.1. The signer name is never compressed (§3.1.7) and keeps its case here; the
// canonical (lowercased) form for verification is built by canonical.ts.
import { checkUint, Out, Reader } from '../bytes';
import { encodeName } from '../name';
import type { Codec } from '../codec';
import type { Name } from '../types';

export interface Rrsig {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  /** Seconds since the epoch, mod 2^32 (compare with RFC 1982 serial arithmetic). */
  expiration: number;
  inception: number;
  keyTag: number;
  signerName: Name;
  signature: Uint8Array;
}

export const rrsig: Codec<Rrsig> = {
  encodingLength: (v) => 18 + encodeName(v.signerName).length + v.signature.length,
  encode: (v, out, at) =>
    new Out(out, at)
      .u16(checkUint(v.typeCovered, 16, 'type covered'))
      .u8(checkUint(v.algorithm, 8, 'algorithm'))
      .u8(checkUint(v.labels, 8, 'labels'))
      .u32(checkUint(v.originalTtl, 32, 'original TTL'))
      .u32(checkUint(v.expiration, 32, 'expiration'))
      .u32(checkUint(v.inception, 32, 'inception'))
      .u16(checkUint(v.keyTag, 16, 'key tag'))
      .bytes(encodeName(v.signerName))
      .bytes(v.signature).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'RRSIG');
    const value: Rrsig = {
      typeCovered: r.u16(),
      algorithm: r.u8(),
      labels: r.u8(),
      originalTtl: r.u32(),
      expiration: r.u32(),
      inception: r.u32(),
      keyTag: r.u16(),
      signerName: r.name(),
      signature: r.rest(),
    };
    return { value, next: r.p };
  },
};
