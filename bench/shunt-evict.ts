// Cost of the registry's drop-shunt bound and of the autosp state file at scale (review v11 F8):
// eviction at the bound used to sort every shunt per evicted address (a 34-65 s event-loop stall), and
// the state file was rewritten whole on every change (O(n²) bytes for n names added one by one).
// Prints the figures and writes them into docs/BENCHMARKS.md (## Drop shunts at the bound).
// Run: npm run build && node dist/bench/shunt-evict.js [--names 20000]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Peer } from '../src/ike-bridge/engine';
import { DEFAULT_MAX_SHUNTED, PeerRegistry } from '../src/peers/registry';
import { MAX_PEER_ADDRESSES } from '../src/peers/sync';
import { loadAutospState, stateWriter, writeAutospState } from '../src/autosp/state';
import { readClosedSet, writeClosedSet } from '../src/daemon/leftovers';
import { writeBenchSection } from './support/doc';

const args = process.argv.slice(2);
const NAMES = args.includes('--names') ? Number(args[args.indexOf('--names') + 1]) : 20_000;
const NOW = 1_700_000_000;
const key: Peer['auth'] = { kind: 'pubkey', keys: [{ algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(1) }] };
// 10.0.0.0/8 only as registry strings: nothing is sent anywhere.
const addrs = (i: number): string[] => Array.from({ length: MAX_PEER_ADDRESSES }, (_, j) => `10.${(i >> 8) & 255}.${i & 255}.${j}`);
const peerOf = (i: number, expiresAt: number): Peer => ({
  name: `n${i}.example`,
  addresses: addrs(i),
  auth: key,
  gateway: { kind: 'none' },
  level: 'private',
  expiresAt,
  owner: 'serve',
});

