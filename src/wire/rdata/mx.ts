// MX RDATA, RFC 1035 §3.3.9.
import { checkUint, Out, Reader } from '../bytes';
import { encodeName } from '../name';
import type { Codec } from '../codec';
import type { Name } from '../types';

export interface Mx {
  preference: number;
  exchange: Name;
}

export const mx: Codec<Mx> = {
  encodingLength: (v) => 2 + encodeName(v.exchange).length,
  encode: (v, out, at) => new Out(out, at).u16(checkUint(v.preference, 16, 'preference')).bytes(encodeName(v.exchange)).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'MX');
    const value = { preference: r.u16(), exchange: r.name() };
    return { value, next: r.p };
  },
};
