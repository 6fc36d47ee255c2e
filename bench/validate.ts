// DNSSEC validation speed: the pure RRset check per algorithm, and `oedns lookup` cold against delv
// on the same signed hierarchy served by one named. Prints a Markdown table for docs/BENCHMARKS.md.
// Run: npx tsc -p . && node dist/bench/validate.js [--seconds 1] [--runs 15]
import { generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { verifyRrset } from '../src/dnssec/rrsig';
import { createValidator } from '../src/dnssec/validator';
import { parseTrustAnchors } from '../src/dnssec/anchors';
import { netQuery } from '../src/resolver/net-query';
import { readFileSync } from 'node:fs';
import { a, NOW, TestKey, type Alg } from '../test/dnssec/signer';
import { buildSignedHierarchy } from '../test/support/zones';
import { startNamed } from '../test/support/named';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 1);
const RUNS = arg('runs', 15);

function pureRate(label: string, alg: Alg, pair: ReturnType<typeof generateKeyPairSync>): [string, number] {
  const k = new TestKey('bench.example', alg, 256, pair);
  const rrs = [a('www.bench.example', '192.0.2.1'), a('www.bench.example', '192.0.2.2')];
  const sig = k.sign(rrs);
  if (verifyRrset(rrs, [sig], [k.dnskey], 'bench.example', NOW).verdict.kind !== 'secure') throw new Error(`${label}: does not verify`);
  let n = 0;
  const end = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  const t0 = process.hrtime.bigint();
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 50; i++) verifyRrset(rrs, [sig], [k.dnskey], 'bench.example', NOW);
    n += 50;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return [label, n / s];
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function timeIt(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const rows: Array<[string, number]> = [
    pureRate('RSASHA256, 2048-bit key', 8, generateKeyPairSync('rsa', { modulusLength: 2048 })),
    pureRate('ECDSAP256SHA256', 13, generateKeyPairSync('ec', { namedCurve: 'P-256' })),
    pureRate('ED25519', 15, generateKeyPairSync('ed25519')),
  ];
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`);
  console.log('| RRset check (2 A records, pure `verifyRrset`) | validations/s |');
  console.log('|---|---:|');
  for (const [l, r] of rows) console.log(`| ${l} | ${Math.round(r).toLocaleString('en')} |`);

  const h = buildSignedHierarchy([
    { name: '.', algorithm: 'RSASHA256' },
    { name: 'test', algorithm: 'ECDSAP256SHA256' },
    { name: 'bench.test', algorithm: 'ED25519', records: ['www A 192.0.2.1'] },
  ]);
  const named = await startNamed({ zones: h.zones });
  try {
    const oedns = join(__dirname, '..', 'src', 'cli', 'oedns.js');
    const q = ['www.bench.test', 'A'];
    const delv: number[] = [];
    const cli: number[] = [];
    const inproc: number[] = [];
    const anchors = parseTrustAnchors(readFileSync(h.anchorFile, 'utf8'));
    for (let i = 0; i < RUNS; i++) {
      delv.push(
        timeIt(() => {
          const r = spawnSync('delv', ['-a', h.bindAnchorFile, '+root=.', '@127.0.0.1', '-p', String(named.port), ...q], {
            encoding: 'utf8',
          });
          if (!/fully validated/.test(r.stdout)) throw new Error(`delv: ${r.stdout}${r.stderr}`);
        }),
      );
      cli.push(
        timeIt(() => {
          const r = spawnSync(
            process.execPath,
            [oedns, 'lookup', '--json', '--server', named.endpoint, '--trust-anchor', h.anchorFile, ...q],
            { encoding: 'utf8' },
          );
          if (JSON.parse(r.stdout).verdict !== 'secure') throw new Error(`oedns: ${r.stdout}${r.stderr}`);
        }),
      );
      // In-process and cold: a fresh validator (empty key cache) per lookup, no Node start-up.
      const query = netQuery({ host: '127.0.0.1', port: named.port });
      const v = createValidator({ anchors, query });
      const t0 = process.hrtime.bigint();
      const res = await v.validate({ name: q[0]!, type: 1, class: 1 }, await query(q[0]!, 1), Date.now() / 1000);
      inproc.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (res.verdict.kind !== 'secure') throw new Error('in-process validation not secure');
    }
    console.log(`\n| Cold lookup of www.bench.test/A (root → test → bench.test, one named on loopback), median of ${RUNS} | ms |`);
    console.log('|---|---:|');
    console.log(`| \`delv\` (process start + resolve + validate) | ${median(delv).toFixed(1)} |`);
    console.log(`| \`oedns lookup\` (process start + resolve + validate) | ${median(cli).toFixed(1)} |`);
    console.log(`| oedns validator in-process, empty cache (5 DS/DNSKEY queries + checks) | ${median(inproc).toFixed(1)} |`);
  } finally {
    await named.stop();
    h.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
