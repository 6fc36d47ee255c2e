// Bounded readers and writers for RDATA codecs. Every read checks against `end` (the RDLENGTH bound), so a
// codec cannot wander past its record whatever the bytes say.
import { ParseError, WireError } from '../util/errors';
import type { Codec } from './codec';
import { readNameText } from './name';
import type { Name } from './types';

export class Reader {
  constructor(
    readonly b: Uint8Array,
    public p: number,
    readonly end: number,
    readonly what: string,
  ) {
    if (end > b.length || p > end) throw new WireError('rdlength', `${what} RDATA bounds lie outside the buffer`);
  }
  need(n: number): void {
    if (this.p + n > this.end) throw new WireError('rdata', `${this.what} RDATA is too short`);
  }
  u8(): number {
    this.need(1);
    return this.b[this.p++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.p]! << 8) | this.b[this.p + 1]!;
    this.p += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const b = this.b;
    const v = ((b[this.p]! << 24) | (b[this.p + 1]! << 16) | (b[this.p + 2]! << 8) | b[this.p + 3]!) >>> 0;
    this.p += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.b.slice(this.p, this.p + n);
    this.p += n;
    return v;
  }
  rest(): Uint8Array {
    return this.bytes(this.end - this.p);
  }
  /** An uncompressed name (DNSSEC and most other types forbid compression inside RDATA). */
  name(): Name {
    const { name, next } = readNameText(this.b, this.p, this.end);
    this.p = next;
    return name;
  }
  /** A <character-string>: length byte then bytes. */
  charString(): Uint8Array {
    return this.bytes(this.u8());
  }
  done(): boolean {
    return this.p >= this.end;
  }
}

export class Out {
  constructor(
    readonly b: Uint8Array,
    public p: number,
  ) {}
  u8(v: number): this {
    this.b[this.p++] = v;
    return this;
  }
  u16(v: number): this {
    this.b[this.p++] = v >>> 8;
    this.b[this.p++] = v & 0xff;
    return this;
  }
  u32(v: number): this {
    this.u16((v >>> 16) & 0xffff);
    return this.u16(v & 0xffff);
  }
  bytes(v: Uint8Array): this {
    this.b.set(v, this.p);
    this.p += v.length;
    return this;
  }
}

export function checkUint(v: number, bits: 8 | 16 | 32, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** bits - 1)
    throw new ParseError('out-of-range', `${field} ${v} is not a ${bits}-bit unsigned integer`);
  return v;
}

/** Byte for byte equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Decodes a whole RDATA with a codec, requiring it to consume exactly RDLENGTH bytes. */
export function decodeWith<T>(c: Codec<T>, rdata: Uint8Array, what: string): T {
  const { value, next } = c.decode(rdata, 0, rdata.length);
  if (next !== rdata.length) throw new WireError('rdlength', `${what} RDATA has ${rdata.length - next} trailing bytes`);
  return value;
}

export function encodeWith<T>(c: Codec<T>, v: T): Uint8Array {
  const out = new Uint8Array(c.encodingLength(v));
  c.encode(v, out, 0);
  return out;
}
