// The validator's public face: `createValidator(...).validate(question, response, nowSec)`. It asks the
// chain fetcher for the status of every zone the answer touches, then runs the pure response check.
// When an authoritative upstream stops a CNAME chain at a name outside its zones, the rest of the
// chain is asked for and validated too, link by link. Negative trust anchors (RFC 7646) are applied
// here, name by name: only the names of the chain at or under one are set aside.
// Layering: src/dnssec may import only src/wire and src/util; pure, the network reached only through
// the query function the fetcher is given.
import { canonicalName, isSubdomain } from '../wire/name';
import { RRType, type Message, type Name, type Question } from '../wire/types';
import { ROOT_ANCHORS, type TrustAnchor } from './anchors';
import { ChainFetcher, type ChainLink, type QueryFn, type WalkContext } from './fetcher';
import type { BudgetLimits } from './budget';
import { checkAhead, responseChecks } from './ahead';
import { DEFAULT_KEY_CACHE_LIMITS, type KeyCacheLimits } from './key-cache';
import { DEFAULT_NSEC3_LIMITS, type Nsec3Limits } from './nsec3';
import {
  chainNames,
  proofTtl,
  zoneKey,
  MAX_CHAIN,
  type Negative,
  type ResponseResult,
  type StepResult,
  type ValidatedRRset,
  validateResponse,
  type ZoneStatus,
} from './validate';
import { bogus, Ede, indeterminate, insecure, type Verdict, worst } from './verdict';
import { nameLabel } from './util';

export interface ValidatorOptions {
  /** Default: the IANA root anchors. */
  anchors?: readonly TrustAnchor[];
  query: QueryFn;
  cache?: Partial<KeyCacheLimits>;
  nsec3?: Partial<Nsec3Limits>;
  /** DS/DNSKEY queries allowed while validating one response. */
  maxQueries?: number;
  /** Work allowed while validating one response (budget.ts; KeyTrap). */
  budget?: Partial<BudgetLimits>;
  /**
   * The negative trust anchor (RFC 7646) covering a name (the name itself or an ancestor), if any.
   * Asked for every name of an answer's chain: a name it covers is insecure without a chain walk, every
   * other name (a CNAME target outside the NTA) is validated as usual.
   */
  negativeAnchor?: (name: Name, nowSec: number) => NegativeAnchor | undefined;
}

export interface NegativeAnchor {
  name: Name;
  /** Unix seconds; undefined: no end (a configured NTA). */
  expiresAt?: number;
}

export interface ValidationResult {
  verdict: Verdict;
  /** What the response claims (proven only when the verdict is secure or insecure). */
  negative: Negative;
  /** Zones from the anchor down, with the key tags of their DNSKEY sets. */
  chain: ChainLink[];
  /**
   * Exactly the RRsets the verdict covers, in chain order: CNAME/DNAME links, then the answer RRset(s)
   * or the denial records. Empty unless the verdict is secure or insecure. Nothing else of the
   * upstream's message may be used.
   */
  rrsets: ValidatedRRset[];
  /** Per-link verdicts of the CNAME/DNAME chain. */
  steps: StepResult[];
  /** How long a secure result may be cached (≤ every TTL and signature expiry on the way). */
  ttl?: number;
  /**
   * The rcode the proof supports: NXDOMAIN only with a validated (or provably unsigned) denial of the
   * last name, NOERROR for data and NODATA; for bogus and indeterminate results, the upstream's rcode.
   */
  rcode: number;
}

export interface Validator {
  validate(question: Question, response: Message, nowSec: number): Promise<ValidationResult>;
  /**
   * Starts the chain walk to the question name while its answer is still on the way: whatever the
   * answer holds, validating it needs the zone of that name (the walk does not depend on the answer),
   * so the DS/DNSKEY round trips overlap the upstream's. Results land in the key cache; errors are
   * left for validate() to meet again.
   */
  prefetch(question: Question, nowSec: number): void;
  stats(): { keySets: number; dsEvidence: number; hits: number; misses: number };
}

