// Starts a real BIND `named` on a loopback port, serving zone files the tests wrote, and stops it.
// Tests use it as the authoritative upstream (the resolver forwards to it) or as a validating
// reference. Every instance has its own directory, so several can run side by side.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { stopChild } from './wait';

export interface NamedZone {
  /** Zone apex, without trailing dot ('' or '.' for the root). */
  name: string;
  /** Absolute path of the zone file (signed or not). */
  file: string;
  /** Extra statements inside the zone { } block (e.g. dnssec-policy, update-policy). */
  extra?: string;
}

export interface NamedOptions {
  zones: NamedZone[];
  /** Default: a free port. */
  port?: number;
  /** Extra text inside `options { }`. */
  extraOptions?: string;
  /** Extra top-level statements (e.g. key "name" { ... }; for TSIG). */
  extraConfig?: string;
  /** Keep the working directory after stop (for debugging). */
  keepDir?: boolean;
  /** Run inside this network namespace (its own loopback); `ip netns exec` prefixes every command. */
  netns?: string;
  /** Listen address (default 127.0.0.1). */
  address?: string;
}

export interface NamedInstance {
  address: string;
  port: number;
  dir: string;
  /** `host:port` form, handy for --upstream/--server. */
  endpoint: string;
  /** Re-read zone files (SIGHUP), then wait until named answers again. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export function namedAvailable(): boolean {
  try {
    execFileSync('named', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function zoneStanza(z: NamedZone): string {
  const name = z.name === '' || z.name === '.' ? '.' : z.name.replace(/\.$/, '');
  return `zone "${name}" { type primary; file "${z.file}"; ${z.extra ?? ''} };`;
}

export async function startNamed(opts: NamedOptions): Promise<NamedInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'oedns-named-'));
  const port = opts.port ?? (await freePort());
  const address = opts.address ?? '127.0.0.1';
  const inNs = (argv: string[]): [string, string[]] =>
    opts.netns ? ['ip', ['netns', 'exec', opts.netns, ...argv]] : [argv[0]!, argv.slice(1)];
  const conf = `
options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { ${address}; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { none; };
  minimal-responses no;
  ${opts.extraOptions ?? ''}
};
controls { };
logging { channel stderr_ch { stderr; severity info; }; category default { stderr_ch; }; category lame-servers { null; }; };
${opts.extraConfig ?? ''}
${opts.zones.map(zoneStanza).join('\n')}
`;
  const confFile = join(dir, 'named.conf');
  writeFileSync(confFile, conf);
  let log = '';
  const [cmd, args] = inNs(['named', '-g', '-n', '1', '-c', confFile]);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const instance: NamedInstance = {
    address,
    port,
    dir,
    endpoint: `${address}:${port}`,
    async reload() {
      child.kill('SIGHUP');
      await waitReady(() => log, exited, port, address, inNs);
    },
    async stop() {
      await stopChild(child, exited);
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(() => log, exited, port, address, inNs);
  } catch (err) {
    await instance.stop();
    throw err;
  }
  return instance;
}

/** named is ready when it says so and answers a query on its port (bounded: 15 s). */
async function waitReady(
  getLog: () => string,
  exited: Promise<void>,
  port: number,
  address: string,
  inNs: (argv: string[]) => [string, string[]],
): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`named exited during start-up:\n${getLog().slice(-3000)}`);
    if (/running/.test(getLog())) {
      try {
        const [cmd, args] = inNs(['dig', '+time=1', '+tries=1', '+short', '-p', String(port), `@${address}`, 'version.bind', 'CH', 'TXT']);
        execFileSync(cmd, args, { stdio: 'ignore' });
        return;
      } catch {
        /* not answering yet */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`named did not become ready within 15 s:\n${getLog().slice(-3000)}`);
}
