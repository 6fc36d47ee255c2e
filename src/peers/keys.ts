// IPSECKEY public key field <-> node key objects (and the SubjectPublicKeyInfo PEM charon accepts).
// RSA: RFC 3110 §2 (exponent length in 1 byte, or 0 then 2 bytes; exponent; modulus).
// ECDSA: RFC 6605 §4 layout, x|y (64 bytes for P-256, 96 for P-384). EdDSA: RFC 8080 §3, 32 raw bytes.
// Part of the peer model (beside model.ts): policy checks a key is usable before deciding, engines
// hand it to the IKE daemon, so it sits below both. Pure: node:crypto key objects only, no files;
// imports only src/wire and src/util.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { IpseckeyAlgorithm } from '../wire/rdata/ipseckey';
import { OednsError } from '../util/errors';

/** A public key from DNS (or our own) that cannot be used. */
export class KeyError extends OednsError {}

/** Smaller RSA moduli are refused: factorable, and RFC 8624 forbids them for new use. */
export const MIN_RSA_BITS = 1024;

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function bitLength(b: Uint8Array): number {
  const s = stripZeros(b);
  if (s.length === 0 || (s.length === 1 && s[0] === 0)) return 0;
  return (s.length - 1) * 8 + (32 - Math.clz32(s[0]!));
}

/** Parse RFC 3110 RSA public key bytes into exponent and modulus. */
export function parseRfc3110(key: Uint8Array): { e: Uint8Array; n: Uint8Array } {
  if (key.length < 1) throw new KeyError('key-malformed', 'empty RSA key');
  let at = 1;
  let elen = key[0]!;
  if (elen === 0) {
    if (key.length < 3) throw new KeyError('key-malformed', 'RSA key truncated in its exponent length');
    elen = (key[1]! << 8) | key[2]!;
    at = 3;
  }
  if (elen === 0) throw new KeyError('key-malformed', 'RSA exponent of length 0');
  if (at + elen >= key.length) throw new KeyError('key-malformed', `RSA exponent length ${elen} overruns the ${key.length}-byte key`);
  const e = key.subarray(at, at + elen);
  const n = key.subarray(at + elen);
  if (n[0] === 0) throw new KeyError('key-malformed', 'RSA modulus has a leading zero byte');
  const bits = bitLength(n);
  if (bits < MIN_RSA_BITS) throw new KeyError('key-too-small', `RSA modulus of ${bits} bits (minimum ${MIN_RSA_BITS})`);
  const eb = stripZeros(e);
  if (bitLength(eb) < 2 || (eb[eb.length - 1]! & 1) === 0) throw new KeyError('key-malformed', 'RSA exponent must be odd and > 1');
  return { e, n };
}

const EC_CURVES: Record<number, string> = { 64: 'P-256', 96: 'P-384' };

/** Turn an IPSECKEY public key field into a node KeyObject. */
export function ipseckeyToKeyObject(algorithm: number, key: Uint8Array): KeyObject {
  try {
    switch (algorithm) {
      case IpseckeyAlgorithm.RSA: {
        const { e, n } = parseRfc3110(key);
        return createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(stripZeros(e)) }, format: 'jwk' });
      }
      case IpseckeyAlgorithm.ECDSA: {
        const crv = EC_CURVES[key.length];
        if (!crv) throw new KeyError('key-malformed', `ECDSA key of ${key.length} bytes (64 for P-256, 96 for P-384)`);
        const half = key.length / 2;
        return createPublicKey({ key: { kty: 'EC', crv, x: b64u(key.subarray(0, half)), y: b64u(key.subarray(half)) }, format: 'jwk' });
      }
      case IpseckeyAlgorithm.EdDSA: {
        if (key.length !== 32) throw new KeyError('key-malformed', `Ed25519 key of ${key.length} bytes (32 expected; Ed448 unsupported)`);
        return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(key) }, format: 'jwk' });
      }
      default:
        throw new KeyError('key-unsupported-algorithm', `IPSECKEY algorithm ${algorithm} is not supported (2 RSA, 3 ECDSA, 4 EdDSA)`);
    }
  } catch (err) {
    if (err instanceof KeyError) throw err;
    // node rejects e.g. EC points that are not on the curve.
    throw new KeyError('key-malformed', `public key rejected: ${(err as Error).message}`, { cause: err });
  }
}

