// Where the domain names sit inside the RDATA of the types whose names matter to the wire layer: the
// ones a sender may compress (RFC 1035, RFC 3597 §4) and the ones RFC 4034 §6.2 / RFC 6840 §5.1 lowercase
// in canonical form. One table drives both decompression (message.ts) and canonicalisation (canonical.ts).
import { WireError } from '../util/errors';
import { copyNameWire, expandedEnd, MAX_NAME_WIRE, readNameWire } from './name';

/** A field: a domain name, a fixed number of bytes, a <character-string>, or the rest of the RDATA. */
export type Field = 'name' | number | 'string' | 'rest';

export const LAYOUT: ReadonlyMap<number, readonly Field[]> = new Map<number, readonly Field[]>([
  [2, ['name']], // NS
  [3, ['name']], // MD
  [4, ['name']], // MF
  [5, ['name']], // CNAME
  [6, ['name', 'name', 20]], // SOA
  [7, ['name']], // MB
  [8, ['name']], // MG
  [9, ['name']], // MR
  [12, ['name']], // PTR
  [14, ['name', 'name']], // MINFO
  [15, [2, 'name']], // MX
  [17, ['name', 'name']], // RP
  [18, [2, 'name']], // AFSDB
  [21, [2, 'name']], // RT
  [24, [18, 'name', 'rest']], // SIG
  [26, [2, 'name', 'name']], // PX
  [30, ['name', 'rest']], // NXT
  [33, [6, 'name']], // SRV
  [35, [4, 'string', 'string', 'string', 'name']], // NAPTR
  [36, [2, 'name']], // KX
  [39, ['name']], // DNAME
  [46, [18, 'name', 'rest']], // RRSIG
  [47, ['name', 'rest']], // NSEC
]);

/**
 * Types whose RDATA names may arrive compressed: RFC 1035 well-known types, plus on receipt the ones
 * RFC 3597 §4 lists (RP, AFSDB, RT, SIG, PX, NXT, NAPTR, SRV) and DNAME, which some old servers
 * compressed. KX, RRSIG and NSEC names are never compressed (RFC 2230, RFC 4034 §3.1.7/§4.1.1).
 */
export const DECOMPRESS_TYPES: ReadonlySet<number> = new Set([2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15, 17, 18, 21, 24, 26, 30, 33, 35, 39]);

/**
 * Walks RDATA [start, end) of `buf` along `fields`, calling `onName` with each name's uncompressed wire
 * form and `onBytes` with the other spans, in order. Names may point anywhere earlier in `buf` when
 * `allowPointers` (a whole message); otherwise `buf` is the RDATA itself. Throws WireError when the
 * RDATA does not fit the layout exactly.
 */
export function walkRdata(
  buf: Uint8Array,
  start: number,
  end: number,
  fields: readonly Field[],
  onName: (wire: Uint8Array) => unknown,
  onBytes: (bytes: Uint8Array) => unknown,
  allowPointers: boolean,
): void {
  let p = start;
  for (const f of fields) {
    if (f === 'name') {
      const { wire, next } = readNameWire(buf, p, end, allowPointers);
      onName(wire);
      p = next;
    } else if (f === 'string') {
      if (p >= end) throw new WireError('rdata', 'character-string runs past RDLENGTH');
      const n = 1 + buf[p]!;
      if (p + n > end) throw new WireError('rdata', 'character-string runs past RDLENGTH');
      onBytes(buf.subarray(p, p + n));
      p += n;
    } else if (f === 'rest') {
      onBytes(buf.subarray(p, end));
      p = end;
    } else {
      if (p + f > end) throw new WireError('rdata', `RDATA shorter than its fixed fields`);
      onBytes(buf.subarray(p, p + f));
      p += f;
    }
  }
  if (p !== end) throw new WireError('rdlength', `RDLENGTH leaves ${end - p} unexplained bytes`);
}

/** Scratch for expandRdata: the expanded RDATA is copied out of it (slice) before expandRdata returns. */
let expanded = new Uint8Array(0x10000 + 4 * MAX_NAME_WIRE);

/**
 * Copies RDATA out of a message with every compressed name expanded. The same walk and checks as
 * walkRdata, written straight into one buffer (this runs for every NS, CNAME, SOA, MX... in a response).
 */
export function expandRdata(type: number, msg: Uint8Array, start: number, end: number): Uint8Array {
  const fields = DECOMPRESS_TYPES.has(type) ? LAYOUT.get(type) : undefined;
  if (!fields) return msg.slice(start, end);
  // Room for the RDATA with each of its (at most 3) names grown to the longest a name can be.
  if (end - start + 4 * MAX_NAME_WIRE > expanded.length) expanded = new Uint8Array(end - start + 4 * MAX_NAME_WIRE);
  const out = expanded;
  let p = start;
  let o = 0;
  for (const f of fields) {
    if (f === 'name') {
      p = copyNameWire(msg, p, end, true, out, o);
      o = expandedEnd();
      continue;
    }
    let n: number;
    if (f === 'string') {
      if (p >= end) throw new WireError('rdata', 'character-string runs past RDLENGTH');
      n = 1 + msg[p]!;
      if (p + n > end) throw new WireError('rdata', 'character-string runs past RDLENGTH');
    } else if (f === 'rest') {
      n = end - p;
    } else {
      if (p + f > end) throw new WireError('rdata', `RDATA shorter than its fixed fields`);
      n = f;
    }
    out.set(msg.subarray(p, p + n), o);
    o += n;
    p += n;
  }
  if (p !== end) throw new WireError('rdlength', `RDLENGTH leaves ${end - p} unexplained bytes`);
  return out.slice(0, o);
}
