// Address and single-name RDATA: A (RFC 1035 §3.4.1), AAAA (RFC 3596), and the types whose RDATA is one
// domain name (NS, CNAME, DNAME, PTR, ...).
import { WireError } from '../../util/errors';
import { Out, Reader } from '../bytes';
import { encodeName } from '../name';
import type { Codec } from '../codec';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../ip';
import type { Name } from '../types';

export const a: Codec<string> = {
  encodingLength: () => 4,
  encode: (v, out, at) => new Out(out, at).bytes(parseIPv4(v)).p,
  decode(b, at, end) {
    if (end - at !== 4) throw new WireError('rdata', `A RDATA is ${end - at} bytes, not 4`);
    return { value: formatIPv4(b.subarray(at, at + 4)), next: at + 4 };
  },
};

export const aaaa: Codec<string> = {
  encodingLength: () => 16,
  encode: (v, out, at) => new Out(out, at).bytes(parseIPv6(v)).p,
  decode(b, at, end) {
    if (end - at !== 16) throw new WireError('rdata', `AAAA RDATA is ${end - at} bytes, not 16`);
    return { value: formatIPv6(b.subarray(at, at + 16)), next: at + 16 };
  },
};

export const nameRdata: Codec<Name> = {
  encodingLength: (v) => encodeName(v).length,
  encode: (v, out, at) => new Out(out, at).bytes(encodeName(v)).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'name');
    const value = r.name();
    return { value, next: r.p };
  },
};
