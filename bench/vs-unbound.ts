// oedns against the baseline the issue names, in ONE run on one machine: Debian's Unbound, one
// thread, validating from the same anchor and forwarding to the same named (bench/support/unbound.ts).
// oedns is the real CLI (`oedns serve`) with the dry-run engine and policy `private` for cap.test, so
// every new name is a capture: A and IPSECKEY validated, decided, installed (dry-run), then answered.
// Unbound only validates the A answer; that is the comparison the targets are written against.
//
//   warm-up    --warm (1000) names each, untimed: chain cached, JIT warm
//   cold-tta   one client, one new name at a time, chain warm
//   cold-tput  2,000 new names, 10 clients
//   hits       dnsperf over those names once both caches hold them
//
// Writes the table into docs/BENCHMARKS.md, section "## Against Unbound" (only that section).
// Run as root on Debian (it installs unbound if missing): npm run build && node dist/bench/vs-unbound.js [--no-write]
//   --cpu-prof  V8 CPU profile of the oedns process over the cold runs only (written to
//               $TMPDIR/oedns-vs-unbound-prof/ when it stops; no hits run, nothing written to docs/)
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSignedHierarchy, type SignedHierarchy } from '../test/support/zones';
import { type NamedInstance, startNamed } from '../test/support/named';
import { percentile, runNames, type RunResult } from './capture-client';
import { startUnbound, type UnboundInstance } from './support/unbound';
import { benchAddress, writeBenchSection } from './support/doc';
import { ipseckeyPool, OEDNS_CLI, type ServeProcess, startServe } from './support/serve';

const args = process.argv.slice(2);
const PROFILE = args.includes('--cpu-prof');
const PROF_DIR = join(tmpdir(), 'oedns-vs-unbound-prof');
const WRITE = !args.includes('--no-write') && !PROFILE;
const num = (flag: string, def: number): number => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : def);
const TTA = num('--tta', 500);
const TPUT = num('--names', 2000);
const CLIENTS = 10;
const HIT_SECONDS = num('--hit-seconds', 10);
// Names each resolver answers before the timed runs: the chain gets cached, and node's optimizing
// compiler gets through the hot code (with 50, it was still compiling in the timed runs: 28 % of the
// oedns process's CPU in a perf profile of the single-client run). A daemon pays that once per start.
const WARM = num('--warm', 1000);
const TOTAL = 2 * TTA + 2 * TPUT + 2 * WARM;

const cleanups: Array<() => Promise<void> | void> = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
const children: ChildProcess[] = [];

function buildZones(): SignedHierarchy {
  const pool = ipseckeyPool(16, 'cap.test');
  const cap: string[] = [];
  for (let i = 0; i < TOTAL; i++) cap.push(`n${i} A ${benchAddress(i)}`, `n${i} IPSECKEY ${pool[i % pool.length]!}`);
  return buildSignedHierarchy([{ name: '.' }, { name: 'test' }, { name: 'cap.test', records: cap }]);
}

function startOedns(dir: string, upstream: string, anchorFile: string): Promise<ServeProcess> {
  writeFileSync(join(dir, 'policy.yaml'), 'default: clear\nrules:\n  - { zone: cap.test, level: private }\n');
  return startServe({
    label: 'dry-run',
    upstream,
    anchorFile,
    policyFile: join(dir, 'policy.yaml'),
    args: ['--engine', 'dry-run', '--log-level', 'warn', '--log-format', 'json'],
    logFile: join(dir, 'oedns.log'),
    cpuProfDir: PROFILE ? PROF_DIR : undefined,
    onSpawn: (child) => children.push(child),
  });
}

function dnsperf(port: number, file: string): { qps: number; lost: number } {
  const r = spawnSync(
    'dnsperf',
    ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(HIT_SECONDS), '-c', '10', '-q', '100', '-t', '2'],
    {
      encoding: 'utf8',
      timeout: (HIT_SECONDS + 30) * 1000,
    },
  );
  const n = (re: RegExp): number => Number(re.exec(r.stdout ?? '')?.[1] ?? NaN);
  const res = { qps: n(/Queries per second:\s+([\d.]+)/), lost: n(/Queries lost:\s+(\d+)/) };
  console.error(`  dnsperf :${port}: ${res.qps.toFixed(0)} q/s, ${res.lost} lost`);
  return res;
}

