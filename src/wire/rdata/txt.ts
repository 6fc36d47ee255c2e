// TXT RDATA, RFC 1035 §3.3.14: one or more <character-string>s, kept as bytes (TXT is not text).
import { WireError } from '../../util/errors';
import { Out, Reader } from '../bytes';
import type { Codec } from '../codec';

export const txt: Codec<Uint8Array[]> = {
  encodingLength: (v) => v.reduce((n, s) => n + 1 + s.length, 0),
  encode(v, out, at) {
    const o = new Out(out, at);
    for (const s of v) {
      if (s.length > 255) throw new WireError('rdata', 'TXT character-string longer than 255 bytes');
      o.u8(s.length).bytes(s);
    }
    return o.p;
  },
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'TXT');
    const value: Uint8Array[] = [];
    while (!r.done()) value.push(r.charString());
    if (value.length === 0) throw new WireError('rdata', 'TXT RDATA is empty');
    return { value, next: r.p };
  },
};
