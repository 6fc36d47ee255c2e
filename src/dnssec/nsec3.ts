// Authenticated denial with NSEC3 (RFC 5155 §8, RFC 9276). Terms, on example zone { example,
// a.example, *.w.example, x.y.w.example }:
//   - H(name): the iterated, salted SHA-1 of the canonical wire name, written base32hex as the first
//     label of an NSEC3 owner ('0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example' is H(example));
//   - an NSEC3 "matches" a name when H(name) is its owner hash; it "covers" a name when H(name) sorts
//     strictly between owner hash and next hash (the last one wraps);
//   - closest encloser proof (§7.2.1): the closest encloser CE has a matching NSEC3 and the "next closer
//     name" (CE plus one label of qname) is covered;
//   - opt-out (§6): a covering NSEC3 with the opt-out flag may hide unsigned delegations, so any proof
//     whose next closer name is covered by one proves only "insecure" (RFC 5155 §9.2: no AD bit): a DS
//     denial, an NXDOMAIN, a NODATA or a wildcard answer alike (as Unbound and dnsjava; BIND says secure
//     for NXDOMAIN, against §9.2).
// Hashing is bounded: a HashBudget (budget.ts, one per response) counts computations, and running out
// answers 'indeterminate' rather than guessing. Iterations above `maxIterations` (RFC 9276 §3.2) make
// the answer insecure, after the records' signatures were checked by the caller.
import { isSubdomain, labelCount, nameEquals, nameToLabels, labelsToName, parentName } from '../wire/name';
import { RRType, type Name } from '../wire/types';
import { type HashBudget, ValidationBudget } from './budget';
import { base32hexDecode, nsec3HashBytes } from './crypto';
import { canonicalWire, type Nsec3, NSEC3_OPT_OUT } from './records';
import { bogus, Ede, indeterminate, insecure, SECURE, type Verdict } from './verdict';
import { nameLabel, typeLabel, DENIAL_ONLY_TYPES } from './util';

export interface Nsec3Record {
  owner: Name;
  rd: Nsec3;
}

export interface Nsec3Limits {
  /** RFC 9276 §3.2: above this many iterations the answer is treated as insecure. */
  maxIterations: number;
  /** Hash computations allowed for one response. */
  maxHashes: number;
}

export const DEFAULT_NSEC3_LIMITS: Nsec3Limits = { maxIterations: 150, maxHashes: 64 };

/**
 * A hash budget on its own (the per-response ValidationBudget of budget.ts is the other one): kept for
 * callers that bound only NSEC3 hashing.
 */
export class Nsec3Budget extends ValidationBudget {
  constructor(readonly max: number) {
    super({ maxNsec3Hashes: max });
  }
  get used(): number {
    return this.hashes;
  }
}

