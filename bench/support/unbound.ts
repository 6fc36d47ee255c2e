// The baseline every speed figure is compared with: Debian's Unbound, one thread, validating from the
// same trust anchor and forwarding to the same named as oedns, started by the bench itself in the same
// run (installed with apt when missing: benchmarks are run by hand, as root, on a Debian machine).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/support/ports';
import { stopChild, until } from '../../test/support/wait';
import { createSocket } from 'node:dgram';
import { encodeMessage, makeQuery } from '../../src/wire/message';

export interface UnboundInstance {
  port: number;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

export interface UnboundOptions {
  /** Where it forwards (named on loopback). */
  upstreamPort: number;
  /** Trust anchors in zone-file form (DS or DNSKEY lines), as `trust-anchor-file` takes them. */
  anchors: string;
  /** Unbound's own cache sizes (MB); defaults suit a million names. */
  msgCacheMb?: number;
  rrsetCacheMb?: number;
}

export function ensureUnbound(): string {
  const probe = spawnSync('unbound', ['-V'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'unbound'], {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`cannot install unbound: ${r.stderr}`);
    // A package install may start the distribution's service: the bench runs its own instance only.
    spawnSync('service', ['unbound', 'stop'], { stdio: 'ignore' });
  }
  const v = spawnSync('unbound', ['-V'], { encoding: 'utf8' }).stdout;
  return /Version\s+(\S+)/.exec(v)?.[1] ?? 'unknown';
}

/** Starts a foreground Unbound on 127.0.0.1:<free port>; resolves once it answers. */
export async function startUnbound(o: UnboundOptions): Promise<UnboundInstance> {
  const version = ensureUnbound();
  const dir = mkdtempSync(join(tmpdir(), 'oedns-unbound-'));
  const port = await freePort();
  writeFileSync(join(dir, 'anchors'), o.anchors);
  writeFileSync(
    join(dir, 'unbound.conf'),
    `server:
  interface: 127.0.0.1@${port}
  port: ${port}
  num-threads: 1
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: "${dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  # RFC 6761 names (test., invalid., ...) are answered locally by default; the lab zones live under test.
  local-zone: "test." nodefault
  module-config: "validator iterator"
  trust-anchor-file: "${dir}/anchors"
  val-permissive-mode: no
  harden-dnssec-stripped: yes
  aggressive-nsec: no
  prefetch: no
  msg-cache-size: ${o.msgCacheMb ?? 64}m
  rrset-cache-size: ${o.rrsetCacheMb ?? 128}m
  so-rcvbuf: 4m
  so-sndbuf: 4m
  outgoing-range: 1024
  num-queries-per-thread: 1024
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@${o.upstreamPort}
`,
  );
  const chk = spawnSync('unbound-checkconf', [join(dir, 'unbound.conf')], { encoding: 'utf8' });
  if (chk.status !== 0) throw new Error(`unbound-checkconf: ${chk.stdout}${chk.stderr}`);
  const child: ChildProcess = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  await until(`unbound answers on ${port}`, () => answers(port), 15_000, 100).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}: ${stderr}`);
  });
  return {
    port,
    pid: child.pid ?? 0,
    version,
    async stop() {
      await stopChild(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function answers(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      res(false);
    }, 300);
    s.on('message', () => {
      clearTimeout(t);
      s.close();
      res(true);
    });
    s.send(encodeMessage(makeQuery('.', 6)), port, '127.0.0.1');
  });
}
