// SOA RDATA, RFC 1035 §3.3.13.
import { checkUint, Out, Reader } from '../bytes';
import { encodeName } from '../name';
import type { Codec } from '../codec';
import type { Name } from '../types';

export interface Soa {
  mname: Name;
  rname: Name;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export const soa: Codec<Soa> = {
  encodingLength: (v) => encodeName(v.mname).length + encodeName(v.rname).length + 20,
  encode(v, out, at) {
    const o = new Out(out, at).bytes(encodeName(v.mname)).bytes(encodeName(v.rname));
    for (const k of ['serial', 'refresh', 'retry', 'expire', 'minimum'] as const) o.u32(checkUint(v[k], 32, k));
    return o.p;
  },
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'SOA');
    const value: Soa = {
      mname: r.name(),
      rname: r.name(),
      serial: r.u32(),
      refresh: r.u32(),
      retry: r.u32(),
      expire: r.u32(),
      minimum: r.u32(),
    };
    return { value, next: r.p };
  },
};
