// The work one response may cost the validator. KeyTrap (CVE-2023-50387) showed that a properly signed
// zone can make a validator do quadratic work: many RRSIGs × many DNSKEYs sharing a key tag, NSEC3 hashes
// (CVE-2023-50868), DS digests over colliding keys. As BIND and Unbound did after it, the work is counted
// and bounded: one ValidationBudget is created per validated response and handed down to every RRset
// check (rrsig.ts), key set check (ds.ts), denial proof (nsec3.ts) and the chain walk (fetcher.ts).
// It only counts; running out ends in 'indeterminate' / 'budget-exhausted', never in 'secure'.
import { canonicalName } from '../wire/name';
import type { Name } from '../wire/types';
import { nsec3HashBytes } from './crypto';
import { canonicalWire } from './records';
import { indeterminate, type Verdict } from './verdict';

export interface BudgetLimits {
  /** Signature verifications (public-key operations) per response, successful or not. */
  maxVerifications: number;
  /** Failed signature verifications per response; a signed zone has none. */
  maxFailures: number;
  /** RRSIGs over one RRset taken to the public-key step (Unbound: MAX_VALIDATE_RRSIGS 8). */
  maxSigsPerRrset: number;
  /** DNSKEYs tried for one RRSIG (keys with its tag and algorithm; tags collide, rarely more than 2). */
  maxKeysPerTag: number;
  /** NSEC3 hash computations per response (each costs iterations + 1 SHA-1). */
  maxNsec3Hashes: number;
  /** DS digest computations per response (DS × DNSKEYs with the DS's tag). */
  maxDigests: number;
}

export const DEFAULT_BUDGET_LIMITS: Readonly<BudgetLimits> = Object.freeze({
  maxVerifications: 64,
  maxFailures: 8,
  maxSigsPerRrset: 8,
  maxKeysPerTag: 4,
  maxNsec3Hashes: 64,
  maxDigests: 64,
});

/** Seconds a bogus result (key set, DS evidence, answer) is remembered: RFC 4035 §4.7, Unbound's val-bogus-ttl. */
export const BOGUS_TTL = 60;

/** Anything that computes NSEC3 hashes under a bound (nsec3.ts takes this). */
export interface HashBudget {
  /** H(name) with these parameters, or null when no hash computation is left. */
  hash(name: Name, salt: Uint8Array, iterations: number): Uint8Array | null;
}

export class ValidationBudget implements HashBudget {
  readonly limits: Readonly<BudgetLimits>;
  verifications = 0;
  failures = 0;
  hashes = 0;
  digests = 0;
  /** Set when a per-response limit was reached: what ran out. Everything after that is 'indeterminate'. */
  spent?: string;
  private readonly memo = new Map<string, Uint8Array>();

  constructor(limits: Partial<BudgetLimits> = {}) {
    this.limits = { ...DEFAULT_BUDGET_LIMITS, ...limits };
  }

  private refuse(what: string): false {
    this.spent = this.spent ?? what;
    return false;
  }

  /** Takes one signature verification; false when the response has none left. */
  verification(): boolean {
    if (this.spent) return false;
    if (this.failures >= this.limits.maxFailures) return this.refuse(`more than ${this.limits.maxFailures} failed signature verifications`);
    if (this.verifications >= this.limits.maxVerifications)
      return this.refuse(`more than ${this.limits.maxVerifications} signature verifications`);
    this.verifications++;
    return true;
  }

  /**
   * Takes up to `n` verifications for checks made ahead of the pure checks (ahead.ts), without running
   * out (a guess that does not fit is simply not made ahead): returns how many were granted.
   */
  takeAhead(n: number): number {
    if (this.spent || this.failures >= this.limits.maxFailures) return 0;
    const k = Math.max(0, Math.min(n, this.limits.maxVerifications - this.verifications));
    this.verifications += k;
    return k;
  }

  /** Records that the verification just taken failed (the next one is refused past maxFailures). */
  failed(): void {
    this.failures++;
  }

  /** Takes one DS digest computation; false when none is left. */
  digest(): boolean {
    if (this.spent) return false;
    if (this.digests >= this.limits.maxDigests) return this.refuse(`more than ${this.limits.maxDigests} DS digest computations`);
    this.digests++;
    return true;
  }

  hash(name: Name, salt: Uint8Array, iterations: number): Uint8Array | null {
    const key = `${canonicalName(name)}|${Buffer.from(salt).toString('hex')}|${iterations}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    if (this.spent) return null;
    if (this.hashes >= this.limits.maxNsec3Hashes) {
      this.refuse(`more than ${this.limits.maxNsec3Hashes} NSEC3 hash computations`);
      return null;
    }
    this.hashes++;
    const h = nsec3HashBytes(canonicalWire(name), salt, iterations);
    this.memo.set(key, h);
    return h;
  }

  /** The verdict for work refused because the response ran out of budget. */
  exhausted(where?: string): Verdict {
    return indeterminate(
      'budget-exhausted',
      `${where ? `${where}: ` : ''}${this.spent ?? 'work budget of one response used up'} for one response (KeyTrap bound)`,
    );
  }

  /** One-line account of the work done (bench, logs). */
  summary(): string {
    return `${this.verifications} verifications (${this.failures} failed), ${this.hashes} NSEC3 hashes, ${this.digests} DS digests${this.spent ? `; stopped: ${this.spent}` : ''}`;
  }
}
