// One RRset against its RRSIGs and a validated DNSKEY set: RFC 4035 §5.3, rule by rule.
import { isSubdomain, nameEquals } from '../wire/name';
import type { Name, RR } from '../wire/types';
import { algorithmSupported, checkValidity, secondsUntil, verifySignature } from './crypto';
import {
  canonicalRRsetWire, concat, decodeDnskey, decodeRrsig, DNSKEY_REVOKE, DNSKEY_ZONE, keyTag, Rrsig,
  rrsigLabelCount, rrsigSignedPrefix, wildcardOf,
} from './records';
import { bogus, Ede, SECURE, Verdict } from './verdict';
import { typeLabel, rrsetLabel } from './util';

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

interface Failure { verdict: Verdict; rank: number }

/**
 * Verifies `rrset` (one owner, type, class) with the RRSIGs in `sigs` made by `zone` using `keys`
 * (the zone's DNSKEY RRs, already validated, or the candidate key when checking a DNSKEY RRset).
 * Any one valid signature is enough (RFC 6840 §5.11). Never throws.
 */
export function verifyRrset(rrset: RR[], sigs: RR[], keys: RR[], zone: Name, nowSec: number): RrsetResult {
  const owner = rrset[0].name;
  const type = rrset[0].type;
  const label = rrsetLabel(owner, type);
  const ownerLabels = rrsigLabelCount(owner);
  let best: Failure | null = null;
  const fail = (rank: number, v: Verdict): void => {
    if (!best || rank > best.rank) best = { rank, verdict: v };
  };

  const candidates: Array<{ rr: RR; sig: Rrsig }> = [];
  for (const rr of sigs) {
    if (rr.type !== 46 || !nameEquals(rr.name, owner) || rr.class !== rrset[0].class) continue;
    let sig: Rrsig;
    try {
      sig = decodeRrsig(rr.rdata);
    } catch {
      fail(1, bogus('rrsig-malformed', Ede.DNSSEC_BOGUS, `malformed RRSIG over ${label}`, { rrset: label }));
      continue;
    }
    if (sig.typeCovered === type) candidates.push({ rr, sig });
  }
  if (candidates.length === 0 && !best) {
    return { verdict: bogus('rrsig-missing', Ede.RRSIGS_MISSING, `no RRSIG covers ${label} (zone ${zone || '.'} is signed)`, { rrset: label }), ttl: 0 };
  }

  const minTtl = Math.min(...rrset.map((r) => r.ttl));
  for (const { rr, sig } of candidates) {
    const tagInfo = { rrset: label, keyTag: sig.keyTag };
    const what = `RRSIG ${typeLabel(type)} alg ${sig.algorithm} tag ${sig.keyTag} over ${label}`;
    // RFC 4035 §5.3.1: the signer name is the zone containing the RRset...
    if (!nameEquals(sig.signerName, zone)) {
      fail(3, bogus('signer-mismatch', Ede.DNSSEC_BOGUS, `${what}: signer ${sig.signerName || '.'} is not the zone ${zone || '.'}`, tagInfo));
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
    // RFC 4035 §5.3.1: the validator's notion of the current time lies in [inception, expiration].
    const validity = checkValidity(sig.inception, sig.expiration, nowSec);
    if (validity === 'expired') {
      fail(5, bogus('sig-expired', Ede.SIGNATURE_EXPIRED, `${what}: signature expired (${rrsigTime(sig.expiration)})`, tagInfo));
      continue;
    }
    if (validity === 'not-yet-valid') {
      fail(5, bogus('sig-not-yet-valid', Ede.SIGNATURE_NOT_YET_VALID, `${what}: signature not valid before ${rrsigTime(sig.inception)}`, tagInfo));
      continue;
    }
    if (!algorithmSupported(sig.algorithm)) {
      // Not a failure of this zone by itself: the zone may also be signed with an algorithm we know.
      fail(2, bogus('no-matching-key', Ede.UNSUPPORTED_DNSKEY_ALGORITHM, `${what}: unsupported algorithm and no other valid signature`, tagInfo));
      continue;
    }
    // RFC 4035 §5.3.1: a DNSKEY with matching owner, algorithm and tag, Zone Key bit set. Tags collide,
    // so every match is tried. Revoked keys (RFC 5011 §2.1) sign nothing but their own DNSKEY set.
    const matching = keys.filter((k) => {
      if (k.type !== 48 || !nameEquals(k.name, sig.signerName)) return false;
      let d;
      try {
        d = decodeDnskey(k.rdata);
      } catch {
        return false;
      }
      if (d.algorithm !== sig.algorithm || d.protocol !== 3 || !(d.flags & DNSKEY_ZONE)) return false;
      if (d.flags & DNSKEY_REVOKE && type !== 48) return false;
      return keyTag(k.rdata) === sig.keyTag;
    });
    if (matching.length === 0) {
      fail(4, bogus('no-matching-key', Ede.DNSKEY_MISSING, `${what}: no key with tag ${sig.keyTag} in the DNSKEY set of ${zone || '.'}`, tagInfo));
      continue;
    }
    // RFC 4035 §5.3.2: rebuild the signed data; a wildcard-expanded owner becomes '*.' + the last labels.
    const signedOwner = sig.labels < ownerLabels ? wildcardOf(owner, sig.labels) : owner;
    const data = concat([rrsigSignedPrefix(rr.rdata), canonicalRRsetWire(rrset, sig.originalTtl, signedOwner)]);
    let ok = false;
    for (const k of matching) {
      if (verifySignature(sig.algorithm, decodeDnskey(k.rdata).publicKey, data, sig.signature) === 'valid') {
        ok = true;
        break;
      }
    }
    if (!ok) {
      fail(6, bogus('sig-invalid', Ede.DNSSEC_BOGUS, `${what}: signature does not verify with ${matching.length === 1 ? 'the key' : `any of ${matching.length} keys`} tagged ${sig.keyTag}`, tagInfo));
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
  return { verdict: (best as Failure | null)?.verdict ?? bogus('rrsig-missing', Ede.RRSIGS_MISSING, `no usable RRSIG over ${label}`, { rrset: label }), ttl: 0 };
}

function rrsigTime(t: number): string {
  return new Date((t >>> 0) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}
