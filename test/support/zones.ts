// Builds a signed DNS hierarchy (root, TLDs, zones, children) in a temp dir with the real tools
// (dnssec-keygen/dnssec-signzone, or ldns-keygen/ldns-signzone), ready for test/support/named.ts.
// Parents get NS + glue + DS for each child automatically; the root's KSK becomes the trust anchor.
// Deliberate breakage (wrong DS, expired signatures, corrupted or stripped RRSIGs) is declared per zone.
//
//   const h = buildSignedHierarchy([{ name: '.' }, { name: 'test' }, { name: 'ok.test', records: ['www A 192.0.2.1'] }]);
//   const named = await startNamed({ zones: h.zones });
//   ... h.anchorFile (DS lines), h.bindAnchorFile (trust-anchors { } for delv -a) ...
//   resignZone(h, 'ok.test', oldRecords, newRecords); await named.reload();   // change a zone while served
//   h.cleanup();
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NamedZone } from './named';

export type SignAlgorithm =
  'RSASHA1' | 'NSEC3RSASHA1' | 'RSASHA256' | 'RSASHA512' | 'ECDSAP256SHA256' | 'ECDSAP384SHA384' | 'ED25519' | 'ED448';

export interface Nsec3Spec {
  /** Hex salt; '' or '-' for none. */
  salt?: string;
  iterations?: number;
  optOut?: boolean;
}

export interface ZoneSpec {
  /** Apex without trailing dot; '.' or '' is the root. */
  name: string;
  /** Extra zone-file lines, names relative to the apex (SOA, NS, ns A and delegations are added). */
  records?: string[];
  /** Who signs: BIND tools (default), ldns, or nobody (an unsigned zone). */
  signer?: 'bind' | 'ldns' | 'unsigned';
  algorithm?: SignAlgorithm;
  /** RSA modulus size (default 2048). */
  bits?: number;
  /** Use NSEC3 instead of NSEC. */
  nsec3?: Nsec3Spec;
  /** Signature validity, seconds relative to now (default: one hour ago to 30 days ahead). */
  validity?: { start: number; end: number };
  /**
   * What the parent publishes: the real SHA-256 DS (default), none (insecure delegation), a DS of a key
   * not in the zone, the real key's SHA-1 DS only, or the real key's SHA-1 DS beside a SHA-256 DS of a
   * key not in the zone (RFC 4509 §3: the SHA-1 one must then be ignored).
   */
  parentDs?: 'normal' | 'none' | 'wrong-key' | 'sha1-only' | 'sha1-good-sha256-wrong';
  /** Tampering applied to the signed zone file. */
  tamper?: Array<{ action: 'corrupt-rrsig' | 'strip-rrsig'; name: string; type: string }>;
}

export interface SignedHierarchy {
  dir: string;
  /** One entry per zone, for startNamed({ zones }). */
  zones: NamedZone[];
  /** The root KSK's DS records, zone-file syntax (for `oedns lookup --trust-anchor`). */
  anchorFile: string;
  /** The root KSK as BIND `trust-anchors { . static-key ... };` (for `delv -a`). */
  bindAnchorFile: string;
  /** DNSKEY line of the root KSK. */
  rootKsk: string;
  /** Per zone (apex without dot): the signed zone file's path. */
  files: Map<string, string>;
  cleanup(): void;
}

const ALG_NUMBERS: Record<SignAlgorithm, number> = {
  RSASHA1: 5,
  NSEC3RSASHA1: 7,
  RSASHA256: 8,
  RSASHA512: 10,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
};

