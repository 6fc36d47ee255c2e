// The query pipeline: the ONE place where the order of the stages is written down.
//
//   acl → parse/sanity → capture → cache → validate → upstream            (then: reply)
//
// Each stage is `handle(ctx, next)`: it may answer by itself (ACL drop, FORMERR, cache hit) or call
// `next()` and act on what comes back. So a stage acts on the way in, on the way out, or both. Read
// outwards, an answer travels upstream → validate → cache → capture → reply: the validator sees
// every answer from upstream before it is cached (the cache keeps its verdict), and capture (when
// the daemon runs it) sees every answer, cached or not, unless it said a cached one passes unchanged,
// and the reply waits for it. The server knows none of this: it hands
// bytes in and gets bytes (or nothing) back from Pipeline.handle.
//
// It is built in two layers, the outer wrapping the inner: a ResolverCore (cache → validate → upstream)
// first, then the Pipeline (acl → parse → capture) around it. Capture mode's own lookups go through the
// core, so the core exists before the capture stage is made and the stage before the pipeline: no
// stage is bound late and none is found by name.
import { type Message, type Question, RRType, Rcode } from '../wire/types';
import { decodeHeader, decodeMessage, encodeMessage, makeResponse } from '../wire/message';
import { OednsError, TransportError, WireError } from '../util/errors';
import { type Logger, silentLogger } from '../util/log';
import { type Cache, type CacheEntry, cacheKey, rawCacheKey, servesDo } from './cache';
import { type UpstreamPool } from './upstream';
import { headerOnlyResponse, questionLength, HEADER_LEN } from './raw';
import { type ClientView, buildTemplate, fillTemplate, shapeForClient } from './template';
import { isUsable, sameProvenData, type Proof } from '../dnssec/proof';
import { EDE_OPTION_CODE } from '../wire/ede';

export interface ClientInfo {
  address: string;
  port: number;
  transport: 'udp' | 'tcp';
}

/** Per-query state, filled in as the query passes the stages. */
export interface QueryContext {
  readonly raw: Uint8Array;
  readonly client: ClientInfo;
  readonly log: Logger;
  /** Set by the parse stage; later stages may rely on it. */
  query: Message;
  question: Question;
  view: ClientView;
  /** Largest reply this client can take (UDP: its EDNS size or 512, capped by our maximum). */
  maxSize: number;
  /** A lookup of our own (capture, autosp, responder): it reads the proof, never the RRSIGs. */
  readonly internal?: boolean;
}

export interface Answer {
  /** The response content; id, RD, CD, question case and EDNS are fitted to each client by the reply. */
  message: Message;
  source: 'cache' | 'upstream' | 'local';
  /** What the validator vouched for; `message` then holds only the proof's RRsets. Absent: not validated. */
  proof?: Proof;
  /** Set when `message` is exactly a cache entry's content: the reply can then patch stored bytes. */
  entry?: CacheEntry;
  /** RFC 8914 extended DNS error for the client (why a lookup failed or was refused). */
  ede?: { code: number; text: string };
  /** Seconds since a cached answer was stored: its TTLs are that much too high (the reply ages them). */
  age?: number;
}

export type Outcome =
  { kind: 'drop'; reason: string } | { kind: 'bytes'; bytes: Uint8Array; rcode: number } | { kind: 'answer'; answer: Answer };

export type Next = () => Promise<Outcome>;

export interface Stage {
  readonly name: string;
  handle(ctx: QueryContext, next: Next): Promise<Outcome>;
  /**
   * For the cache-hit path that answers from a query's bytes without running the stages: may this
   * cached entry go out as it is? A stage that acts on answers (capture) must say yes only when
   * handle() would have let this very entry through unchanged. Stages without it never object.
   */
  passesCached?(entry: CacheEntry): boolean;
}

/**
 * The validator's seam (src/daemon/validation.ts fills it): replaces the response with what may be
 * shown (only validated RRsets, or a SERVFAIL), and hands on the proof.
 */
export interface Validator {
  validate(
    question: Question,
    response: Message,
    ctx: QueryContext,
  ): Promise<{ proof?: Proof; response: Message; ede?: { code: number; text: string } }>;
  /** Called as the question goes upstream: work that does not need the answer may start now. */
  prepare?(question: Question): void;
}

