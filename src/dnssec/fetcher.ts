// The chain walk: from the closest trust anchor down through every zone cut to a name, asking the
// upstream for the DS and DNSKEY records it needs through an injected `query` (any transport: the
// resolver's upstream client, or net-query.ts for `oedns lookup`). Judgement is delegated to the pure
// functions in chain.ts; this file only sequences queries, caches and bounds them.
import { canonicalName, labelCount, labelsToName, nameToLabels } from '../wire/name';
import { RRType, type Message, type Name } from '../wire/types';
import { closestAnchor, type TrustAnchor } from './anchors';
import { classifyDnskeyResponse, classifyDsResponse, type DsEvidence, type SecureZone } from './chain';
import type { KeySetResult, TrustPoint } from './ds';
import { KeyCache, type KeyCacheLimits } from './key-cache';
import type { Nsec3Limits } from './nsec3';
import type { ZoneStatus } from './validate';
import { indeterminate, insecure, type Verdict, type VerdictKind } from './verdict';
import { type BudgetLimits, ValidationBudget } from './budget';
import { nameLabel } from './util';
import { checkAhead, dsChecks } from './ahead';

/** Sends one query (DO and CD set) and returns the decoded response; throws TransportError on failure. */
export type QueryFn = (name: Name, type: number) => Promise<Message>;

/** One zone on the way from the anchor to the answer, for reports (`oedns lookup --json` "chain"). */
export interface ChainLink {
  zone: Name;
  keys: number[];
  verdict: VerdictKind;
  reason?: string;
}

export interface WalkContext {
  nowSec: number;
  queries: number;
  maxQueries: number;
  links: Map<string, ChainLink>;
  /**
   * The work budget of the response being validated, shared with validateResponse. Created on first
   * use (with FetcherOptions.budget limits) when the caller did not set one.
   */
  budget?: ValidationBudget;
}

export interface FetcherOptions {
  anchors: readonly TrustAnchor[];
  query: QueryFn;
  cache: KeyCacheLimits;
  nsec3: Nsec3Limits;
  /** Limits of the per-response budget created when a WalkContext has none. */
  budget?: Partial<BudgetLimits>;
}

/**
 * The key-cache key of a trust point. Built once per DS set object: the walk hands the same cached DS
 * evidence (or anchor) to every lookup below a zone, and hex/base64-encoding it each time showed up in
 * the cold path's profile.
 */
const dsKeys = new WeakMap<object, { zone: string; key: string }>();
function dsKey(tp: TrustPoint): string {
  const memo = dsKeys.get(tp.ds);
  if (memo && memo.zone === tp.zone && tp.keys.length === 0) return memo.key;
  const key = dsKeyOf(tp);
  if (tp.keys.length === 0) dsKeys.set(tp.ds, { zone: tp.zone, key });
  return key;
}

function dsKeyOf(tp: TrustPoint): string {
  const ds = tp.ds.map((d) => `${d.keyTag}/${d.algorithm}/${d.digestType}/${Buffer.from(d.digest).toString('hex')}`).sort();
  const keys = tp.keys.map((k) => Buffer.from(k).toString('base64')).sort();
  return `${canonicalName(tp.zone)}|${ds.join(',')}|${keys.join(',')}`;
}

/** Further tries for a DNSKEY set that came back bogus (Unbound, too, re-asks before it believes a bogus key set). */
export const DNSKEY_RETRIES = 2;

export class ChainFetcher {
  private readonly keySets: KeyCache<KeySetResult>;
  private readonly dsEvidence: KeyCache<DsEvidence>;
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(private readonly o: FetcherOptions) {
    this.keySets = new KeyCache(o.cache);
    this.dsEvidence = new KeyCache(o.cache);
  }

  stats(): { keySets: number; dsEvidence: number; hits: number; misses: number } {
    return {
      keySets: this.keySets.size,
      dsEvidence: this.dsEvidence.size,
      hits: this.keySets.hits + this.dsEvidence.hits,
      misses: this.keySets.misses + this.dsEvidence.misses,
    };
  }

  /** The response's budget (created on first use): validateResponse must be handed this same object. */
  budgetFor(ctx: WalkContext): ValidationBudget {
    ctx.budget = ctx.budget ?? new ValidationBudget({ maxNsec3Hashes: this.o.nsec3.maxHashes, ...this.o.budget });
    return ctx.budget;
  }

  /**
   * How long a judged result may be kept. Secure and insecure: their TTL (insecure at least badTtl).
   * Bogus: badTtl (RFC 4035 §4.7). Indeterminate: not at all, except when a per-RRset work limit
   * stopped it while the response still had budget left: that is the data's fault (a KeyTrap set),
   * and asking again would cost the same; it is kept like a bogus result.
   */
  private lifetime(v: Verdict, ttl: number, budget: ValidationBudget): number {
    if (v.kind === 'secure') return ttl;
    if (v.kind === 'insecure') return Math.max(ttl, this.o.cache.badTtl);
    if (v.kind === 'bogus') return this.o.cache.badTtl;
    return v.reason === 'budget-exhausted' && !budget.spent ? this.o.cache.badTtl : 0;
  }

  private async ask(name: Name, type: number, ctx: WalkContext): Promise<Message | Verdict> {
    if (ctx.queries >= ctx.maxQueries)
      return indeterminate('budget-exhausted', `more than ${ctx.maxQueries} DS/DNSKEY queries for one answer`);
    ctx.queries++;
    try {
      return await this.o.query(name, type);
    } catch (e) {
      return indeterminate('fetch-failed', `${nameLabel(name)}/${type === RRType.DS ? 'DS' : 'DNSKEY'}: ${(e as Error).message}`);
    }
  }

