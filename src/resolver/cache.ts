// The answer cache: LRU bounded by entries and bytes, TTL-honouring, negative answers per RFC 2308,
// and in-flight coalescing so that N identical concurrent questions cost one upstream query.
// Time comes from an injected clock (milliseconds), so tests can move it.
//
// Two tiers: the hot names live decoded (a Message, its Proof and encoded reply templates, ~2–3 KB of
// heap each, so a hit is a template copy), the rest as bytes in the compact tier (compact-store.ts,
// ~200 bytes each). A hot entry pushed out of its LRU goes to the compact tier; a compact entry that is
// asked for again is decoded and becomes hot. Both hold exactly what was stored: message and proof
// round-trip byte for byte (entry-codec.ts), and what cannot is dropped instead.
import { type Message, type Name, type Question, type RR, RRType, Rcode } from '../wire/types';
import { canonicalName, encodeName } from '../wire/name';
import { decodeSoa } from '../wire/rdata';
import { type Template } from './template';
import type { Proof } from '../dnssec/proof';
import { CompactStore, questionIsKey } from './compact-store';
import { decodeCachedAnswer, encodeCachedAnswer, QUESTION_OFFSET } from './entry-codec';
import { decodeName } from '../wire/name';

export type Clock = () => number;

export interface CacheOptions {
  /** All entries, both tiers. */
  maxEntries: number;
  /** All memory, both tiers (estimated for the decoded tier, counted for the compact one). */
  maxBytes: number;
  /**
   * How many entries live decoded; beyond that, entries go to the compact tier. Default
   * HOT_ENTRIES; the compact tier exists only when maxEntries is larger.
   */
  hotEntries?: number;
  /** Upper bound on any cached lifetime, seconds. */
  maxTtl: number;
  /** Upper bound on negative lifetimes (RFC 2308 §5 suggests 1–3 hours), seconds. */
  maxNegativeTtl: number;
  /**
   * How long a bogus verdict (served as SERVFAIL) is kept, seconds: long enough that a broken or
   * attacked name does not send every client query upstream again (RFC 4035 §4.7), short enough that
   * a repaired zone is seen soon.
   */
  bogusTtl?: number;
  now: Clock;
}

export const DEFAULT_CACHE: Omit<CacheOptions, 'now'> = {
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxTtl: 86_400,
  maxNegativeTtl: 10_800,
  bogusTtl: 60,
};

/** Decoded entries by default: enough for every name a host talks to at once. */
export const HOT_ENTRIES = 10_000;
/** The decoded tier's share of maxBytes when a compact tier exists: half, at most this. */
export const HOT_BYTES_MAX = 48 * 1024 * 1024;

export interface CacheEntry {
  readonly key: string;
  /** The response as stored: TTLs as they were at storedAt (SOA clamped for negative answers). */
  readonly message: Message;
  /** What the validator vouched for; stored so a hit does not re-validate. */
  readonly proof?: Proof;
  /** The extended error served with the entry (a cached bogus verdict says why). */
  readonly ede?: { code: number; text: string };
  readonly storedAt: number;
  /** Lifetime in seconds. */
  readonly ttl: number;
  readonly negative: boolean;
  size: number;
  /** Encoded variants, indexed by (ad ? 4 : 0) | (edns ? 2 : 0) | (do ? 1 : 0). */
  templates: (Template | undefined)[];
  /**
   * Back from the compact tier without the RRSIGs of its proof: good for every use but a reply to a
   * client that set DO, which must take the answer from upstream again (see servesDo).
   */
  readonly sigless?: boolean;
  /**
   * When (cache clock, ms) a DO client's refetch of this sigless entry last failed: for a while it is
   * served as it is (pipeline.ts REFETCH_BACKOFF_MS), so a silent upstream does not cost every DO
   * query the whole upstream timeout.
   */
  refetchFailedAt?: number;
}

/** May this entry answer a client that asked for DNSSEC records (DO)? */
export function servesDo(e: CacheEntry): boolean {
  return e.sigless !== true;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  coalesced: number;
  inserts: number;
  evictions: number;
  /** Of `entries`, how many are held as bytes in the compact tier. */
  compactEntries: number;
  /** Entries moved to the compact tier, and back. */
  demoted: number;
  promoted: number;
}

