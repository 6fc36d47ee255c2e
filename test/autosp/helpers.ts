// Shared by the autosp tests: a signed hierarchy with hosts in every state autosp must tell apart,
// served by a real named (w.test re-signed with new records on demand); and the CLI run as a
// subprocess (exit codes and output are what scripts see).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateHostKey, ipseckeyLine } from '../../src/ike-bridge/identity';
import { type NamedInstance, namedAvailable, startNamed } from '../support/named';
import { buildSignedHierarchy, resignZone, type SignedHierarchy, signingToolsAvailable } from '../support/zones';
import { until as waitUntil } from '../support/wait';

export const AUTOSP = resolve(__dirname, '../../src/cli/autosp.js');

/** The IPSECKEY RDATA of a fresh Ed25519 key, as a zone file wants it. */
export function ipseckeyRdata(name: string): string {
  return ipseckeyLine(name, generateHostKey('ed25519')).split(' IPSECKEY ')[1]!;
}

export interface AutospWorld {
  h: SignedHierarchy;
  named: NamedInstance;
  dir: string;
  /** Flags every CLI run needs: server, trust anchor, dry-run engine, no daemon. */
  dns: string[];
  /** Replace the records of w.test (the zone the watch tests change) and reload named. */
  setW(records: string[]): Promise<void>;
  wRecords: string[];
  down(): Promise<void>;
}

export function worldUnavailable(): string | null {
  if (process.env.OEDNS_SKIP_INTEGRATION === '1') return 'OEDNS_SKIP_INTEGRATION=1';
  if (!namedAvailable()) return 'named is not installed';
  if (!signingToolsAvailable().bind) return 'BIND signing tools are not installed';
  return null;
}

export async function worldUp(): Promise<AutospWorld> {
  let wRecords = ['host 2 IN A 192.0.2.20', `host 2 IN IPSECKEY ${ipseckeyRdata('host.w.test')}`];
  const h = buildSignedHierarchy([
    { name: '.' },
    { name: 'test' },
    {
      name: 'ok.test',
      records: [
        'bob IN A 192.0.2.2',
        'bob IN AAAA 2001:db8::2',
        `bob IN IPSECKEY ${ipseckeyRdata('bob.ok.test')}`,
        'carol IN A 192.0.2.3',
        `carol IN IPSECKEY ${ipseckeyRdata('carol.ok.test')}`,
        'nokey IN A 192.0.2.4',
        'bogus IN A 192.0.2.5',
        `bogus IN IPSECKEY ${ipseckeyRdata('bogus.ok.test')}`,
      ],
      tamper: [{ action: 'corrupt-rrsig', name: 'bogus.ok.test', type: 'IPSECKEY' }],
    },
    { name: 'plain.test', signer: 'unsigned', records: ['host IN A 192.0.2.9', `host IN IPSECKEY ${ipseckeyRdata('host.plain.test')}`] },
    { name: 'w.test', records: wRecords },
  ]);
  let named: NamedInstance;
  try {
    named = await startNamed({ zones: h.zones });
  } catch (e) {
    h.cleanup();
    throw e;
  }
  const dir = mkdtempSync(join(tmpdir(), 'oedns-autosp-'));
  const world: AutospWorld = {
    h,
    named,
    dir,
    dns: ['--server', named.endpoint, '--trust-anchor', h.anchorFile, '--engine', 'dry-run', '--no-daemon', '--timeout', '1000'],
    wRecords,
    async setW(records) {
      resignZone(h, 'w.test', wRecords, records);
      wRecords = records;
      world.wRecords = records;
      await named.reload();
    },
    async down() {
      await named.stop();
      h.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function autosp(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Run> {
  return new Promise((res) => {
    execFile(process.execPath, [AUTOSP, ...args], { timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function autospSpawn(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [AUTOSP, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/** `until` with autosp's longer defaults (its lab waits for watch loops). */
export function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, stepMs = 200): Promise<void> {
  return waitUntil(what, check, timeoutMs, stepMs);
}