function ms(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function main(): Promise<void> {
  // 1. Fill the bound with released private claims, then release as many again: every one evicts.
  const fillNames = DEFAULT_MAX_SHUNTED / MAX_PEER_ADDRESSES;
  const r = new PeerRegistry({});
  const fill = ms(() => {
    for (let i = 0; i < fillNames; i++) r.upsert(peerOf(i, NOW + 60), NOW);
    for (let i = 0; i < fillNames; i++) r.release(`n${i}.example`, 'serve', NOW + 1);
  });
  let worst = 0;
  const over = ms(() => {
    for (let i = fillNames; i < 2 * fillNames; i++) {
      r.upsert(peerOf(i, NOW + 120), NOW + 2);
      worst = Math.max(
        worst,
        ms(() => r.release(`n${i}.example`, 'serve', NOW + 3)),
      );
    }
  });
  console.log(
    `fill ${DEFAULT_MAX_SHUNTED} shunts: ${fill.toFixed(0)} ms; ${r.evictedShunts} evicted over ${fillNames} releases: ${over.toFixed(0)} ms, slowest release ${worst.toFixed(1)} ms`,
  );

  // 1b. serve's closed-set file at the bound (src/daemon/leftovers.ts): written every 2 s when changed,
  // read back and held as shunts at the next start.
  const closedDir = mkdtempSync(join(tmpdir(), 'oedns-bench-closed-'));
  const closedPath = join(closedDir, 'serve-closed.json');
  const closedWrite = ms(() => writeClosedSet(closedPath, r.closedSet(NOW + 3), NOW + 3));
  const closedSize = statSync(closedPath).size;
  const r3 = new PeerRegistry({});
  const closedRestore = ms(() => {
    for (const e of readClosedSet(closedPath, NOW + 4, 86_400 + 3600).entries) r3.holdShunt(e.name, e.addresses, e.until, NOW + 4);
  });
  rmSync(closedDir, { recursive: true, force: true });
  console.log(
    `closed-set file at the bound: ${(closedSize / 1e6).toFixed(1)} MB written in ${closedWrite.toFixed(0)} ms, restored as shunts in ${closedRestore.toFixed(0)} ms`,
  );

  // 2. A restart adopting a state file of NAMES peers of 64 private addresses (holdShunt per peer).
  const dir = mkdtempSync(join(tmpdir(), 'oedns-bench-'));
  const path = join(dir, 'autosp.json');
  const peers = Array.from({ length: NAMES }, (_, i) => ({ ...peerOf(i, NOW + 3600), owner: 'autosp' as const }));
  const names = peers.map((p) => p.name);
  writeAutospState(path, { names, peers }, NOW);
  const size = statSync(path).size;
  let loaded: Peer[] = [];
  const load = ms(() => (loaded = loadAutospState(path, NOW, 86_400)));
  const r2 = new PeerRegistry({});
  const hold = ms(() => {
    for (const p of loaded) r2.holdShunt(p.name, p.addresses, p.expiresAt + r2.shuntGraceSec, NOW);
  });
  console.log(
    `state file ${NAMES} peers, ${(size / 1e6).toFixed(1)} MB: read ${load.toFixed(0)} ms, held as shunts ${hold.toFixed(0)} ms (${r2.evictedShunts} evicted at the bound)`,
  );

  // 3. Adding the names one by one with the coalescing writer (a write per change before).
  const ADD = Math.min(NAMES, 5000);
  let writes = 0;
  let bytes = 0;
  const w = stateWriter(
    () => {
      writeAutospState(path, { names: names.slice(0, added), peers: peers.slice(0, added) }, NOW);
      writes++;
      bytes += statSync(path).size;
    },
    { minGapMs: 50 },
  );
  let added = 0;
  const t0 = Date.now();
  await new Promise<void>((done) => {
    const step = (): void => {
      // 5 names a millisecond, as a busy keeper reports its lookups.
      for (let k = 0; k < 5 && added < ADD; k++) {
        added++;
        w.schedule();
      }
      if (added < ADD) setTimeout(step, 1);
      else done();
    };
    step();
  });
  w.flush();
  const addMs = Date.now() - t0;
  const perChange = Array.from({ length: ADD }, (_, i) => (size / NAMES) * (i + 1)).reduce((a, b) => a + b, 0);
  console.log(
    `${ADD} names added one by one: ${writes} writes, ${(bytes / 1e6).toFixed(1)} MB written in ${addMs} ms (a write per change: ${ADD} writes, ${(perChange / 1e6).toFixed(0)} MB)`,
  );
  rmSync(dir, { recursive: true, force: true });

  writeBenchSection(
    '## Drop shunts at the bound',
    `
Measured ${new Date().toISOString().slice(0, 16)}Z by \`node dist/bench/shunt-evict.js --names ${NAMES}\` on this machine
(2 cores, shared). Pure registry and state-file work, no engine. Before: review v11 F8, the same shapes on
d077561, where eviction sorted every shunt per evicted address.

| what | before | now |
|---|---:|---:|
| ${DEFAULT_MAX_SHUNTED} shunts at the bound, then ${fillNames} more private claims of ${MAX_PEER_ADDRESSES} addresses released (${r.evictedShunts} evictions) | one 4,096-address release: 64.8 s | all: ${(over / 1000).toFixed(2)} s, slowest release ${worst.toFixed(1)} ms |
| restart adopting a state file of ${NAMES} peers × ${MAX_PEER_ADDRESSES} private addresses (${(size / 1e6).toFixed(1)} MB) as drop shunts | 5,000 peers: 58.3 s | read ${(load / 1000).toFixed(2)} s + shunts ${(hold / 1000).toFixed(2)} s |
| serve's closed-set file at the bound (${(closedSize / 1e6).toFixed(1)} MB): write / read back as shunts at start | (no file) | ${closedWrite.toFixed(0)} ms / ${closedRestore.toFixed(0)} ms |
| ${ADD} autosp names added one by one: bytes of state file written | ${(perChange / 1e6).toFixed(0)} MB (${ADD} writes) | ${(bytes / 1e6).toFixed(1)} MB (${writes} writes) |

A peer holds at most ${MAX_PEER_ADDRESSES} addresses (an answer with more is refused, EngineError too-many-addresses); the state file is read
only up to 128 MB and ${'100,000'} names.
`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