/**
 * The cache key: the question as it is on the wire (name lowercased, type, class) and the CD bit, as a
 * latin1 string. The same key comes from a decoded question (cacheKey) and straight from a query's
 * bytes (rawCacheKey), so a cache hit can be found before anything is decoded.
 */
export function cacheKey(q: Question, cd: boolean): string {
  const name = encodeName(q.name, { lowercase: true });
  return Buffer.from(name).toString('latin1') + String.fromCharCode(q.type >> 8, q.type & 0xff, q.class >> 8, q.class & 0xff, cd ? 1 : 0);
}

const scratch = Buffer.alloc(260);

/** cacheKey() of a query whose question (uncompressed, as queries are) ends at `qEnd`. */
export function rawCacheKey(raw: Uint8Array, qEnd: number, cd: boolean): string {
  const n = qEnd - 12;
  if (n > scratch.length - 1) return '';
  // Only the name's label bytes are lowercased; length octets are below 'A' (labels ≤ 63).
  for (let i = 0; i < n - 4; i++) {
    const b = raw[12 + i]!;
    scratch[i] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
  }
  for (let i = n - 4; i < n; i++) scratch[i] = raw[12 + i]!;
  scratch[n] = cd ? 1 : 0;
  return scratch.toString('latin1', 0, n + 1);
}

/**
 * How long a response may be cached, in seconds, or 0 when it must not be. Positive: the smallest TTL
 * in the answer and authority sections. Negative (NXDOMAIN, or NOERROR without an answer): the SOA's
 * min(TTL, MINIMUM) (RFC 2308 §5); without an SOA it is not cached (RFC 2308 §5 "SHOULD NOT").
 */
export function cacheLifetime(msg: Message, opts: Pick<CacheOptions, 'maxTtl' | 'maxNegativeTtl'>): { ttl: number; negative: boolean } {
  if (msg.tc) return { ttl: 0, negative: false };
  const negative = msg.rcode === Rcode.NXDOMAIN || (msg.rcode === Rcode.NOERROR && msg.answers.length === 0);
  if (msg.rcode !== Rcode.NOERROR && msg.rcode !== Rcode.NXDOMAIN) return { ttl: 0, negative };
  if (negative) {
    const soa = msg.authorities.find((rr) => rr.type === RRType.SOA);
    if (!soa) return { ttl: 0, negative };
    return { ttl: Math.min(soa.ttl, soaMinimum(soa), opts.maxNegativeTtl), negative };
  }
  let ttl = opts.maxTtl;
  for (const rr of msg.answers) if (rr.ttl < ttl) ttl = rr.ttl;
  for (const rr of msg.authorities) if (rr.ttl < ttl) ttl = rr.ttl;
  return { ttl, negative };
}

/** SOA MINIMUM; a malformed SOA gives 0 (the answer is then not cached). */
export function soaMinimum(soa: RR): number {
  try {
    return decodeSoa(soa.rdata).minimum;
  } catch {
    return 0;
  }
}

/**
 * Estimated memory of an entry, calibrated on a V8 heap snapshot (Node 20): a three-record answer held
 * as a decoded Message costs about 3.5 KB of heap (entry, message, arrays, record objects, name strings,
 * RDATA views), far more than its wire size. The estimate errs high so that --cache-bytes bounds real use.
 */
export const ENTRY_OVERHEAD = 1800;
export const RR_OVERHEAD = 500;

function sizeOf(msg: Message): number {
  let n = ENTRY_OVERHEAD;
  for (const sec of [msg.answers, msg.authorities, msg.additionals]) {
    for (const rr of sec) n += RR_OVERHEAD + 2 * rr.name.length + rr.rdata.length;
  }
  return n;
}

export class Cache {
  private readonly map = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  private bytes = 0;
  private readonly counters = { hits: 0, misses: 0, coalesced: 0, inserts: 0, evictions: 0, demoted: 0, promoted: 0 };
  private readonly compact: CompactStore | undefined;
  private readonly hotEntries: number;
  private readonly hotBytes: number;