export const noValidation: Validator = {
  validate: async (_q, response) => ({ response }),
};

export interface PipelineStats {
  queries: number;
  dropped: number;
  refusedByAcl: number;
  formerr: number;
  notimp: number;
  servfail: number;
  internalErrors: number;
  truncated: number;
  answeredFromCache: number;
  /** Cache hits answered from the query's bytes, without running the stages. */
  answeredFast: number;
}

export interface PipelineDeps {
  allow: (address: string) => boolean;
  cache: Cache;
  upstream: UpstreamPool;
  validator?: Validator;
  /** Capture mode's stage (src/capture), between parse and the core's stages; none: a plain resolver. */
  capture?: Stage;
  /** The inner stages, when the capture stage was built on them (startServer); else made here from the deps above. */
  core?: ResolverCore;
  /** Our own UDP payload limit (and what we advertise): 1232 by default. */
  maxUdpSize: number;
  log?: Logger;
}

/** What a capture stage may use of the resolver: lookups through the stages behind it, and the cache. */
/**
 * A validated lookup: from inside the daemon (through cache → validate → upstream, as a DO client), or
 * autosp's validator over a plain query function. Capture, autosp and the responder's lookups take it.
 */
export interface InternalResolver {
  /**
   * `proof` is what the validator vouched for (absent when no validator ran: then nothing is trusted);
   * `message` is only for its rcode and for the memo: facts come from the proof alone.
   */
  resolve(q: Question): Promise<{ message: Message; proof?: Proof; age?: number }>;
}

export interface InternalLookups {
  /**
   * A lookup from inside the daemon (capture mode's IPSECKEY and gateway lookups): cache, validate,
   * upstream, as a DO client would see it, so that internal lookups share the cache, the coalescing
   * and the validation of client queries.
   */
  resolveInternal(question: Question): Promise<{ message: Message; proof?: Proof; age?: number }>;
  /** The cached entry under `key` (cacheKey()), without using it. */
  peekCached(key: string): CacheEntry | undefined;
  /** Cuts a cached answer's remaining life (and served TTLs) to `ttlSec`; see Cache.shorten. */
  shortenCached(entry: CacheEntry, ttlSec: number): CacheEntry;
}

export function newPipelineStats(): PipelineStats {
  return {
    queries: 0,
    dropped: 0,
    refusedByAcl: 0,
    formerr: 0,
    notimp: 0,
    servfail: 0,
    internalErrors: 0,
    truncated: 0,
    answeredFromCache: 0,
    answeredFast: 0,
  };
}

function localAnswer(ctx: QueryContext, rcode: number): Outcome {
  return { kind: 'answer', answer: { message: makeResponse(ctx.query, rcode), source: 'local' } };
}

// ---- stages -------------------------------------------------------------------------------------

export function aclStage(allow: (address: string) => boolean, stats: PipelineStats): Stage {
  return {
    name: 'acl',
    // Dropped rather than REFUSED: an answer to a spoofed source would make us a reflector.
    handle: async (ctx, next) => {
      if (allow(ctx.client.address)) return next();
      stats.refusedByAcl++;
      return { kind: 'drop', reason: 'client not in allow list' };
    },
  };
}

/** Types a forwarding stub does not pass on (zone transfers, obsolete mail meta-queries). */
const REFUSED_QTYPES: ReadonlySet<number> = new Set([RRType.AXFR, RRType.IXFR, 253, 254]);

