// Memory of the answer cache at a million names: fills the real Cache with validated answers shaped as
// the pipeline stores them (the proven message: one A record and the RRSIG that verified it, plus the
// Proof that travels with it) and prints resident memory and heap per entry as it grows.
// Target (issue 14): ≤ 200 MB resident with 1e6 cached names. The cache keeps HOT_ENTRIES names decoded
// and the rest as bytes (compact tier); `--hot N` moves that line (`--hot 1000000`: every name decoded,
// the cache as it was before the compact tier, the baseline).
// Run: npm run build && node --expose-gc --max-old-space-size=8192 dist/bench/cache-memory.js [--names 1000000] [--hot N]
import { Cache, cacheKey, DEFAULT_CACHE, HOT_ENTRIES } from '../src/resolver/cache';
import type { Proof } from '../src/dnssec/proof';
import type { ValidatedRRset } from '../src/dnssec/validate';
import { SECURE } from '../src/dnssec/verdict';
import { encodeA, encodeRrsig } from '../src/wire/rdata';
import type { Message, RR } from '../src/wire/types';
import { dnsResponse } from '../test/support/messages';

const args = process.argv.slice(2);
const N = args.includes('--names') ? Number(args[args.indexOf('--names') + 1]) : 1_000_000;
const HOT = args.includes('--hot') ? Number(args[args.indexOf('--hot') + 1]) : HOT_ENTRIES;

function entryFor(i: number): { key: string; message: Message; proof: Proof } {
  const name = `host${i}.example.test`;
  const a: RR = { name, type: 1, class: 1, ttl: 3600, rdata: encodeA(`198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`) };
  const sig: RR = {
    name,
    type: 46,
    class: 1,
    ttl: 3600,
    rdata: encodeRrsig({
      typeCovered: 1,
      algorithm: 13,
      labels: 3,
      originalTtl: 3600,
      expiration: 2_000_000_000,
      inception: 1_700_000_000,
      keyTag: 12345,
      signerName: 'example.test',
      signature: new Uint8Array(64).fill(i & 255),
    }),
  };
  const set: ValidatedRRset = {
    name,
    type: 1,
    class: 1,
    records: [a],
    sigs: [sig],
    ttl: 3600,
    sigExpiry: 2_000_000_000,
    security: 'secure',
    role: 'answer',
  };
  const message = dnsResponse({ q: { name, type: 1 }, rd: true, ra: true, answers: [a, sig] });
  return {
    key: cacheKey({ name, type: 1, class: 1 }, false),
    message,
    proof: { verdict: SECURE, rrsets: [set], negative: null, rcode: 0, ttl: 3600 },
  };
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

async function main(): Promise<void> {
  const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: N, hotEntries: HOT, maxBytes: Number.MAX_SAFE_INTEGER, now: Date.now });
  global.gc?.();
  const t0 = Date.now();
  const base = rssMiB();
  const heap0 = process.memoryUsage().heapUsed;
  console.log(`names\tRSS MiB\theap MiB\tbytes/entry (RSS)\tbytes/entry (heap)`);
  for (let i = 0; i < N; i++) {
    const e = entryFor(i);
    cache.store(e.key, e.message, { proof: e.proof });
    if ((i + 1) % (N / 10) === 0) {
      const rss = rssMiB();
      const heap = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
      console.log(
        `${i + 1}\t${rss.toFixed(0)}\t${heap.toFixed(0)}\t${(((rss - base) * 2 ** 20) / (i + 1)).toFixed(0)}\t${((heap * 2 ** 20) / (i + 1)).toFixed(0)}`,
      );
    }
  }
  const fill = (Date.now() - t0) / 1000;
  const peak = rssMiB();
  // A daemon's resident size once the fill's garbage is gone: V8 hands freed pages back over a few
  // seconds of idle (its memory reducer), not at the first GC.
  for (let i = 0; i < 6; i++) {
    global.gc?.();
    await new Promise((r) => setTimeout(r, 2000));
  }
  const st = cache.stats();
  const rss = rssMiB();
  console.log(
    `cache holds ${st.entries} entries (${st.entries - st.compactEntries} decoded, ${st.compactEntries} as bytes), filled in ${fill.toFixed(1)} s; ` +
      `resident ${rss.toFixed(0)} MiB settled (${(rss * 1.048576).toFixed(0)} MB; target ≤ 200 MB at 1e6), ${peak.toFixed(0)} MiB at the end of the fill; Node alone ${base.toFixed(0)} MiB`,
  );
  const mu = process.memoryUsage();
  const mib = (n: number): string => (n / 2 ** 20).toFixed(0);
  console.log(
    `heap total ${mib(mu.heapTotal)} MiB (used ${mib(mu.heapUsed)}), array buffers ${mib(mu.arrayBuffers)} MiB; the cache counts ${mib(st.bytes)} MiB`,
  );
  // Every name is still there and decodes to its own answer.
  let found = 0;
  const t1 = Date.now();
  for (let i = 0; i < N; i += Math.max(1, Math.floor(N / 10_000)))
    if (cache.peek(entryFor(i).key)?.message.answers[0]?.name === `host${i}.example.test`) found++;
  console.log(
    `sampled lookups found ${found} of ${Math.ceil(N / Math.max(1, Math.floor(N / 10_000)))}, ${(((Date.now() - t1) / found) * 1000).toFixed(1)} µs each (decode included)`,
  );
}

void main();
