// Signature verification and digests over byte strings, with node:crypto. Knows the DNSSEC algorithm
// registry (RFC 8624) and how each algorithm's public key is laid out in a DNSKEY.
import * as crypto from 'node:crypto';
import { createHash, createPublicKey, type KeyObject, verify as cryptoVerify } from 'node:crypto';
import { fromBase32hex, toBase32hex } from '../wire/text';
import { sameBytes } from '../wire/bytes';

export const Algorithm = {
  RSAMD5: 1,
  DSA: 3,
  RSASHA1: 5,
  DSA_NSEC3_SHA1: 6,
  RSASHA1_NSEC3_SHA1: 7,
  RSASHA256: 8,
  RSASHA512: 10,
  ECC_GOST: 12,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
} as const;

export const DigestType = { SHA1: 1, SHA256: 2, GOST: 3, SHA384: 4 } as const;

const SUPPORTED_ALGS = new Set<number>([5, 7, 8, 10, 13, 14, 15, 16]);

export function algorithmSupported(alg: number): boolean {
  return SUPPORTED_ALGS.has(alg);
}

export function digestSupported(t: number): boolean {
  return t === 1 || t === 2 || t === 4;
}

export function algorithmName(alg: number): string {
  for (const [k, v] of Object.entries(Algorithm)) if (v === alg) return k;
  return `ALG${alg}`;
}

/** Hash function name for a DS digest type, or null when unsupported. */
export function digestHash(t: number): string | null {
  return t === 1 ? 'sha1' : t === 2 ? 'sha256' : t === 4 ? 'sha384' : null;
}

export function digest(hash: string, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(hash);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

/** RFC 3110 §2: exponent length (1 byte, or 0 then 2 bytes), exponent, modulus. */
export function rsaKeyParts(key: Uint8Array): { e: Uint8Array; n: Uint8Array } | null {
  if (key.length < 3) return null;
  let at = 1;
  let elen = key[0]!;
  if (elen === 0) {
    elen = (key[1]! << 8) | key[2]!;
    at = 3;
  }
  if (elen === 0 || at + elen >= key.length) return null;
  return { e: key.subarray(at, at + elen), n: key.subarray(at + elen) };
}

/**
 * Largest RSA public key we do arithmetic with. RFC 3110 allows exponents of up to 4096 bits, and the
 * cost of a verification grows with the exponent's length: a 3000-bit exponent makes one check cost
 * milliseconds (KeyTrap). Real keys use 3 or 65537; BIND refuses exponents above 35 bits
 * (RSA_MAX_PUBEXP_BITS), and RFC 3110 caps the modulus at 4096 bits.
 */
export const RSA_LIMITS = Object.freeze({ maxExponentBits: 35, maxModulusBits: 4096 });

function bitLength(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]!));
}

/**
 * Why a well-formed DNSKEY public key is refused before any arithmetic (too costly to use), or null
 * when it may be used. Malformed keys are not "unusable" here: they simply fail to verify.
 */
export function keyUnusable(alg: number, key: Uint8Array): string | null {
  if (alg !== 5 && alg !== 7 && alg !== 8 && alg !== 10) return null;
  const p = rsaKeyParts(key);
  if (!p) return null;
  const e = bitLength(p.e);
  if (e > RSA_LIMITS.maxExponentBits) return `RSA public exponent of ${e} bits (we use at most ${RSA_LIMITS.maxExponentBits})`;
  const n = bitLength(p.n);
  if (n > RSA_LIMITS.maxModulusBits) return `RSA modulus of ${n} bits (we use at most ${RSA_LIMITS.maxModulusBits})`;
  return null;
}

// Parsing a public key costs about as much as an ECDSA verification; keys repeat across RRsets, so
// keep the parsed objects, keyed by the bytes (bounded; the oldest go first).
const keyCache = new Map<string, KeyObject | null>();
const KEY_CACHE_MAX = 512;

function publicKey(alg: number, key: Uint8Array): KeyObject | null {
  const id = `${alg}/${Buffer.from(key).toString('base64')}`;
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  let ko: KeyObject | null;
  try {
    ko = buildKey(alg, key);
  } catch {
    ko = null;
  }
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(id, ko);
  return ko;
}