  /** Concurrent callers wanting the same thing share one fetch. */
  private shared<T>(key: string, f: () => Promise<T>): Promise<T> {
    const p = this.inflight.get(key) as Promise<T> | undefined;
    if (p) return p;
    const q = f().finally(() => this.inflight.delete(key));
    this.inflight.set(key, q);
    return q;
  }

  /** The zone's DNSKEY set, judged against its DS set or anchor. Cached by TTL and signature lifetime. */
  async keysFor(tp: TrustPoint, ctx: WalkContext): Promise<KeySetResult> {
    const key = dsKey(tp);
    const hit = this.keySets.get(key, ctx.nowSec);
    if (hit) return hit;
    return this.shared(`k|${key}`, async () => {
      // A bogus DNSKEY set condemns every name below the zone for badTtl, so one damaged or spoofed
      // response is not believed at once: the set is asked for again (each try within the response's
      // query and signature budgets) before the verdict is kept.
      for (let attempt = 0; ; attempt++) {
        const m = await this.ask(tp.zone, RRType.DNSKEY, ctx);
        if (!('answers' in m)) return { verdict: m, keys: [], keyTags: [], sepTags: [], ttl: 0 };
        const budget = this.budgetFor(ctx);
        const r = classifyDnskeyResponse(tp, m, ctx.nowSec, budget);
        if (r.verdict.kind === 'bogus' && attempt < DNSKEY_RETRIES && !budget.spent) continue;
        this.keySets.set(key, r, this.lifetime(r.verdict, r.ttl, budget), ctx.nowSec);
        return r;
      }
    });
  }

  private async dsFor(parent: SecureZone, child: Name, ctx: WalkContext): Promise<DsEvidence> {
    const key = `${canonicalName(parent.zone)}|${canonicalName(child)}`;
    const hit = this.dsEvidence.get(key, ctx.nowSec);
    if (hit) return hit;
    return this.shared(`d|${key}`, async () => {
      const m = await this.ask(child, RRType.DS, ctx);
      if (!('answers' in m)) return { kind: 'end', verdict: m, ttl: 0 };
      const budget = this.budgetFor(ctx);
      const ahead = checkAhead(dsChecks(parent, child, m, ctx.nowSec), budget);
      if (ahead) await ahead;
      const ev = classifyDsResponse(parent, child, m, ctx.nowSec, this.o.nsec3, budget);
      this.dsEvidence.set(key, ev, ev.kind === 'end' ? this.lifetime(ev.verdict, ev.ttl, budget) : ev.ttl, ctx.nowSec);
      return ev;
    });
  }

  private link(ctx: WalkContext, zone: Name, keys: number[], v: Verdict): void {
    const k = canonicalName(zone);
    if (!ctx.links.has(k))
      ctx.links.set(k, {
        zone,
        keys: [...keys].sort((x, y) => x - y),
        verdict: v.kind,
        reason: v.kind === 'secure' ? undefined : v.reason,
      });
  }

  /**
   * Walks from the closest anchor down to `name`, one label at a time, and returns the security status
   * of the deepest zone that encloses it. A name no anchor covers is insecure (an island of trust says
   * nothing about names outside it; BIND and Unbound answer those unvalidated).
   */
  async zoneFor(name: Name, ctx: WalkContext): Promise<ZoneStatus> {
    const anchor = closestAnchor(this.o.anchors, name);
    if (!anchor) return { zone: '', keys: [], verdict: insecure('no-anchor', name, `no trust anchor covers ${nameLabel(name)}`) };
    // An anchor with nothing in it is a trust point whose keys were all revoked (RFC 5011 state), not an
    // unsupported algorithm: its names fail closed. validateKeySet would call it insecure.
    if (anchor.ds.length === 0 && anchor.keys.length === 0) {
      return {
        zone: anchor.zone,
        keys: [],
        verdict: indeterminate('no-trusted-key', `the trust anchor for ${nameLabel(anchor.zone)} has no trusted key left`),
      };
    }
    const ks = await this.keysFor(anchor, ctx);
    this.link(ctx, anchor.zone, ks.keyTags, ks.verdict);
    if (ks.verdict.kind !== 'secure') return { zone: anchor.zone, keys: [], verdict: ks.verdict };
    let cur: SecureZone = { zone: anchor.zone, keys: ks.keys, keyTags: ks.keyTags };
    const labels = nameToLabels(name);
    for (let depth = labelCount(anchor.zone) + 1; depth <= labels.length; depth++) {
      const child = labelsToName(labels.slice(labels.length - depth));
      const ev = await this.dsFor(cur, child, ctx);
      if (ev.kind === 'no-cut') continue;
      if (ev.kind === 'absent') break;
      if (ev.kind === 'end') {
        if (ev.verdict.kind === 'insecure') this.link(ctx, ev.verdict.at, [], ev.verdict);
        // An opt-out span only says an unsigned delegation *may* be there; data that the zone above
        // signed itself (a wildcard expansion) is still that zone's, so its keys go along (the caller
        // judges such data with them: see optOutButSignedBy). A proven unsigned cut keeps none.
        const optOut = ev.verdict.kind === 'insecure' && ev.verdict.reason === 'nsec3-opt-out';
        return { zone: cur.zone, keys: optOut ? cur.keys : [], verdict: ev.verdict };
      }
      const cks = await this.keysFor({ zone: child, ds: ev.ds, keys: [] }, ctx);
      this.link(ctx, child, cks.keyTags, cks.verdict);
      if (cks.verdict.kind !== 'secure') return { zone: child, keys: [], verdict: cks.verdict };
      cur = { zone: child, keys: cks.keys, keyTags: cks.keyTags };
    }
    return { zone: cur.zone, keys: cur.keys, verdict: { kind: 'secure', reason: 'chain-complete' } };
  }
}