export function nsec3Hash(name: Name, salt: Uint8Array, iterations: number): Uint8Array {
  return nsec3HashBytes(canonicalWire(name), salt, iterations);
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

interface Prepared {
  owner: Name;
  ownerHash: Uint8Array;
  rd: Nsec3;
}

class Budgetless extends Error {}

/** Proof engine for one zone's NSEC3 records. */
class Nsec3Proof {
  readonly recs: Prepared[];
  readonly salt: Uint8Array;
  readonly iterations: number;
  constructor(
    recs: Nsec3Record[],
    readonly zone: Name,
    private readonly budget: HashBudget,
  ) {
    const prepared: Prepared[] = [];
    for (const r of recs) {
      // RFC 5155 §8.1/§8.2: only SHA-1 and flags 0/1; the owner is one hash label directly under the zone.
      if (r.rd.hashAlgorithm !== 1 || (r.rd.flags & ~NSEC3_OPT_OUT) !== 0) continue;
      const p = parentName(r.owner);
      if (p === null || !nameEquals(p, zone)) continue;
      const h = base32hexDecode(Buffer.from(nameToLabels(r.owner)[0]!).toString('latin1'));
      if (!h || h.length !== r.rd.nextHashed.length) continue;
      prepared.push({ owner: r.owner, ownerHash: h, rd: r.rd });
    }
    // All NSEC3 records of a zone share one parameter set; use the first's and ignore odd ones.
    this.salt = prepared[0]?.rd.salt ?? new Uint8Array();
    this.iterations = prepared[0]?.rd.iterations ?? 0;
    this.recs = prepared.filter((p) => p.rd.iterations === this.iterations && cmp(p.rd.salt, this.salt) === 0);
  }

  h(name: Name): Uint8Array {
    const v = this.budget.hash(name, this.salt, this.iterations);
    if (!v) throw new Budgetless();
    return v;
  }

  match(name: Name): Prepared | undefined {
    const h = this.h(name);
    return this.recs.find((r) => cmp(r.ownerHash, h) === 0);
  }

  cover(name: Name): Prepared | undefined {
    const h = this.h(name);
    return this.recs.find((r) => {
      const o = cmp(r.ownerHash, h);
      const n = cmp(h, r.rd.nextHashed);
      if (cmp(r.ownerHash, r.rd.nextHashed) < 0) return o < 0 && n < 0;
      return o < 0 || n < 0; // the last NSEC3 in hash order wraps
    });
  }

  /**
   * RFC 5155 §8.3: walk up from qname to the zone apex; the first ancestor with a matching NSEC3 is
   * the closest encloser, and the name one label below it toward qname must be covered.
   */
  closestEncloser(qname: Name): { ce: Name; nextCloser: Name; ncCover: Prepared } | string {
    const labels = nameToLabels(qname);
    const zl = labelCount(this.zone);
    let nextCloser: Name | null = null;
    for (let i = 0; i <= labels.length - zl; i++) {
      const cand = labelsToName(labels.slice(i));
      const m = this.match(cand);
      if (m) {
        // §8.3: a closest encloser NSEC3 at a delegation (NS without SOA) or DNAME cannot deny names below it.
        if (i > 0 && ((m.rd.types.includes(RRType.NS) && !m.rd.types.includes(RRType.SOA)) || m.rd.types.includes(RRType.DNAME))) {
          return `NSEC3 for ${nameLabel(cand)} is a delegation or DNAME; it cannot deny ${nameLabel(qname)}`;
        }
        if (nextCloser === null) return `${nameLabel(qname)} has a matching NSEC3: it exists`;
        const c = this.cover(nextCloser);
        if (!c) return `no NSEC3 covers the next closer name ${nameLabel(nextCloser)}`;
        return { ce: cand, nextCloser, ncCover: c };
      }
      nextCloser = cand;
    }
    return `no NSEC3 matches any ancestor of ${nameLabel(qname)} in ${nameLabel(this.zone)}`;
  }
}

function wildcardAt(ce: Name): Name {
  return labelsToName([Uint8Array.of(0x2a), ...nameToLabels(ce)]);
}

const fail = (detail: string): Verdict => bogus('nsec-proof-failed', Ede.NSEC_MISSING, detail);

/**
 * Shared preamble: parameters and the RFC 9276 iteration limit. Returns a verdict when the proof
 * cannot proceed, else the engine.
 */
function prepare(recs: Nsec3Record[], zone: Name, limits: Nsec3Limits, budget: HashBudget): Nsec3Proof | Verdict {
  if (recs.length === 0) return bogus('nsec-missing', Ede.NSEC_MISSING, `no NSEC3 records from ${nameLabel(zone)}`);
  const p = new Nsec3Proof(recs, zone, budget);
  if (p.recs.length === 0) {
    return insecure('unsupported-algorithm', zone, `NSEC3 records of ${nameLabel(zone)} use only unknown hash algorithms or flags`);
  }
  if (p.iterations > limits.maxIterations) {
    return insecure(
      'nsec3-iterations',
      zone,
      `NSEC3 of ${nameLabel(zone)} uses ${p.iterations} iterations, above the limit of ${limits.maxIterations} (RFC 9276)`,
    );
  }
  return p;
}

function outOfHashes(budget: HashBudget): Verdict {
  return budget instanceof ValidationBudget
    ? budget.exhausted('NSEC3 proof')
    : indeterminate('budget-exhausted', 'too many NSEC3 hash computations for one response');
}

function run(budget: HashBudget, f: () => Verdict): Verdict {
  try {
    return f();
  } catch (e) {
    if (e instanceof Budgetless) return outOfHashes(budget);
    throw e;
  }
}

/** RFC 5155 §9.2: a proof whose next closer name lies in an opt-out span proves only "insecure". */
function optOut(ce: { nextCloser: Name; ncCover: Prepared }, zone: Name, what: string): Verdict | null {
  if (!(ce.ncCover.rd.flags & NSEC3_OPT_OUT)) return null;
  return insecure(
    'nsec3-opt-out',
    ce.nextCloser,
    `${what}: the next closer name ${nameLabel(ce.nextCloser)} lies in an opt-out NSEC3 span of ${nameLabel(zone)}, where an unsigned delegation may be (RFC 5155 §9.2)`,
  );
}

/** RFC 5155 §8.4: closest encloser proof plus a covering NSEC3 for the wildcard at the closest encloser. */
export function nsec3ProveNxdomain(recs: Nsec3Record[], qname: Name, zone: Name, limits: Nsec3Limits, budget: HashBudget): Verdict {
  const p = prepare(recs, zone, limits, budget);
  if (!(p instanceof Nsec3Proof)) return p;
  return run(budget, () => {
    const ce = p.closestEncloser(qname);
    if (typeof ce === 'string') return fail(`NXDOMAIN for ${nameLabel(qname)} not proven: ${ce}`);
    const wc = wildcardAt(ce.ce);
    if (!p.cover(wc)) return fail(`NXDOMAIN for ${nameLabel(qname)} not proven: no NSEC3 covers ${nameLabel(wc)}`);
    // The proof is complete; an opt-out span over the next closer name may still hide an unsigned
    // delegation the name lives under.
    return optOut(ce, zone, `NXDOMAIN for ${nameLabel(qname)}`) ?? SECURE;
  });
}

function denies(r: Prepared, qtype: number, name: Name, apex: boolean): string | null {
  // ANY has no bit of its own: only a name that owns nothing but the denial itself has no data at all.
  if (qtype === RRType.ANY && r.rd.types.some((t) => !DENIAL_ONLY_TYPES.has(t)))
    return `NSEC3 for ${nameLabel(name)} lists data types (NODATA for ANY not proven)`;
  const t = r.rd.types;
  if (t.includes(qtype)) return `NSEC3 for ${nameLabel(name)} lists ${typeLabel(qtype)}`;
  if (t.includes(RRType.CNAME)) return `NSEC3 for ${nameLabel(name)} lists CNAME`;
  if (qtype === RRType.DS) {
    if (t.includes(RRType.SOA) && !apex) return `NSEC3 for DS at ${nameLabel(name)} comes from the child zone`;
  } else if (t.includes(RRType.NS) && !t.includes(RRType.SOA)) {
    return `NSEC3 for ${nameLabel(name)} is the parent side of a delegation`;
  }
  return null;
}

/**
 * RFC 5155 §8.5–§8.7: NODATA. A matching NSEC3 without qtype/CNAME; or wildcard NODATA (closest encloser
 * proof and a matching NSEC3 at the wildcard without qtype); or, with no match at all, a closest encloser
 * proof whose next closer name is covered by an opt-out NSEC3 (§8.6 for DS; for other types the data may
 * come from an unsigned delegation in the span, as Unbound reads it) → insecure. Anything else is bogus.
 */
export function nsec3ProveNodata(
  recs: Nsec3Record[],
  qname: Name,
  qtype: number,
  zone: Name,
  limits: Nsec3Limits,
  budget: HashBudget,
): Verdict {
  const p = prepare(recs, zone, limits, budget);
  if (!(p instanceof Nsec3Proof)) return p;
  return run(budget, () => {
    const m = p.match(qname);
    if (m) {
      const why = denies(m, qtype, qname, nameEquals(qname, zone) && qname === '');
      return why ? fail(`${why} (NODATA not proven)`) : SECURE;
    }
    const ce = p.closestEncloser(qname);
    if (typeof ce === 'string') return fail(`NODATA for ${nameLabel(qname)}/${typeLabel(qtype)} not proven: ${ce}`);
    const wc = wildcardAt(ce.ce);
    const wm = p.match(wc);
    if (wm) {
      const why = denies(wm, qtype, wc, false);
      if (why) return fail(`${why} (wildcard NODATA not proven)`);
      return optOut(ce, zone, `wildcard NODATA for ${nameLabel(qname)}/${typeLabel(qtype)}`) ?? SECURE;
    }
    return (
      optOut(ce, zone, `no ${typeLabel(qtype)} for ${nameLabel(qname)}`) ??
      fail(
        `NODATA for ${nameLabel(qname)}/${typeLabel(qtype)} not proven: no NSEC3 matches it or the wildcard ${nameLabel(wc)}, and the next closer name is not in an opt-out span`,
      )
    );
  });
}

/** RFC 5155 §8.8: an answer expanded from `wildcardOwner` needs the next closer name of qname covered. */
export function nsec3ProveWildcardAnswer(
  recs: Nsec3Record[],
  qname: Name,
  wildcardOwner: Name,
  zone: Name,
  limits: Nsec3Limits,
  budget: HashBudget,
): Verdict {
  const p = prepare(recs, zone, limits, budget);
  if (!(p instanceof Nsec3Proof)) return p;
  return run(budget, () => {
    const ce = parentName(wildcardOwner) ?? '';
    if (!isSubdomain(qname, ce) || nameEquals(qname, ce))
      return bogus('wildcard-proof-failed', Ede.DNSSEC_BOGUS, `${nameLabel(qname)} is not below wildcard ${nameLabel(wildcardOwner)}`);
    const ql = nameToLabels(qname);
    const nc = labelsToName(ql.slice(ql.length - labelCount(ce) - 1));
    const cover = p.cover(nc);
    if (!cover) {
      return bogus(
        'wildcard-proof-failed',
        Ede.NSEC_MISSING,
        `answer for ${nameLabel(qname)} was expanded from ${nameLabel(wildcardOwner)} but no NSEC3 covers the next closer name ${nameLabel(nc)}`,
      );
    }
    return optOut({ nextCloser: nc, ncCover: cover }, zone, `wildcard answer for ${nameLabel(qname)}`) ?? SECURE;
  });
}

export type Nsec3CutEvidence =
  | { kind: 'cut-without-ds' | 'cut-with-ds' | 'not-a-cut' | 'does-not-exist' | 'unproven' }
  | { kind: 'opt-out' }
  | { kind: 'stop'; verdict: Verdict };

/** What authenticated NSEC3 records say about `name` when the chain walk asks for its DS. */
export function nsec3CutEvidence(recs: Nsec3Record[], name: Name, zone: Name, limits: Nsec3Limits, budget: HashBudget): Nsec3CutEvidence {
  const p = prepare(recs, zone, limits, budget);
  if (!(p instanceof Nsec3Proof)) return { kind: 'stop', verdict: p };
  try {
    const m = p.match(name);
    if (m) {
      if (m.rd.types.includes(RRType.NS) && !m.rd.types.includes(RRType.SOA))
        return { kind: m.rd.types.includes(RRType.DS) ? 'cut-with-ds' : 'cut-without-ds' };
      return { kind: 'not-a-cut' };
    }
    const ce = p.closestEncloser(name);
    if (typeof ce === 'string') return { kind: 'unproven' };
    if (ce.ncCover.rd.flags & NSEC3_OPT_OUT) return { kind: 'opt-out' };
    return { kind: 'does-not-exist' };
  } catch (e) {
    if (e instanceof Budgetless) return { kind: 'stop', verdict: outOfHashes(budget) };
    throw e;
  }
}
