// DS → DNSKEY (RFC 4034 §5, RFC 4035 §5.2) and trust anchor → DNSKEY: deciding which DNSKEY set of a
// zone is authentic. The DNSKEY RRset must be signed by a key that a DS (or anchor) vouches for.
import { nameEquals } from '../wire/name';
import type { Name, RR } from '../wire/types';
import { algorithmName, algorithmSupported, digest, digestHash, digestSupported } from './crypto';
import { canonicalWire, decodeDnskey, Ds, DNSKEY_REVOKE, DNSKEY_ZONE, keyTag } from './records';
import { verifyRrset } from './rrsig';
import { bogus, Ede, insecure, SECURE, Verdict } from './verdict';
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
  expiration?: number;
}

/**
 * Decides whether `dnskeys` (the zone's DNSKEY RRset) is authentic under `tp`. DS entries with
 * algorithms or digests we do not implement are skipped; if nothing usable is left the zone is
 * insecure (RFC 4035 §5.2, RFC 6840 §5.2), never bogus.
 */
export function validateKeySet(tp: TrustPoint, dnskeys: RR[], sigs: RR[], nowSec: number): KeySetResult {
  const zone = tp.zone;
  const tags = dnskeys.map((k) => keyTag(k.rdata));
  const out = (verdict: Verdict, extra: Partial<KeySetResult> = {}): KeySetResult => ({ verdict, keys: [], keyTags: tags, sepTags: [], ttl: 0, ...extra });
  const usableDs = tp.ds.filter((d) => algorithmSupported(d.algorithm) && digestSupported(d.digestType));
  const usableKeys = tp.keys.filter((k) => k.length >= 4 && algorithmSupported(k[3]));
  if (usableDs.length === 0 && usableKeys.length === 0) {
    if (tp.ds.length > 0 && tp.ds.every((d) => !algorithmSupported(d.algorithm))) {
      return out(insecure('unsupported-algorithm', zone, `DS of ${nameLabel(zone)} lists only algorithms we do not implement (${[...new Set(tp.ds.map((d) => algorithmName(d.algorithm)))].join(', ')})`));
    }
    if (tp.ds.length > 0) {
      return out(insecure('unsupported-digest', zone, `DS of ${nameLabel(zone)} uses only digest types we do not implement (${[...new Set(tp.ds.map((d) => d.digestType))].join(', ')})`));
    }
    return out(insecure('trust-anchor-unsupported', zone, `trust anchor for ${nameLabel(zone)} uses only algorithms we do not implement`));
  }
  const keyRRs = dnskeys.filter((k) => k.type === 48 && nameEquals(k.name, zone));
  if (keyRRs.length === 0) {
    return out(bogus('dnskey-missing', Ede.DNSKEY_MISSING, `no DNSKEY RRset for ${nameLabel(zone)}`, { rrset: `${nameLabel(zone)}/DNSKEY` }));
  }
  // Candidate secure entry points: keys in the set that a usable DS digest or an anchor key matches.
  const entry: RR[] = [];
  for (const k of keyRRs) {
    let d;
    try {
      d = decodeDnskey(k.rdata);
    } catch {
      continue;
    }
    if (d.protocol !== 3 || !(d.flags & DNSKEY_ZONE) || d.flags & DNSKEY_REVOKE) continue;
    if (usableDs.some((ds) => dsMatchesKey(ds, zone, k.rdata)) || usableKeys.some((a) => bytesEqual(a, k.rdata))) entry.push(k);
  }
  if (entry.length === 0) {
    const want = [...usableDs.map((d) => `DS ${d.keyTag}/alg ${d.algorithm}/digest ${d.digestType}`), ...usableKeys.map((k) => `anchor key ${keyTag(k)}`)];
    return out(bogus('ds-mismatch', Ede.DNSKEY_MISSING, `no DNSKEY of ${nameLabel(zone)} (tags ${tags.join(', ')}) matches ${want.join(', ')}`, { rrset: `${nameLabel(zone)}/DNSKEY`, keyTag: usableDs[0]?.keyTag }));
  }
  let last: Verdict | null = null;
  for (const k of entry) {
    const r = verifyRrset(keyRRs, sigs, [k], zone, nowSec);
    if (r.verdict.kind === 'secure') {
      return { verdict: SECURE, keys: keyRRs, keyTags: tags, sepTags: [keyTag(k.rdata)], ttl: r.ttl, expiration: r.expiration };
    }
    last = r.verdict;
  }
  return out(last ?? bogus('sig-invalid', Ede.DNSSEC_BOGUS, `DNSKEY set of ${nameLabel(zone)} is not signed by a vouched key`));
}

export { SECURE };