  constructor(readonly opts: CacheOptions) {
    const hot = Math.min(opts.maxEntries, opts.hotEntries ?? HOT_ENTRIES);
    this.hotEntries = hot;
    if (opts.maxEntries > hot) {
      this.hotBytes = Math.min(Math.floor(opts.maxBytes / 2), HOT_BYTES_MAX);
      this.compact = new CompactStore({ maxEntries: opts.maxEntries - hot, maxBytes: opts.maxBytes - this.hotBytes });
    } else {
      this.hotBytes = opts.maxBytes;
    }
  }

  /** A live entry, refreshed in LRU order; expired entries are removed on sight. */
  get(key: string): CacheEntry | undefined {
    const e = this.map.get(key) ?? this.promote(key);
    if (!e) {
      this.counters.misses++;
      return undefined;
    }
    if (this.opts.now() >= e.storedAt + e.ttl * 1000) {
      this.delete(e);
      this.counters.misses++;
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, e);
    this.counters.hits++;
    return e;
  }

  /** A live entry without touching LRU order or counters (to check one without using it). */
  peek(key: string): CacheEntry | undefined {
    const e = this.map.get(key) ?? this.promote(key);
    return e && this.opts.now() < e.storedAt + e.ttl * 1000 ? e : undefined;
  }

  /** The compact tier's live entry for `key`, decoded and made hot. */
  private promote(key: string): CacheEntry | undefined {
    const hit = this.compact?.take(key, this.opts.now());
    if (!hit) return undefined;
    const { message, proof, sigless } = decodeCachedAnswer(hit.bytes);
    const entry: CacheEntry = {
      key,
      message,
      proof,
      storedAt: hit.storedAt,
      ttl: hit.ttl,
      negative: hit.negative,
      size: sizeOf(message),
      templates: [],
      sigless,
    };
    this.map.set(key, entry);
    this.bytes += entry.size;
    this.counters.promoted++;
    this.evict();
    return this.map.get(key) === entry ? entry : undefined;
  }

  /** Whole seconds since the entry was stored: what to subtract from its TTLs. */
  elapsed(e: CacheEntry): number {
    return Math.max(0, Math.floor((this.opts.now() - e.storedAt) / 1000));
  }

  /**
   * Stores a response if it is cacheable; returns the entry, or undefined. A validated answer lives no
   * longer than its proof (validated TTLs, signature expiry); a bogus one for `bogusTtl`.
   */
  store(key: string, msg: Message, extra: { proof?: Proof; ede?: { code: number; text: string } } = {}): CacheEntry | undefined {
    const { proof, ede } = extra;
    let { ttl, negative } = cacheLifetime(msg, this.opts);
    if (proof?.verdict.kind === 'bogus') {
      ttl = Math.min(this.opts.bogusTtl ?? DEFAULT_CACHE.bogusTtl!, this.opts.maxNegativeTtl);
      negative = true;
    } else if (proof?.ttl !== undefined) {
      ttl = Math.min(ttl, proof.ttl);
    }
    if (ttl <= 0) return undefined;
    // No record is served with a TTL beyond the entry's own lifetime (max-ttl, the proof's TTL); for a
    // negative answer that makes the SOA carry the negative TTL (RFC 2308 §5).
    const cap = (rrs: RR[]): RR[] => (rrs.some((rr) => rr.ttl > ttl) ? rrs.map((rr) => (rr.ttl > ttl ? { ...rr, ttl } : rr)) : rrs);
    const [an, ns, ar] = [cap(msg.answers), cap(msg.authorities), cap(msg.additionals)];
    const message =
      an === msg.answers && ns === msg.authorities && ar === msg.additionals
        ? msg
        : { ...msg, answers: an, authorities: ns, additionals: ar };
    const entry: CacheEntry = { key, message, proof, ede, storedAt: this.opts.now(), ttl, negative, size: sizeOf(message), templates: [] };
    const old = this.map.get(key);
    if (old) this.delete(old);
    this.compact?.delete(key);
    if (entry.size > this.hotBytes) return undefined;
    this.map.set(key, entry);
    this.bytes += entry.size;
    this.counters.inserts++;
    this.evict();
    return entry;
  }

