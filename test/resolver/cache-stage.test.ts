// The cache stage's refetch for a DO client of an answer held without RRSIGs (review 14): when the
// refetch fails, the held answer is served only if it is still held (live, not flushed) by then.
import assert from 'node:assert/strict';
import { Cache, DEFAULT_CACHE, cacheKey, servesDo } from '../../src/resolver/cache';
import { cacheStage, newPipelineStats, REFETCH_BACKOFF_MS, type Outcome, type QueryContext } from '../../src/resolver/pipeline';
import { makeResponse } from '../../src/wire/message';
import { type Message, type RR, RRType, Rcode } from '../../src/wire/types';
import { SECURE } from '../../src/dnssec/verdict';
import { silentLogger } from '../../src/util/log';
import { dnsResponse } from '../support/messages';

const a = (name: string, ttl: number): RR => ({ name, type: RRType.A, class: 1, ttl, rdata: Uint8Array.from([192, 0, 2, 1]) });
const sig = (name: string): RR => ({ name, type: RRType.RRSIG, class: 1, ttl: 30, rdata: new Uint8Array(40).fill(7) });
const response = (q: string, answers: RR[]): Message => dnsResponse({ q: { name: q, type: RRType.A }, aa: true, rd: true, answers });
const signed = (name: string, ttl: number) => ({
  verdict: SECURE,
  negative: null,
  rcode: 0,
  ttl,
  rrsets: [
    {
      name,
      type: RRType.A,
      class: 1,
      records: [a(name, ttl)],
      sigs: [sig(name)],
      ttl,
      sigExpiry: 2_000_000_000,
      security: 'secure' as const,
      role: 'answer' as const,
    },
  ],
});

function doCtx(name: string): QueryContext {
  const query: Message = { ...response(name, []), qr: false, edns: { udpSize: 1232, extendedRcode: 0, version: 0, do: true, options: [] } };
  return {
    raw: new Uint8Array(0),
    client: { address: '127.0.0.1', port: 1, transport: 'udp' },
    log: silentLogger,
    query,
    question: query.questions[0]!,
    view: { edns: true, do: true },
    maxSize: 1232,
  };
}

describe("resolver/cache stage: a DO client's refetch of an answer held without RRSIGs", () => {
  function world() {
    let t = 1_000_000;
    const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: () => t });
    const key = cacheKey({ name: 'bob.test', type: RRType.A, class: 1 }, false);
    cache.store(key, response('bob.test', [a('bob.test', 30), sig('bob.test')]), { proof: signed('bob.test', 30) });
    cache.store(cacheKey({ name: 'other.test', type: RRType.A, class: 1 }, false), response('other.test', [a('other.test', 300)]));
    assert.equal(servesDo(cache.peek(key)!), false, 'held without RRSIGs');
    return { cache, key, advance: (ms: number) => (t += ms) };
  }
  const failed = (ctx: QueryContext): Outcome => ({
    kind: 'answer',
    answer: { message: makeResponse(ctx.query, Rcode.SERVFAIL), source: 'local' },
  });

  it('serves the held answer when the refetch fails while it is still live', async () => {
    const w = world();
    const ctx = doCtx('bob.test');
    const out = await cacheStage(w.cache, newPipelineStats()).handle(ctx, async () => failed(ctx));
    assert.equal(out.kind === 'answer' && out.answer.source, 'cache');
  });

  it('does not serve an answer that expired while the refetch was under way', async () => {
    const w = world();
    const ctx = doCtx('bob.test');
    const out = await cacheStage(w.cache, newPipelineStats()).handle(ctx, async () => {
      w.advance(31_000); // the upstream (or an attacker on its path) takes its time
      return failed(ctx);
    });
    assert.ok(out.kind === 'answer');
    assert.notEqual(out.answer.source, 'cache', `an expired entry was served (age ${out.answer.age} s of 30)`);
  });

  it('does not serve an answer flushed (oedns control flush) while the refetch was under way', async () => {
    const w = world();
    const ctx = doCtx('bob.test');
    const out = await cacheStage(w.cache, newPipelineStats()).handle(ctx, async () => {
      w.cache.clear();
      return failed(ctx);
    });
    assert.ok(out.kind === 'answer');
    assert.notEqual(out.answer.source, 'cache', 'a flushed entry was served');
  });
});

