import assert from 'node:assert/strict';
import { Cache, DEFAULT_CACHE, cacheKey, cacheLifetime } from '../../src/resolver/cache';
import { type Message, type RR, RRType, Rcode } from '../../src/wire/types';
import { encodeName } from '../../src/wire/name';
import { bogus, Ede, SECURE } from '../../src/dnssec/verdict';

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
  return {
    id: 0, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: false, z: false, ad: false, cd: false, rcode,
    questions: [{ name: q, type: RRType.A, class: 1 }], answers, authorities, additionals: [],
  };
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
    assert.deepEqual(e.message.answers.map((r) => r.ttl), [300, 300]);
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
    assert.deepEqual(cacheLifetime(response('n.test', Rcode.NXDOMAIN, [], [soa('test', 3600, 90)]), DEFAULT_CACHE), { ttl: 90, negative: true });
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
    assert.equal(cacheKey({ name: 'WwW.Example.TEST', type: 1, class: 1 }, false), cacheKey({ name: 'www.example.test', type: 1, class: 1 }, false));
    assert.notEqual(cacheKey({ name: 'a.test', type: 1, class: 1 }, false), cacheKey({ name: 'a.test', type: 28, class: 1 }, false));
    assert.notEqual(cacheKey({ name: 'a.test', type: 1, class: 1 }, false), cacheKey({ name: 'a.test', type: 1, class: 1 }, true));
  });
});
