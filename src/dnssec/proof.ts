// What the validator vouches for, in the form that travels on past it: the verdict together with
// exactly the RRsets it judged (hickory-dns's Proof, Unbound's sec_status with its rrsets). The cache
// keeps it, the reply builds its message and AD bit from it, and capture, autosp and the responder
// read addresses and keys from it. Nobody downstream reads the upstream's raw message again.
import type { Message, RR } from '../wire/types';
import type { Negative, ValidatedRRset } from './validate';
import type { ValidationResult } from './validator';
import { indeterminate, type Verdict } from './verdict';

export interface Proof {
  readonly verdict: Verdict;
  /** Empty unless the verdict is secure or insecure. */
  readonly rrsets: readonly ValidatedRRset[];
  readonly negative: Negative;
  /** The rcode the proof supports (see ValidationResult.rcode). */
  readonly rcode: number;
  /** Seconds a secure result may be kept (≤ every TTL and signature expiry it rests on). */
  readonly ttl?: number;
}

export function proofOf(r: ValidationResult): Proof {
  return { verdict: r.verdict, rrsets: r.rrsets, negative: r.negative, rcode: r.rcode, ttl: r.ttl };
}

/** What a lookup without a validator's word is taken to be: unvalidated, so never trusted. */
const UNVALIDATED: Verdict = Object.freeze(indeterminate('not-validated', 'no validator ran on this answer'));

/** The verdict a consumer acts on: the proof's, or 'not-validated' when no validator ran. */
export function verdictOfProof(p: Proof | undefined): Verdict {
  return p ? p.verdict : UNVALIDATED;
}

/** Can the RRsets of this proof be handed on (to a client, the cache or the engine)? */
export function isUsable(p: Proof): boolean {
  return p.verdict.kind === 'secure' || p.verdict.kind === 'insecure';
}

/**
 * The response a client may see: the header of `response`, the proof's rcode, its chain RRsets in the
 * answer section and its denial records in the authority section, TTLs as validated, no additional
 * data. Whatever else the upstream sent is gone. Only for usable proofs.
 */
export function provenMessage(response: Message, p: Proof): Message {
  const answers: RR[] = [];
  const authorities: RR[] = [];
  for (const s of p.rrsets) {
    const into = s.role === 'denial' ? authorities : answers;
    into.push(...s.records, ...s.sigs);
  }
  return { ...response, rcode: p.rcode, ad: false, answers, authorities, additionals: [] };
}

/**
 * Do two proofs vouch for the same data: verdict kind, rcode, denial, and RRsets with the same owners,
 * types, roles and records (TTLs and signatures aside)? A second fetch that says the same adds nothing
 * an attacker chose; one that says otherwise may be a replay of older, still valid signatures.
 */
export function sameProvenData(a: Proof, b: Proof): boolean {
  if (a.verdict.kind !== b.verdict.kind || a.rcode !== b.rcode || a.negative !== b.negative || a.rrsets.length !== b.rrsets.length)
    return false;
  const records = (s: ValidatedRRset): string =>
    s.records
      .map((r) => Buffer.from(r.rdata).toString('hex'))
      .sort()
      .join(',');
  return a.rrsets.every((s, i) => {
    const t = b.rrsets[i]!;
    return (
      s.type === t.type &&
      s.class === t.class &&
      s.role === t.role &&
      s.security === t.security &&
      s.name.toLowerCase() === t.name.toLowerCase() &&
      records(s) === records(t)
    );
  });
}
