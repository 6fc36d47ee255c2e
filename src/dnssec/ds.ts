// DS → DNSKEY (RFC 4034 §5, RFC 4035 §5.2) and trust anchor → DNSKEY: deciding which DNSKEY set of a
// zone is authentic. The DNSKEY RRset must be signed by a key that a DS (or anchor) vouches for.
import { nameEquals } from '../wire/name';
import { RRType, type Name, type RR } from '../wire/types';
import { ValidationBudget } from './budget';
import { algorithmName, algorithmSupported, digest, digestHash, digestSupported, keyUnusable } from './crypto';
import { canonicalWire, decodeDnskey, type Ds, DNSKEY_REVOKE, DNSKEY_ZONE, keyTag } from './records';
import { verifyRrset } from './rrsig';
import { bogus, Ede, indeterminate, insecure, SECURE, type Verdict } from './verdict';
import { nameLabel } from './util';

/** RFC 4034 §5.1.4: digest = H(owner canonical wire | DNSKEY RDATA). Null for unsupported digest types. */
export function computeDsDigest(owner: Name, dnskeyRdata: Uint8Array, digestType: number): Uint8Array | null {
  const h = digestHash(digestType);
  return h ? digest(h, canonicalWire(owner), dnskeyRdata) : null;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function dsMatchesKey(ds: Ds, owner: Name, dnskeyRdata: Uint8Array): boolean {
  if (dnskeyRdata.length < 4 || dnskeyRdata[3] !== ds.algorithm || keyTag(dnskeyRdata) !== ds.keyTag) return false;
  const d = computeDsDigest(owner, dnskeyRdata, ds.digestType);
  return d !== null && bytesEqual(d, ds.digest);
}

/** What vouches for a zone's keys: DS records from the parent, or a configured anchor (DS and/or DNSKEYs). */
export interface TrustPoint {
  zone: Name;
  ds: Ds[];
  /** DNSKEY RDATA trusted as-is (anchors given as keys). */
  keys: Uint8Array[];
}

export interface KeySetResult {
  verdict: Verdict;
  /** The zone's whole DNSKEY RRset, when secure. */
  keys: RR[];
  /** Tags of the keys in the set (for reports). */
  keyTags: number[];
  /** The DS/anchor-vouched key(s) whose signature over the DNSKEY set verified. */
  sepTags: number[];
  ttl: number;
  /** Expiration (RRSIG serial time) of the signature that verified, and that RRSIG, when secure. */
  expiration?: number;
  sig?: RR;
}

const DIGEST_LENGTH: Record<number, number> = { 1: 20, 2: 32, 4: 48 };

/**
 * The DS records worth using: algorithm and digest type implemented, digest of the right length; and,
 * when a SHA-256 or SHA-384 one is among them, no SHA-1 ones (RFC 4509 §3: "Validator implementations
 * SHOULD ignore DS RRs containing SHA-1 digests if DS RRs with SHA-256 digests are present in the DS
 * RRset"; a SHA-1 second preimage would otherwise let a forged key in beside the SHA-256 DS).
 * RRset-wide, as RFC 4509 words it and as BIND and Unbound do.
 */
export function usableDsSet(ds: Ds[]): Ds[] {
  const ok = ds.filter(
    (d) => algorithmSupported(d.algorithm) && digestSupported(d.digestType) && d.digest.length === DIGEST_LENGTH[d.digestType],
  );
  return ok.some((d) => d.digestType !== 1) ? ok.filter((d) => d.digestType !== 1) : ok;
}

/**
 * Decides whether `dnskeys` (the zone's DNSKEY RRset) is authentic under `tp`. DS entries with
 * algorithms or digests we do not implement are skipped; if nothing usable is left the zone is
 * insecure (RFC 4035 §5.2, RFC 6840 §5.2), never bogus. The same reasoning covers keys we refuse to
 * do arithmetic with (crypto.ts keyUnusable: RSA exponent above 35 bits or modulus above 4096): when
 * every usable DS matches a key of the set and every matched key is refused, the zone is insecure
 * ('unusable-key'); a DS matching no key keeps it bogus, so an attacker who strips keys gains nothing.
 * Work (DS digests, signature checks) is charged to `budget`.
 */
export function validateKeySet(
  tp: TrustPoint,
  dnskeys: RR[],
  sigs: RR[],
  nowSec: number,
  budget: ValidationBudget = new ValidationBudget(),
): KeySetResult {
  const zone = tp.zone;
  const tags = dnskeys.map((k) => keyTag(k.rdata));
  const out = (verdict: Verdict, extra: Partial<KeySetResult> = {}): KeySetResult => ({
    verdict,
    keys: [],
    keyTags: tags,
    sepTags: [],
    ttl: 0,
    ...extra,
  });
  const usableDs = usableDsSet(tp.ds);
  const anchorKeys = tp.keys.filter((k) => k.length >= 4 && algorithmSupported(k[3]!));
  const usableKeys = anchorKeys.filter((k) => keyUnusable(k[3]!, k.subarray(4)) === null);
  if (usableDs.length === 0 && usableKeys.length === 0) {
    if (tp.ds.length > 0 && tp.ds.every((d) => !algorithmSupported(d.algorithm))) {
      return out(
        insecure(
          'unsupported-algorithm',
          zone,
          `DS of ${nameLabel(zone)} lists only algorithms we do not implement (${[...new Set(tp.ds.map((d) => algorithmName(d.algorithm)))].join(', ')})`,
        ),
      );
    }
    if (tp.ds.length > 0) {
      return out(
        insecure(
          'unsupported-digest',
          zone,
          `DS of ${nameLabel(zone)} uses only digest types we do not implement (${[...new Set(tp.ds.map((d) => d.digestType))].join(', ')})`,
        ),
      );
    }
    if (anchorKeys.length > 0) {
      return out(
        insecure(
          'unusable-key',
          zone,
          `every trust anchor key for ${nameLabel(zone)} is refused: ${keyUnusable(anchorKeys[0]![3]!, anchorKeys[0]!.subarray(4))}`,
        ),
      );
    }
    return out(insecure('trust-anchor-unsupported', zone, `trust anchor for ${nameLabel(zone)} uses only algorithms we do not implement`));
  }
  const keyRRs = dnskeys.filter((k) => k.type === RRType.DNSKEY && nameEquals(k.name, zone));
  if (keyRRs.length === 0) {
    return out(
      bogus('dnskey-missing', Ede.DNSKEY_MISSING, `no DNSKEY RRset for ${nameLabel(zone)}`, { rrset: `${nameLabel(zone)}/DNSKEY` }),
    );
  }
  // Candidate secure entry points: keys in the set that a usable DS digest or an anchor key matches.
  // Each DS is compared with at most maxKeysPerTag keys carrying its tag and algorithm.
  const entry: RR[] = [];
  const refused: Array<{ rr: RR; why: string }> = [];
  const matchedDs = new Set<Ds>();
  const perDs = new Map<Ds, number>();
  let skipped = 0; // keys not compared with a DS because maxKeysPerTag others with its tag already were
  for (const k of keyRRs) {
    let d;
    try {
      d = decodeDnskey(k.rdata);
    } catch {
      continue;
    }
    if (d.protocol !== 3 || !(d.flags & DNSKEY_ZONE) || d.flags & DNSKEY_REVOKE) continue;
    const tag = keyTag(k.rdata);
    let vouched = usableKeys.some((a) => bytesEqual(a, k.rdata)) || anchorKeys.some((a) => bytesEqual(a, k.rdata));
    for (const ds of usableDs) {
      if (ds.algorithm !== d.algorithm || ds.keyTag !== tag) continue;
      const n = perDs.get(ds) ?? 0;
      if (n >= budget.limits.maxKeysPerTag) {
        skipped++;
        continue;
      }
      perDs.set(ds, n + 1);
      if (!budget.digest()) return out(budget.exhausted(`${nameLabel(zone)}/DNSKEY`));
      if (dsMatchesKey(ds, zone, k.rdata)) {
        matchedDs.add(ds);
        vouched = true;
      }
    }
    if (!vouched) continue;
    const why = keyUnusable(d.algorithm, d.publicKey);
    if (why) refused.push({ rr: k, why });
    else entry.push(k);
  }
  if (entry.length === 0) {
    if (refused.length > 0 && usableKeys.length === 0 && usableDs.every((ds) => matchedDs.has(ds))) {
      // RFC 6840 §5.2 reasoning: the parent vouches only for keys we cannot use, as if for an algorithm
      // we do not implement.
      return out(
        insecure(
          'unusable-key',
          zone,
          `every key of ${nameLabel(zone)} its DS set vouches for is refused: tag ${keyTag(refused[0]!.rr.rdata)}: ${refused[0]!.why}`,
        ),
      );
    }
    if (skipped > 0) {
      return out(
        indeterminate(
          'budget-exhausted',
          `${nameLabel(zone)}/DNSKEY: more than ${budget.limits.maxKeysPerTag} keys share the tag and algorithm of a DS; ${skipped} were not compared (KeyTrap bound)`,
        ),
      );
    }
    if (refused.length > 0) {
      return out(
        bogus(
          'unusable-key',
          Ede.DNSSEC_BOGUS,
          `the DS-vouched key of ${nameLabel(zone)} (tag ${keyTag(refused[0]!.rr.rdata)}) is refused: ${refused[0]!.why}`,
          { rrset: `${nameLabel(zone)}/DNSKEY` },
        ),
      );
    }
    const want = [
      ...usableDs.map((d) => `DS ${d.keyTag}/alg ${d.algorithm}/digest ${d.digestType}`),
      ...usableKeys.map((k) => `anchor key ${keyTag(k)}`),
    ];
    return out(
      bogus('ds-mismatch', Ede.DNSKEY_MISSING, `no DNSKEY of ${nameLabel(zone)} (tags ${tags.join(', ')}) matches ${want.join(', ')}`, {
        rrset: `${nameLabel(zone)}/DNSKEY`,
        keyTag: usableDs[0]?.keyTag,
      }),
    );
  }
  let last: Verdict | null = null;
  for (const k of entry) {
    const r = verifyRrset(keyRRs, sigs, [k], zone, nowSec, budget);
    if (r.verdict.kind === 'secure') {
      return { verdict: SECURE, keys: keyRRs, keyTags: tags, sepTags: [keyTag(k.rdata)], ttl: r.ttl, expiration: r.expiration, sig: r.sig };
    }
    if (r.verdict.kind === 'indeterminate') return out(r.verdict);
    last = r.verdict;
  }
  return out(last ?? bogus('sig-invalid', Ede.DNSSEC_BOGUS, `DNSKEY set of ${nameLabel(zone)} is not signed by a vouched key`));
}

export { SECURE };
