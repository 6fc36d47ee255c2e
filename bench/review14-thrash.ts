// Review 14 PoC: cache hits alone (no upstream query, no new name) evict the compact tier. A client
// that cycles through --cache-hot + 1 cached names makes every query a promotion (its bytes stay in
// their slab, dead) and a demotion (new bytes appended); the slabs fill with dead copies and the
// oldest slab goes, with every live answer still in it. Here 2000 other names are held; a client
// cycles 11 names through a 10-name hot tier.
// Run: npm run build && node dist/bench/review14-thrash.js
import { Cache, cacheKey, DEFAULT_CACHE } from '../src/resolver/cache';
import type { Message } from '../src/wire/types';
import { dnsResponse } from '../test/support/messages';

const k = (name: string): string => cacheKey({ name, type: 1, class: 1 }, false);
function answer(name: string): Message {
  return dnsResponse({
    q: { name, type: 1 },
    aa: true,
    rd: true,
    answers: [{ name, type: 1, class: 1, ttl: 3600, rdata: Uint8Array.from([192, 0, 2, 1]) }],
  });
}
const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: 100_000, maxBytes: 4 * 1024 * 1024, hotEntries: 10, now: () => 1_000_000 });
for (let i = 0; i < 2000; i++) cache.store(k(`held${i}.test`), answer(`held${i}.test`));
const cycle = Array.from({ length: 11 }, (_, i) => `cycle${i}.test`);
for (const n of cycle) cache.store(k(n), answer(n));
// The cycle's 11 names are always held (hot or compact): the rest of the count is the other names.
const held = (): number => cache.stats().entries - 11;
console.log(`before: ${held()} of 2000 held, ${JSON.stringify(cache.stats())}`);
for (let q = 1; q <= 40_000; q++) {
  cache.get(k(cycle[q % cycle.length]!));
  if (q % 5_000 === 0) console.log(`after ${q} hits on 11 names: ${held()} of 2000 other names still held`);
}