export function parseStage(maxUdpSize: number, stats: PipelineStats): Stage {
  return {
    name: 'parse',
    handle: async (ctx, next) => {
      const raw = ctx.raw;
      if (raw.length < HEADER_LEN) return { kind: 'drop', reason: 'shorter than a header' };
      // Responses are never answered (RFC 1035 §4.1.1): answering them would allow loops and reflection.
      if (raw[2]! & 0x80) return { kind: 'drop', reason: 'QR=1' };
      const h = decodeHeader(raw);
      if (h.opcode !== 0) {
        stats.notimp++;
        return { kind: 'bytes', bytes: headerOnlyResponse(raw, Rcode.NOTIMP), rcode: Rcode.NOTIMP };
      }
      if (h.qdcount !== 1 || h.ancount !== 0 || h.nscount !== 0) {
        stats.formerr++;
        return { kind: 'bytes', bytes: headerOnlyResponse(raw, Rcode.FORMERR), rcode: Rcode.FORMERR };
      }
      try {
        ctx.query = decodeMessage(raw);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        stats.formerr++;
        return { kind: 'bytes', bytes: headerOnlyResponse(raw, Rcode.FORMERR), rcode: Rcode.FORMERR };
      }
      const q = ctx.query;
      ctx.question = q.questions[0]!;
      ctx.view = { edns: q.edns !== undefined, do: q.edns?.do ?? false };
      ctx.maxSize = ctx.client.transport === 'tcp' ? 0xffff : q.edns ? Math.min(Math.max(q.edns.udpSize, 512), maxUdpSize) : 512;
      if (q.edns && q.edns.version > 0) return localAnswer(ctx, Rcode.BADVERS); // RFC 6891 §6.1.3
      if (REFUSED_QTYPES.has(ctx.question.type)) return localAnswer(ctx, Rcode.NOTIMP);
      return next();
    },
  };
}

/**
 * After a DO client's refetch of an answer held without RRSIGs fails, how long the held answer is
 * served as it is to DO clients (without RRSIGs, as on the failure itself) before another refetch.
 */
export const REFETCH_BACKOFF_MS = 30_000;

export function cacheStage(cache: Cache, stats: PipelineStats): Stage {
  return {
    name: 'cache',
    handle: async (ctx, next) => {
      const key = cacheKey(ctx.question, ctx.query.cd);
      const hit = cache.get(key);
      const fromHit = (e: CacheEntry): Outcome => ({
        kind: 'answer',
        answer: { message: e.message, source: 'cache', entry: e, proof: e.proof, ede: e.ede, age: cache.elapsed(e) },
      });
      // A DO client's reply carries RRSIGs; an entry kept without them is fetched again for it, unless
      // that failed a moment ago (the upstream is silent or forging: the held answer, at once).
      const failedLately = hit?.refetchFailedAt !== undefined && cache.opts.now() - hit.refetchFailedAt < REFETCH_BACKOFF_MS;
      if (hit && (servesDo(hit) || !ctx.view.do || ctx.internal || failedLately)) {
        stats.answeredFromCache++;
        return fromHit(hit);
      }
      return cache.coalesce(key, async () => {
        const out = await next();
        // `hit` here is an entry fetched again for a DO client. That fetch must not let an attacker on
        // the upstream path (or a failing upstream) spoil a live validated answer: a client's DO bit
        // would otherwise make any cached name bogus on demand. Only a validated answer replaces it;
        // else the client gets the one held, without RRSIGs. Held still, that is: one that expired or
        // was flushed while the refetch was under way (an upstream or path may take seconds) is gone.
        // Nor may it change what is held: a validated answer with other data (a replay of older, still
        // valid signatures, timed by whoever sends DO queries) is not taken either. It may only bring
        // the RRSIGs back; the held answer's data change when it expires, as for every client.
        if (hit) {
          const fresh =
            out.kind === 'answer' && out.answer.source === 'upstream' && out.answer.proof && isUsable(out.answer.proof)
              ? out.answer.proof
              : undefined;
          const held = cache.peek(key);
          if (held && !held.ede && !(fresh && held.proof && sameProvenData(held.proof, fresh))) {
            held.refetchFailedAt = cache.opts.now();
            stats.answeredFromCache++;
            return fromHit(held);
          }
        }
        if (out.kind !== 'answer' || out.answer.source !== 'upstream') return out;
        const entry = cache.store(key, out.answer.message, { proof: out.answer.proof, ede: out.answer.ede });
        // The entry's message, not the one passed in: the cache may have lowered its TTLs.
        return entry ? { kind: 'answer', answer: { ...out.answer, message: entry.message, entry } } : out;
      });
    },
  };
}

