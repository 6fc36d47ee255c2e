import assert from 'node:assert/strict';
import { Cache, DEFAULT_CACHE, cacheKey, cacheLifetime, servesDo } from '../../src/resolver/cache';
import { type Message, type RR, RRType, Rcode } from '../../src/wire/types';
import { encodeName } from '../../src/wire/name';
import { bogus, Ede, SECURE } from '../../src/dnssec/verdict';
import { dnsResponse } from '../support/messages';

function a(name: string, ttl: number, addr = '192.0.2.1'): RR {
  return { name, type: RRType.A, class: 1, ttl, rdata: Uint8Array.from(addr.split('.').map(Number)) };
}

function soa(zone: string, ttl: number, minimum: number): RR {
  const tail = Buffer.alloc(20);
  [1, 3600, 600, 86400, minimum].forEach((v, i) => tail.writeUInt32BE(v, i * 4));
  const rdata = Buffer.concat([encodeName(`ns1.${zone}`), encodeName(`hostmaster.${zone}`), tail]);
  return { name: zone, type: RRType.SOA, class: 1, ttl, rdata };
}

function response(q: string, rcode: number, answers: RR[], authorities: RR[] = []): Message {
  return dnsResponse({ q: { name: q, type: RRType.A }, aa: true, rd: true, rcode, answers, authorities });
}

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('resolver/cache', () => {
  it('keeps a validated answer no longer than its proof (validated TTL, signature expiry), whatever the upstream TTLs say', () => {
    const c = clock();
    const cache = new Cache({ ...DEFAULT_CACHE, now: c.now });
    const proof = { verdict: SECURE, rrsets: [], negative: null, rcode: 0, ttl: 100 };
    const e = cache.store('k', response('x.test', 0, [a('x.test', 86400)]), { proof })!;
    assert.equal(e.ttl, 100);
    c.advance(99_000);
    assert.ok(cache.get('k'));
    c.advance(1_000);
    assert.equal(cache.get('k'), undefined, 'gone when the proof runs out');
  });

  it('never serves a record with a TTL beyond the lifetime of its entry (max-ttl, the proof): huge upstream TTLs are capped', () => {
    const cache = new Cache({ ...DEFAULT_CACHE, maxTtl: 600, now: clock().now });
    const e = cache.store('k', response('x.test', 0, [a('x.test', 4294967280), a('x.test', 300, '192.0.2.2')]))!;
    assert.equal(e.ttl, 300);
    assert.deepEqual(
      e.message.answers.map((r) => r.ttl),
      [300, 300],
    );
    const e2 = cache.store('k2', response('x.test', 0, [a('x.test', 4294967280)]))!;
    assert.deepEqual([e2.ttl, e2.message.answers[0]!.ttl], [600, 600]);
  });

  it('keeps a bogus verdict (a SERVFAIL with its EDE) for bogusTtl seconds, no longer', () => {
    const c = clock();
    const cache = new Cache({ ...DEFAULT_CACHE, now: c.now });
    const proof = { verdict: bogus('sig-invalid', Ede.DNSSEC_BOGUS, 'forged'), rrsets: [], negative: null, rcode: 2 };
    const ede = { code: Ede.DNSSEC_BOGUS, text: 'DNSSEC bogus: forged' };
    const e = cache.store('k', response('x.test', Rcode.SERVFAIL, []), { proof, ede })!;
    assert.equal(e.ttl, DEFAULT_CACHE.bogusTtl);
    assert.deepEqual(cache.get('k')!.ede, ede);
    c.advance(DEFAULT_CACHE.bogusTtl! * 1000);
    assert.equal(cache.get('k'), undefined);
    assert.equal(cache.store('k2', response('x.test', Rcode.SERVFAIL, [])), undefined, 'a plain SERVFAIL is not cached');
  });

  it('caches a positive answer for the smallest TTL among answer and authority', () => {
    const msg = response('x.test', 0, [a('x.test', 300), a('x.test', 120, '192.0.2.2')], [{ ...a('test', 60), type: RRType.NS }]);
    assert.deepEqual(cacheLifetime(msg, DEFAULT_CACHE), { ttl: 60, negative: false });
  });

  it('caches NXDOMAIN and NODATA for min(SOA TTL, SOA MINIMUM) (RFC 2308 §5)', () => {
    assert.deepEqual(cacheLifetime(response('n.test', Rcode.NXDOMAIN, [], [soa('test', 3600, 90)]), DEFAULT_CACHE), {
      ttl: 90,
      negative: true,
    });
    assert.deepEqual(cacheLifetime(response('n.test', 0, [], [soa('test', 30, 900)]), DEFAULT_CACHE), { ttl: 30, negative: true });
  });

  it('does not cache negative answers without an SOA, failures or truncated answers', () => {
    assert.equal(cacheLifetime(response('n.test', Rcode.NXDOMAIN, []), DEFAULT_CACHE).ttl, 0);
    assert.equal(cacheLifetime(response('n.test', Rcode.SERVFAIL, []), DEFAULT_CACHE).ttl, 0);
    assert.equal(cacheLifetime({ ...response('x.test', 0, [a('x.test', 300)]), tc: true }, DEFAULT_CACHE).ttl, 0);
  });

  it('clamps the SOA TTL of a stored negative answer to the negative TTL', () => {
    const c = new Cache({ ...DEFAULT_CACHE, now: clock().now });
    const e = c.store('k', response('n.test', Rcode.NXDOMAIN, [], [soa('test', 3600, 90)]))!;
    assert.equal(e.ttl, 90);
    assert.equal(e.message.authorities[0]!.ttl, 90);
  });

  it('expires entries when their TTL has passed on the injected clock, and reports elapsed seconds', () => {
    const t = clock();
    const c = new Cache({ ...DEFAULT_CACHE, now: t.now });
    c.store('k', response('x.test', 0, [a('x.test', 10)]));
    t.advance(4_500);
    const e = c.get('k')!;
    assert.equal(c.elapsed(e), 4);
    t.advance(5_500);
    assert.equal(c.get('k'), undefined);
    assert.equal(c.stats().entries, 0);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const c = new Cache({ ...DEFAULT_CACHE, maxEntries: 2, now: clock().now });
    c.store('a', response('a.test', 0, [a('a.test', 100)]));
    c.store('b', response('b.test', 0, [a('b.test', 100)]));
    assert.ok(c.get('a'));
    c.store('c', response('c.test', 0, [a('c.test', 100)]));
    assert.ok(c.get('a'));
    assert.equal(c.get('b'), undefined);
    assert.ok(c.get('c'));
    assert.equal(c.stats().evictions, 1);
  });

  it('stays within maxBytes', () => {
    const c = new Cache({ ...DEFAULT_CACHE, maxBytes: 20_000, now: clock().now });
    for (let i = 0; i < 50; i++) c.store(`k${i}`, response(`n${i}.test`, 0, [a(`n${i}.test`, 100)]));
    assert.ok(c.stats().bytes <= 20_000, String(c.stats().bytes));
    assert.ok(c.stats().entries > 0 && c.stats().entries < 50);
    assert.ok(c.get('k49'));
  });

  it('runs one fetch for concurrent identical keys and shares its result', async () => {
    const c = new Cache({ ...DEFAULT_CACHE, now: clock().now });
    let calls = 0;
    let release!: (v: string) => void;
    const fetch = (): Promise<string> => {
      calls++;
      return new Promise((r) => (release = r));
    };
    const ps = Array.from({ length: 10 }, () => c.coalesce('k', fetch));
    release('answer');
    assert.deepEqual(await Promise.all(ps), new Array(10).fill('answer'));
    assert.equal(calls, 1);
    assert.equal(c.stats().coalesced, 9);
    await c.coalesce('k', async () => 'again');
    assert.equal(calls, 1, 'a finished fetch is not reused');
  });

  it('keys by name case-insensitively, type, class and the CD bit', () => {
    assert.equal(
      cacheKey({ name: 'WwW.Example.TEST', type: 1, class: 1 }, false),
      cacheKey({ name: 'www.example.test', type: 1, class: 1 }, false),
    );
    assert.notEqual(cacheKey({ name: 'a.test', type: 1, class: 1 }, false), cacheKey({ name: 'a.test', type: 28, class: 1 }, false));
    assert.notEqual(cacheKey({ name: 'a.test', type: 1, class: 1 }, false), cacheKey({ name: 'a.test', type: 1, class: 1 }, true));
  });

  describe('two tiers: decoded hot names, the rest as bytes', () => {
    const k = (name: string): string => cacheKey({ name, type: RRType.A, class: 1 }, false);
    const secure = (name: string, ttl: number) => ({
      verdict: SECURE,
      negative: null,
      rcode: 0,
      ttl,
      rrsets: [
        { name, type: RRType.A, class: 1, records: [a(name, ttl)], sigs: [], ttl, security: 'secure' as const, role: 'answer' as const },
      ],
    });

    it('moves names pushed out of the hot LRU into the compact tier and brings them back equal', () => {
      const c = clock();
      const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 2, now: c.now });
      for (let i = 0; i < 10; i++)
        cache.store(k(`n${i}.test`), response(`N${i}.test`, 0, [a(`N${i}.test`, 300)]), { proof: secure(`N${i}.test`, 300) });
      assert.deepEqual([cache.stats().entries, cache.stats().compactEntries, cache.stats().evictions], [10, 8, 0]);
      c.advance(5_000);
      const back = cache.get(k('n0.test'))!;
      assert.ok(back, 'found in the compact tier');
      assert.equal(back.message.questions[0]!.name, 'N0.test');
      assert.equal(back.proof?.verdict.kind, 'secure');
      assert.equal(back.proof?.rrsets[0]!.records[0]!.ttl, 300);
      assert.equal(cache.elapsed(back), 5, 'the age carries over');
      assert.equal(cache.stats().promoted, 1);
      assert.equal(cache.peek(k('n0.test')), back, 'hot now: the same entry');
    });

    it('honours TTLs in the compact tier and forgets a flushed name there too', () => {
      const c = clock();
      const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: c.now });
      cache.store(k('short.test'), response('short.test', 0, [a('short.test', 10)]), { proof: secure('short.test', 10) });
      cache.store(k('a.zone.test'), response('a.zone.test', 0, [a('a.zone.test', 300)]));
      cache.store(k('other.test'), response('other.test', 0, [a('other.test', 300)]));
      assert.equal(cache.stats().compactEntries, 2);
      assert.equal(cache.flushName('zone.test'), 1);
      assert.equal(cache.get(k('a.zone.test')), undefined);
      c.advance(10_000);
      assert.equal(cache.get(k('short.test')), undefined, 'expired while compact');
    });

    it('never keeps a bogus verdict or an answer with an extended error as bytes: they leave with the LRU', () => {
      const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: clock().now });
      const proof = { verdict: bogus('sig-invalid', Ede.DNSSEC_BOGUS, 'forged'), rrsets: [], negative: null, rcode: 2 };
      cache.store(k('bad.test'), response('bad.test', Rcode.SERVFAIL, []), { proof, ede: { code: Ede.DNSSEC_BOGUS, text: 'forged' } });
      cache.store(k('good.test'), response('good.test', 0, [a('good.test', 300)]));
      assert.deepEqual([cache.stats().compactEntries, cache.stats().evictions], [0, 1]);
      assert.equal(cache.get(k('bad.test')), undefined);
    });

    it('a stored answer replaces the compact copy of its key', () => {
      const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: clock().now });
      cache.store(k('x.test'), response('x.test', 0, [a('x.test', 300, '192.0.2.1')]));
      cache.store(k('y.test'), response('y.test', 0, [a('y.test', 300)]));
      cache.store(k('x.test'), response('x.test', 0, [a('x.test', 300, '192.0.2.7')]));
      assert.deepEqual([...cache.get(k('x.test'))!.message.answers[0]!.rdata], [192, 0, 2, 7]);
      assert.equal(cache.stats().entries, 2);
    });
  });
});

