// One RRset against its RRSIGs and a validated DNSKEY set: RFC 4035 §5.3, rule by rule.
import { canonicalName, isSubdomain, nameEquals } from '../wire/name';
import { RRType, type Name, type RR } from '../wire/types';
import { ValidationBudget } from './budget';
import { algorithmSupported, checkValidity, keyUnusable, madeAhead, secondsUntil, verifySignature } from './crypto';
import {
  canonicalRRsetWire,
  concat,
  decodeDnskey,
  decodeRrsig,
  type Dnskey,
  DNSKEY_REVOKE,
  DNSKEY_ZONE,
  keyTag,
  type Rrsig,
  rrsigLabelCount,
  rrsigSignedPrefix,
  wildcardOf,
} from './records';
import { bogus, Ede, indeterminate, SECURE, type Verdict } from './verdict';
import { nameLabel, typeLabel, rrsetLabel } from './util';

export interface RrsetResult {
  verdict: Verdict;
  /** TTL the RRset may be kept for (RFC 4035 §5.3.3), when secure. */
  ttl: number;
  /** Tag of the key whose signature verified. */
  keyTag?: number;
  /** Set when the RRSIG says the RRset was synthesised from a wildcard: the wildcard owner ('*.example'). */
  wildcard?: Name;
  /** Expiration of the signature that verified (RRSIG serial time). */
  expiration?: number;
  /** The RRSIG record that verified: the only one passed on to clients (junk RRSIGs beside it are not). */
  sig?: RR;
}

interface Failure {
  verdict: Verdict;
  rank: number;
}

interface KeyEntry {
  rr: RR;
  key: Dnskey;
  unusable: string | null;
}

// Key sets are checked against many RRsets; index each (by owner, algorithm, tag) once, so an RRSIG finds
// its candidate keys without decoding the whole set again (a KeyTrap set holds hundreds of keys).
const keyIndexes = new WeakMap<RR[], Map<string, KeyEntry[]>>();

function keyIndex(keys: RR[]): Map<string, KeyEntry[]> {
  let idx = keyIndexes.get(keys);
  if (idx) return idx;
  idx = new Map();
  for (const rr of keys) {
    if (rr.type !== RRType.DNSKEY) continue;
    let key: Dnskey;
    try {
      key = decodeDnskey(rr.rdata);
    } catch {
      continue;
    }
    if (key.protocol !== 3 || !(key.flags & DNSKEY_ZONE)) continue;
    const id = `${canonicalName(rr.name)}|${key.algorithm}|${keyTag(rr.rdata)}`;
    const list = idx.get(id) ?? [];
    list.push({ rr, key, unusable: keyUnusable(key.algorithm, key.publicKey) });
    idx.set(id, list);
  }
  keyIndexes.set(keys, idx);
  return idx;
}

/**
 * Verifies `rrset` (one owner, type, class) with the RRSIGs in `sigs` made by `zone` using `keys`
 * (the zone's DNSKEY RRs, already validated, or the candidate key when checking a DNSKEY RRset).
 * Any one valid signature is enough (RFC 6840 §5.11). The work is charged to `budget` (one per
 * response; the default is a fresh one, which still bounds this RRset): at most maxSigsPerRrset
 * RRSIGs and maxKeysPerTag keys per RRSIG reach the public-key step. Never throws.
 */
