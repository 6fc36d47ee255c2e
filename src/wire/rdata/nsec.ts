// NSEC RDATA, RFC 4034 §4.1. The next name keeps its case: RFC 6840 §5.1 takes NSEC out of the types whose
// RDATA names are lowercased for signing.
import { Out, Reader } from '../bytes';
import { encodeName } from '../name';
import type { Codec } from '../codec';
import type { Name } from '../types';
import { decodeTypeBitmap, encodeTypeBitmap } from './bitmap';

export interface Nsec {
  next: Name;
  types: number[];
}

export const nsec: Codec<Nsec> = {
  encodingLength: (v) => encodeName(v.next).length + encodeTypeBitmap(v.types).length,
  encode: (v, out, at) => new Out(out, at).bytes(encodeName(v.next)).bytes(encodeTypeBitmap(v.types)).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'NSEC');
    const next = r.name();
    return { value: { next, types: decodeTypeBitmap(b, r.p, end) }, next: end };
  },
};