describe('resolver/cache stage: a failed refetch is not tried again at once', () => {
  it('serves the held answer at once for REFETCH_BACKOFF_MS after a failed refetch, then fetches again', async () => {
    let t = 1_000_000;
    const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: () => t });
    const key = cacheKey({ name: 'bob.test', type: RRType.A, class: 1 }, false);
    cache.store(key, response('bob.test', [a('bob.test', 300), { ...sig('bob.test'), ttl: 300 }]), { proof: signed('bob.test', 300) });
    cache.store(cacheKey({ name: 'other.test', type: RRType.A, class: 1 }, false), response('other.test', [a('other.test', 300)]));
    const stage = cacheStage(cache, newPipelineStats());
    let fetches = 0;
    const ctx = doCtx('bob.test');
    const next = async (): Promise<Outcome> => {
      fetches++;
      return { kind: 'answer', answer: { message: makeResponse(ctx.query, Rcode.SERVFAIL), source: 'local' } };
    };
    for (const [advance, want] of [
      [0, 1],
      [1_000, 1],
      [REFETCH_BACKOFF_MS - 2_000, 1],
      [1_000, 2],
      [1_000, 2],
    ] as const) {
      t += advance;
      const out = await stage.handle(ctx, next);
      assert.equal(out.kind === 'answer' && out.answer.source, 'cache', `after ${t - 1_000_000} ms`);
      assert.equal(fetches, want, `after ${t - 1_000_000} ms`);
    }
  });
});

describe('resolver/cache stage: a DO refetch may bring the RRSIGs back, never other data', () => {
  const other = (name: string, ttl: number) => {
    const p = signed(name, ttl);
    const rr = { ...a(name, ttl), rdata: Uint8Array.from([203, 0, 113, 66]) };
    return { proof: { ...p, rrsets: [{ ...p.rrsets[0]!, records: [rr] }] }, message: response(name, [rr, sig(name)]) };
  };
  function setup() {
    const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: () => 1_000_000 });
    const key = cacheKey({ name: 'bob.test', type: RRType.A, class: 1 }, false);
    cache.store(key, response('bob.test', [a('bob.test', 300), { ...sig('bob.test'), ttl: 300 }]), { proof: signed('bob.test', 300) });
    cache.store(cacheKey({ name: 'other.test', type: RRType.A, class: 1 }, false), response('other.test', [a('other.test', 300)]));
    return { cache, key };
  }

  it('a validated refetch with other records (a replay of older signatures) is neither served nor stored', async () => {
    const { cache, key } = setup();
    const ctx = doCtx('bob.test');
    const replay = other('bob.test', 300);
    const out = await cacheStage(cache, newPipelineStats()).handle(ctx, async () => ({
      kind: 'answer',
      answer: { message: replay.message, proof: replay.proof, source: 'upstream' },
    }));
    assert.ok(out.kind === 'answer');
    assert.equal(out.answer.source, 'cache');
    assert.deepEqual([...out.answer.message.answers[0]!.rdata], [192, 0, 2, 1]);
    assert.deepEqual([...cache.peek(key)!.message.answers[0]!.rdata], [192, 0, 2, 1], 'the held data stay');
  });

  it('a validated refetch of the same records replaces the held answer, RRSIGs and all', async () => {
    const { cache, key } = setup();
    const ctx = doCtx('bob.test');
    const out = await cacheStage(cache, newPipelineStats()).handle(ctx, async () => ({
      kind: 'answer',
      answer: {
        message: response('bob.test', [a('bob.test', 300), { ...sig('bob.test'), ttl: 300 }]),
        proof: signed('bob.test', 300),
        source: 'upstream',
      },
    }));
    assert.ok(out.kind === 'answer');
    assert.equal(out.answer.source, 'upstream');
    assert.equal(servesDo(cache.peek(key)!), true, 'held with its RRSIGs again');
  });
});
