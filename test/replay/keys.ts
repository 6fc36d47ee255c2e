// Deterministic DNSSEC keys for the replay tier: the same seed text always gives the same key pair, so a
// scenario file names its keys instead of carrying key material, and Ed25519 signatures (RFC 8032:
// deterministic) come out byte-identical on every run. Also builds the KeyTrap material (RFC 4034
// Appendix B key tags collide by design): public keys crafted to share one tag.
import { createECDH, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { encodeDnskey } from '../../src/wire/rdata';
import { keyTag } from '../../src/dnssec/records';
import { rr, T, TestKey } from '../dnssec/signer';
import type { RR } from '../../src/wire/types';

export type KeyAlg = 'ED25519' | 'ECDSAP256SHA256';
export const ALG_NUMBER: Record<KeyAlg, 13 | 15> = { ED25519: 15, ECDSAP256SHA256: 13 };

const sha256 = (s: string | Uint8Array): Buffer => createHash('sha256').update(s).digest();

/** RFC 8410 PKCS#8 wrapper for a raw 32-byte Ed25519 seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function pairFromSeed(alg: KeyAlg, seed: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const raw = sha256(`oedns-replay/${alg}/${seed}`);
  if (alg === 'ED25519') {
    const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
    return { privateKey, publicKey: createPublicKey(privateKey) };
  }
  // P-256: the seed hash is the private scalar (below the group order with overwhelming probability).
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(raw);
  const pub = ecdh.getPublicKey(); // 0x04 | x | y
  const b64u = (b: Buffer): string => b.toString('base64url');
  const jwk = { kty: 'EC', crv: 'P-256', d: b64u(raw), x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

const cache = new Map<string, TestKey>();

/** The key named by `seed` for `zone` (owner of its DNSKEY), with DNSKEY flags `flags`. Memoised. */
export function seededKey(zone: string, alg: KeyAlg, flags: number, seed: string): TestKey {
  const id = `${zone}|${alg}|${flags}|${seed}`;
  let k = cache.get(id);
  if (!k) {
    k = new TestKey(zone, ALG_NUMBER[alg], flags, pairFromSeed(alg, seed));
    cache.set(id, k);
  }
  return k;
}

/**
 * `count` DNSKEY records at `zone` (Ed25519, flags 256) whose key tag is `tag`: KeyTrap's colliding
 * keys. Each public key is a valid curve point (so a validator cannot reject it cheaply as malformed)
 * whose last two bytes are chosen to land on the tag; nobody holds the private keys. Deterministic.
 */
export function collidingKeys(zone: string, tag: number, count: number, seed = 'keytrap'): RR[] {
  const out: RR[] = [];
  for (let i = 0; out.length < count && i < count * 1000; i++) {
    const pub = new Uint8Array(sha256(`${seed}/${zone}/${i}`));
    // The tag is a ones'-complement-style sum of 16-bit words (RFC 4034 Appendix B): bytes 2..33 of the
    // RDATA are the key; its last word (bytes 30..31 of the key) shifts the sum freely.
    pub[30] = 0;
    pub[31] = 0;
    const base = keyTag(encodeDnskey({ flags: 256, protocol: 3, algorithm: 15, publicKey: pub }));
    // The last key word sits at an even RDATA offset (4 + 30): it adds (hi << 8) | lo to the sum.
    const need = (tag - base + 0x10000) & 0xffff;
    pub[30] = need >> 8;
    pub[31] = need & 0xff;
    const rdata = encodeDnskey({ flags: 256, protocol: 3, algorithm: 15, publicKey: pub });
    if (keyTag(rdata) !== tag) continue; // carry interaction: try the next candidate
    try {
      createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub).toString('base64url') }, format: 'jwk' });
    } catch {
      continue;
    }
    out.push(rr(zone, T.DNSKEY, rdata));
  }
  if (out.length < count) throw new Error(`collidingKeys: found only ${out.length} of ${count} keys with tag ${tag}`);
  return out;
}
