// Review 14 PoC: the compact tier's hash index (compact-store.ts) uses unseeded 32-bit FNV-1a and takes
// the low bits as the home slot. The low k bits of FNV-1a depend only on the low k bits of the state and
// the input bytes, so names whose keys share their low 20 bits of hash are built in milliseconds
// (Joux-style multicollision: 16 stages of two 3-letter blocks each → 65536 names). Cached (NXDOMAIN,
// a wildcard zone of one's own: any name a client can get answered), they form one probe cluster of
// the linear-probing table; every insert, lookup and removal that lands in it walks it.
// Run: npm run build && node dist/bench/review14-hashflood.js [--stages 16]
import { CompactStore } from '../src/resolver/compact-store';
import { encodeCachedAnswer } from '../src/resolver/entry-codec';
import { cacheKey } from '../src/resolver/cache';
import { dnsResponse } from '../test/support/messages';

const args = process.argv.slice(2);
const STAGES = args.includes('--stages') ? Number(args[args.indexOf('--stages') + 1]) : 16;
const K = 20;
const MASK = (1 << K) - 1;
const SUFFIX = '.example.test';

function step(h: number, c: number): number {
  return Math.imul(h ^ c, 0x01000193) >>> 0;
}

/** Colliding labels: every combination of the per-stage block pairs gives the same low K bits. */
function collidingLabels(stages: number): string[] {
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const blocks: string[] = [];
  for (const x of abc) for (const y of abc) for (const z of abc) blocks.push(x + y + z);
  // The key starts with the label's length octet.
  let state = step(0x811c9dc5, 3 * stages) & MASK;
  const pairs: [string, string][] = [];
  for (let s = 0; s < stages; s++) {
    const seen = new Map<number, string>();
    let found: [string, string] | undefined;
    for (const b of blocks) {
      let h = state;
      for (let i = 0; i < 3; i++) h = step(h, b.charCodeAt(i)) & MASK;
      const other = seen.get(h);
      if (other !== undefined) {
        found = [other, b];
        state = h;
        break;
      }
      seen.set(h, b);
    }
    if (!found) throw new Error(`no collision at stage ${s}`);
    pairs.push(found);
  }
  const out: string[] = [];
  for (let m = 0; m < 2 ** stages; m++) out.push(pairs.map((p, i) => p[(m >> i) & 1]).join(''));
  return out;
}

function answer(name: string): Uint8Array {
  const m = dnsResponse({ q: { name, type: 1 }, rd: true, ra: true, rcode: 3 });
  return encodeCachedAnswer(m, undefined)!;
}

function fill(names: string[]): { store: CompactStore; ms: number } {
  // The default serve settings' compact tier: 100000 - 10000 entries, 64 MiB - 32 MiB.
  const store = new CompactStore({ maxEntries: 90_000, maxBytes: 32 * 1024 * 1024 });
  const t0 = process.hrtime.bigint();
  for (const n of names) store.put(cacheKey({ name: n, type: 1, class: 1 }, false), answer(n), 0, 3600, true);
  return { store, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

function lookups(store: CompactStore, names: string[]): number {
  const t0 = process.hrtime.bigint();
  for (const n of names) store.has(cacheKey({ name: n, type: 1, class: 1 }, false), 1);
  return Number(process.hrtime.bigint() - t0) / 1e3 / names.length;
}

const t0 = Date.now();
const labels = collidingLabels(STAGES);
console.log(`${labels.length} colliding names built in ${Date.now() - t0} ms (e.g. ${labels[0]}${SUFFIX})`);
const hostile = labels.map((l) => l + SUFFIX);
const random = labels.map((_, i) => `r${i}x${Math.random().toString(36).slice(2, 10)}${SUFFIX}`);
const a = fill(random);
const b = fill(hostile);
console.log(`fill ${labels.length}: random names ${a.ms.toFixed(0)} ms, colliding names ${b.ms.toFixed(0)} ms`);
// Questions nobody cached: a miss looks in the compact tier first (Cache.get → promote → take).
const probeRandom = Array.from({ length: 2000 }, (_, i) => `miss${i}.other.test`);
console.log(
  `a miss for an unrelated name: ${lookups(a.store, probeRandom).toFixed(2)} µs (random fill), ${lookups(b.store, probeRandom).toFixed(2)} µs (colliding fill)`,
);
console.log(`a hit on a colliding name: ${lookups(b.store, hostile.slice(0, 2000)).toFixed(2)} µs`);
