// Zone cuts and the keys behind them, one step at a time. Pure: each function judges one upstream
// response (to a DS or DNSKEY query) given what is already proven about the zone above. The walk that
// sends the queries is in fetcher.ts.
//
// Why DS queries find cuts: whichever server answers, the DS RRset of a name (or its NSEC/NSEC3 denial)
// is signed by the zone *above* the cut. A positive DS means a secure cut; a denial whose bitmap has NS
// but no SOA means an unsigned cut; a denial without NS means the name is inside the current zone, even
// when one server is authoritative for both parent and child.
import { isSubdomain, nameEquals } from '../wire/name';
import { RRType, type Message, type Name, type RR } from '../wire/types';
import { decodeDs, decodeNsec, decodeNsec3, type Ds } from './records';
import { type KeySetResult, type TrustPoint, validateKeySet } from './ds';
import { nsecCutEvidence, type NsecRecord } from './nsec';
import { ValidationBudget } from './budget';
import { type Nsec3Limits, nsec3CutEvidence, type Nsec3Record } from './nsec3';
import { verifyRrset } from './rrsig';
import { groupRRsets, nameLabel, sigsFor } from './util';
import { bogus, Ede, indeterminate, insecure, type Verdict } from './verdict';

/** NSEC/NSEC3 RRsets of one DS answer that are checked at all. */
export const MAX_DENIAL_RRSETS = 6;

/** A zone whose DNSKEY set is proven. */
export interface SecureZone {
  zone: Name;
  keys: RR[];
  keyTags: number[];
}

export type DsEvidence =
  | { kind: 'ds'; ds: Ds[]; ttl: number } // secure cut: fetch and check the child's DNSKEY
  | { kind: 'no-cut'; ttl: number } // the name is inside the current zone (or an empty non-terminal)
  | { kind: 'absent'; ttl: number } // the name does not exist: nothing below it either
  | { kind: 'end'; verdict: Verdict; ttl: number }; // insecure cut, bogus, or indeterminate: the walk stops here

function minTtl(rrs: RR[]): number {
  return rrs.length ? Math.min(...rrs.map((r) => r.ttl)) : 0;
}

/**
 * Judges the upstream's answer to `child DS?`, where `parent` is the proven zone right above. Only
 * signed records count: the rcode is not signed, so it decides nothing (an NXDOMAIN rcode on a NODATA
 * proof must not turn an unsigned delegation into "absent"). Work is charged to `budget`.
 */