export function validateStage(validator: Validator): Stage {
  return {
    name: 'validate',
    handle: async (ctx, next) => {
      validator.prepare?.(ctx.question);
      const out = await next();
      if (out.kind !== 'answer' || out.answer.source !== 'upstream') return out;
      const r = await validator.validate(ctx.question, out.answer.message, ctx);
      return { kind: 'answer', answer: { ...out.answer, message: r.response, proof: r.proof, ede: r.ede } };
    },
  };
}

export function upstreamStage(upstream: UpstreamPool, stats: PipelineStats): Stage {
  return {
    name: 'upstream',
    handle: async (ctx) => {
      try {
        const message = await upstream.query(ctx.question, { cd: ctx.query.cd });
        return { kind: 'answer', answer: { message, source: 'upstream' } };
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        stats.servfail++;
        ctx.log.warn({ qname: ctx.question.name, qtype: ctx.question.type, code: err.code }, err.message);
        return localAnswer(ctx, Rcode.SERVFAIL);
      }
    },
  };
}

// ---- the pipeline ------------------------------------------------------------------------------

/** The inner layer: cache → validate → upstream. Client queries reach it through the Pipeline. */
export class ResolverCore implements InternalLookups {
  readonly stats: PipelineStats = newPipelineStats();
  readonly stages: readonly Stage[];
  readonly cache: Cache;
  private readonly log: Logger;

  constructor(private readonly deps: { cache: Cache; upstream: UpstreamPool; validator?: Validator; maxUdpSize: number; log?: Logger }) {
    this.log = deps.log ?? silentLogger;
    this.cache = deps.cache;
    this.stages = [
      cacheStage(deps.cache, this.stats),
      validateStage(deps.validator ?? noValidation),
      upstreamStage(deps.upstream, this.stats),
    ];
  }

  async resolveInternal(question: Question): Promise<{ message: Message; proof?: Proof; age?: number }> {
    const query: Message = {
      id: 0,
      qr: false,
      opcode: 0,
      aa: false,
      tc: false,
      rd: true,
      ra: false,
      z: false,
      ad: false,
      cd: false,
      rcode: 0,
      questions: [question],
      answers: [],
      authorities: [],
      additionals: [],
      edns: { udpSize: this.deps.maxUdpSize, extendedRcode: 0, version: 0, do: true, options: [] },
    };
    const ctx = {
      raw: new Uint8Array(0),
      client: { address: '::1', port: 0, transport: 'tcp' },
      log: this.log,
      query,
      question,
      view: { edns: true, do: true },
      maxSize: 0xffff,
      internal: true,
    } as QueryContext;
    const out = await runStages(this.stages, ctx, 0);
    if (out.kind !== 'answer') return { message: makeResponse(query, Rcode.SERVFAIL) };
    return { message: out.answer.message, proof: out.answer.proof, age: out.answer.age };
  }

  peekCached(key: string): CacheEntry | undefined {
    return this.cache.peek(key);
  }

  shortenCached(entry: CacheEntry, ttlSec: number): CacheEntry {
    return this.cache.shorten(entry, ttlSec);
  }
}

function runStages(stages: readonly Stage[], ctx: QueryContext, i: number): Promise<Outcome> {
  const stage = stages[i];
  if (!stage) return Promise.resolve(localAnswer(ctx, Rcode.SERVFAIL));
  return stage.handle(ctx, () => runStages(stages, ctx, i + 1));
}

export class Pipeline {
  readonly stats: PipelineStats;
  readonly stages: readonly Stage[];
  /** The inner layer (cache, validate, upstream) this pipeline wraps. */
  readonly core: ResolverCore;
  private readonly log: Logger;

  constructor(private readonly deps: PipelineDeps) {
    this.log = deps.log ?? silentLogger;
    this.core = deps.core ?? new ResolverCore(deps);
    const s = (this.stats = this.core.stats);
    // THE order: the outer stages, then the core's (cache, validate, upstream). Insert new stages
    // here or in ResolverCore, nowhere else.
    this.stages = [aclStage(deps.allow, s), parseStage(deps.maxUdpSize, s), ...(deps.capture ? [deps.capture] : []), ...this.core.stages];
  }

