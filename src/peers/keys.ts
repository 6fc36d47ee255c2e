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

/** A key (public or private) -> its IPSECKEY algorithm number and public key field. */
export function keyObjectToIpseckey(k: KeyObject): { algorithm: number; publicKey: Buffer } {
  const pub = k.type === 'private' ? createPublicKey(k) : k;
  const jwk = pub.export({ format: 'jwk' });
  switch (pub.asymmetricKeyType) {
    case 'rsa': {
      const e = stripZeros(Buffer.from(jwk.e!, 'base64url'));
      const n = stripZeros(Buffer.from(jwk.n!, 'base64url'));
      const head = e.length <= 255 ? Buffer.of(e.length) : Buffer.of(0, e.length >> 8, e.length & 0xff);
      return { algorithm: IpseckeyAlgorithm.RSA, publicKey: Buffer.concat([head, e, n]) };
    }
    case 'ec': {
      const size = jwk.crv === 'P-256' ? 32 : jwk.crv === 'P-384' ? 48 : 0;
      if (!size) throw new KeyError('key-unsupported-algorithm', `EC curve ${jwk.crv} has no IPSECKEY form here`);
      const pad = (s: string): Buffer => {
        const b = Buffer.from(s, 'base64url');
        return Buffer.concat([Buffer.alloc(size - b.length), b]);
      };
      return { algorithm: IpseckeyAlgorithm.ECDSA, publicKey: Buffer.concat([pad(jwk.x!), pad(jwk.y!)]) };
    }
    case 'ed25519':
      return { algorithm: IpseckeyAlgorithm.EdDSA, publicKey: Buffer.from(jwk.x!, 'base64url') };
    default:
      throw new KeyError('key-unsupported-algorithm', `key type ${pub.asymmetricKeyType} has no IPSECKEY form`);
  }
}
