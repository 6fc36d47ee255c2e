// Runs `oedns serve` as the resolver of a lab host, the way a user would: inside the host's network
// namespace, on 127.0.0.1:53, with /etc/netns/<ns>/resolv.conf pointing there (ip netns exec mounts it
// over /etc/resolv.conf), so programs in the host (ping, getent) resolve through oedns. A named
// inside the same namespace serves the lab's signed zones as the upstream.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LabHost } from './lab';
import { type NamedInstance, startNamed } from './named';
import type { OeLab } from './oe-lab';
import { stopChild } from './wait';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');

export interface OednsHost {
  host: LabHost;
  name: string;
  named: NamedInstance;
  proc: ChildProcess;
  control: string;
  log(): string;
  /** Run `oedns <args>` (e.g. status) in the root namespace against this daemon's control socket. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export interface OednsHostOptions {
  /** Policy file path. */
  policy?: string;
  initiate?: boolean;
  /** Our private key (default: the one oe-lab made for this host). */
  key?: string;
  extraArgs?: string[];
}

/** One named per host namespace, kept across oedns restarts (oe.down() stops them). */
const namedByNs = new Map<string, NamedInstance>();

export async function startOednsOn(oe: OeLab, which: 'a' | 'b', opts: OednsHostOptions = {}): Promise<OednsHost> {
  const host = which === 'a' ? oe.lab.a : oe.lab.b;
  const name = oe.names[which];
  let named = namedByNs.get(host.ns);
  if (!named || !oe.alsoServing.includes(named)) {
    named = await startNamed({ zones: oe.zones.zones, netns: host.ns, port: 5300 });
    namedByNs.set(host.ns, named);
    oe.alsoServing.push(named);
  }
  const netnsEtc = join('/etc/netns', host.ns);
  mkdirSync(netnsEtc, { recursive: true });
  writeFileSync(join(netnsEtc, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:5 attempts:1\n');
  const control = join(host.dir, 'oedns.sock');
  const args = [
    'netns',
    'exec',
    host.ns,
    process.execPath,
    OEDNS,
    'serve',
    '--listen',
    '127.0.0.1:53',
    '--upstream',
    named.endpoint,
    '--trust-anchor',
    oe.anchorFile,
    '--engine',
    'strongswan',
    '--vici',
    host.vici,
    '--identity',
    name,
    '--key',
    opts.key ?? oe.keys[which].privateKeyFile,
    '--control',
    control,
    '--autosp-state',
    join(host.dir, 'autosp.json'),
    '--log-level',
    'info',
    ...(opts.initiate ? ['--initiate'] : []),
    ...(opts.policy ? ['--policy', opts.policy] : []),
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await new Promise<void>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`oedns on ${which} did not start:\n${log}`)), 15_000);
    const check = (): void => {
      if (/"msg":"listening"/.test(log)) {
        clearTimeout(t);
        ok();
      }
    };
    proc.stderr.on('data', check);
    void exited.then(() => {
      clearTimeout(t);
      fail(new Error(`oedns on ${which} exited:\n${log}`));
    });
  });
  return {
    host,
    name,
    named,
    proc,
    control,
    log: () => log,
    cli: (cliArgs) =>
      new Promise((res) => {
        const p = spawn(process.execPath, [OEDNS, ...cliArgs, '--control', control], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('exit', (code) => res({ code: code ?? 1, stdout: out, stderr: err }));
      }),
    async stop() {
      await stopChild(proc, exited);
      rmSync(netnsEtc, { recursive: true, force: true });
    },
  };
}