describe('resolver/cache: answers kept without their RRSIGs', () => {
  const k = (name: string): string => cacheKey({ name, type: RRType.A, class: 1 }, false);
  const sig = (name: string): RR => ({ name, type: RRType.RRSIG, class: 1, ttl: 300, rdata: new Uint8Array(40).fill(7) });
  const signed = (name: string) => ({
    verdict: SECURE,
    negative: null,
    rcode: 0,
    ttl: 300,
    rrsets: [
      {
        name,
        type: RRType.A,
        class: 1,
        records: [a(name, 300)],
        sigs: [sig(name)],
        ttl: 300,
        sigExpiry: 2_000_000_000,
        security: 'secure' as const,
        role: 'answer' as const,
      },
    ],
  });

  it('stay marked as such however often they go back and forth between the tiers', () => {
    const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: clock().now });
    cache.store(k('x.test'), response('x.test', 0, [a('x.test', 300), sig('x.test')]), { proof: signed('x.test') });
    assert.equal(servesDo(cache.peek(k('x.test'))!), true, 'as stored: complete');
    for (let round = 0; round < 3; round++) {
      cache.store(k(`other${round}.test`), response(`other${round}.test`, 0, [a(`other${round}.test`, 300)]));
      const back = cache.get(k('x.test'))!;
      assert.equal(servesDo(back), false, `round ${round}`);
      assert.deepEqual(
        back.message.answers.map((r) => r.type),
        [RRType.A],
      );
      assert.deepEqual(back.proof!.rrsets[0]!.sigs, []);
      assert.equal(back.proof!.rrsets[0]!.sigExpiry, 2_000_000_000);
    }
  });
});

