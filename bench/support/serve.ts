// What the benches that time `oedns serve` against something else (capture.ts: named and two engines;
// vs-unbound.ts: Unbound) share: the real daemon, the built CLI in its own process on a free loopback
// port, up once it answers; and the IPSECKEY keys their zones publish.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { resolve } from 'node:path';
import { ipseckeyLine } from '../../src/ike-bridge/identity';
import { freePort } from '../../test/support/ports';
import { stopChild } from '../../test/support/wait';
import { UdpClient } from '../capture-client';

/** The built CLI (`npm run build`). */
export const OEDNS_CLI = resolve(__dirname, '../../src/cli/oedns.js');

export interface ServeProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Names the process in errors. */
  label: string;
  upstream: string;
  anchorFile: string;
  policyFile: string;
  /** Further `serve` flags: the engine, logging. */
  args: string[];
  /** Where its stderr (the log) goes. */
  logFile: string;
  /** With a V8 CPU profile, written into this folder when it stops. */
  cpuProfDir?: string;
  /** Sees the child as soon as it is spawned, before it answers, so that an exit handler can kill it. */
  onSpawn(child: ChildProcess): void;
}

/**
 * Starts `oedns serve` on 127.0.0.1 with the control socket off, as root (a bench runs as root and
 * the engines need it), and waits until a validated clear name (ns.test, the glue of the test zone
 * every bench hierarchy has) resolves: at most 15 s.
 */
export async function startServe(o: ServeOptions): Promise<ServeProcess> {
  const port = await freePort();
  const fd = openSync(o.logFile, 'w');
  const node = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [];
  const child = spawn(
    process.execPath,
    [
      ...node,
      OEDNS_CLI,
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--upstream',
      o.upstream,
      '--trust-anchor',
      o.anchorFile,
      '--policy',
      o.policyFile,
      '--control',
      'none',
      '--user',
      'root',
      ...o.args,
    ],
    { stdio: ['ignore', 'ignore', fd] },
  );
  closeSync(fd);
  o.onSpawn(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const logTail = (): string => readFileSync(o.logFile, 'utf8').slice(-3000);
  const probe = new UdpClient(port, 500);
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`oedns (${o.label}) exited:\n${logTail()}`);
      const r = await probe.query('ns.test', 'A');
      if (r.rcode === 0 && r.ancount > 0) break;
      if (Date.now() > deadline) throw new Error(`oedns (${o.label}) not answering after 15 s:\n${logTail()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    probe.close();
  }
  return { port, pid: child.pid!, stop: () => stopChild(child, exited).then(() => undefined) };
}

/**
 * IPSECKEY RDATA of `n` fresh Ed25519 keys, for a zone to hand out in turn. A pool, not one per name:
 * a loop of thousands of generateKeyPairSync calls was seen to hang node (main thread in a futex
 * wait) twice, and distinct keys change nothing for charon.
 */
export function ipseckeyPool(n: number, zone: string): string[] {
  return Array.from({ length: n }, (_, i) =>
    ipseckeyLine(`k${i}.${zone}`, generateKeyPairSync('ed25519').publicKey).split(/\s+/).slice(3).join(' '),
  );
}
