// Validated DNSKEY sets and DS evidence, kept until the earlier of their TTL and their signatures'
// expiration (RFC 4035 §5.3.3), bounded in entries; the least recently used go first. Bogus results are
// kept briefly too (RFC 4035 §4.7) so a broken zone does not cost a fetch per query.
// Pure data structure: the caller passes `nowSec`.
import { BOGUS_TTL } from './budget';

export interface KeyCacheLimits {
  maxEntries: number;
  /** Seconds a bogus result is remembered (RFC 4035 §4.7; budget.ts BOGUS_TTL). */
  badTtl: number;
  /** Upper bound on any entry's lifetime. */
  maxTtl: number;
}

export const DEFAULT_KEY_CACHE_LIMITS: KeyCacheLimits = { maxEntries: 2048, badTtl: BOGUS_TTL, maxTtl: 86400 };

export class KeyCache<V> {
  private readonly map = new Map<string, { value: V; until: number }>();
  hits = 0;
  misses = 0;
  constructor(readonly limits: KeyCacheLimits = DEFAULT_KEY_CACHE_LIMITS) {}

  get(key: string, nowSec: number): V | undefined {
    const e = this.map.get(key);
    if (!e || e.until <= nowSec) {
      if (e) this.map.delete(key);
      this.misses++;
      return undefined;
    }
    // Refresh recency.
    this.map.delete(key);
    this.map.set(key, e);
    this.hits++;
    return e.value;
  }

  set(key: string, value: V, ttl: number, nowSec: number): void {
    const life = Math.max(0, Math.min(ttl, this.limits.maxTtl));
    if (life === 0) return;
    this.map.delete(key);
    this.map.set(key, { value, until: nowSec + life });
    while (this.map.size > this.limits.maxEntries) this.map.delete(this.map.keys().next().value as string);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