export function createValidator(opts: ValidatorOptions): Validator {
  const cache = { ...DEFAULT_KEY_CACHE_LIMITS, ...opts.cache };
  const nsec3 = { ...DEFAULT_NSEC3_LIMITS, ...opts.nsec3 };
  const fetcher = new ChainFetcher({ anchors: opts.anchors ?? ROOT_ANCHORS, query: opts.query, cache, nsec3, budget: opts.budget });
  const maxQueries = opts.maxQueries ?? 48;

  /** What a name's NTA makes of it: insecure at the NTA, with no keys (nothing is walked or checked). */
  function ntaStatus(nta: NegativeAnchor): ZoneStatus {
    return {
      zone: nta.name,
      keys: [],
      verdict: insecure('negative-trust-anchor', nta.name, `${nameLabel(nta.name)} has a negative trust anchor (RFC 7646): not validated`),
    };
  }

  async function one(q: Question, msg: Message, ctx: WalkContext, ntas: NegativeAnchor[]): Promise<ResponseResult> {
    const statuses = new Map<string, ZoneStatus>();
    for (const name of chainNames(q, msg)) {
      const k = canonicalName(name);
      if (statuses.has(k)) continue;
      const nta = opts.negativeAnchor?.(name, ctx.nowSec);
      if (nta) ntas.push(nta);
      statuses.set(k, nta ? ntaStatus(nta) : await fetcher.zoneFor(name, ctx));
    }
    const zoneOf = (n: Name): ZoneStatus | undefined => statuses.get(canonicalName(n));
    const budget = fetcher.budgetFor(ctx);
    const ahead = checkAhead(responseChecks(q, msg, zoneOf, ctx.nowSec), budget);
    if (ahead) await ahead;
    return validateResponse(q, msg, zoneOf, { nowSec: ctx.nowSec, nsec3, budget });
  }

  return {
    stats: () => fetcher.stats(),
    prefetch(question, nowSec) {
      const name = zoneKey(question.name, question.type);
      if (opts.negativeAnchor?.(name, nowSec)) return;
      const ctx: WalkContext = { nowSec, queries: 0, maxQueries, links: new Map() };
      fetcher.zoneFor(name, ctx).catch(() => undefined);
    },
    async validate(question, response, nowSec) {
      try {
        return await validateOnce(question, response, nowSec);
      } catch (e) {
        // A verdict is never an exception; a bug must still end as "cannot say", never as "secure".
        const verdict: Verdict = { kind: 'indeterminate', reason: 'internal-error', detail: (e as Error).message };
        return { verdict, negative: null, chain: [], rrsets: [], steps: [], rcode: response.rcode };
      }
    },
  };

  async function validateOnce(question: Question, response: Message, nowSec: number): Promise<ValidationResult> {
    const ctx: WalkContext = { nowSec, queries: 0, maxQueries, links: new Map() };
    let q = question;
    let msg = response;
    const steps: StepResult[] = [];
    let negative: Negative;
    let rcode: number;
    const asked = new Set<string>([canonicalName(q.name)]);
    const ntas: NegativeAnchor[] = [];
    for (let hop = 0; ; hop++) {
      const r = await one(q, msg, ctx, ntas);
      steps.push(...r.steps);
      negative = r.negative;
      rcode = msg.rcode;
      const last = r.steps[r.steps.length - 1];
      // An authoritative server ends a CNAME chain at a name it is not authoritative for: NOERROR,
      // no data for the target, no SOA above it. Ask for the target and carry on.
      const followUp =
        last &&
        last.step === 'negative' &&
        canonicalName(last.name) !== canonicalName(q.name) &&
        msg.rcode === 0 &&
        !msg.authorities.some((rr) => rr.type === RRType.SOA && isSubdomain(last.name, rr.name));
      if (!followUp || worst(r.steps.slice(0, -1).map((x) => x.verdict)).kind === 'bogus') break;
      // The unanswered tail was judged as a NODATA; drop that judgement, the follow-up replaces it.
      steps.pop();
      const target = last.name;
      // A chain spread over several responses must end too: a name asked twice is a loop, and a
      // chain still unanswered after MAX_CHAIN responses is never taken as an answer.
      if (asked.has(canonicalName(target)) || hop + 1 >= MAX_CHAIN) {
        steps.push({
          step: 'loop',
          name: target,
          verdict: bogus('cname-chain', Ede.DNSSEC_BOGUS, `CNAME chain loops or exceeds ${MAX_CHAIN} responses at ${nameLabel(target)}`),
          rrsets: [],
        });
        break;
      }
      asked.add(canonicalName(target));
      q = { name: target, type: q.type, class: q.class };
      try {
        msg = await opts.query(q.name, q.type);
      } catch (e) {
        steps.push({
          step: 'negative',
          name: q.name,
          verdict: indeterminate('fetch-failed', `${nameLabel(q.name)}: ${(e as Error).message}`),
          rrsets: [],
        });
        break;
      }
    }
    // No step judged means nothing was proven (never secure by default).
    const verdict = steps.length
      ? worst(steps.map((s) => s.verdict))
      : indeterminate('internal-error', 'no step of the response was judged');
    const trusted = verdict.kind === 'secure' || verdict.kind === 'insecure';
    // Not kept beyond an NTA it rests on: once that ends, the names under it must be validated again.
    const ntaEnd = Math.min(...ntas.map((n) => n.expiresAt ?? Infinity));
    const ntaLeft = Number.isFinite(ntaEnd) ? Math.max(1, ntaEnd - nowSec) : undefined;
    const ttl = verdict.kind === 'secure' ? proofTtl(steps) : undefined;
    return {
      verdict,
      negative,
      chain: [...ctx.links.values()],
      rrsets: trusted ? steps.flatMap((s) => s.rrsets) : [],
      steps,
      // Over every step kept, across all responses: a link of the first response bounds it as much as the last.
      ttl: ntaLeft === undefined ? ttl : Math.min(ttl ?? ntaLeft, ntaLeft),
      rcode: trusted ? (negative === 'nxdomain' ? 3 : 0) : rcode,
    };
  }
}

export type { ZoneStatus, ValidatedRRset };