describe('resolver/cache: shorten', () => {
  const k = (name: string): string => cacheKey({ name, type: RRType.A, class: 1 }, false);

  it('cuts the TTLs of an entry that left the hot tier while capture decided (review 14)', () => {
    const c = clock();
    const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 1, now: c.now });
    const e = cache.store(k('bob.test'), response('bob.test', 0, [a('bob.test', 300)]))!;
    // Another answer (capture's own IPSECKEY lookup) pushes bob's out to the compact tier.
    cache.store(k('other.test'), response('other.test', 0, [a('other.test', 300)]));
    assert.equal(cache.stats().compactEntries, 1);
    const cut = cache.shorten(e, 60);
    assert.deepEqual(
      cut.message.answers.map((r) => r.ttl),
      [60],
      "the reply built from it carries the peer's life",
    );
    assert.equal(cut.ttl, 60);
    // The cache is not changed behind the compact copy's back: the copy is found as it was stored.
    assert.equal(cache.get(k('bob.test'))!.message.answers[0]!.ttl, 300);
  });

  it('replaces the hot entry when it is still the current one', () => {
    const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100, hotEntries: 10, now: clock().now });
    const e = cache.store(k('bob.test'), response('bob.test', 0, [a('bob.test', 300)]))!;
    const cut = cache.shorten(e, 60);
    assert.equal(cache.peek(k('bob.test')), cut);
    assert.equal(cut.message.answers[0]!.ttl, 60);
  });
});
