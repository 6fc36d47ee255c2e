// A real named that signs its zones itself (dnssec-policy) and takes TSIG-signed updates, for the
// publish tests: each zone is dynamic with an update-policy granting keys made by tsig-keygen, or
// inline-signed (updates go to the unsigned zone, named re-signs). The trust anchor is the zone's own
// DNSKEY, read once named has signed it. startSecondary adds a secondary that lags until notified.
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, makeQuery } from '../../src/wire/message';
import { type NamedInstance, namedAvailable, startNamed } from '../support/named';
import { until } from '../support/wait';

export interface SigningZone {
  name: string;
  /** update-policy grants, e.g. `grant publish-key subdomain hosts.pub.test. IPSECKEY;` */
  grants: string[];
  inline?: boolean;
  /** Extra zone-file lines (names relative to the apex). */
  records?: string[];
  /** Let a secondary on 127.0.0.1 transfer the zone (startSecondary). */
  transfer?: boolean;
}

export interface SigningNamed {
  named: NamedInstance;
  dir: string;
  /** File with the zones' DNSKEYs (zone-file lines), for --trust-anchor. */
  anchorFile: string;
  /** Key files as tsig-keygen printed them, by key name. */
  keyFiles: Record<string, string>;
  /** `dig` answer lines (+short) from this named. */
  dig(name: string, type: string): string[];
  /** SOA serial of a zone (changes whenever an update is applied). */
  serial(zone: string): number;
  stop(): Promise<void>;
}

export function signingNamedUnavailable(): string | null {
  if (process.env.OEDNS_SKIP_INTEGRATION === '1') return 'OEDNS_SKIP_INTEGRATION=1';
  if (!namedAvailable()) return 'named is not installed';
  try {
    execFileSync('tsig-keygen', ['probe'], { stdio: 'ignore' });
  } catch {
    return 'tsig-keygen is not installed';
  }
  return null;
}

/** keys: name → algorithm (tsig-keygen -a). */
export async function startSigningNamed(zones: SigningZone[], keys: Record<string, string>): Promise<SigningNamed> {
  const dir = mkdtempSync(join(tmpdir(), 'oedns-publish-'));
  const keyFiles: Record<string, string> = {};
  let config = '';
  for (const [name, alg] of Object.entries(keys)) {
    const text = execFileSync('tsig-keygen', ['-a', alg, name], { encoding: 'utf8' });
    keyFiles[name] = join(dir, `${name}.key`);
    writeFileSync(keyFiles[name], text, { mode: 0o600 }); // publish refuses a secret others can read
    config += text;
  }
  const named = await startNamed({
    extraConfig: config,
    zones: zones.map((z) => {
      const file = join(dir, `${z.name}.db`);
      writeFileSync(
        file,
        [
          '$TTL 300',
          `@ IN SOA ns.${z.name}. hostmaster.${z.name}. 1 3600 600 86400 300`,
          `@ IN NS ns.${z.name}.`,
          `ns IN A 127.0.0.1`,
          ...(z.records ?? []),
          '',
        ].join('\n'),
      );
      return {
        name: z.name,
        file,
        extra: `dnssec-policy default; ${z.inline ? 'inline-signing yes; ' : ''}${z.transfer ? 'allow-transfer { 127.0.0.1; }; ' : ''}update-policy { ${z.grants.join(' ')} };`,
      };
    }),
  }).catch((e) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const dig = (name: string, type: string): string[] =>
    execFileSync('dig', ['+short', '+time=2', '+tries=1', '+norec', '-p', String(named.port), `@${named.address}`, name, type], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((l) => l.trim() !== '');
  try {
    // dnssec-policy signs right after loading: wait for each zone's DNSKEY and a signed SOA.
    for (const z of zones) {
      await until(
        `${z.name} signed`,
        async () =>
          dig(z.name, 'DNSKEY').length > 0 &&
          execFileSync('dig', ['+dnssec', '+norec', '-p', String(named.port), `@${named.address}`, z.name, 'SOA'], {
            encoding: 'utf8',
          }).includes('RRSIG'),
        15_000,
      );
    }
  } catch (e) {
    await named.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const anchorFile = join(dir, 'anchors');
  writeFileSync(
    anchorFile,
    zones
      .map((z) =>
        dig(z.name, 'DNSKEY')
          .filter((l) => l.startsWith('257 '))
          .map((l) => `${z.name}. IN DNSKEY ${l}`)
          .join('\n'),
      )
      .join('\n') + '\n',
  );
  return {
    named,
    dir,
    anchorFile,
    keyFiles,
    dig,
    serial: (zone) => Number(dig(zone, 'SOA')[0]?.split(' ')[2]),
    async stop() {
      await named.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Secondary {
  named: NamedInstance;
  /** Sends the secondary a NOTIFY for the zone (as the primary would), so it transfers the new version now. */
  notify(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A second named that serves `zone` as a secondary of `primary`. The primary sends no NOTIFY (the test
 * named says `notify no`) and the SOA refresh is an hour, so after its first transfer the secondary
 * lags every update until the test calls notify().
 */
export async function startSecondary(primary: SigningNamed, zone: string): Promise<Secondary> {
  const named = await startNamed({
    zones: [],
    extraConfig: `zone "${zone}" { type secondary; primaries { 127.0.0.1 port ${primary.named.port}; }; file "secondary-${zone}.db"; };`,
  });
  const digSec = (type: string): string[] =>
    execFileSync('dig', ['+short', '+time=1', '+tries=1', '+norec', '-p', String(named.port), `@${named.address}`, zone, type], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((l) => l.trim() !== '');
  try {
    await until(`${zone} transferred to the secondary`, async () => digSec('SOA').length > 0, 15_000);
  } catch (e) {
    await named.stop();
    throw e;
  }
  return {
    named,
    async notify() {
      // The secondary accepts a NOTIFY from its primary's address (any source port).
      const q = makeQuery(zone, 6, { rd: false });
      const wire = encodeMessage({ ...q, opcode: 4, aa: true });
      await new Promise<void>((res, rej) => {
        const sock = createSocket('udp4');
        const t = setTimeout(() => (sock.close(), rej(new Error('no answer to NOTIFY'))), 3000);
        sock.on('message', () => (clearTimeout(t), sock.close(), res()));
        sock.bind(0, '127.0.0.1', () => sock.send(wire, named.port, named.address));
      });
    },
    stop: () => named.stop(),
  };
}
