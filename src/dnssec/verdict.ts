// DNSSEC verdicts are values (RFC 4035 §4.3 states), never exceptions. Every non-secure verdict says
// why, and bogus ones carry the RFC 8914 extended DNS error the resolver puts into its SERVFAIL.
import type { Name } from '../wire/types';

/** RFC 8914 §4 INFO-CODEs (the one table is src/wire/ede.ts). */
export { Ede } from '../wire/ede';

export type InsecureReason =
  | 'unsigned-delegation' // DS absence proven at a cut (NSEC/NSEC3 NODATA with NS bit)
  | 'nsec3-opt-out' // the delegation lies in an opt-out span
  | 'nsec3-iterations' // RFC 9276: NSEC3 iterations above our limit
  | 'unsupported-algorithm' // RFC 6840 §5.2: no DS with an algorithm we implement
  | 'unsupported-digest' // no DS with a digest type we implement
  | 'unusable-key' // every key the DS set vouches for is one we refuse to use (RSA exponent/modulus too large)
  | 'trust-anchor-unsupported' // the anchor itself uses only unsupported algorithms
  | 'no-anchor' // no configured trust anchor covers the name (island-of-trust configurations)
  | 'negative-trust-anchor'; // the operator set the name aside (RFC 7646): not validated

export type BogusReason =
  | 'sig-expired'
  | 'sig-not-yet-valid'
  | 'sig-invalid' // cryptographic check failed for every candidate key
  | 'rrsig-missing'
  | 'rrsig-malformed'
  | 'signer-mismatch' // signer is not the zone the chain says owns the name
  | 'labels-mismatch' // RRSIG labels field larger than the owner, or wildcard not proven
  | 'no-matching-key' // no DNSKEY with the RRSIG's tag/algorithm in the validated key set
  | 'unusable-key' // the only keys with the RRSIG's tag are refused (RSA exponent/modulus too large)
  | 'dnskey-missing' // DNSKEY RRset absent or no key matches a DS / anchor
  | 'ds-mismatch' // DS digests match no DNSKEY
  | 'nsec-missing' // negative answer without (valid) denial of existence
  | 'nsec-proof-failed' // NSEC/NSEC3 records present but they do not prove the claim
  | 'cname-chain' // CNAME/DNAME chain broken, looping or too long
  | 'wildcard-proof-failed'
  | 'answer-missing' // a NOERROR answer with neither data nor a denial proof
  | 'rcode-mismatch'; // the rcode contradicts the proof (NXDOMAIN around an answer for the name)

export type IndeterminateReason =
  | 'fetch-failed'
  | 'budget-exhausted'
  | 'upstream-error'
  | 'internal-error'
  | 'no-trusted-key' // the closest anchor has neither key nor DS (an RFC 5011 state with every key revoked)
  | 'not-validated' // no validator ran on this answer (Unbound's sec_status_unchecked): never trusted
  | 'owner-mismatch'; // the IPSECKEY and address lookups of one name ended at different owners

export type Verdict =
  | { kind: 'secure'; reason: 'chain-complete' }
  | { kind: 'insecure'; reason: InsecureReason; at: Name; detail: string }
  | { kind: 'bogus'; reason: BogusReason; ede: number; detail: string; rrset?: string; keyTag?: number }
  | { kind: 'indeterminate'; reason: IndeterminateReason; detail: string };

export type VerdictKind = Verdict['kind'];

export const SECURE: Verdict = Object.freeze({ kind: 'secure', reason: 'chain-complete' });

export function insecure(reason: InsecureReason, at: Name, detail: string): Verdict {
  return { kind: 'insecure', reason, at, detail };
}

export function bogus(reason: BogusReason, ede: number, detail: string, extra: { rrset?: string; keyTag?: number } = {}): Verdict {
  return { kind: 'bogus', reason, ede, detail, ...extra };
}

export function indeterminate(reason: IndeterminateReason, detail: string): Verdict {
  return { kind: 'indeterminate', reason, detail };
}

const rank: Record<VerdictKind, number> = { secure: 0, insecure: 1, indeterminate: 2, bogus: 3 };

/** The verdict of several parts taken together: the worst one wins (bogus > indeterminate > insecure > secure). */
export function worst(vs: Verdict[]): Verdict {
  let w: Verdict = SECURE;
  for (const v of vs) if (rank[v.kind] > rank[w.kind]) w = v;
  return w;
}

/** One line for humans: `bogus (sig-expired): RRSIG ...`. */
export function describeVerdict(v: Verdict): string {
  switch (v.kind) {
    case 'secure':
      return 'secure (chain-complete)';
    case 'insecure':
      return `insecure (${v.reason} at ${v.at === '' ? '.' : v.at + '.'}): ${v.detail}`;
    case 'bogus':
      return `bogus (${v.reason}, EDE ${v.ede}): ${v.detail}`;
    case 'indeterminate':
      return `indeterminate (${v.reason}): ${v.detail}`;
    default: {
      const never: never = v;
      return never;
    }
  }
}
