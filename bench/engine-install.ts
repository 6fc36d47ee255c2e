// Benchmark: install N peers into a real charon through the strongswan engine (no initiate).
// Usage (root): node dist/bench/engine-install.js [--sizes 100,1000,10000] [--no-write]
// Prints peers/s and charon's RSS per size; writes the figures into docs/BENCHMARKS.md under
// "## IKE engine install" (only that section is touched).
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Peer } from '../src/ike-bridge/engine';
import { keyObjectToIpseckey } from '../src/ike-bridge/keys';
import { StrongswanEngine } from '../src/ike-bridge/strongswan';
import { writeBenchSection } from './support/doc';
import { benchPeer, charonPid, engineLabUp } from './support/engine';

const args = process.argv.slice(2);
const sizes = (args.includes('--sizes') ? (args[args.indexOf('--sizes') + 1] ?? '') : '100,1000,10000').split(',').map(Number);
const write = !args.includes('--no-write');
// Trap policies cost charon a lot per conn and start nothing with kernel-libipsec: measure both.
const trapModes = args.includes('--no-trap') ? [false] : args.includes('--trap') ? [true] : [false, true];
const connections = args.includes('--connections') ? Number(args[args.indexOf('--connections') + 1]) : 1;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function makePeers(n: number, rsaPool: KeyObject[]): Peer[] {
  return Array.from({ length: n }, (_, i) => {
    // Every tenth peer RSA (from a small pool: RSA generation is slow), the rest fake Ed25519 keys:
    // 32 random bytes (never used to authenticate; charon only parses them). Generating 10,000 real
    // key pairs with generateKeyPairSync once left this process blocked for good in a futex.
    return benchPeer(
      i,
      i % 10 === 0 ? keyObjectToIpseckey(rsaPool[(i / 10) % rsaPool.length]!) : { algorithm: 4, publicKey: randomBytes(32) },
    );
  });
}

interface Row {
  trap: boolean;
  n: number;
  secs: number;
  rate: number;
  rssBefore: number;
  rssAfter: number;
  removeMs: number;
  reconcileMs: number;
  failed: number;
}

async function main(): Promise<void> {
  const lab = await engineLabUp('engine-install');
  const rows: Row[] = [];
  try {
    const rsaPool = Array.from({ length: 8 }, () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    const own = generateKeyPairSync('ed25519').privateKey;
    for (const trap of trapModes)
      for (const n of sizes) {
        process.stderr.write(`[${new Date().toISOString()}] N=${n}${trap ? ' traps' : ''}: restarting charon\n`);
        await lab.restart('a'); // fresh daemon per size
        const pid = charonPid(lab);
        const peers = makePeers(n, rsaPool);
        const engine = new StrongswanEngine({
          socketPath: lab.a.vici,
          identity: { id: 'a.oe.test', privateKey: own },
          trap,
          connections,
          timeoutMs: 60_000,
        });
        const rssBefore = rss(pid);
        const t0 = process.hrtime.bigint();
        process.stderr.write(`[${new Date().toISOString()}] installing\n`);
        const failed = await engine.installMany(peers);
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        const rssAfter = rss(pid);
        // One removal: terminate, unload-conn, and a new CRL that revokes the peer's certificate.
        const t1 = process.hrtime.bigint();
        await engine.remove(peers[0]!.name);
        const removeMs = Number(process.hrtime.bigint() - t1) / 1e6;
        const t2 = process.hrtime.bigint();
        await engine.reconcile(peers.slice(1));
        const reconcileMs = Number(process.hrtime.bigint() - t2) / 1e6;
        await engine.close();
        const row = { trap, n, secs, rate: n / secs, rssBefore, rssAfter, removeMs, reconcileMs, failed: failed.length };
        rows.push(row);
        console.log(
          `N=${n}${trap ? ' (traps)' : ''}: ${secs.toFixed(2)} s, ${row.rate.toFixed(0)} peers/s, charon RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MiB, ` +
            `remove(1) ${removeMs.toFixed(0)} ms, reconcile(unchanged) ${reconcileMs.toFixed(0)} ms, failed ${failed.length}`,
        );
        if (failed.length) console.log(`  first failure: ${failed[0]!.name}: ${failed[0]!.reason}`);
      }
  } catch (e) {
    // Keep the daemon's own account of a failure before the lab (and its logs) go away.
    for (const f of ['charon.out', 'charon.log']) {
      const p = join(lab.a.dir, f);
      if (existsSync(p)) console.error(`--- ${f} (last lines)\n${readFileSync(p, 'utf8').split('\n').slice(-30).join('\n')}`);
    }
    throw e;
  } finally {
    await lab.down();
  }
  if (write) writeSection(rows);
}

function writeSection(rows: Row[]): void {
  const heading = '## IKE engine install';
  const table = [
    heading,
    '',
    `Measured ${new Date().toISOString().slice(0, 16)}Z by \`node dist/bench/engine-install.js\` on this machine (${cpus().length} cores, shared),`,
    'strongSwan charon 5.9.8 with kernel-libipsec in a lab netns; strongswan engine `installMany()`, no initiate',
    `(100 conns per load-conn message, ${connections} VICI connection(s)); a fresh charon per row. Keys: 9 in 10 Ed25519 (random bytes), 1 in 10 RSA-2048 (8 distinct).`,
    'Target: >= 500 peers/s at 10,000. "traps": start_action=trap (kernel policies per peer; they start no IKE with kernel-libipsec).',
    "Peer keys are pinned as certificates of the engine's own CA (one issued per peer, ~0.3 ms) and a removal publishes a CRL (docs/ike-bridge.md).",
    '',
    '| peers | traps | install time | peers/s | charon RSS before -> after | remove one (revocation) | reconcile, nothing to do |',
    '|---:|:---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.n} | ${r.trap ? 'yes' : 'no'} | ${r.secs.toFixed(2)} s | ${r.rate.toFixed(0)} | ${r.rssBefore.toFixed(1)} -> ${r.rssAfter.toFixed(1)} MiB | ${r.removeMs.toFixed(0)} ms | ${r.reconcileMs.toFixed(0)} ms |`,
    ),
    '',
    '',
  ].join('\n');
  writeBenchSection(heading, table.slice(heading.length));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