/** Whether this machine has the tools (tests skip otherwise). */
export function signingToolsAvailable(): { bind: boolean; ldns: boolean } {
  const has = (cmd: string, args: string[]): boolean => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch (e) {
      // Tools that print usage exit non-zero; ENOENT means absent.
      return (e as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  };
  return { bind: has('dnssec-signzone', ['-h']) && has('dnssec-keygen', ['-h']), ldns: has('ldns-signzone', ['-v']) };
}

const apexOf = (n: string): string => (n === '.' ? '' : n.replace(/\.$/, '').toLowerCase());
const fqdn = (n: string): string => (n === '' ? '.' : `${n}.`);
const labels = (n: string): number => (n === '' ? 0 : n.split('.').length);

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

function stamp(offsetSec: number, withTime = true): string {
  const d = new Date(Date.now() + offsetSec * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return withTime ? d : d.slice(0, 8);
}

/** dnssec-signzone over `zdir`/zone.db (keys found in `zdir`), writing `zdir`/zone.signed. */
function bindSign(zdir: string, origin: string, validity: { start: number; end: number }, nsec3Args: string[] = []): void {
  run(
    'dnssec-signzone',
    [
      '-q',
      '-P',
      '-O',
      'full',
      '-K',
      zdir,
      '-d',
      zdir,
      ...nsec3Args,
      '-s',
      stamp(validity.start),
      '-e',
      stamp(validity.end),
      '-o',
      origin,
      '-f',
      'zone.signed',
      'zone.db',
    ],
    zdir,
  );
}

/** Closest ancestor among the specs. */
function parentOf(name: string, all: string[]): string | null {
  let best: string | null = null;
  for (const p of all) {
    if (p === name) continue;
    const under = p === '' || name.endsWith(`.${p}`);
    if (under && (best === null || labels(p) > labels(best))) best = p;
  }
  return best;
}

interface KeyFiles {
  ksk: string;
  zsk: string;
  wrong?: string;
}

function keygen(spec: ZoneSpec, apex: string, dir: string): KeyFiles {
  const alg = spec.algorithm ?? 'ECDSAP256SHA256';
  const bits = alg.startsWith('RSA') || alg === 'NSEC3RSASHA1' ? ['-b', String(spec.bits ?? 2048)] : [];
  const origin = fqdn(apex);
  if (spec.signer === 'ldns') {
    const a = alg === 'NSEC3RSASHA1' ? 'RSASHA1-NSEC3-SHA1' : alg;
    const ksk = run('ldns-keygen', ['-a', a, ...bits, '-k', origin], dir).trim();
    const zsk = run('ldns-keygen', ['-a', a, ...bits, origin], dir).trim();
    const wrong =
      spec.parentDs === 'wrong-key' || spec.parentDs === 'sha1-good-sha256-wrong'
        ? run('ldns-keygen', ['-a', a, ...bits, '-k', origin], dir).trim()
        : undefined;
    return { ksk, zsk, wrong };
  }
  const base = ['-q', '-K', dir, '-a', alg, ...bits, '-n', 'ZONE'];
  const ksk = run('dnssec-keygen', [...base, '-f', 'KSK', origin], dir).trim();
  const zsk = run('dnssec-keygen', [...base, origin], dir).trim();
  let wrong: string | undefined;
  if (spec.parentDs === 'wrong-key' || spec.parentDs === 'sha1-good-sha256-wrong') {
    const wdir = join(dir, 'wrong');
    mkdirSync(wdir, { recursive: true });
    wrong = join('wrong', run('dnssec-keygen', ['-q', '-K', wdir, '-a', alg, ...bits, '-n', 'ZONE', '-f', 'KSK', origin], dir).trim());
  }
  return { ksk, zsk, wrong };
}

function dsFromKey(keyFileBase: string, apex: string, dir: string, digest: '-1' | '-2' = '-2'): string[] {
  // -f reads a zone file, which needs a TTL; ldns key files have none.
  const tmp = join(dir, `${keyFileBase.replace(/\//g, '_')}.dsin`);
  writeFileSync(tmp, `$TTL 300\n${keyLine(keyFileBase, dir)}\n`);
  const out = run('dnssec-dsfromkey', [digest, '-f', tmp, fqdn(apex)], dir);
  return out.split('\n').filter((l) => /\sDS\s/.test(l));
}

function keyLine(keyFileBase: string, dir: string): string {
  return readFileSync(join(dir, `${keyFileBase}.key`), 'utf8')
    .split('\n')
    .find((l) => /\sDNSKEY\s/.test(l) && !l.startsWith(';'))!
    .trim();
}

function tamper(text: string, t: NonNullable<ZoneSpec['tamper']>): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const tok = line.trim().split(/\s+/);
    const act =
      tok[3] === 'RRSIG' ? t.find((x) => fqdn(apexOf(x.name)) === tok[0]!.toLowerCase() && x.type.toUpperCase() === tok[4]) : undefined;
    if (!act) {
      out.push(line);
      continue;
    }
    if (act.action === 'strip-rrsig') continue;
    // Flip one base64 character in the middle of the signature.
    const sig = tok[tok.length - 1]!;
    const i = Math.floor(sig.length / 2);
    tok[tok.length - 1] = sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1);
    out.push(tok.join(' '));
  }
  return out.join('\n');
}