function buildKey(alg: number, key: Uint8Array): KeyObject | null {
  switch (alg) {
    case 5:
    case 7:
    case 8:
    case 10: {
      const p = rsaKeyParts(key);
      if (!p || keyUnusable(alg, key)) return null; // callers skip these keys; this is the backstop
      // RFC 3110 keys have no leading zero; JWK wants the unsigned big-endian value, which this is.
      return createPublicKey({ key: { kty: 'RSA', n: b64u(p.n), e: b64u(p.e) }, format: 'jwk' });
    }
    case 13:
    case 14: {
      // RFC 6605 §4: the key is x | y, each the curve size.
      const size = alg === 13 ? 32 : 48;
      if (key.length !== 2 * size) return null;
      return createPublicKey({
        key: { kty: 'EC', crv: alg === 13 ? 'P-256' : 'P-384', x: b64u(key.subarray(0, size)), y: b64u(key.subarray(size)) },
        format: 'jwk',
      });
    }
    case 15:
    case 16: {
      // RFC 8080 §3: the raw public key as in RFC 8032.
      if (key.length !== (alg === 15 ? 32 : 57)) return null;
      return createPublicKey({ key: { kty: 'OKP', crv: alg === 15 ? 'Ed25519' : 'Ed448', x: b64u(key) }, format: 'jwk' });
    }
    default:
      return null;
  }
}

export type VerifyResult = 'valid' | 'invalid' | 'unsupported' | 'bad-key';

/** What node:crypto needs for one check, or the result when no check is to be made. */
function verifyCall(
  alg: number,
  key: Uint8Array,
  sig: Uint8Array,
): { hash: string | null; key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' } } | VerifyResult {
  if (!algorithmSupported(alg)) return 'unsupported';
  const ko = publicKey(alg, key);
  if (!ko) return 'bad-key';
  switch (alg) {
    case 5:
    case 7:
      return { hash: 'sha1', key: ko };
    case 8:
      return { hash: 'sha256', key: ko };
    case 10:
      return { hash: 'sha512', key: ko };
    case 13:
    case 14:
      // RFC 6605 §4: the signature is r | s, which node calls ieee-p1363.
      if (sig.length !== (alg === 13 ? 64 : 96)) return 'invalid';
      return { hash: alg === 13 ? 'sha256' : 'sha384', key: { key: ko, dsaEncoding: 'ieee-p1363' } };
    case 15:
    case 16:
      return { hash: null, key: ko };
    default:
      return 'unsupported';
  }
}

/** Verifies `sig` over `data` with a DNSKEY public key of algorithm `alg`. Never throws. */
export function verifySignature(alg: number, key: Uint8Array, data: Uint8Array, sig: Uint8Array): VerifyResult {
  const call = verifyCall(alg, key, sig);
  if (typeof call === 'string') return call;
  try {
    return cryptoVerify(call.hash, data, call.key, sig) ? 'valid' : 'invalid';
  } catch {
    // OpenSSL rejects some malformed signatures by throwing (e.g. RSA signature longer than modulus).
    return 'invalid';
  }
}

// Checks made ahead of time on libuv's thread pool (verifyAhead), so that the public-key step of a
// response runs beside the main thread and its other checks instead of in turn on it. Only
// successes are kept, each with the exact bytes it was made on, and each is used once: a hit in
// madeAhead is the answer node:crypto gave for these very bytes, and anything else (a failure,
// an error, other bytes) is checked again the ordinary way. Every check made ahead was charged to a
// response's budget when it was planned (ahead.ts checkAhead), so a hit is not charged again.
// Bounded in entries and in bytes (an RRset's canonical form can be ~16 times its compressed size,
// and successes that no check comes for stay until pushed out); the oldest go first.
interface Verified {
  alg: number;
  key: Uint8Array;
  data: Uint8Array;
  size: number;
}
const verified = new Map<string, Verified[]>();
let verifiedCount = 0;
let verifiedBytes = 0;
const VERIFIED_MAX = 256;
const VERIFIED_MAX_BYTES = 1 << 20;
const aheadCounters = { made: 0, kept: 0, used: 0 };

/** Checks made ahead so far, successes kept, and successes used by verifyRrset through madeAhead (tests, bench). */
export function verifiedAhead(): { made: number; kept: number; used: number; waiting: number; bytes: number } {
  return { ...aheadCounters, waiting: verifiedCount, bytes: verifiedBytes };
}

const sigId = (sig: Uint8Array): string => Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('latin1');

/**
 * True, once, when verifyAhead made exactly this check (same algorithm, key, signed data and signature
 * bytes) and it succeeded. The check was charged to a budget when it was planned.
 */
export function madeAhead(alg: number, key: Uint8Array, data: Uint8Array, sig: Uint8Array): boolean {
  if (verifiedCount === 0) return false;
  const id = sigId(sig);
  const list = verified.get(id);
  if (!list) return false;
  const i = list.findIndex((v) => v.alg === alg && sameBytes(v.key, key) && sameBytes(v.data, data));
  if (i < 0) return false;
  verifiedBytes -= list[i]!.size;
  list.splice(i, 1);
  if (list.length === 0) verified.delete(id);
  verifiedCount--;
  aheadCounters.used++;
  return true;
}

