// TypeScript side of scripts/lab.sh: two network namespaces, one charon each. Tests call
// labUp() in `before` and lab.down() in `after` (down is idempotent and also runs on process exit).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(__dirname, '../../../scripts/lab.sh');

export interface LabHost {
  host: 'a' | 'b';
  ns: string;
  iface: string;
  addr: string;
  /** The host's IPv6 address on the veth. */
  addr6: string;
  dir: string;
  vici: string;
}

export interface Lab {
  dir: string;
  a: LabHost;
  b: LabHost;
  /** Kill and restart one host's charon (it forgets everything, as after a crash). */
  restart(host: 'a' | 'b'): Promise<void>;
  /** Run a command inside a host's network namespace. */
  exec(host: LabHost, argv: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Start a long-running command inside a host's namespace (caller kills it). */
  spawn(host: LabHost, argv: string[]): ChildProcess;
  down(): Promise<void>;
}

function sh(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(args[0]!, args.slice(1), { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Why a lab cannot run here, or null if it can (root, ip netns, charon). */
export function labUnavailable(): string | null {
  if (process.env.OEDNS_SKIP_INTEGRATION === '1') return 'OEDNS_SKIP_INTEGRATION=1';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root: network namespaces need root';
  try {
    execFileSync('test', ['-x', process.env.CHARON ?? '/usr/lib/ipsec/charon']);
  } catch {
    return 'charon is not installed (/usr/lib/ipsec/charon)';
  }
  const probe = `oelab-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (e) {
    return `cannot create a network namespace: ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

export async function labUp(): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'oedns-lab-'));
  let downDone = false;
  const down = async (): Promise<void> => {
    if (downDone) return;
    downDone = true;
    process.off('exit', onExit);
    await sh(['bash', SCRIPT, 'down', dir]);
    rmSync(dir, { recursive: true, force: true });
  };
  // Last resort if the test process dies without running its after hook.
  const onExit = (): void => {
    if (downDone) return;
    try {
      execFileSync('bash', [SCRIPT, 'down', dir], { stdio: 'ignore' });
    } catch {
      /* nothing more to do at exit */
    }
  };
  process.on('exit', onExit);
  // A killed test run (Ctrl-C, CI timeout) must not leave namespaces and daemons behind.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      onExit();
      process.exit(130);
    });
  }
  const up = await sh(['bash', SCRIPT, 'up', dir], 60_000);
  if (up.code !== 0) {
    await down();
    throw new Error(`lab up failed (${up.code}): ${up.stderr || up.stdout}`);
  }
  const env = Object.fromEntries(
    readFileSync(join(dir, 'lab.env'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => l.split('=', 2) as [string, string]),
  );
  const get = (k: string): string => {
    const v = env[k];
    if (v === undefined) throw new Error(`lab.env has no ${k}`);
    return v;
  };
  const host = (h: 'a' | 'b'): LabHost => ({
    host: h,
    ns: get(h === 'a' ? 'NS_A' : 'NS_B'),
    iface: get(h === 'a' ? 'IF_A' : 'IF_B'),
    addr: get(h === 'a' ? 'ADDR_A' : 'ADDR_B'),
    addr6: env[h === 'a' ? 'ADDR6_A' : 'ADDR6_B'] ?? (h === 'a' ? '2001:db8:0:2::1' : '2001:db8:0:2::2'),
    dir: join(dir, h),
    vici: join(dir, h, 'charon.vici'),
  });
  return {
    dir,
    a: host('a'),
    b: host('b'),
    async restart(h) {
      const r = await sh(['bash', SCRIPT, 'restart', dir, h], 30_000);
      if (r.code !== 0) throw new Error(`lab restart ${h} failed: ${r.stderr}`);
    },
    exec(hst, argv, timeoutMs = 15_000) {
      return sh(['ip', 'netns', 'exec', hst.ns, ...argv], timeoutMs);
    },
    spawn(hst, argv) {
      return spawn('ip', ['netns', 'exec', hst.ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    down,
  };
}

/** What tcpdump saw on host A's veth while `during` ran, and the packets that matter. */
export interface Wire {
  text: string;
  /** ESP packets (UDP-encapsulated or not). */
  esp: number;
  /** Clear-text ICMP packets: traffic that should have been protected. */
  clearIcmp: number;
}

/**
 * Runs `during` while tcpdump watches A's veth for traffic with B (either of its addresses); waits
 * until tcpdump really listens before starting, and lets the last packets arrive before stopping it.
 */
export async function watchWire<T>(lab: Lab, during: () => Promise<T>): Promise<{ wire: Wire; result: T }> {
  const dump = lab.spawn(lab.a, ['tcpdump', '-i', lab.a.iface, '-n', '-l', '-U', 'host', lab.b.addr, 'or', 'host', lab.b.addr6]);
  let text = '';
  dump.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  try {
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('tcpdump did not start')), 10_000);
      dump.stderr!.on('data', (d: Buffer) => {
        if (String(d).includes('listening on')) {
          clearTimeout(t);
          res();
        }
      });
    });
    const result = await during();
    await new Promise((r) => setTimeout(r, 300));
    return { wire: summarize(text), result };
  } finally {
    dump.kill('SIGINT');
    if (dump.exitCode === null && dump.signalCode === null) await new Promise((r) => dump.once('close', r));
  }
}

function summarize(text: string): Wire {
  const lines = text.split('\n').filter(Boolean);
  return { text, esp: lines.filter((l) => /ESP\(spi=/.test(l)).length, clearIcmp: lines.filter((l) => /ICMP/i.test(l)).length };
}