  /**
   * One query in, the reply bytes out (null: send nothing). Never throws: an unexpected error becomes
   * one log line and a SERVFAIL.
   */
  async handle(raw: Uint8Array, client: ClientInfo): Promise<Uint8Array | null> {
    this.stats.queries++;
    const hit = this.cachedReply(raw, client);
    if (hit) return hit;
    const ctx = { raw, client, log: this.log, maxSize: 512 } as QueryContext;
    let out: Outcome;
    try {
      out = await this.run(ctx, 0);
    } catch (err) {
      this.stats.internalErrors++;
      this.log.error({ err: errText(err), client: client.address, qname: ctx.question?.name }, 'query handling failed');
      if (!ctx.query) return raw.length >= HEADER_LEN && !(raw[2]! & 0x80) ? headerOnlyResponse(raw, Rcode.SERVFAIL) : null;
      out = localAnswer(ctx, Rcode.SERVFAIL);
    }
    try {
      return this.reply(ctx, out);
    } catch (err) {
      this.stats.internalErrors++;
      this.log.error({ err: errText(err), client: client.address, qname: ctx.question?.name }, 'encoding the reply failed');
      return ctx.query ? headerOnlyResponse(raw, Rcode.SERVFAIL) : null;
    }
  }

  /** See InternalLookups.resolveInternal: the core's stages, behind the capture stage. */
  resolveInternal(question: Question): Promise<{ message: Message; proof?: Proof; age?: number }> {
    return this.core.resolveInternal(question);
  }

  /**
   * The cache-hit path: a query answered from its bytes and a cached template, without decoding it
   * or running the stages. It answers only what the stages would have answered the same way: a plain
   * query (QR=0, QUERY, one question, no other records but a well-formed OPT of version 0) from an
   * allowed client, whose question is cached with no extended error, that every stage passes
   * (capture: the decision for this entry is applied and still holds), and whose template fits the
   * client's size. Anything else returns null and takes the full path.
   */
  private cachedReply(raw: Uint8Array, client: ClientInfo): Uint8Array | null {
    const len = raw.length;
    if (len < HEADER_LEN + 5 || (raw[2]! & 0xf8) !== 0) return null;
    if (raw[4] !== 0 || raw[5] !== 1 || raw[6] !== 0 || raw[7] !== 0 || raw[8] !== 0 || raw[9] !== 0 || raw[10] !== 0 || raw[11]! > 1)
      return null;
    const qLen = questionLength(raw);
    if (qLen < 5) return null;
    const qEnd = HEADER_LEN + qLen;
    const qtype = (raw[qEnd - 4]! << 8) | raw[qEnd - 3]!;
    if (REFUSED_QTYPES.has(qtype)) return null;
    let edns = false;
    let dnssecOk = false;
    let udpSize = 512;
    if (raw[11] === 1) {
      // OPT: root owner, type 41, version 0, RDATA to the end of the message.
      const o = qEnd;
      if (o + 11 > len || raw[o] !== 0 || raw[o + 1] !== 0 || raw[o + 2] !== 41 || raw[o + 6] !== 0) return null;
      if (o + 11 + ((raw[o + 9]! << 8) | raw[o + 10]!) !== len) return null;
      edns = true;
      udpSize = (raw[o + 3]! << 8) | raw[o + 4]!;
      dnssecOk = (raw[o + 7]! & 0x80) !== 0;
    } else if (qEnd !== len) return null;
    if (!this.deps.allow(client.address)) return null;
    const cache = this.deps.cache;
    const key = rawCacheKey(raw, qEnd, (raw[3]! & 0x10) !== 0);
    const entry = cache.peek(key);
    if (!entry || entry.ede || (dnssecOk && !servesDo(entry))) return null;
    for (const st of this.stages) if (st.passesCached && !st.passesCached(entry)) return null;
    const ad = entry.proof?.verdict.kind === 'secure' && (dnssecOk || (raw[3]! & 0x20) !== 0);
    const maxSize = client.transport === 'tcp' ? 0xffff : edns ? Math.min(Math.max(udpSize, 512), this.deps.maxUdpSize) : 512;
    const slot = (ad ? 4 : 0) | (edns ? 2 : 0) | (dnssecOk ? 1 : 0);
    let t = entry.templates[slot];
    if (!t) {
      t = buildTemplate(shapeForClient(entry.message, { edns, do: dnssecOk }, this.deps.maxUdpSize, ad));
      entry.templates[slot] = t;
      cache.grow(entry, 200 + t.bytes.length + t.ttlOffsets.length * 24);
    }
    if (t.bytes.length > maxSize) return null;
    cache.get(key); // the hit counts, and refreshes LRU order
    this.stats.answeredFromCache++;
    this.stats.answeredFast++;
    return fillTemplate(t, raw, qEnd, cache.elapsed(entry));
  }

