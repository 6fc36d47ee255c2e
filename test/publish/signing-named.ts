// A real named that signs its zones itself (dnssec-policy) and takes TSIG-signed updates, for the
// publish tests: each zone is dynamic with an update-policy granting keys made by tsig-keygen, or
// inline-signed (updates go to the unsigned zone, named re-signs). The trust anchor is the zone's own
// DNSKEY, read once named has signed it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NamedInstance, namedAvailable, startNamed } from '../support/named';
import { until } from '../support/wait';

export interface SigningZone {
  name: string;
  /** update-policy grants, e.g. `grant publish-key subdomain hosts.pub.test. IPSECKEY;` */
  grants: string[];
  inline?: boolean;
  /** Extra zone-file lines (names relative to the apex). */
  records?: string[];
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
      writeFileSync(file, [
        '$TTL 300',
        `@ IN SOA ns.${z.name}. hostmaster.${z.name}. 1 3600 600 86400 300`,
        `@ IN NS ns.${z.name}.`,
        `ns IN A 127.0.0.1`,
        ...(z.records ?? []),
        '',
      ].join('\n'));
      return { name: z.name, file, extra: `dnssec-policy default; ${z.inline ? 'inline-signing yes; ' : ''}update-policy { ${z.grants.join(' ')} };` };
    }),
  }).catch((e) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const dig = (name: string, type: string): string[] =>
    execFileSync('dig', ['+short', '+time=2', '+tries=1', '+norec', '-p', String(named.port), `@${named.address}`, name, type], { encoding: 'utf8' })
      .split('\n').filter((l) => l.trim() !== '');
  try {
    // dnssec-policy signs right after loading: wait for each zone's DNSKEY and a signed SOA.
    for (const z of zones) {
      await until(`${z.name} signed`, async () => dig(z.name, 'DNSKEY').length > 0 && execFileSync('dig', ['+dnssec', '+norec', '-p', String(named.port), `@${named.address}`, z.name, 'SOA'], { encoding: 'utf8' }).includes('RRSIG'), 15_000);
    }
  } catch (e) {
    await named.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const anchorFile = join(dir, 'anchors');
  writeFileSync(anchorFile, zones.map((z) => dig(z.name, 'DNSKEY').filter((l) => l.startsWith('257 ')).map((l) => `${z.name}. IN DNSKEY ${l}`).join('\n')).join('\n') + '\n');
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