export function verifyRrset(
  rrset: RR[],
  sigs: RR[],
  keys: RR[],
  zone: Name,
  nowSec: number,
  budget: ValidationBudget = new ValidationBudget(),
): RrsetResult {
  const owner = rrset[0]!.name;
  const type = rrset[0]!.type;
  const label = rrsetLabel(owner, type);
  if (budget.spent) return { verdict: budget.exhausted(label), ttl: 0 };
  const ownerLabels = rrsigLabelCount(owner);
  const limits = budget.limits;
  let best: Failure | null = null;
  const fail = (rank: number, v: Verdict): void => {
    if (!best || rank > best.rank) best = { rank, verdict: v };
  };

  // One pass, decoding each RRSIG only when its turn comes: a budget that runs out early leaves the
  // rest of a SigJam pile undecoded.
  const minTtl = Math.min(...rrset.map((r) => r.ttl));
  let seen = 0; // RRSIGs covering this type
  let tried = 0; // of those, taken to the public-key step
  let cut: string | null = null; // why a per-RRset limit stopped us, if one did
  for (const rr of sigs) {
    if (rr.type !== RRType.RRSIG || !nameEquals(rr.name, owner) || rr.class !== rrset[0]!.class) continue;
    if (rr.rdata.length >= 2 && ((rr.rdata[0]! << 8) | rr.rdata[1]!) !== type) continue;
    let sig: Rrsig;
    try {
      sig = decodeRrsig(rr.rdata);
    } catch {
      fail(1, bogus('rrsig-malformed', Ede.DNSSEC_BOGUS, `malformed RRSIG over ${label}`, { rrset: label }));
      continue;
    }
    if (sig.typeCovered !== type) continue;
    seen++;
    const tagInfo = { rrset: label, keyTag: sig.keyTag };
    const what = `RRSIG ${typeLabel(type)} alg ${sig.algorithm} tag ${sig.keyTag} over ${label}`;
    // RFC 4035 §5.3.1: the signer name is the zone containing the RRset...
    if (!nameEquals(sig.signerName, zone)) {
      fail(
        3,
        bogus('signer-mismatch', Ede.DNSSEC_BOGUS, `${what}: signer ${sig.signerName || '.'} is not the zone ${zone || '.'}`, tagInfo),
      );
      continue;
    }
    // ...and the owner lies inside that zone.
    if (!isSubdomain(owner, zone)) {
      fail(3, bogus('signer-mismatch', Ede.DNSSEC_BOGUS, `${what}: owner is outside the signer's zone`, tagInfo));
      continue;
    }
    // RFC 4035 §5.3.1: the labels field is not larger than the owner's label count.
    if (sig.labels > ownerLabels) {
      fail(4, bogus('labels-mismatch', Ede.DNSSEC_BOGUS, `${what}: labels field ${sig.labels} > ${ownerLabels} owner labels`, tagInfo));
      continue;
    }
    // An NSEC or NSEC3 synthesised from a wildcard says nothing about the name it was expanded to, yet
    // the proofs would read it under that name (CVE-2017-15105; Unbound puts back the wildcard owner).
    // Authoritative servers never send one as a denial, so it proves nothing here.
    if (sig.labels < ownerLabels && (type === RRType.NSEC || type === RRType.NSEC3)) {
      fail(
        4,
        bogus(
          'labels-mismatch',
          Ede.DNSSEC_BOGUS,
          `${what}: an ${typeLabel(type)} expanded from wildcard ${wildcardOf(owner, sig.labels)} cannot prove anything about ${nameLabel(owner)}`,
          tagInfo,
        ),
      );
      continue;
    }
    // RFC 4035 §5.3.1: the validator's notion of the current time lies in [inception, expiration].
    const validity = checkValidity(sig.inception, sig.expiration, nowSec);
    if (validity === 'expired') {
      fail(5, bogus('sig-expired', Ede.SIGNATURE_EXPIRED, `${what}: signature expired (${rrsigTime(sig.expiration)})`, tagInfo));
      continue;
    }
    if (validity === 'not-yet-valid') {
      fail(
        5,
        bogus('sig-not-yet-valid', Ede.SIGNATURE_NOT_YET_VALID, `${what}: signature not valid before ${rrsigTime(sig.inception)}`, tagInfo),
      );
      continue;
    }
    if (!algorithmSupported(sig.algorithm)) {
      // Not a failure of this zone by itself: the zone may also be signed with an algorithm we know.
      fail(
        2,
        bogus('no-matching-key', Ede.UNSUPPORTED_DNSKEY_ALGORITHM, `${what}: unsupported algorithm and no other valid signature`, tagInfo),
      );
      continue;
    }
    // RFC 4035 §5.3.1: a DNSKEY with matching owner, algorithm and tag, Zone Key bit set. Tags collide,
    // so every match is tried (up to maxKeysPerTag). Revoked keys (RFC 5011 §2.1) sign nothing but
    // their own DNSKEY set.
    const matching = (keyIndex(keys).get(`${canonicalName(sig.signerName)}|${sig.algorithm}|${sig.keyTag}`) ?? []).filter(
      (k) => !(k.key.flags & DNSKEY_REVOKE) || type === RRType.DNSKEY,
    );
    if (matching.length === 0) {
      fail(
        4,
        bogus('no-matching-key', Ede.DNSKEY_MISSING, `${what}: no key with tag ${sig.keyTag} in the DNSKEY set of ${zone || '.'}`, tagInfo),
      );
      continue;
    }
    const usable = matching.filter((k) => k.unusable === null);
    if (usable.length === 0) {
      fail(
        4,
        bogus('unusable-key', Ede.DNSSEC_BOGUS, `${what}: the key tagged ${sig.keyTag} is refused: ${matching[0]!.unusable}`, tagInfo),
      );
      continue;
    }
    if (tried >= limits.maxSigsPerRrset) {
      cut = `more than ${limits.maxSigsPerRrset} RRSIGs to try`;
      break;
    }
    tried++;
    const signedOwner = sig.labels < ownerLabels ? wildcardOf(owner, sig.labels) : owner;
    const data = signedData(rr.rdata, sig, rrset, signedOwner);
    let ok = false;
    const tryKeys = usable.slice(0, limits.maxKeysPerTag);
    for (const k of tryKeys) {
      // Made ahead on the thread pool and charged to a budget then (ahead.ts): this very check succeeded.
      if (madeAhead(sig.algorithm, k.key.publicKey, data, sig.signature)) {
        ok = true;
        break;
      }
      if (!budget.verification()) return { verdict: budget.exhausted(label), ttl: 0 };
      if (verifySignature(sig.algorithm, k.key.publicKey, data, sig.signature) === 'valid') {
        ok = true;
        break;
      }
      budget.failed();
    }
    if (!ok) {
      if (usable.length > tryKeys.length)
        cut = cut ?? `${usable.length} keys share tag ${sig.keyTag} and algorithm ${sig.algorithm}; ${tryKeys.length} were tried`;
      fail(
        6,
        bogus(
          'sig-invalid',
          Ede.DNSSEC_BOGUS,
          `${what}: signature does not verify with ${tryKeys.length === 1 ? 'the key' : `any of ${tryKeys.length} keys`} tagged ${sig.keyTag}`,
          tagInfo,
        ),
      );
      continue;
    }
    // RFC 4035 §5.3.3: TTL no larger than the original TTL nor the time left on the signature.
    const ttl = Math.min(minTtl, sig.originalTtl, secondsUntil(sig.expiration, nowSec));
    return {
      verdict: SECURE,
      ttl,
      keyTag: sig.keyTag,
      wildcard: sig.labels < ownerLabels ? signedOwner : undefined,
      expiration: sig.expiration,
      sig: rr,
    };
  }
  if (seen === 0 && !best) {
    return {
      verdict: bogus('rrsig-missing', Ede.RRSIGS_MISSING, `no RRSIG covers ${label} (zone ${zone || '.'} is signed)`, { rrset: label }),
      ttl: 0,
    };
  }
  // Work left undone because of a per-RRset limit: the RRset is not proven either way.
  if (cut) return { verdict: indeterminate('budget-exhausted', `${label}: ${cut} (KeyTrap bound)`), ttl: 0 };
  return {
    verdict:
      (best as Failure | null)?.verdict ?? bogus('rrsig-missing', Ede.RRSIGS_MISSING, `no usable RRSIG over ${label}`, { rrset: label }),
    ttl: 0,
  };
}

