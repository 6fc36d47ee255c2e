// DS RDATA, RFC 4034 §5.1 (also CDS, RFC 7344).
import { checkUint, Out, Reader } from '../bytes';
import type { Codec } from '../codec';

export interface Ds {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: Uint8Array;
}

export const ds: Codec<Ds> = {
  encodingLength: (v) => 4 + v.digest.length,
  encode: (v, out, at) =>
    new Out(out, at)
      .u16(checkUint(v.keyTag, 16, 'key tag'))
      .u8(checkUint(v.algorithm, 8, 'algorithm'))
      .u8(checkUint(v.digestType, 8, 'digest type'))
      .bytes(v.digest).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'DS');
    const value = { keyTag: r.u16(), algorithm: r.u8(), digestType: r.u8(), digest: r.rest() };
    return { value, next: r.p };
  },
};
