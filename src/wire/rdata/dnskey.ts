// DNSKEY RDATA, RFC 4034 §2.1 (also CDNSKEY, RFC 7344).
import { checkUint, Out, Reader } from '../bytes';
import type { Codec } from '../codec';

export interface Dnskey {
  flags: number;
  protocol: number;
  algorithm: number;
  publicKey: Uint8Array;
}

export const dnskey: Codec<Dnskey> = {
  encodingLength: (v) => 4 + v.publicKey.length,
  encode: (v, out, at) =>
    new Out(out, at)
      .u16(checkUint(v.flags, 16, 'flags'))
      .u8(checkUint(v.protocol, 8, 'protocol'))
      .u8(checkUint(v.algorithm, 8, 'algorithm'))
      .bytes(v.publicKey).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'DNSKEY');
    const value = { flags: r.u16(), protocol: r.u8(), algorithm: r.u8(), publicKey: r.rest() };
    return { value, next: r.p };
  },
};
