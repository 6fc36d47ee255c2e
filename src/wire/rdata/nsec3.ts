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

// RFC 5155 §4.2: NSEC3PARAM is exactly the head of an NSEC3 RDATA (algorithm, flags, iterations, salt).
function writeHead(o: Out, v: Nsec3param): Out {
  return o
    .u8(checkUint(v.hashAlgorithm, 8, 'hash algorithm'))
    .u8(checkUint(v.flags, 8, 'flags'))
    .u16(checkUint(v.iterations, 16, 'iterations'))
    .u8(checkLen(v.salt, 'salt', 0).length)
    .bytes(v.salt);
}

function readHead(r: Reader): Nsec3param {
  return { hashAlgorithm: r.u8(), flags: r.u8(), iterations: r.u16(), salt: r.charString() };
}

export const nsec3param: Codec<Nsec3param> = {
  encodingLength: (v) => 5 + v.salt.length,
  encode: (v, out, at) => writeHead(new Out(out, at), v).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'NSEC3PARAM');
    const value = readHead(r);
    return { value, next: r.p };
  },
};

export const nsec3: Codec<Nsec3> = {
  encodingLength: (v) => 6 + v.salt.length + v.nextHashed.length + encodeTypeBitmap(v.types).length,
  encode: (v, out, at) =>
    writeHead(new Out(out, at), v)
      .u8(checkLen(v.nextHashed, 'next hashed owner', 1).length)
      .bytes(v.nextHashed)
      .bytes(encodeTypeBitmap(v.types)).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'NSEC3');
    const head = readHead(r);
    // RFC 5155 §3.2: the hash length field is 1..255.
    const nextHashed = checkLen(r.charString(), 'next hashed owner', 1);
    return { value: { ...head, nextHashed, types: decodeTypeBitmap(b, r.p, end) }, next: end };
  },
};
