// Test helpers for the resolver: signed zones for named, the real `oedns serve` process, dig/kdig,
// and a raw Node UDP/TCP client.
import { spawn, type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FrameReader, frame } from '../../src/resolver/framing';
import { stopChild } from '../support/wait';

const execFileP = promisify(execFile);

export const integrationSkipped = process.env.OEDNS_SKIP_INTEGRATION === '1';

/** An RFC 3110 RSA public key (exponent 65537, 4096-bit modulus) in base64; random bytes suffice here. */
export function rsa4096KeyBase64(): string {
  const mod = randomBytes(512);
  mod[0]! |= 0x80;
  return Buffer.concat([Buffer.from([3, 1, 0, 1]), mod]).toString('base64');
}

/** The test zone: A, AAAA, CNAME, a host with a large IPSECKEY RRset, an empty non-terminal, an MX-less name. */
export function exampleZoneText(origin: string): string {
  const keys = [10, 20, 30].map((p) => `big IN IPSECKEY ${p} 1 2 192.0.2.${p} ${rsa4096KeyBase64()}`);
  return [
    `$ORIGIN ${origin}.`,
    '$TTL 300',
    '@ IN SOA ns1 hostmaster 1 3600 600 86400 60',
    '@ IN NS ns1',
    'ns1 IN A 127.0.0.1',
    'www IN A 192.0.2.1',
    'www IN AAAA 2001:db8::1',
    'alias IN CNAME www',
    'short 5 IN A 192.0.2.5',
    'big IN A 192.0.2.30',
    'small IN IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    ...keys,
    '',
  ].join('\n');
}

/**
 * Writes `text` as the zone `origin` into `dir` and signs it with dnssec-signzone (ECDSA P-256, KSK+ZSK,
 * NSEC), so later issues can validate what these tests serve. Returns the signed file's path.
 */
export function writeSignedZone(dir: string, origin: string, text: string): string {
  const file = join(dir, `${origin}.db`);
  writeFileSync(file, text);
  const keygen = (extra: string[]): void => {
    execFileSync('dnssec-keygen', ['-q', '-K', dir, '-a', 'ECDSAP256SHA256', ...extra, origin], { stdio: 'ignore' });
  };
  keygen(['-f', 'KSK']);
  keygen([]);
  const keys = readdirSync(dir).filter((f) => f.startsWith(`K${origin}.+`) && f.endsWith('.key'));
  writeFileSync(file, text + keys.map((k) => `$INCLUDE ${join(dir, k)}\n`).join(''));
  execFileSync('dnssec-signzone', ['-q', '-K', dir, '-o', origin, '-f', `${file}.signed`, '-e', '+2592000', file], {
    stdio: 'ignore',
    cwd: dir,
  });
  // The zone's KSK as a trust anchor (`${file}.anchor`), so a validating oedns can judge its answers.
  const ksk = keys
    .map((k) => readFileSync(join(dir, k), 'utf8'))
    .join('\n')
    .split('\n')
    .filter((l) => /\sDNSKEY\s+257\s/.test(l));
  writeFileSync(`${file}.anchor`, ksk.join('\n') + '\n');
  return `${file}.signed`;
}

/** The trust anchor file writeSignedZone() wrote next to a signed zone. */
export function anchorOf(signedFile: string): string {
  return signedFile.replace(/\.signed$/, '.anchor');
}

const tempDirs: string[] = [];
process.once('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** A temporary directory, removed when the test process exits. */
export function tempDir(prefix = 'oedns-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export interface ServeProcess {
  proc: ChildProcess;
  port: number;
  endpoint: string;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const OEDNS_JS = resolve(__dirname, '../../src/cli/oedns.js');

/** Starts the real `oedns serve` process (listening on a kernel-chosen loopback port unless given). */
export async function startServe(args: string[], opts: { listen?: boolean } = {}): Promise<ServeProcess> {
  // No control socket unless asked for: parallel test daemons must not compete for the default path.
  const control = [
    ...(args.includes('--control') ? [] : ['--control', 'none']),
    ...(args.includes('--autosp-state') ? [] : ['--autosp-state', 'none']),
  ];
  const full = ['serve', ...(opts.listen === false ? [] : ['--listen', '127.0.0.1:0']), '--log-level', 'info', ...control, ...args];
  const proc = spawn(process.execPath, [OEDNS_JS, ...full], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const port = await new Promise<number>((resolveP, reject) => {
    const t = setTimeout(() => reject(new Error(`oedns serve did not start:\n${err}`)), 10_000);
    const check = (): void => {
      const m = /"listen":\["127\.0\.0\.1:(\d+)"/.exec(err);
      if (m) {
        clearTimeout(t);
        resolveP(Number(m[1]));
      }
    };
    proc.stderr.on('data', check);
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`oedns serve exited (${code}):\n${err}`));
    });
  });
  return {
    proc,
    port,
    endpoint: `127.0.0.1:${port}`,
    stderr: () => err,
    stop: () => stopChild(proc, exited),
  };
}

/** Runs dig against 127.0.0.1:port; resolves with stdout. Asynchronous, so that fakes in this process keep running. */
export async function dig(port: number, args: string[], server = '127.0.0.1'): Promise<string> {
  return (await execFileP('dig', ['+time=3', '+tries=1', '-p', String(port), `@${server}`, ...args], { encoding: 'utf8' })).stdout;
}

export async function kdig(port: number, args: string[]): Promise<string> {
  return (await execFileP('kdig', ['+time=3', '+retry=0', '-p', String(port), '@127.0.0.1', ...args], { encoding: 'utf8' })).stdout;
}

/** Polls `cond` every 20 ms for up to `ms`. */
export async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (cond()) return true;
  return cond();
}

/** Sends one datagram and waits for one reply (or null after timeoutMs). */
export function udpExchange(port: number, msg: Uint8Array, timeoutMs = 2000, host = '127.0.0.1'): Promise<Buffer | null> {
  return new Promise((resolveP) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      sock.close();
      resolveP(null);
    }, timeoutMs);
    sock.on('message', (m) => {
      clearTimeout(t);
      sock.close();
      resolveP(m);
    });
    sock.send(msg, port, host);
  });
}

/** Sends several framed queries on ONE TCP connection (all at once) and collects `expect` replies. */
export function tcpExchange(port: number, msgs: Uint8Array[], expect = msgs.length, timeoutMs = 5000): Promise<Buffer[]> {
  return new Promise((resolveP, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const reader = new FrameReader();
    const out: Buffer[] = [];
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP: got ${out.length} of ${expect} replies`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(Buffer.concat(msgs.map((m) => frame(m)))));
    sock.on('data', (c: Buffer) => {
      out.push(...reader.push(c));
      if (out.length >= expect) {
        clearTimeout(t);
        sock.destroy();
        resolveP(out);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}