  /**
   * An entry that must not live (or be served) longer than `ttlSec` from now: replaced by a copy whose
   * lifetime and record TTLs end then (capture: a program must not keep a `private` peer's address
   * longer than the peer's policy exists). Returns the cut entry: the one now in the cache for the key
   * or, when `e` is no longer there (pushed to the compact tier or replaced while capture decided), a
   * cut copy the cache does not hold: the reply must carry the cut TTLs either way.
   */
  shorten(e: CacheEntry, ttlSec: number): CacheEntry {
    const left = e.ttl - this.elapsed(e);
    if (left <= ttlSec) return e;
    const ttl = Math.max(0, Math.floor(ttlSec));
    const cap = (rrs: RR[]): RR[] =>
      rrs.map((rr) => (rr.ttl - this.elapsed(e) > ttl ? { ...rr, ttl } : { ...rr, ttl: Math.max(0, rr.ttl - this.elapsed(e)) }));
    const message = {
      ...e.message,
      answers: cap(e.message.answers),
      authorities: cap(e.message.authorities),
      additionals: cap(e.message.additionals),
    };
    const next: CacheEntry = { ...e, message, storedAt: this.opts.now(), ttl, size: e.size, templates: [] };
    if (this.map.get(e.key) === e) this.map.set(e.key, next);
    return next;
  }

  /** Accounts for bytes added to an entry after it was stored (encoded templates). */
  grow(e: CacheEntry, extra: number): void {
    if (this.map.get(e.key) !== e) return;
    e.size += extra;
    this.bytes += extra;
    this.evict();
  }

  /**
   * Runs `fetch` once per key at a time: concurrent callers with the same key share its result
   * (or its failure).
   */
  coalesce<T>(key: string, fetch: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) {
      this.counters.coalesced++;
      return running as Promise<T>;
    }
    const p = (async () => {
      try {
        return await fetch();
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, p);
    return p;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
    this.compact?.clear();
  }

  /** Drops every entry for `name` and the names below it (`oedns control flush NAME`); returns how many. */
  flushName(name: Name): number {
    const n = canonicalName(name);
    let dropped = 0;
    for (const e of [...this.map.values()]) {
      const owner = canonicalName(e.message.questions[0]?.name ?? '');
      if (n === '' || owner === n || owner.endsWith(`.${n}`)) {
        this.delete(e);
        dropped++;
      }
    }
    const under = (owner: Name): boolean => n === '' || owner === n || owner.endsWith(`.${n}`);
    dropped += this.compact?.removeWhere((bytes) => under(canonicalName(decodeName(bytes, QUESTION_OFFSET).name))) ?? 0;
    return dropped;
  }

  stats(): CacheStats {
    const compact = this.compact?.size ?? 0;
    return { entries: this.map.size + compact, bytes: this.bytes + (this.compact?.bytes ?? 0), compactEntries: compact, ...this.counters };
  }

  private delete(e: CacheEntry): void {
    if (this.map.get(e.key) === e) {
      this.map.delete(e.key);
      this.bytes -= e.size;
    }
  }

  private evict(): void {
    while (this.map.size > this.hotEntries || (this.bytes > this.hotBytes && this.map.size > 0)) {
      const oldest = this.map.values().next().value as CacheEntry;
      this.delete(oldest);
      if (!this.demote(oldest)) this.counters.evictions++;
    }
  }

  /**
   * Moves an entry leaving the decoded tier into the compact one, if it is still live and its bytes
   * say all of it. A cached bogus verdict or an answer with an extended error stays decoded only.
   */
  private demote(e: CacheEntry): boolean {
    if (!this.compact || e.ede || this.opts.now() >= e.storedAt + e.ttl * 1000) return false;
    // Without the RRSIGs: a million signed names fit in ~100 MB instead of ~230 (docs/BENCHMARKS.md).
    const bytes = encodeCachedAnswer(e.message, e.proof, { withoutSigs: true, sigless: e.sigless });
    // The compact tier finds entries by the question in their bytes: it must be the key's.
    if (!bytes || !questionIsKey(bytes, QUESTION_OFFSET, bytes.length, e.key)) return false;
    if (!this.compact.put(e.key, bytes, e.storedAt, e.ttl, e.negative)) return false;
    this.counters.demoted++;
    return true;
  }
}
