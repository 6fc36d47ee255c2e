// NSEC3 and NSEC3PARAM RDATA, RFC 5155 §3.2 and §4.2.
import { WireError } from '../../util/errors';
import { checkUint, Out, Reader } from '../bytes';
import type { Codec } from '../codec';
import { decodeTypeBitmap, encodeTypeBitmap } from './bitmap';

export interface Nsec3 {
  hashAlgorithm: number;
  flags: number;
  iterations: number;
  salt: Uint8Array;
  nextHashed: Uint8Array;
  types: number[];
}

export interface Nsec3param {
  hashAlgorithm: number;
  flags: number;
  iterations: number;
  salt: Uint8Array;
}

function checkLen(b: Uint8Array, what: string, min: number): Uint8Array {
  if (b.length < min || b.length > 255) throw new WireError('rdata', `${what} length ${b.length} outside ${min}..255`);
  return b;
}

export const nsec3param: Codec<Nsec3param> = {
  encodingLength: (v) => 5 + v.salt.length,
  encode: (v, out, at) =>
    new Out(out, at)
      .u8(checkUint(v.hashAlgorithm, 8, 'hash algorithm'))
      .u8(checkUint(v.flags, 8, 'flags'))
      .u16(checkUint(v.iterations, 16, 'iterations'))
      .u8(checkLen(v.salt, 'salt', 0).length)
      .bytes(v.salt).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'NSEC3PARAM');
    const value = { hashAlgorithm: r.u8(), flags: r.u8(), iterations: r.u16(), salt: r.charString() };
    return { value, next: r.p };
  },
};

export const nsec3: Codec<Nsec3> = {
  encodingLength: (v) => 6 + v.salt.length + v.nextHashed.length + encodeTypeBitmap(v.types).length,
  encode: (v, out, at) =>
    new Out(out, at)
      .u8(checkUint(v.hashAlgorithm, 8, 'hash algorithm'))
      .u8(checkUint(v.flags, 8, 'flags'))
      .u16(checkUint(v.iterations, 16, 'iterations'))
      .u8(checkLen(v.salt, 'salt', 0).length)
      .bytes(v.salt)
      .u8(checkLen(v.nextHashed, 'next hashed owner', 1).length)
      .bytes(v.nextHashed)
      .bytes(encodeTypeBitmap(v.types)).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'NSEC3');
    const hashAlgorithm = r.u8();
    const flags = r.u8();
    const iterations = r.u16();
    const salt = r.charString();
    // RFC 5155 §3.2: the hash length field is 1..255.
    const nextHashed = checkLen(r.charString(), 'next hashed owner', 1);
    return { value: { hashAlgorithm, flags, iterations, salt, nextHashed, types: decodeTypeBitmap(b, r.p, end) }, next: end };
  },
};
