// Benchmark of the forwarding resolver: dnsperf against the resolver core of `oedns serve` (bench/
// resolver-serve.ts: the same startServer and options, without the validator and capture stages that
// later issues add) and against named directly, in the same run, on loopback. Workloads:
//   hit        a few names, repeated (the cache answers), 10 s, 10 clients, up to 100 outstanding;
//   cold-tta   600 distinct names, one at a time: time-to-answer (median / p95) on a fresh cache, with dnsperf
//              (oedns run, then named run) and from a Node client alternating oedns and named query by query;
//   cold-tput  20,000 distinct names, 10 clients, 10 outstanding, fresh cache: queries/s.
// For the hit run oedns is pinned to one core (taskset -c 0), so that figure is "on one core"; the cold runs
// are unpinned, like named, so time-to-answer is not skewed by whatever else shares core 0.
// Writes the figures to docs/BENCHMARKS.md, section "## Resolver". Run: bash bench/resolver.sh
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createSocket } from 'node:dgram';
import { encodeMessage, makeQuery } from '../src/wire/message';
import { startNamed } from '../test/support/named';
import { freePort } from '../test/support/ports';

const ROOT = resolve(__dirname, '../..');
const NAMES = Number(process.env.BENCH_NAMES ?? 20_000);
const HIT_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ZONE = 'bench.test';
// dnsperf paces one-at-a-time queries at a few dozen per second, so this set stays small.
const TTA_NAMES = Number(process.env.BENCH_TTA_NAMES ?? 600);

interface PerfResult {
  qps: number;
  avgMs: number;
  completed: number;
  lost: number;
  medianMs?: number;
  p95Ms?: number;
}

function dnsperf(port: number, file: string, args: string[], verbose = false): PerfResult {
  const r = spawnSync('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-t', '2', ...(verbose ? ['-v'] : []), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = r.stdout;
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const res: PerfResult = {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
  };
  if (verbose) {
    // -v lines: "> NOERROR h1.bench.test A 0.000234"
    const lat = [...out.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
    if (lat.length) {
      res.medianMs = lat[Math.floor(lat.length / 2)];
      res.p95Ms = lat[Math.floor(lat.length * 0.95)];
    }
  }
  if (!Number.isFinite(res.qps)) throw new Error(`dnsperf failed:\n${out}\n${r.stderr}`);
  console.error(`  dnsperf :${port} ${args.join(' ')}: ${res.completed} done, ${res.lost} lost, ${res.qps.toFixed(0)} q/s`);
  return res;
}

/**
 * Time-to-answer measured from Node, alternating one query to oedns and one to named, so that both see
 * the same load on this shared machine; the added latency is the median of the paired differences.
 */
async function interleavedTta(
  oPort: number,
  nPort: number,
  names: string[],
): Promise<{ oedns: number[]; named: number[]; diff: number[] }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const ask = (port: number, name: string): Promise<number> =>
    new Promise((resolveP, reject) => {
      const bytes = encodeMessage(makeQuery(name, 1, { rd: true }));
      const t0 = process.hrtime.bigint();
      const timer = setTimeout(() => reject(new Error(`no answer for ${name} from :${port}`)), 2000);
      sock.once('message', () => {
        clearTimeout(timer);
        resolveP(Number(process.hrtime.bigint() - t0) / 1e6);
      });
      sock.send(bytes, port, '127.0.0.1');
    });
  const out = { oedns: [] as number[], named: [] as number[], diff: [] as number[] };
  try {
    for (const name of names) {
      const o = await ask(oPort, name);
      const n = await ask(nPort, name);
      out.oedns.push(o);
      out.named.push(n);
      out.diff.push(o - n);
    }
  } finally {
    sock.close();
  }
  return out;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

const children = new Set<ChildProcess>();

async function startOedns(upstream: string, pin: boolean): Promise<Resolver> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    pin ? 'taskset' : process.execPath,
    [
      ...(pin ? ['-c', '0', process.execPath] : []),
      join(ROOT, 'dist/bench/resolver-serve.js'),
      '--listen',
      `127.0.0.1:${port}`,
      '--upstream',
      upstream,
      '--cache-size',
      '200000',
      '--log-level',
      process.env.BENCH_LOG ?? 'warn',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      children.delete(child);
      r();
    }),
  );
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    // dig +short prints its errors on stdout too: wait for the address itself.
    const dug =
      spawnSync('dig', ['+time=1', '+tries=1', '+short', '-p', String(port), '@127.0.0.1', `h0.${ZONE}`]).stdout?.toString() ?? '';
    if (/^10\.0\.0\.0$/m.test(dug)) return handle(port, child, exited, () => out);
  }
  child.kill('SIGKILL');
  throw new Error('the resolver did not start within 10 s');
}

