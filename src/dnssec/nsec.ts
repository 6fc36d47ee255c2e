// Authenticated denial with NSEC (RFC 4035 §5.4, RFC 6840 §4.1 §4.3). Terms, on example zone
// { example, a.example, *.w.example, x.y.example }:
//   - an NSEC "matches" a name when its owner is the name; it "covers" a name when the name sorts
//     strictly between owner and next (the last NSEC wraps to the apex);
//   - the closest encloser of a non-existent name is its longest existing ancestor (for z.x.y.example:
//     y.example is empty but exists because x.y.example does, so y.example);
//   - the source of synthesis is '*.' + closest encloser.
// The records given here are already authenticated (their RRSIGs checked by the caller); these
// functions only decide whether they prove the claim. Pure and synchronous.
import { compareCanonical, isSubdomain, labelCount, nameEquals, nameToLabels, labelsToName } from '../wire/name';
import { RRType, type Name } from '../wire/types';
import { bogus, Ede, SECURE, type Verdict } from './verdict';
import { nameLabel, typeLabel, DENIAL_ONLY_TYPES } from './util';

export interface NsecRecord {
  owner: Name;
  next: Name;
  types: number[];
}

/** RFC 6840 §4.1: an NSEC at a delegation point (NS, no SOA) or DNAME says nothing about names below it. */
function isAncestorDelegation(r: NsecRecord, name: Name): boolean {
  if (nameEquals(r.owner, name) || !isSubdomain(name, r.owner)) return false;
  return (r.types.includes(RRType.NS) && !r.types.includes(RRType.SOA)) || r.types.includes(RRType.DNAME);
}

export function nsecMatches(r: NsecRecord, name: Name): boolean {
  return nameEquals(r.owner, name);
}

/** Does `r` prove that `name` does not exist (owner < name < next, wrapping at the zone's end)? */
export function nsecCovers(r: NsecRecord, name: Name, zone: Name): boolean {
  if (!isSubdomain(name, zone) || isAncestorDelegation(r, name)) return false;
  const a = compareCanonical(r.owner, name);
  if (a >= 0) {
    // name ≤ owner: only the last NSEC (next = apex) can still cover it... never, since apex ≤ name.
    return false;
  }
  const n = compareCanonical(name, r.next);
  if (compareCanonical(r.owner, r.next) < 0) return n < 0;
  // Last NSEC of the zone: next is the apex, everything after the owner is covered.
  return true;
}

/** Longest common ancestor of two names. */
export function commonAncestor(a: Name, b: Name): Name {
  const la = nameToLabels(a).map((l) => Buffer.from(l).toString('latin1').toLowerCase());
  const lb = nameToLabels(b).map((l) => Buffer.from(l).toString('latin1').toLowerCase());
  let n = 0;
  while (n < la.length && n < lb.length && la[la.length - 1 - n] === lb[lb.length - 1 - n]) n++;
  const labels = nameToLabels(a);
  return labelsToName(labels.slice(labels.length - n));
}

function wildcardAt(ce: Name): Name {
  return labelsToName([Uint8Array.of(0x2a), ...nameToLabels(ce)]);
}

/**
 * RFC 4035 §5.4 / RFC 4034 §6.1: the closest encloser implied by an NSEC covering `name`: the longer
 * of the common ancestors of name with the NSEC's owner and with its next name.
 */
export function closestEncloserFrom(r: NsecRecord, name: Name): Name {
  const x = commonAncestor(name, r.owner);
  const y = commonAncestor(name, r.next);
  return labelCount(x) >= labelCount(y) ? x : y;
}

const fail = (detail: string, reason: 'nsec-proof-failed' | 'nsec-missing' = 'nsec-proof-failed'): Verdict =>
  bogus(reason, Ede.NSEC_MISSING, detail);

/** NXDOMAIN: an NSEC covers qname and an NSEC covers the wildcard at its closest encloser. */
export function nsecProveNxdomain(recs: NsecRecord[], qname: Name, zone: Name): Verdict {
  if (recs.length === 0) return fail(`NXDOMAIN for ${nameLabel(qname)} without NSEC records`, 'nsec-missing');
  const cover = recs.find((r) => nsecCovers(r, qname, zone));
  if (!cover) return fail(`no NSEC covers ${nameLabel(qname)} (NXDOMAIN not proven)`);
  const ce = closestEncloserFrom(cover, qname);
  if (!isSubdomain(ce, zone)) return fail(`closest encloser of ${nameLabel(qname)} lies outside zone ${nameLabel(zone)}`);
  const wc = wildcardAt(ce);
  if (!recs.some((r) => nsecCovers(r, wc, zone))) {
    return fail(`no NSEC proves that ${nameLabel(wc)} does not exist (NXDOMAIN for ${nameLabel(qname)} not proven)`);
  }
  return SECURE;
}