/**
 * Writes, keys and signs every zone in `specs` (which must include the root) and returns the files.
 * Synchronous: run it once in a before() hook.
 */
export function buildSignedHierarchy(specs: ZoneSpec[], opts: { keepDir?: boolean } = {}): SignedHierarchy {
  const dir = mkdtempSync(join(tmpdir(), 'oedns-zones-'));
  const names = specs.map((s) => apexOf(s.name));
  if (!names.includes('')) throw new Error('buildSignedHierarchy: the hierarchy needs a root zone (name ".")');
  const childDs = new Map<string, string[]>(); // parent apex -> delegation lines
  const files = new Map<string, string>();
  const zones: NamedZone[] = [];
  let rootKsk = '';
  let rootDs: string[] = [];
  // Children first, so their DS records exist when the parent is signed.
  const order = specs.map((s) => ({ s, apex: apexOf(s.name) })).sort((a, b) => labels(b.apex) - labels(a.apex));
  for (const { s, apex } of order) {
    const zdir = join(dir, apex === '' ? 'root' : apex);
    mkdirSync(zdir, { recursive: true });
    const origin = fqdn(apex);
    const nsName = apex === '' ? 'ns.' : `ns.${origin}`;
    const body: string[] = [
      `$ORIGIN ${origin}`,
      '$TTL 300',
      `@ IN SOA ${nsName} hostmaster.${apex === '' ? '' : origin} 1 3600 600 86400 300`,
      `@ IN NS ${nsName}`,
      `${nsName} IN A 127.0.0.1`,
      ...(s.records ?? []),
      ...(childDs.get(apex) ?? []),
    ];
    const unsignedFile = join(zdir, 'zone.db');
    let signedFile = unsignedFile;
    let dsLines: string[] = [];
    if ((s.signer ?? 'bind') === 'unsigned') {
      writeFileSync(unsignedFile, body.join('\n') + '\n');
    } else {
      const keys = keygen(s, apex, zdir);
      const v = s.validity ?? { start: -3600, end: 30 * 86400 };
      if (s.signer === 'ldns') {
        writeFileSync(unsignedFile, body.join('\n') + '\n');
        const n3 = s.nsec3
          ? [
              '-n',
              '-s',
              s.nsec3.salt && s.nsec3.salt !== '-' ? s.nsec3.salt : '-',
              '-t',
              String(s.nsec3.iterations ?? 0),
              ...(s.nsec3.optOut ? ['-p'] : []),
            ]
          : [];
        if (n3[2] === '-') n3.splice(1, 2);
        run(
          'ldns-signzone',
          [...n3, '-i', stamp(v.start), '-e', stamp(v.end), '-o', origin, '-f', 'zone.signed', 'zone.db', keys.zsk, keys.ksk],
          zdir,
        );
      } else {
        body.push(`$INCLUDE ${join(zdir, keys.ksk)}.key`, `$INCLUDE ${join(zdir, keys.zsk)}.key`);
        writeFileSync(unsignedFile, body.join('\n') + '\n');
        const n3 = s.nsec3 ? ['-3', s.nsec3.salt || '-', '-H', String(s.nsec3.iterations ?? 0), ...(s.nsec3.optOut ? ['-A'] : [])] : [];
        bindSign(zdir, origin, v, n3);
      }
      signedFile = join(zdir, 'zone.signed');
      if (s.tamper?.length) writeFileSync(signedFile, tamper(readFileSync(signedFile, 'utf8'), s.tamper));
      dsLines =
        s.parentDs === 'sha1-only'
          ? dsFromKey(keys.ksk, apex, zdir, '-1')
          : s.parentDs === 'sha1-good-sha256-wrong'
            ? [...dsFromKey(keys.ksk, apex, zdir, '-1'), ...dsFromKey(keys.wrong!, apex, zdir)]
            : dsFromKey(keys.wrong ?? keys.ksk, apex, zdir);
      if (apex === '') {
        rootKsk = keyLine(keys.ksk, zdir);
        rootDs = dsLines;
      }
    }
    files.set(apex, signedFile);
    zones.push({ name: apex === '' ? '.' : apex, file: signedFile });
    // The parent delegates: NS, glue, and DS unless told otherwise.
    const parent = apex === '' ? null : parentOf(apex, names);
    if (parent !== null) {
      const lines = [`${origin} IN NS ${nsName}`, `${nsName} IN A 127.0.0.1`];
      if ((s.parentDs ?? 'normal') !== 'none' && (s.signer ?? 'bind') !== 'unsigned') lines.push(...dsLines);
      childDs.set(parent, [...(childDs.get(parent) ?? []), ...lines]);
    }
  }
  if (!rootKsk) throw new Error('buildSignedHierarchy: the root zone must be signed');
  const anchorFile = join(dir, 'anchor.ds');
  writeFileSync(anchorFile, rootDs.join('\n') + '\n');
  const kt = rootKsk.split(/\s+/);
  const i = kt.indexOf('DNSKEY');
  const bindAnchorFile = join(dir, 'anchor.bind');
  writeFileSync(
    bindAnchorFile,
    `trust-anchors {\n  . static-key ${kt[i + 1]} ${kt[i + 2]} ${kt[i + 3]} "${kt.slice(i + 4).join('')}";\n};\n`,
  );
  return {
    dir,
    zones,
    anchorFile,
    bindAnchorFile,
    rootKsk,
    files,
    cleanup() {
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Re-signs one BIND-signed NSEC zone of the hierarchy with its own keys after swapping its records,
 * for tests that change a zone while named serves it (then `named.reload()`). buildSignedHierarchy
 * writes zone.db as header, records, delegations, key $INCLUDEs: only the records move, and the SOA
 * serial grows or named keeps the old zone. Validity: one hour ago to 30 days ahead.
 */
export function resignZone(h: SignedHierarchy, apex: string, oldRecords: string[], newRecords: string[]): void {
  const a = apexOf(apex);
  const zdir = join(h.dir, a === '' ? 'root' : a);
  const dbFile = join(zdir, 'zone.db');
  const lines = readFileSync(dbFile, 'utf8').split('\n');
  const first = lines.indexOf(oldRecords[0]!);
  if (first < 0) throw new Error(`resignZone: the records of ${apex} are not in ${dbFile}`);
  lines.splice(first, oldRecords.length, ...newRecords);
  const soa = lines.findIndex((l) => / IN SOA /.test(l));
  lines[soa] = lines[soa]!.replace(/ (\d+) 3600 600 86400 300$/, (_m, serial: string) => ` ${Number(serial) + 1} 3600 600 86400 300`);
  writeFileSync(dbFile, lines.join('\n'));
  bindSign(zdir, fqdn(a), { start: -3600, end: 30 * 86400 });
}

/** Algorithm number of a SignAlgorithm mnemonic. */
export function algorithmNumber(a: SignAlgorithm): number {
  return ALG_NUMBERS[a];
}

/** Lists the files of a built hierarchy (debugging aid). */
export function listFiles(h: SignedHierarchy): string[] {
  return readdirSync(h.dir, { recursive: true }) as string[];
}