interface Resolver {
  port: number;
  /** Stops it; resolves with what it reported on the way out (cache entries, resident memory). */
  stop(): Promise<{ entries: number; rss: number }>;
}

function handle(port: number, child: ChildProcess, exited: Promise<void>, out: () => string): Resolver {
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      try {
        const r = JSON.parse(out().trim().split('\n').pop() ?? '{}') as { stats: { cache: { entries: number } }; rss: number };
        return { entries: r.stats.cache.entries, rss: r.rss };
      } catch {
        return { entries: NaN, rss: NaN };
      }
    },
  };
}

const f = (n: number | undefined, d = 2): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const k = (n: number): string => `${(n / 1000).toFixed(1)}k`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'oedns-bench-'));
  const zoneFile = join(dir, `${ZONE}.db`);
  const lines = [`$ORIGIN ${ZONE}.`, '$TTL 3600', '@ IN SOA ns1 hostmaster 1 3600 600 86400 300', '@ IN NS ns1', 'ns1 IN A 127.0.0.1'];
  for (let i = 0; i < NAMES; i++) lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  writeFileSync(zoneFile, lines.join('\n') + '\n');
  const hitFile = join(dir, 'hit.txt');
  writeFileSync(hitFile, Array.from({ length: 10 }, (_, i) => `h${i}.${ZONE} A\n`).join(''));
  const ttaFile = join(dir, 'tta.txt');
  writeFileSync(ttaFile, Array.from({ length: Math.min(TTA_NAMES, NAMES - 1) }, (_, i) => `h${NAMES - 1 - i}.${ZONE} A\n`).join(''));
  const coldFile = join(dir, 'cold.txt');
  writeFileSync(coldFile, Array.from({ length: NAMES - 1 }, (_, i) => `h${i + 1}.${ZONE} A\n`).join(''));

  const named = await startNamed({ zones: [{ name: ZONE, file: zoneFile }] });
  // Interrupted (Ctrl-C, or stdout closed by a pager): still stop named and the resolver.
  const abort = (): void => {
    for (const c of children) c.kill('SIGKILL');
    void named.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  const results: Record<string, { oedns: PerfResult; named: PerfResult }> = {};
  let inter: { oedns: number[]; named: number[]; diff: number[] };
  let memory: { entries: number; rss: number };
  try {
    // Cold time-to-answer first (fresh oedns, one query at a time).
    let o = await startOedns(named.endpoint, false);
    const ttaO = dnsperf(o.port, ttaFile, ['-n', '1', '-c', '1', '-q', '1'], true);
    await o.stop();
    const ttaN = dnsperf(named.port, ttaFile, ['-n', '1', '-c', '1', '-q', '1'], true);
    results['cold-tta'] = { oedns: ttaO, named: ttaN };

    o = await startOedns(named.endpoint, false);
    const ttaNames = Array.from({ length: Math.min(TTA_NAMES, NAMES - 1) }, (_, i) => `h${i + 1}.${ZONE}`);
    inter = await interleavedTta(o.port, named.port, ttaNames);
    await o.stop();

    o = await startOedns(named.endpoint, false);
    const coldO = dnsperf(o.port, coldFile, ['-n', '1', '-c', '10', '-q', '10']);
    memory = await o.stop();
    const coldN = dnsperf(named.port, coldFile, ['-n', '1', '-c', '10', '-q', '10']);
    results['cold-tput'] = { oedns: coldO, named: coldN };

    o = await startOedns(named.endpoint, true);
    dnsperf(o.port, hitFile, ['-n', '1']);
    const hitO = dnsperf(o.port, hitFile, ['-l', String(HIT_SECONDS), '-c', '10', '-q', '100']);
    await o.stop();
    const hitN = dnsperf(named.port, hitFile, ['-l', String(HIT_SECONDS), '-c', '10', '-q', '100']);
    results.hit = { oedns: hitO, named: hitN };
  } finally {
    await named.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const tta = results['cold-tta'];
  const cold = results['cold-tput'];
  const hit = results.hit;
  const addedMs = pct(inter.diff, 0.5);
  const rows = [
    `| cache hits, ${HIT_SECONDS} s, 10 clients | ${k(hit.oedns.qps)} q/s, avg ${f(hit.oedns.avgMs)} ms | ${k(hit.named.qps)} q/s, avg ${f(hit.named.avgMs)} ms | ${f(hit.oedns.qps / hit.named.qps)} |`,
    `| cold time-to-answer, ${tta.oedns.completed} new names, 1 at a time: median / p95 | ${f(tta.oedns.medianMs, 3)} / ${f(tta.oedns.p95Ms, 3)} ms | ${f(tta.named.medianMs, 3)} / ${f(tta.named.p95Ms, 3)} ms | ${f((tta.oedns.medianMs ?? NaN) / (tta.named.medianMs ?? NaN))} |`,
    `| cold time-to-answer, ${inter.oedns.length} new names, Node client alternating oedns/named: median / p95 | ${f(pct(inter.oedns, 0.5), 3)} / ${f(pct(inter.oedns, 0.95), 3)} ms | ${f(pct(inter.named, 0.5), 3)} / ${f(pct(inter.named, 0.95), 3)} ms | ${f(pct(inter.oedns, 0.5) / pct(inter.named, 0.5))} |`,
    `| cold throughput, ${cold.oedns.completed} new names, 10 clients | ${k(cold.oedns.qps)} q/s, avg ${f(cold.oedns.avgMs)} ms | ${k(cold.named.qps)} q/s, avg ${f(cold.named.avgMs)} ms | ${f(cold.oedns.qps / cold.named.qps)} |`,
  ];
  const lost = hit.oedns.lost + cold.oedns.lost + tta.oedns.lost;
  const verdicts = [
    `- cache hits on one core: ${k(hit.oedns.qps)} q/s (target ≥ 20k): ${hit.oedns.qps >= 20_000 ? 'met' : 'MISSED'}`,
    `- cold forwarding adds ${f(addedMs, 3)} ms (median of paired differences, alternating client; p95 ${f(pct(inter.diff, 0.95), 3)} ms) over named directly (target < 1 ms): ${addedMs < 1 ? 'met' : 'MISSED'}; dnsperf medians differ by ${f((tta.oedns.medianMs ?? NaN) - (tta.named.medianMs ?? NaN), 3)} ms`,
    `- queries lost by oedns: ${lost}`,
    `- resident memory after the cold run: ${f(memory.rss / 2 ** 20, 0)} MiB with ${memory.entries} cached answers (Node baseline included)`,
  ];
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = [
    '## Resolver',
    '',
    `\`bash bench/resolver.sh\`, ${date} UTC, ${cpus().length} shared cores, all on loopback. dnsperf 2.10 against the forwarding`,
    'resolver of `oedns serve` (bench/resolver-serve.ts: startServer with the same options; ACL, parse, cache, upstream; no',
    'validator or capture stage), forwarding to named, and against the same named directly, in the same run. For the cache-hit',
    'run the resolver is pinned to one core (taskset -c 0); for the cold runs it is not pinned, as named is not.',
    `Zone: ${NAMES} A records, unsigned; named runs one worker thread. Figures vary ±25 % between runs on this`,
    'machine; compare within a run. Latency percentiles come from dnsperf -v per-query times.',
    '',
    '| workload | oedns serve | named direct | ratio oedns/named |',
    '|---|---|---|---|',
    ...rows,
    '',
    ...verdicts,
    '',
  ].join('\n');
  console.log(section);
  const docs = join(ROOT, 'docs/BENCHMARKS.md');
  let text = existsSync(docs)
    ? readFileSync(docs, 'utf8')
    : '# Benchmarks\n\nFigures measured by the scripts in bench/. Each section belongs to one script.\n\n';
  const start = text.indexOf('## Resolver\n');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + section + (next >= 0 ? '\n' + text.slice(next + 1) : '');
  } else {
    text = text.replace(/\n*$/, '\n\n') + section;
  }
  writeFileSync(docs, text);
  console.log(`written to ${docs}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
