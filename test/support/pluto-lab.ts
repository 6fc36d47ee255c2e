// TypeScript side of scripts/pluto-lab.sh: Libreswan's pluto, unpacked from Debian's package (it
// conflicts with strongSwan's, so it is never installed), replacing the charon of one host of the
// two-host lab (test/support/lab.ts). Tests get a real pluto with its own NSS database, ipsec.conf and
// control socket, reachable with `whack --ctlsocket` from the test process.
//
//   const why = plutoUnavailable();            // null, or why not (skip with it)
//   const lab = await labUp();
//   const pluto = await plutoOn(lab, 'a');      // charon a stopped, pluto started in A's namespace
//   const ckaid = pluto.importKey(pemFile);     // an `oedns keygen` key into its NSS db
//   ... new LibreswanEngine({ whack: pluto.whack, ctlsocket: pluto.ctlsocket, ... })
//   await pluto.stop(); await lab.down();
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hostKeyPaths } from '../../src/ike-bridge/identity';
import type { Lab } from './lab';
import { labUnavailable } from './lab';

const SCRIPT = resolve(__dirname, '../../../scripts/pluto-lab.sh');
const FETCH = resolve(__dirname, '../../../scripts/libreswan-fetch.sh');
const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');

/** A host key made by `oedns keygen`, with the IPSECKEY it prints: what a peer finds in DNS. */
export interface OednsKey {
  pemFile: string;
  pem: string;
  /** `10 0 2 . <base64>`: the IPSECKEY RDATA to publish. */
  rdata: string;
  alg: number;
  key: Buffer;
}

/** An RSA key (pluto takes RSA raw keys only) from `oedns keygen --out dir --name name`. */
export function oednsKeygen(dir: string, name: string): OednsKey {
  const out = execFileSync(process.execPath, [OEDNS, 'keygen', '--type', 'rsa', '--bits', '2048', '--out', dir, '--name', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const f = out.trim().split(/\s+/);
  if (f[0] !== `${name}.` || f[2] !== 'IPSECKEY') throw new Error(`unexpected keygen output: ${out}`);
  const pemFile = hostKeyPaths(dir).privateKey;
  return { pemFile, pem: readFileSync(pemFile, 'utf8'), rdata: f.slice(3).join(' '), alg: Number(f[5]), key: Buffer.from(f[7]!, 'base64') };
}

export interface PlutoHost {
  host: 'a' | 'b';
  ns: string;
  addr: string;
  /** HOSTDIR/pluto: ipsec.conf, ipsec.secrets, nss/, run/, pluto.log. */
  dir: string;
  ctlsocket: string;
  /** The unpacked whack binary. */
  whack: string;
  /** The unpacked package's root. */
  prefix: string;
  nssdir: string;
  logFile: string;
  /** pluto's version as it reports it (`whack --status`: pluto_version). */
  version: string;
  /** Run whack against this pluto (from the test's namespace: the socket is a path). */
  run(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Import an RSA private key (PEM file, as `oedns keygen` writes it) into pluto's NSS db; returns its CKAID. */
  importKey(pemFile: string): string;
  /** pluto's log so far. */
  log(): string;
  /** Stop and start pluto again: it forgets conns, keys given by whack and SAs (the NSS db stays). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function sh(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(args[0]!, args.slice(1), { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

let fetchVerdict: string | null | undefined;

/**
 * Why pluto cannot run here, or null: what the charon lab needs, plus Libreswan fetched into the cache
 * (scripts/libreswan-fetch.sh; fetched now if it is not, which needs the Debian archive).
 */
export function plutoUnavailable(): string | null {
  const why = labUnavailable();
  if (why) return why;
  if (fetchVerdict === undefined) {
    try {
      execFileSync('bash', [FETCH], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
      fetchVerdict = null;
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      fetchVerdict = `Libreswan could not be fetched (apt-get download libreswan): ${(err.stderr?.toString() || err.message).trim().split('\n').slice(-2).join(' ')}`;
    }
  }
  return fetchVerdict;
}

/** Replace the charon of `host` in `lab` by a pluto; stop it before lab.down() (also done at exit). */
export async function plutoOn(lab: Lab, host: 'a' | 'b'): Promise<PlutoHost> {
  let stopped = false;
  const onExit = (): void => {
    if (stopped) return;
    try {
      execFileSync('bash', [SCRIPT, 'stop', lab.dir, host], { stdio: 'ignore' });
    } catch {
      /* nothing more to do at exit */
    }
  };
  const start = async (): Promise<void> => {
    const r = await sh(['bash', SCRIPT, 'start', lab.dir, host], 60_000);
    if (r.code !== 0) throw new Error(`pluto-lab start ${host} failed (${r.code}): ${r.stderr || r.stdout}`);
  };
  process.on('exit', onExit);
  try {
    await start();
  } catch (e) {
    onExit();
    process.off('exit', onExit);
    throw e;
  }
  const dir = join(lab.dir, host, 'pluto');
  const env = Object.fromEntries(
    readFileSync(join(dir, 'pluto.env'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const get = (k: string): string => {
    const v = env[k];
    if (v === undefined) throw new Error(`pluto.env has no ${k}`);
    return v;
  };
  const run: PlutoHost['run'] = (args, timeoutMs = 15_000) => sh([get('WHACK'), '--ctlsocket', get('CTLSOCKET'), ...args], timeoutMs);
  const version = /pluto_version=([^,\s]+)/.exec((await run(['--status'])).stdout)?.[1] ?? 'unknown';
  return {
    host,
    ns: get('NS'),
    addr: get('ADDR'),
    dir,
    ctlsocket: get('CTLSOCKET'),
    whack: get('WHACK'),
    prefix: get('PREFIX'),
    nssdir: get('NSSDIR'),
    logFile: get('LOG'),
    version,
    run,
    importKey(pemFile) {
      return execFileSync('bash', [SCRIPT, 'import-key', lab.dir, host, pemFile], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    },
    log: () => (existsSync(get('LOG')) ? readFileSync(get('LOG'), 'utf8') : ''),
    restart: start,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await sh(['bash', SCRIPT, 'stop', lab.dir, host]);
    },
  };
}