export function classifyDsResponse(
  parent: SecureZone,
  child: Name,
  msg: Message,
  nowSec: number,
  limits: Nsec3Limits,
  budget: ValidationBudget = new ValidationBudget({ maxNsec3Hashes: limits.maxHashes }),
): DsEvidence {
  const label = `${nameLabel(child)}/DS`;
  if (msg.rcode !== 0 && msg.rcode !== 3) {
    return {
      kind: 'end',
      verdict: indeterminate('upstream-error', `DS query for ${nameLabel(child)} answered rcode ${msg.rcode}`),
      ttl: 0,
    };
  }
  const ds = msg.answers.filter((r) => r.type === RRType.DS && nameEquals(r.name, child));
  if (ds.length > 0) {
    const r = verifyRrset(ds, sigsFor(msg.answers, child, RRType.DS), parent.keys, parent.zone, nowSec, budget);
    if (r.verdict.kind !== 'secure') return { kind: 'end', verdict: r.verdict, ttl: 0 };
    const parsed: Ds[] = [];
    for (const rr of ds) {
      try {
        parsed.push(decodeDs(rr.rdata));
      } catch {
        /* a malformed DS vouches for nothing */
      }
    }
    return { kind: 'ds', ds: parsed, ttl: r.ttl };
  }
  const cname = msg.answers.filter((r) => r.type === RRType.CNAME && nameEquals(r.name, child));
  if (cname.length > 0) {
    // A CNAME cannot sit at a cut (RFC 2181 §10.1): the name belongs to the current zone.
    const r = verifyRrset(cname, sigsFor(msg.answers, child, RRType.CNAME), parent.keys, parent.zone, nowSec, budget);
    return r.verdict.kind === 'secure' ? { kind: 'no-cut', ttl: r.ttl } : { kind: 'end', verdict: r.verdict, ttl: 0 };
  }
  // A denial. Only records signed by the parent zone count.
  const nsec: NsecRecord[] = [];
  const nsec3: Nsec3Record[] = [];
  let sigFailure: Verdict | null = null;
  let ttl = Number.MAX_SAFE_INTEGER;
  let checked = 0;
  for (const set of groupRRsets(msg.authorities)) {
    if ((set.type !== RRType.NSEC && set.type !== RRType.NSEC3) || !isSubdomain(set.name, parent.zone)) continue;
    // A DS denial needs at most two NSECs or three NSEC3s; validly signed extras only cost checks.
    // Leaving some out can only leave a claim unproven (bogus): an opt-out or cut proof needs records
    // that exist for the name, never the absence of others.
    if (checked++ >= MAX_DENIAL_RRSETS) break;
    const r = verifyRrset(set.rrs, sigsFor(msg.authorities, set.name, set.type), parent.keys, parent.zone, nowSec, budget);
    if (r.verdict.kind !== 'secure') {
      if (r.verdict.kind === 'indeterminate') return { kind: 'end', verdict: r.verdict, ttl: 0 };
      sigFailure = sigFailure ?? r.verdict;
      continue;
    }
    ttl = Math.min(ttl, r.ttl, minTtl(set.rrs));
    try {
      if (set.type === RRType.NSEC) nsec.push({ owner: set.name, ...decodeNsec(set.rrs[0]!.rdata) });
      else for (const rr of set.rrs) nsec3.push({ owner: rr.name, rd: decodeNsec3(rr.rdata) });
    } catch {
      /* malformed: ignored */
    }
  }
  if (ttl === Number.MAX_SAFE_INTEGER) ttl = 0;
  if (nsec.length === 0 && nsec3.length === 0) {
    if (sigFailure) return { kind: 'end', verdict: sigFailure, ttl: 0 };
    return {
      kind: 'end',
      verdict: bogus(
        'nsec-missing',
        Ede.NSEC_MISSING,
        `no DS for ${nameLabel(child)} and no signed NSEC/NSEC3 from ${nameLabel(parent.zone)} proving its absence`,
        { rrset: label },
      ),
      ttl: 0,
    };
  }
  const unproven = (): DsEvidence => ({
    kind: 'end',
    verdict:
      sigFailure ??
      bogus(
        'nsec-proof-failed',
        Ede.NSEC_MISSING,
        `the NSEC/NSEC3 records from ${nameLabel(parent.zone)} neither match nor cover ${nameLabel(child)}`,
        { rrset: label },
      ),
    ttl: 0,
  });
  let kind: string;
  if (nsec.length > 0) {
    kind = nsecCutEvidence(nsec, child, parent.zone);
  } else {
    const e = nsec3CutEvidence(nsec3, child, parent.zone, limits, budget);
    if (e.kind === 'stop') return { kind: 'end', verdict: e.verdict, ttl: e.verdict.kind === 'insecure' ? ttl : 0 };
    kind = e.kind;
  }
  switch (kind) {
    case 'cut-without-ds':
      return {
        kind: 'end',
        verdict: insecure('unsigned-delegation', child, `${nameLabel(parent.zone)} proves ${nameLabel(child)} is delegated without DS`),
        ttl,
      };
    case 'opt-out':
      // Whatever the rcode says: the span may hold an unsigned delegation at or above the name.
      return {
        kind: 'end',
        verdict: insecure(
          'nsec3-opt-out',
          child,
          `${nameLabel(child)} lies in an opt-out NSEC3 span of ${nameLabel(parent.zone)}: an unsigned delegation may be there`,
        ),
        ttl,
      };
    case 'cut-with-ds':
      return {
        kind: 'end',
        verdict: bogus(
          'nsec-proof-failed',
          Ede.DNSSEC_BOGUS,
          `${nameLabel(parent.zone)} denies the DS of ${nameLabel(child)} whose NSEC lists DS`,
          { rrset: label },
        ),
        ttl: 0,
      };
    case 'not-a-cut':
    case 'empty-non-terminal':
      return { kind: 'no-cut', ttl };
    case 'does-not-exist':
      return { kind: 'absent', ttl };
    default:
      return unproven();
  }
}

/** Judges the upstream's answer to `zone DNSKEY?` against what vouches for the zone (DS or anchor). */
export function classifyDnskeyResponse(
  tp: TrustPoint,
  msg: Message,
  nowSec: number,
  budget: ValidationBudget = new ValidationBudget(),
): KeySetResult {
  if (msg.rcode !== 0) {
    return {
      verdict: indeterminate('upstream-error', `DNSKEY query for ${nameLabel(tp.zone)} answered rcode ${msg.rcode}`),
      keys: [],
      keyTags: [],
      sepTags: [],
      ttl: 0,
    };
  }
  const keys = msg.answers.filter((r) => r.type === RRType.DNSKEY && nameEquals(r.name, tp.zone));
  return validateKeySet(tp, keys, sigsFor(msg.answers, tp.zone, RRType.DNSKEY), nowSec, budget);
}