/** IPSECKEY public key field -> SubjectPublicKeyInfo PEM, as charon takes it in `pubkeys`. */
export function ipseckeyToSpkiPem(algorithm: number, key: Uint8Array): string {
  return ipseckeyToKeyObject(algorithm, key).export({ type: 'spki', format: 'pem' }).toString();
}

/** One DER length at `at`: [length, offset of the content]. */
function derLength(der: Buffer, at: number): [number, number] {
  const first = der[at]!;
  if (first < 0x80) return [first, at + 1];
  const n = first & 0x7f;
  if (n === 0 || n > 3) throw new KeyError('key-malformed', 'unexpected DER length');
  let len = 0;
  for (let i = 1; i <= n; i++) len = (len << 8) | der[at + i]!;
  return [len, at + 1 + n];
}

/** The INTEGER at `at` of a DER buffer: [its bytes, offset after it]. */
function derInteger(der: Buffer, at: number): [Buffer, number] {
  if (der[at] !== 0x02) throw new KeyError('key-malformed', 'expected a DER INTEGER');
  const [len, start] = derLength(der, at + 1);
  return [der.subarray(start, start + len), start + len];
}

const EC_SIZES: Record<string, number> = { prime256v1: 32, secp384r1: 48 };
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The public fields of a key, read from its DER export, never from a JWK export: Node 20 writes an
 * Ed25519 JWK while holding the key's mutex and allocates meanwhile; a GC there that collects the
 * job which generated the key takes the same mutex, and the process hangs for good (seen in a CI
 * run: mocha blocked in a futex under ExportJWKEdKey -> ~KeyGenJob). The DER export takes no lock.
 */
export function publicKeyFields(
  k: KeyObject,
): { type: 'rsa'; n: Buffer; e: Buffer } | { type: 'ec'; size: number; x: Buffer; y: Buffer } | { type: 'ed25519'; x: Buffer } {
  const pub = k.type === 'private' ? createPublicKey(k) : k;
  switch (pub.asymmetricKeyType) {
    case 'rsa': {
      // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1)
      const der = pub.export({ type: 'pkcs1', format: 'der' });
      if (der[0] !== 0x30) throw new KeyError('key-malformed', 'RSA public key is not a DER SEQUENCE');
      const [, body] = derLength(der, 1);
      const [n, next] = derInteger(der, body);
      const [e] = derInteger(der, next);
      return { type: 'rsa', n: Buffer.from(stripZeros(n)), e: Buffer.from(stripZeros(e)) };
    }
    case 'ec': {
      const curve = pub.asymmetricKeyDetails?.namedCurve ?? '?';
      const size = EC_SIZES[curve];
      if (!size) throw new KeyError('key-unsupported-algorithm', `EC curve ${curve} has no IPSECKEY form here`);
      // The SubjectPublicKeyInfo ends with the uncompressed point 04|x|y.
      const der = pub.export({ type: 'spki', format: 'der' });
      const point = der.subarray(der.length - (1 + 2 * size));
      if (point[0] !== 0x04) throw new KeyError('key-malformed', 'EC public key is not an uncompressed point');
      return { type: 'ec', size, x: point.subarray(1, 1 + size), y: point.subarray(1 + size) };
    }
    case 'ed25519': {
      const der = pub.export({ type: 'spki', format: 'der' });
      if (der.length !== 44 || !der.subarray(0, 12).equals(ED25519_SPKI_PREFIX))
        throw new KeyError('key-malformed', 'unexpected Ed25519 SubjectPublicKeyInfo');
      return { type: 'ed25519', x: der.subarray(12) };
    }
    default:
      throw new KeyError('key-unsupported-algorithm', `key type ${pub.asymmetricKeyType} has no IPSECKEY form`);
  }
}

/** A key (public or private) -> its IPSECKEY algorithm number and public key field. */
export function keyObjectToIpseckey(k: KeyObject): { algorithm: number; publicKey: Buffer } {
  const f = publicKeyFields(k);
  switch (f.type) {
    case 'rsa': {
      const head = f.e.length <= 255 ? Buffer.of(f.e.length) : Buffer.of(0, f.e.length >> 8, f.e.length & 0xff);
      return { algorithm: IpseckeyAlgorithm.RSA, publicKey: Buffer.concat([head, f.e, f.n]) };
    }
    case 'ec':
      return { algorithm: IpseckeyAlgorithm.ECDSA, publicKey: Buffer.concat([f.x, f.y]) };
    case 'ed25519':
      return { algorithm: IpseckeyAlgorithm.EdDSA, publicKey: Buffer.from(f.x) };
  }
}