/** The NSEC bitmap at the name itself denies qtype (and CNAME), from the correct side of a cut. */
function bitmapDenies(r: NsecRecord, qtype: number, apex: boolean): string | null {
  // ANY has no bit of its own: only a name that owns nothing but the denial itself has no data at all.
  if (qtype === RRType.ANY && r.types.some((t) => !DENIAL_ONLY_TYPES.has(t)))
    return `NSEC at ${nameLabel(r.owner)} lists data types (NODATA for ANY not proven)`;
  if (r.types.includes(qtype)) return `NSEC at ${nameLabel(r.owner)} lists ${typeLabel(qtype)}`;
  if (r.types.includes(RRType.CNAME)) return `NSEC at ${nameLabel(r.owner)} lists CNAME`;
  if (qtype === RRType.DS) {
    // The DS lives in the parent: an NSEC from the child apex (SOA bit) cannot deny it (RFC 6840 §4.4).
    if (r.types.includes(RRType.SOA) && !apex) return `NSEC for DS at ${nameLabel(r.owner)} comes from the child zone`;
  } else if (r.types.includes(RRType.NS) && !r.types.includes(RRType.SOA)) {
    return `NSEC at ${nameLabel(r.owner)} is the parent side of a delegation`;
  }
  return null;
}

/**
 * NODATA: an NSEC at qname without qtype; or qname is an empty non-terminal (an NSEC covering it
 * has a next name below it); or wildcard NODATA (qname covered and the wildcard's NSEC lacks qtype).
 */
export function nsecProveNodata(recs: NsecRecord[], qname: Name, qtype: number, zone: Name): Verdict {
  if (recs.length === 0) return fail(`NODATA for ${nameLabel(qname)}/${typeLabel(qtype)} without NSEC records`, 'nsec-missing');
  const match = recs.find((r) => nsecMatches(r, qname));
  if (match) {
    const why = bitmapDenies(match, qtype, qname === '');
    return why ? fail(`${why} (NODATA for ${nameLabel(qname)} not proven)`) : SECURE;
  }
  const cover = recs.find((r) => nsecCovers(r, qname, zone));
  if (!cover) return fail(`no NSEC matches or covers ${nameLabel(qname)} (NODATA not proven)`);
  // Empty non-terminal: the next name is below qname, so qname exists but owns nothing.
  if (isSubdomain(cover.next, qname) && !nameEquals(cover.next, qname)) return SECURE;
  const ce = closestEncloserFrom(cover, qname);
  const wc = wildcardAt(ce);
  const wmatch = recs.find((r) => nsecMatches(r, wc));
  if (wmatch) {
    const why = bitmapDenies(wmatch, qtype, false);
    return why ? fail(`${why} (wildcard NODATA for ${nameLabel(qname)} not proven)`) : SECURE;
  }
  return fail(`${nameLabel(qname)} does not exist but the answer claims NODATA, and no NSEC at ${nameLabel(wc)} proves wildcard NODATA`);
}

/**
 * A positive answer synthesised from wildcard `wildcardOwner`: qname itself must be proven absent
 * (RFC 4035 §5.3.4), and the wildcard must be the one at qname's closest encloser.
 */
export function nsecProveWildcardAnswer(recs: NsecRecord[], qname: Name, wildcardOwner: Name, zone: Name): Verdict {
  const cover = recs.find((r) => nsecCovers(r, qname, zone));
  if (!cover)
    return bogus(
      'wildcard-proof-failed',
      Ede.NSEC_MISSING,
      `answer for ${nameLabel(qname)} was expanded from ${nameLabel(wildcardOwner)} but no NSEC proves ${nameLabel(qname)} does not exist`,
    );
  const ce = closestEncloserFrom(cover, qname);
  if (!nameEquals(wildcardAt(ce), wildcardOwner)) {
    return bogus(
      'wildcard-proof-failed',
      Ede.DNSSEC_BOGUS,
      `wildcard ${nameLabel(wildcardOwner)} is not at the closest encloser ${nameLabel(ce)} of ${nameLabel(qname)}`,
    );
  }
  return SECURE;
}

/** What one authenticated NSEC set says about `name` when looking for a zone cut (chain walk). */
export type CutEvidence = 'cut-without-ds' | 'cut-with-ds' | 'not-a-cut' | 'empty-non-terminal' | 'does-not-exist' | 'unproven';

export function nsecCutEvidence(recs: NsecRecord[], name: Name, zone: Name): CutEvidence {
  const match = recs.find((r) => nsecMatches(r, name));
  if (match) {
    if (match.types.includes(RRType.NS) && !match.types.includes(RRType.SOA))
      return match.types.includes(RRType.DS) ? 'cut-with-ds' : 'cut-without-ds';
    return 'not-a-cut';
  }
  const cover = recs.find((r) => nsecCovers(r, name, zone));
  if (!cover) return 'unproven';
  if (isSubdomain(cover.next, name) && !nameEquals(cover.next, name)) return 'empty-non-terminal';
  return 'does-not-exist';
}