/** Keeps a success; `key`, `data` and `sig` are the caller's own copies (the bytes the check was made on). */
function keepVerified(alg: number, key: Uint8Array, data: Uint8Array, sig: Uint8Array): void {
  const size = key.length + data.length + 2 * sig.length;
  if (size > VERIFIED_MAX_BYTES / 4) return;
  while (verifiedCount >= VERIFIED_MAX || verifiedBytes + size > VERIFIED_MAX_BYTES) {
    const [oldest, list] = verified.entries().next().value as [string, Verified[]];
    verifiedBytes -= list.shift()!.size;
    verifiedCount--;
    if (list.length === 0) verified.delete(oldest);
  }
  const id = sigId(sig);
  const list = verified.get(id);
  const v = { alg, key, data, size };
  if (list) list.push(v);
  else verified.set(id, [v]);
  verifiedCount++;
  verifiedBytes += size;
  aheadCounters.kept++;
}

/**
 * Runs the check verifySignature(alg, key, data, sig) would make on the thread pool, and keeps a
 * success for the next madeAhead call with the same bytes. Resolves when done; never rejects.
 */
export function verifyAhead(alg: number, key: Uint8Array, data: Uint8Array, sig: Uint8Array): Promise<void> {
  const call = verifyCall(alg, key, sig);
  if (typeof call === 'string') return Promise.resolve();
  aheadCounters.made++;
  // Copied now: what is kept must be the bytes the check is made on, whatever the caller's buffers hold
  // by the time the thread pool answers.
  const k = Uint8Array.from(key);
  const d = Uint8Array.from(data);
  const s = Uint8Array.from(sig);
  return new Promise<void>((resolve) => {
    try {
      cryptoVerify(call.hash, d, call.key, s, (err, ok) => {
        if (!err && ok) keepVerified(alg, k, d, s);
        resolve();
      });
    } catch {
      resolve();
    }
  });
}

/** RFC 1982 serial-number comparison on 32-bit values: is a before b? */
export function serialLt(a: number, b: number): boolean {
  const d = (b - a) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/** Seconds since the epoch reduced to the 32-bit space of RRSIG times (RFC 4034 §3.1.5). */
export function serial32(sec: number): number {
  return Math.floor(sec) >>> 0;
}

/**
 * RRSIG validity window test, RFC 4034 §3.1.5 / RFC 4035 §5.3.1: inception ≤ now ≤ expiration, all
 * in serial arithmetic so the 2106 wrap is handled. Returns which bound is violated, if any.
 */
export function checkValidity(inception: number, expiration: number, nowSec: number): 'ok' | 'expired' | 'not-yet-valid' {
  const now = serial32(nowSec);
  if (serialLt(now, inception >>> 0)) return 'not-yet-valid';
  if (serialLt(expiration >>> 0, now)) return 'expired';
  return 'ok';
}

/** Seconds from now until `expiration`, in serial arithmetic (0 if already past). */
export function secondsUntil(expiration: number, nowSec: number): number {
  const d = ((expiration >>> 0) - serial32(nowSec)) >>> 0;
  return d < 0x80000000 ? d : 0;
}

/** RFC 4648 §7 base32hex without padding, lower case (as NSEC3 owner labels are compared). */
export function base32hex(b: Uint8Array): string {
  return toBase32hex(b).toLowerCase();
}

/** Decodes an NSEC3 owner label; null when it is not base32hex. */
export function base32hexDecode(s: string): Uint8Array | null {
  try {
    return fromBase32hex(s);
  } catch {
    return null;
  }
}

// One-shot SHA-1 (node >= 20.12) costs about half of a createHash object per iteration, and NSEC3
// hashing is iteration after iteration of it.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

/** RFC 5155 §5: IH(salt, x, 0) = H(x | salt); IH(k) = H(IH(k-1) | salt). `ownerWire` is the canonical wire name. */
export function nsec3HashBytes(ownerWire: Uint8Array, salt: Uint8Array, iterations: number): Uint8Array {
  if (!oneShot) {
    let h = createHash('sha1').update(ownerWire).update(salt).digest();
    for (let i = 0; i < iterations; i++) h = createHash('sha1').update(h).update(salt).digest();
    return new Uint8Array(h);
  }
  let h = oneShot('sha1', Buffer.concat([ownerWire, salt]), 'buffer');
  const buf = Buffer.alloc(20 + salt.length);
  buf.set(salt, 20);
  for (let i = 0; i < iterations; i++) {
    buf.set(h, 0);
    h = oneShot('sha1', buf, 'buffer');
  }
  return new Uint8Array(h);
}