  /** The cached entry under `key` (cacheKey()), without using it. */
  peekCached(key: string): CacheEntry | undefined {
    return this.core.peekCached(key);
  }

  /** Cuts a cached answer's remaining life (and served TTLs) to `ttlSec`; see Cache.shorten. */
  shortenCached(entry: CacheEntry, ttlSec: number): CacheEntry {
    return this.core.shortenCached(entry, ttlSec);
  }

  private run(ctx: QueryContext, i: number): Promise<Outcome> {
    return runStages(this.stages, ctx, i);
  }

  /** The reply step: fits the answer to this client (id, flags, EDNS, DO, size limit). */
  private reply(ctx: QueryContext, out: Outcome): Uint8Array | null {
    if (out.kind === 'drop') {
      this.stats.dropped++;
      return null;
    }
    if (out.kind === 'bytes') return out.bytes;
    const { answer } = out;
    // AD only when the validator proved every RRset of the message secure (the message holds nothing else).
    const ad = answer.proof?.verdict.kind === 'secure' && (ctx.view.do || ctx.query.ad);
    const entry = answer.entry;
    if (entry && entry.message === answer.message && !answer.ede) {
      // AD is part of the variant, so validated answers stay on the byte-patching path too.
      const slot = (ad ? 4 : 0) | (ctx.view.edns ? 2 : 0) | (ctx.view.do ? 1 : 0);
      let t = entry.templates[slot];
      if (!t) {
        t = buildTemplate(shapeForClient(entry.message, ctx.view, this.deps.maxUdpSize, ad));
        entry.templates[slot] = t;
        this.deps.cache.grow(entry, 200 + t.bytes.length + t.ttlOffsets.length * 24);
      }
      if (t.bytes.length <= ctx.maxSize) {
        const qEnd = HEADER_LEN + questionLength(ctx.raw);
        return fillTemplate(t, ctx.raw, qEnd, this.deps.cache.elapsed(entry));
      }
    }
    let msg = answer.message;
    if (entry && entry.message === msg) {
      const elapsed = this.deps.cache.elapsed(entry);
      if (elapsed > 0) msg = ageMessage(msg, elapsed);
    }
    const shaped = shapeForClient(msg, ctx.view, this.deps.maxUdpSize, ad);
    if (answer.ede && shaped.edns) shaped.edns.options.push(edeOption(answer.ede));
    const q = ctx.query;
    const bytes = encodeMessage(
      { ...shaped, id: q.id, rd: q.rd, cd: q.cd, opcode: q.opcode, questions: q.questions },
      { maxSize: ctx.maxSize },
    );
    if (bytes[2]! & 0x02) this.stats.truncated++;
    return bytes;
  }
}

/** RFC 8914 §2: INFO-CODE (16 bits) then UTF-8 EXTRA-TEXT; the text is cut to keep answers small. */
export function edeOption(ede: { code: number; text: string }): { code: number; data: Uint8Array } {
  const text = Buffer.from(ede.text.slice(0, 300), 'utf8');
  const data = new Uint8Array(2 + text.length);
  data[0] = (ede.code >> 8) & 0xff;
  data[1] = ede.code & 0xff;
  data.set(text, 2);
  return { code: EDE_OPTION_CODE, data };
}

function ageMessage(msg: Message, elapsed: number): Message {
  const age = (rrs: Message['answers']) => rrs.map((rr) => ({ ...rr, ttl: Math.max(0, rr.ttl - elapsed) }));
  return { ...msg, answers: age(msg.answers), authorities: age(msg.authorities), additionals: age(msg.additionals) };
}

function errText(err: unknown): string {
  if (err instanceof OednsError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
