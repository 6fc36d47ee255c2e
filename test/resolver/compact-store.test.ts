// The compact tier's hash table and slabs against a plain Map model: every live key found, nothing
// found that was not put, bounds kept, and oldest-first reclamation.
import assert from 'node:assert/strict';
import { CompactStore, hashKey } from '../../src/resolver/compact-store';
import { encodeCachedAnswer } from '../../src/resolver/entry-codec';
import { cacheKey } from '../../src/resolver/cache';
import { dnsResponse } from '../support/messages';

function answer(name: string, type = 1, last = 1): Uint8Array {
  const m = dnsResponse({
    q: { name, type },
    rd: true,
    ra: true,
    answers: [{ name, type, class: 1, ttl: 300, rdata: type === 1 ? Uint8Array.from([192, 0, 2, last & 255]) : new Uint8Array(16) }],
  });
  return encodeCachedAnswer(m, undefined)!;
}

const key = (name: string, type = 1, cd = false): string => cacheKey({ name, type, class: 1 }, cd);

describe('resolver/compact-store', () => {
  it('finds an entry by its key whatever the stored case, apart by type and CD bit, once', () => {
    const s = new CompactStore({ maxEntries: 100, maxBytes: 1 << 20 });
    assert.ok(s.put(key('www.example.test'), answer('WwW.Example.TEST'), 1000, 60, false));
    assert.ok(s.put(key('www.example.test', 1, true), answer('www.example.test', 1, 2), 1000, 60, true));
    assert.equal(s.has(key('www.example.test', 28), 1000), false);
    const hit = s.take(key('WWW.example.test'), 2000);
    assert.ok(hit);
    assert.equal(hit.bytes.at(-2), 1);
    assert.equal(hit.negative, false);
    assert.equal(s.take(key('www.example.test'), 2000), undefined, 'taken: gone from the tier');
    const cd = s.take(key('www.example.test', 1, true), 2000);
    assert.equal(cd?.bytes.at(-2), 2);
    assert.equal(cd?.negative, true);
    assert.equal(s.size, 0);
  });

  it('never hands out an expired entry', () => {
    const s = new CompactStore({ maxEntries: 100, maxBytes: 1 << 20 });
    s.put(key('a.test'), answer('a.test'), 1000, 60, false);
    assert.equal(s.has(key('a.test'), 60_999), true);
    assert.equal(s.has(key('a.test'), 61_000), false);
    assert.equal(s.take(key('a.test'), 61_000), undefined);
    assert.equal(s.size, 0, 'removed on sight');
  });

  it('drops the oldest chunks first to stay within its entry and byte bounds', () => {
    const s = new CompactStore({ maxEntries: 50_000, maxBytes: 2 * 1024 * 1024 });
    for (let i = 0; i < 60_000; i++) s.put(key(`host${i}.example.test`), answer(`host${i}.example.test`, 1, i), 0, 3600, false);
    assert.ok(s.size <= 50_000, String(s.size));
    assert.ok(s.bytes <= 2 * 1024 * 1024, String(s.bytes));
    assert.equal(s.has(key('host59999.example.test'), 1), true, 'the newest is kept');
    assert.equal(s.has(key('host0.example.test'), 1), false, 'the oldest went first');
    // Whatever is held is found, and is the answer put under that key.
    let held = 0;
    for (let i = 0; i < 60_000; i++) {
      const hit = s.take(key(`host${i}.example.test`), 1);
      if (hit) {
        held++;
        assert.equal(hit.bytes.at(-2), i & 255);
      }
    }
    assert.ok(held > 1000);
    assert.equal(s.size, 0);
  });

  it('agrees with a Map model over a long run of puts, replacements, takes, deletes and flushes', () => {
    const s = new CompactStore({ maxEntries: 1_000_000, maxBytes: 64 * 1024 * 1024 });
    const model = new Map<string, number>();
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 40_000; step++) {
      const n = rnd(3000);
      const k = key(`n${n}.zone${n % 7}.test`);
      const op = rnd(10);
      if (op < 5) {
        const v = rnd(256);
        assert.ok(s.put(k, answer(`n${n}.zone${n % 7}.test`, 1, v), 0, 3600, false));
        model.set(k, v);
      } else if (op < 8) {
        const hit = s.take(k, 1);
        assert.equal(hit?.bytes.at(-2), model.get(k), `step ${step}`);
        model.delete(k);
      } else if (op < 9) {
        assert.equal(s.delete(k), model.delete(k));
      } else if (step % 97 === 0) {
        const zone = `zone${rnd(7)}.test`;
        const dropped = s.removeWhere((b) => Buffer.from(b).toString('latin1').includes(zone.split('.')[0]!));
        let expect = 0;
        for (const mk of [...model.keys()]) {
          if (!mk.includes(zone.split('.')[0]!)) continue;
          model.delete(mk);
          expect++;
        }
        assert.equal(dropped, expect);
      }
      assert.equal(s.size, model.size);
    }
    for (const [k, v] of model) assert.equal(s.take(k, 1)?.bytes.at(-2), v);
    assert.equal(s.size, 0);
  });

  it('refuses entries bigger than a quarter chunk instead of breaking its bound', () => {
    const s = new CompactStore({ maxEntries: 10, maxBytes: 1 << 20 });
    assert.equal(s.put(key('big.test'), new Uint8Array(40_000), 0, 60, false), false);
    assert.equal(s.size, 0);
  });
});