/**
 * CPU time (user + system) a process has used so far, in ms (/proc, 10 ms ticks): all its threads, or
 * only its main thread (for node: the JavaScript thread, without GC helpers and the thread pool).
 */
function cpuMs(pid: number, mainThread = false): number {
  const f = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
    .split(') ')[1]!
    .split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Runs `names` against a resolver process and prints its CPU time per name. */
async function measured(label: string, pid: number, port: number, names: string[], clients = 1): Promise<RunResult & { cpuMs: number }> {
  const before = cpuMs(pid);
  const mainBefore = cpuMs(pid, true);
  const r = check(label, await runNames(port, names, clients));
  const cpu = (cpuMs(pid) - before) / names.length;
  console.error(
    `    ${label} CPU: ${cpu.toFixed(3)} ms per name (main thread ${((cpuMs(pid, true) - mainBefore) / names.length).toFixed(3)} ms)`,
  );
  return { ...r, cpuMs: cpu };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function check(label: string, r: RunResult): RunResult {
  console.error(
    `  ${label}: ${r.sent} sent, ${r.lost} lost, ${r.bad} bad, ${(r.sent / r.seconds).toFixed(0)}/s, median ${percentile(r.ms, 50).toFixed(3)} ms, p95 ${percentile(r.ms, 95).toFixed(3)} ms`,
  );
  if (r.lost + r.bad > r.sent * 0.01) throw new Error(`${label}: too many lost/bad answers (${r.badNames.join('; ')})`);
  return r;
}

const names = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `n${from + i}.cap.test`);

async function main(): Promise<void> {
  if (!existsSync(OEDNS_CLI)) throw new Error(`${OEDNS_CLI} missing: npm run build first`);
  const started = Date.now();
  const load = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'oedns-vs-unbound-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  console.error(`zones: ${TOTAL} names with A + IPSECKEY...`);
  const h = buildZones();
  cleanups.push(() => h.cleanup());
  const named: NamedInstance = await startNamed({ zones: h.zones });
  cleanups.push(() => named.stop());
  const unbound: UnboundInstance = await startUnbound({ upstreamPort: named.port, anchors: readFileSync(h.anchorFile, 'utf8') });
  cleanups.push(() => unbound.stop());
  const oe = await startOedns(dir, named.endpoint, h.anchorFile);
  cleanups.push(() => oe.stop());

  // Each resolver gets its own names for the cold runs (each is cold for them), the same count.
  let next = 0;
  const take = (n: number): string[] => {
    const out = names(next, n);
    next += n;
    return out;
  };
  const warmU = take(WARM);
  const warmO = take(WARM);
  const ttaU = take(TTA);
  const ttaO = take(TTA);
  const tputU = take(TPUT);
  const tputO = take(TPUT);

  console.error('warm-up (chain and JIT):');
  await runNames(unbound.port, warmU, CLIENTS);
  await runNames(oe.port, warmO, CLIENTS);

  console.error('cold time-to-answer, one client:');
  const tU = await measured('unbound', unbound.pid, unbound.port, ttaU);
  const tO = await measured('oedns', oe.pid, oe.port, ttaO);

  console.error(`cold throughput, ${TPUT} names, ${CLIENTS} clients:`);
  const cU = await measured('unbound', unbound.pid, unbound.port, tputU, CLIENTS);
  const cO = await measured('oedns', oe.pid, oe.port, tputO, CLIENTS);

  if (PROFILE) {
    await oe.stop();
    console.error(`profile of the cold runs (${WARM + TTA + TPUT} names) in ${PROF_DIR}`);
    for (const c of cleanups.reverse()) await c();
    return;
  }

  console.error(`cache hits, dnsperf ${HIT_SECONDS} s (10 clients, 100 outstanding):`);
  const fU = join(dir, 'hits-unbound.txt');
  const fO = join(dir, 'hits-oedns.txt');
  writeFileSync(fU, tputU.map((n) => `${n} A`).join('\n') + '\n');
  writeFileSync(fO, tputO.map((n) => `${n} A`).join('\n') + '\n');
  const hU = dnsperf(unbound.port, fU);
  const hO = dnsperf(oe.port, fO);
  const rss = { unbound: rssMiB(unbound.pid), oedns: rssMiB(oe.pid) };

  for (const c of cleanups.reverse()) await c();
  const r = {
    load,
    seconds: (Date.now() - started) / 1000,
    version: unbound.version,
    rss,
    tta: { u: [percentile(tU.ms, 50), percentile(tU.ms, 95)], o: [percentile(tO.ms, 50), percentile(tO.ms, 95)] },
    tput: { u: TPUT / cU.seconds, o: TPUT / cO.seconds, cpuU: cU.cpuMs, cpuO: cO.cpuMs },
    hits: { u: hU.qps, o: hO.qps, lostO: hO.lost },
  };
  const text = render(r);
  console.log(text);
  if (WRITE) writeBenchSection('## Against Unbound', text);
}

function render(r: {
  load: number;
  seconds: number;
  version: string;
  rss: { unbound: number; oedns: number };
  tta: { u: number[]; o: number[] };
  tput: { u: number; o: number; cpuU: number; cpuO: number };
  hits: { u: number; o: number; lostO: number };
}): string {
  const f = (x: number): string => x.toFixed(3);
  const k = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
  const hitRatio = r.hits.o / r.hits.u;
  const tputRatio = r.tput.o / r.tput.u;
  const medRatio = r.tta.o[0]! / r.tta.u[0]!;
  const p95Ratio = r.tta.o[1]! / r.tta.u[1]!;
  const met = (ok: boolean): string => (ok ? 'met' : '**missed**');
  return [
    `\`npm run build && node dist/bench/vs-unbound.js\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} shared cores (${cpus()[0]?.model.trim()}),`,
    `load average ${r.load.toFixed(1)} at start, run took ${r.seconds.toFixed(0)} s. Baseline: Debian's Unbound ${r.version}, one thread, validating from the`,
    `same trust anchor, forwarding to the same named. oedns: \`oedns serve\`, dry-run engine, policy \`private\` for cap.test: every new`,
    `name is a capture (A and IPSECKEY validated, peer decided and installed, then answered); Unbound validates the A answer only.`,
    `Zone cap.test: A + IPSECKEY per name, ECDSAP256SHA256. Each resolver resolves its own, equally many, names in the cold runs,`,
    `after ${WARM} names of its own untimed (chain cached; node's JIT past its warm-up, as in a daemon that has run a while).`,
    '',
    '| workload | oedns | Unbound | ratio | target |',
    '|---|---|---|---:|---|',
    `| cold time-to-answer, one client, chain warm: median / p95 | ${f(r.tta.o[0]!)} / ${f(r.tta.o[1]!)} ms | ${f(r.tta.u[0]!)} / ${f(r.tta.u[1]!)} ms | ${medRatio.toFixed(1)}× / ${p95Ratio.toFixed(1)}× | ≤ 3× / ≤ 5×: ${met(medRatio <= 3)} / ${met(p95Ratio <= 5)} |`,
    `| cold throughput, ${TPUT} new names, ${CLIENTS} clients | ${k(r.tput.o)}/s | ${k(r.tput.u)}/s | ${tputRatio.toFixed(2)} | ≥ 0.35: ${met(tputRatio >= 0.35)} |`,
    `| CPU time per new name in that run (all threads, /proc) | ${f(r.tput.cpuO)} ms | ${f(r.tput.cpuU)} ms | ${(r.tput.cpuO / r.tput.cpuU).toFixed(1)}× | |`,
    `| cache hits, dnsperf ${HIT_SECONDS} s | ${k(r.hits.o)} q/s | ${k(r.hits.u)} q/s | ${hitRatio.toFixed(2)} | ≥ 0.5: ${met(hitRatio >= 0.5)} |`,
    `| resident memory after the run | ${r.rss.oedns.toFixed(0)} MiB | ${r.rss.unbound.toFixed(0)} MiB | | |`,
    '',
    `- queries lost by oedns under dnsperf: ${r.hits.lostO}`,
  ].join('\n');
}

main().catch(async (e) => {
  console.error(e);
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  process.exit(1);
});
