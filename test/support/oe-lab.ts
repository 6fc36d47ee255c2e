// The whole product's lab: two IKE hosts (lab.ts: netns A 192.0.2.1 and B 192.0.2.2, one charon each)
// plus a DNSSEC-signed hierarchy served by a real named on loopback, in which both hosts publish
// their address and IPSECKEY: alice.oe.test (A) and bob.oe.test (B). Host keys come from
// `oedns keygen`. Tests of capture mode, autosp and the responder all start from here.
//
//   const oe = await oeLabUp({ extraZones: [...], oeRecords: [...] });
//   ... oedns serve --upstream oe.named.endpoint --trust-anchor oe.anchorFile --vici oe.lab.a.vici ...
//   await oe.setOeRecords([...]);   // re-sign oe.test and reload named (key rollover, TTL changes)
//   await oe.down();
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Lab, labUnavailable, labUp } from './lab';
import { type NamedInstance, namedAvailable, startNamed } from './named';
import { buildSignedHierarchy, resignZone, type SignedHierarchy, signingToolsAvailable, type ZoneSpec } from './zones';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');

export interface HostKey {
  /** Directory holding host.key.pem / host.pub.pem as `oedns keygen --out` wrote them. */
  dir: string;
  privateKeyFile: string;
  /** The IPSECKEY RDATA presentation `10 0 2 . <base64>` as keygen printed it. */
  rdata: string;
}

export interface OeLab {
  lab: Lab;
  named: NamedInstance;
  zones: SignedHierarchy;
  /** Root trust anchor (DS lines) for --trust-anchor. */
  anchorFile: string;
  names: { a: string; b: string };
  keys: { a: HostKey; b: HostKey };
  /** The records of oe.test as currently signed (relative names). */
  oeRecords: string[];
  /** Replace the extra records of oe.test, re-sign it with its keys, and have every named reload it. */
  setOeRecords(records: string[]): Promise<void>;
  /** Other named instances serving these zones (e.g. inside a host's netns): reloaded by setOeRecords. */
  alsoServing: NamedInstance[];
  /** A fresh key for `name` (for rollovers and wrong-key cases). */
  keygen(name: string, sub: string, type?: string): HostKey;
  /**
   * Forge: flip one character of the signature over `name`'s `type` RRset in the signed oe.test and
   * have every named reload it (an attacker on the path; validators must call it bogus).
   * setOeRecords() signs it properly again.
   */
  forgeRrsig(name: string, type: string): Promise<void>;
  down(): Promise<void>;
}

export function oeLabUnavailable(): string | null {
  const why = labUnavailable();
  if (why) return why;
  if (!namedAvailable()) return 'named is not installed';
  if (!signingToolsAvailable().bind) return 'BIND signing tools are not installed';
  return null;
}

function keygen(dir: string, name: string, type = 'rsa'): HostKey {
  const out = execFileSync(process.execPath, [OEDNS, 'keygen', '--type', type, '--bits', '2048', '--out', dir, '--name', name, '--force'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const f = out.trim().split(/\s+/);
  if (f[0] !== `${name}.` || f[2] !== 'IPSECKEY') throw new Error(`unexpected keygen output: ${out}`);
  return { dir, privateKeyFile: join(dir, 'host.key.pem'), rdata: f.slice(3).join(' ') };
}

/** The default records of oe.test: both hosts' addresses and keys. */
export function hostRecords(
  names: { a: string; b: string },
  keys: { a: HostKey; b: HostKey },
  addrs: { a: string; b: string },
  ttl = 300,
): string[] {
  const rel = (n: string) => `${n.replace(/\.oe\.test$/, '')}`;
  return [
    `${rel(names.a)} ${ttl} IN A ${addrs.a}`,
    `${rel(names.a)} ${ttl} IN IPSECKEY ${keys.a.rdata}`,
    `${rel(names.b)} ${ttl} IN A ${addrs.b}`,
    `${rel(names.b)} ${ttl} IN IPSECKEY ${keys.b.rdata}`,
  ];
}

export async function oeLabUp(opts: { extraZones?: ZoneSpec[]; oeTtl?: number } = {}): Promise<OeLab> {
  const lab = await labUp();
  let named: NamedInstance | undefined;
  let zones: SignedHierarchy | undefined;
  try {
    const names = { a: 'alice.oe.test', b: 'bob.oe.test' };
    const keys = { a: keygen(join(lab.dir, 'a', 'keys'), names.a), b: keygen(join(lab.dir, 'b', 'keys'), names.b) };
    let oeRecords = hostRecords(names, keys, { a: lab.a.addr, b: lab.b.addr }, opts.oeTtl ?? 300);
    zones = buildSignedHierarchy([
      { name: '.' },
      { name: 'test' },
      { name: 'oe.test', algorithm: 'ECDSAP256SHA256', records: oeRecords },
      ...(opts.extraZones ?? []),
    ]);
    named = await startNamed({ zones: zones.zones });
    const z = zones;
    const n = named;
    const oe: OeLab = {
      lab,
      named,
      zones,
      anchorFile: zones.anchorFile,
      names,
      keys,
      oeRecords,
      alsoServing: [],
      async setOeRecords(records) {
        resignZone(z, 'oe.test', oeRecords, records);
        oeRecords = records;
        oe.oeRecords = records;
        await n.reload();
        for (const other of oe.alsoServing) await other.reload();
      },
      keygen: (name, sub, type) => keygen(join(lab.dir, sub), name, type),
      async forgeRrsig(name, type) {
        const file = join(z.dir, 'oe.test', 'zone.signed');
        const owner = `${name.replace(/\.$/, '')}.`.toLowerCase();
        let hits = 0;
        const lines = readFileSync(file, 'utf8')
          .split('\n')
          .map((line) => {
            const tok = line.trim().split(/\s+/);
            if (tok[0]?.toLowerCase() !== owner || tok[3] !== 'RRSIG' || tok[4] !== type.toUpperCase()) return line;
            hits++;
            const sig = tok[tok.length - 1]!;
            const i = Math.floor(sig.length / 2);
            tok[tok.length - 1] = sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1);
            return tok.join(' ');
          });
        if (hits === 0) throw new Error(`forgeRrsig: no RRSIG ${type} for ${name} in ${file}`);
        writeFileSync(file, lines.join('\n'));
        await n.reload();
        for (const other of oe.alsoServing) await other.reload();
      },
      async down() {
        for (const other of oe.alsoServing) await other.stop();
        await n.stop();
        z.cleanup();
        await lab.down();
      },
    };
    return oe;
  } catch (e) {
    await named?.stop();
    zones?.cleanup();
    await lab.down();
    throw e;
  }
}