describe('resolver/compact-store: slots clients cannot choose (review 14)', () => {
  /** Names whose keys share the low `k` bits of unseeded FNV-1a (the index's hash before review 14). */
  function collidingNames(stages: number, k: number): string[] {
    const mask = (1 << k) - 1;
    const step = (h: number, c: number): number => Math.imul(h ^ c, 0x01000193) & mask;
    const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let state = step(0x811c9dc5, 3 * stages);
    const pairs: [string, string][] = [];
    for (let s = 0; s < stages; s++) {
      const seen = new Map<number, string>();
      search: for (const x of abc)
        for (const y of abc)
          for (const z of abc) {
            const h = step(step(step(state, x.charCodeAt(0)), y.charCodeAt(0)), z.charCodeAt(0));
            const other = seen.get(h);
            if (other !== undefined) {
              pairs.push([other, x + y + z]);
              state = h;
              break search;
            }
            seen.set(h, x + y + z);
          }
    }
    return Array.from({ length: 2 ** stages }, (_, m) => pairs.map((p, i) => p[(m >> i) & 1]).join('') + '.example.test');
  }

  it('spreads names built to share a slot under an unseeded FNV-1a', () => {
    const names = collidingNames(10, 12);
    const fnv = (s: string): number => {
      let h = 0x811c9dc5;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
      return h >>> 0;
    };
    const slots = (f: (k: string) => number): number => new Set(names.map((n) => f(key(n)) & 0xfff)).size;
    assert.equal(slots(fnv), 1, 'the names do collide unseeded: the check is not vacuous');
    for (const seed of [0, 1, 0xdeadbeef])
      assert.ok(slots((k) => hashKey(k, seed)) > 700, `seed ${seed}: ${slots((k) => hashKey(k, seed))} slots for 1024 names`);
    // Two stores do not share their slots.
    assert.notEqual(hashKey(key(names[0]!), 1), hashKey(key(names[0]!), 2));
  });
});

describe('resolver/compact-store under churn', () => {
  it('keeps its live answers while a client cycles other names through it: dead copies go, live ones move forward', () => {
    const s = new CompactStore({ maxEntries: 100_000, maxBytes: 2 * 1024 * 1024 });
    for (let i = 0; i < 2000; i++) s.put(key(`held${i}.test`), answer(`held${i}.test`, 1, i), 0, 3600, false);
    // Each round takes a name out (a promotion) and puts it back (its demotion): the old bytes stay
    // behind, dead, in their slab.
    for (let round = 0; round < 60_000; round++) {
      const k = key(`cycle${round % 500}.test`);
      s.take(k, 1);
      s.put(k, answer(`cycle${round % 500}.test`, 1, round), 0, 3600, false);
    }
    let held = 0;
    for (let i = 0; i < 2000; i++) if (s.take(key(`held${i}.test`), 1)?.bytes.at(-2) === (i & 255)) held++;
    assert.equal(held, 2000, 'held answers pushed out by churn');
    assert.ok(s.relocated > 0);
    assert.ok(s.bytes <= 2 * 1024 * 1024);
  });
});