/** RFC 4035 §5.3.2: the bytes an RRSIG signs; a wildcard-expanded owner is given as '*.' + the last labels. */
function signedData(sigRdata: Uint8Array, sig: Rrsig, rrset: RR[], signedOwner: Name): Uint8Array {
  return concat([rrsigSignedPrefix(sigRdata), canonicalRRsetWire(rrset, sig.originalTtl, signedOwner)]);
}

/** One public-key check verifyRrset is expected to make. */
export interface LikelyCheck {
  alg: number;
  key: Uint8Array;
  data: Uint8Array;
  sig: Uint8Array;
}

/**
 * The check verifyRrset(rrset, sigs, keys, zone, nowSec) will most likely make first: the first
 * RRSIG over the set that passes the cheap rules (signer, labels, validity, a usable key with its tag),
 * with the first such key. A guess for doing the check ahead (crypto.ts verifyAhead), never a
 * judgement: verifyRrset still decides everything, and a wrong guess only costs the check. At most one
 * per RRset, so the work done ahead stays bounded whatever the response holds.
 */
export function likelyCheck(rrset: RR[], sigs: RR[], keys: RR[], zone: Name, nowSec: number): LikelyCheck | null {
  if (rrset.length === 0 || keys.length === 0) return null;
  const owner = rrset[0]!.name;
  const type = rrset[0]!.type;
  if (!isSubdomain(owner, zone)) return null;
  const ownerLabels = rrsigLabelCount(owner);
  for (const rr of sigs) {
    if (
      rr.type !== RRType.RRSIG ||
      rr.class !== rrset[0]!.class ||
      rr.rdata.length < 2 ||
      ((rr.rdata[0]! << 8) | rr.rdata[1]!) !== type ||
      !nameEquals(rr.name, owner)
    )
      continue;
    let sig: Rrsig;
    try {
      sig = decodeRrsig(rr.rdata);
    } catch {
      continue;
    }
    if (!nameEquals(sig.signerName, zone) || sig.labels > ownerLabels || checkValidity(sig.inception, sig.expiration, nowSec) !== 'ok')
      continue;
    if (sig.labels < ownerLabels && (type === RRType.NSEC || type === RRType.NSEC3)) continue;
    const k = (keyIndex(keys).get(`${canonicalName(sig.signerName)}|${sig.algorithm}|${sig.keyTag}`) ?? []).find(
      (e) => e.unusable === null && (!(e.key.flags & DNSKEY_REVOKE) || type === RRType.DNSKEY),
    );
    if (!k) continue;
    const signedOwner = sig.labels < ownerLabels ? wildcardOf(owner, sig.labels) : owner;
    return { alg: sig.algorithm, key: k.key.publicKey, data: signedData(rr.rdata, sig, rrset, signedOwner), sig: sig.signature };
  }
  return null;
}

function rrsigTime(t: number): string {
  return new Date((t >>> 0) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}
