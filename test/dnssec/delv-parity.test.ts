// Every case of a signed hierarchy served by ONE named (parent and child zones on the same server, the
// hard case for finding zone cuts), asked of both BIND's delv and `oedns lookup` with the same trust
// anchor (the test root's KSK). Both must agree, and agree with the verdict the case was built for.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSignedHierarchy, signingToolsAvailable, type SignedHierarchy, type ZoneSpec } from '../support/zones';
import { namedAvailable, startNamed, type NamedInstance } from '../support/named';
import { netQuery } from '../../src/resolver/net-query';
import { runLookup } from '../../src/cli/lookup';

type Kind = 'secure' | 'insecure' | 'bogus';

const OEDNS = join(__dirname, '..', '..', 'src', 'cli', 'oedns.js');

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** delv's conclusion, from its comment lines (stdout) and its failure log (stderr). */
function delvVerdict(out: { stdout: string; stderr: string }): Kind | 'unknown' {
  // delv prints one verdict per RRset of a CNAME chain; the answer is as weak as its weakest link.
  if (
    /broken trust chain|RRSIG failed to verify|validation failed|insecurity proof failed|no valid signature|RRSIG has expired|bad cache hit|must be secure|not yet valid/.test(
      out.stderr,
    )
  )
    return 'bogus';
  if (/^; (negative response, )?unsigned answer/m.test(out.stdout)) return 'insecure';
  if (/^; (negative response, )?fully validated/m.test(out.stdout)) return 'secure';
  return 'unknown';
}

/** An RFC 3110 RSA public key of `bits` (random modulus: the DNS does not care, only the size matters). */
function fakeRsaKey(bits: number): string {
  const n = randomBytes(bits / 8);
  n[0]! |= 0x80;
  return Buffer.concat([Buffer.from([3, 1, 0, 1]), n]).toString('base64');
}

const ipseckeys = Array.from({ length: 5 }, (_, i) => `gw IPSECKEY 10 1 2 192.0.2.${i + 10} ${fakeRsaKey(4096)}`);

const SPECS: ZoneSpec[] = [
  { name: '.', algorithm: 'RSASHA256' },
  { name: 'test', algorithm: 'ECDSAP256SHA256' },
  {
    name: 'rsa256.test',
    algorithm: 'RSASHA256',
    records: ['www A 192.0.2.1', '*.wild TXT "wildcard"', 'deep.ent.x A 192.0.2.9', ...ipseckeys],
  },
  { name: 'rsa512.test', algorithm: 'RSASHA512', records: ['www A 192.0.2.2'] },
  { name: 'rsasha1.test', algorithm: 'NSEC3RSASHA1', nsec3: { salt: 'ab', iterations: 1 }, records: ['www A 192.0.2.3'] },
  {
    name: 'p256.test',
    algorithm: 'ECDSAP256SHA256',
    records: ['www A 192.0.2.4', 'alias CNAME www.ed25519.test.', 'chain CNAME alias', 'moved DNAME n3.test.'],
  },
  { name: 'p384.test', algorithm: 'ECDSAP384SHA384', records: ['www A 192.0.2.5'] },
  { name: 'ed25519.test', algorithm: 'ED25519', records: ['www A 192.0.2.6', 'out CNAME www.unsigned.test.'] },
  { name: 'ed448.test', algorithm: 'ED448', records: ['www A 192.0.2.7'] },
  {
    name: 'n3.test',
    algorithm: 'ECDSAP256SHA256',
    nsec3: { salt: 'aabbccdd', iterations: 10 },
    records: ['www A 192.0.2.8', '*.wild TXT "n3 wildcard"', 'a.b.c A 192.0.2.10'],
  },
  {
    name: 'optout.test',
    algorithm: 'ECDSAP256SHA256',
    nsec3: { salt: '', iterations: 0, optOut: true },
    records: ['www A 192.0.2.11', '*.wild TXT "opt-out wildcard"'],
  },
  { name: 'child.optout.test', signer: 'unsigned', records: ['www A 192.0.2.12'] },
  { name: 'signed.optout.test', algorithm: 'ED25519', records: ['www A 192.0.2.13'] },
  {
    name: 'many.test',
    signer: 'ldns',
    algorithm: 'ECDSAP256SHA256',
    nsec3: { salt: 'aabb', iterations: 200 },
    records: ['www A 192.0.2.14'],
  },
  { name: 'ldns.test', signer: 'ldns', algorithm: 'ED25519', records: ['www A 192.0.2.15', '*.w TXT "ldns"'] },
  { name: 'ldns3.test', signer: 'ldns', algorithm: 'RSASHA256', nsec3: { salt: '01', iterations: 3 }, records: ['www A 192.0.2.16'] },
  { name: 'unsigned.test', signer: 'unsigned', records: ['www A 192.0.2.17'] },
  { name: 'wrongds.test', parentDs: 'wrong-key', records: ['www A 192.0.2.18'] },
  { name: 'sha1only.test', parentDs: 'sha1-only', records: ['www A 192.0.2.27'] },
  { name: 'sha1ds.test', parentDs: 'sha1-good-sha256-wrong', records: ['www A 192.0.2.28'] },
  { name: 'expired.test', validity: { start: -30 * 86400, end: -86400 }, records: ['www A 192.0.2.19'] },
  { name: 'future.test', validity: { start: 86400, end: 30 * 86400 }, records: ['www A 192.0.2.20'] },
  {
    name: 'corrupt.test',
    records: ['www A 192.0.2.21', 'ok A 192.0.2.22'],
    tamper: [{ action: 'corrupt-rrsig', name: 'www.corrupt.test', type: 'A' }],
  },
  { name: 'stripped.test', records: ['www A 192.0.2.23'], tamper: [{ action: 'strip-rrsig', name: 'www.stripped.test', type: 'A' }] },
  { name: 'kid.ent.p384.test', algorithm: 'ED25519', records: ['www A 192.0.2.25'] },
  { name: 'kid.ent.n3.test', signer: 'unsigned', records: ['www A 192.0.2.26'] },
  {
    name: 'nonsec.test',
    records: ['www A 192.0.2.24'],
    tamper: [
      { action: 'strip-rrsig', name: 'nonsec.test', type: 'NSEC' },
      { action: 'strip-rrsig', name: 'www.nonsec.test', type: 'NSEC' },
      { action: 'strip-rrsig', name: 'ns.nonsec.test', type: 'NSEC' },
    ],
  },
];

interface Case {
  name: string;
  type: string;
  expect: Kind;
  negative?: 'nxdomain' | 'nodata';
  why: string;
  /** delv's verdict where BIND knowingly differs from the RFC we follow (the case says which and why). */
  delv?: Kind;
}

const CASES: Case[] = [
  { name: 'www.rsa256.test', type: 'A', expect: 'secure', why: 'RSASHA256 zone' },
  { name: 'www.rsa512.test', type: 'A', expect: 'secure', why: 'RSASHA512 zone' },
  { name: 'www.rsasha1.test', type: 'A', expect: 'secure', why: 'RSASHA1-NSEC3-SHA1 zone' },
  { name: 'www.p256.test', type: 'A', expect: 'secure', why: 'ECDSAP256SHA256 zone' },
  { name: 'www.p384.test', type: 'A', expect: 'secure', why: 'ECDSAP384SHA384 zone' },
  { name: 'www.ed25519.test', type: 'A', expect: 'secure', why: 'ED25519 zone' },
  { name: 'www.ed448.test', type: 'A', expect: 'secure', why: 'ED448 zone' },
  { name: 'nope.rsa256.test', type: 'A', expect: 'secure', negative: 'nxdomain', why: 'NSEC NXDOMAIN' },
  { name: 'www.rsa256.test', type: 'AAAA', expect: 'secure', negative: 'nodata', why: 'NSEC NODATA' },
  { name: 'ent.x.rsa256.test', type: 'A', expect: 'secure', negative: 'nodata', why: 'NSEC empty non-terminal NODATA' },
  { name: 'a.wild.rsa256.test', type: 'TXT', expect: 'secure', why: 'NSEC wildcard expansion' },
  { name: 'a.wild.rsa256.test', type: 'A', expect: 'secure', negative: 'nodata', why: 'NSEC wildcard NODATA' },
  { name: 'gw.rsa256.test', type: 'IPSECKEY', expect: 'secure', why: 'large IPSECKEY RRset over TCP' },
  { name: 'www.n3.test', type: 'A', expect: 'secure', why: 'NSEC3 zone, positive' },
  { name: 'nope.n3.test', type: 'A', expect: 'secure', negative: 'nxdomain', why: 'NSEC3 NXDOMAIN (closest encloser proof)' },
  { name: 'www.n3.test', type: 'TXT', expect: 'secure', negative: 'nodata', why: 'NSEC3 NODATA' },
  { name: 'b.c.n3.test', type: 'A', expect: 'secure', negative: 'nodata', why: 'NSEC3 empty non-terminal' },
  { name: 'x.y.wild.n3.test', type: 'TXT', expect: 'secure', why: 'NSEC3 wildcard expansion' },
  { name: 'q.wild.n3.test', type: 'MX', expect: 'secure', negative: 'nodata', why: 'NSEC3 wildcard NODATA' },
  { name: 'www.optout.test', type: 'A', expect: 'secure', why: 'opt-out zone, signed name' },
  { name: 'www.child.optout.test', type: 'A', expect: 'insecure', why: 'unsigned delegation inside an NSEC3 opt-out span' },
  { name: 'www.signed.optout.test', type: 'A', expect: 'secure', why: 'signed child of an opt-out zone' },
  // RFC 5155 §9.2: no AD when the next closer name is covered by an opt-out NSEC3 (Unbound, dnsjava
  // agree). BIND 9.18 applies it to wildcard answers only; it calls the NXDOMAIN, the wildcard NODATA
  // and the DS NODATA secure.
  {
    name: 'nope.optout.test',
    type: 'A',
    expect: 'insecure',
    negative: 'nxdomain',
    why: 'NXDOMAIN whose next closer name is in an opt-out span',
    delv: 'secure',
  },
  { name: 'x.wild.optout.test', type: 'TXT', expect: 'insecure', why: 'wildcard answer whose next closer name is in an opt-out span' },
  {
    name: 'x.wild.optout.test',
    type: 'A',
    expect: 'insecure',
    negative: 'nodata',
    why: 'wildcard NODATA whose next closer name is in an opt-out span',
    delv: 'secure',
  },
  {
    name: 'child.optout.test',
    type: 'DS',
    expect: 'insecure',
    negative: 'nodata',
    why: 'DS NODATA proven only by an opt-out span',
    delv: 'secure',
  },
  { name: 'nope.many.test', type: 'A', expect: 'insecure', negative: 'nxdomain', why: 'NSEC3 iterations above the RFC 9276 limit' },
  { name: 'www.ldns.test', type: 'A', expect: 'secure', why: 'zone signed with ldns-signzone' },
  { name: 'nope.ldns.test', type: 'A', expect: 'secure', negative: 'nxdomain', why: 'ldns NSEC NXDOMAIN' },
  { name: 'z.w.ldns.test', type: 'TXT', expect: 'secure', why: 'ldns wildcard' },
  { name: 'nope.ldns3.test', type: 'A', expect: 'secure', negative: 'nxdomain', why: 'ldns NSEC3 NXDOMAIN' },
  { name: 'www.unsigned.test', type: 'A', expect: 'insecure', why: 'unsigned child (no DS, NSEC proves it)' },
  { name: 'chain.p256.test', type: 'A', expect: 'secure', why: 'CNAME chain across zones, every link signed' },
  { name: 'www.moved.p256.test', type: 'A', expect: 'secure', why: 'DNAME into another zone, synthesised CNAME, signed target' },
  {
    name: 'nope.moved.p256.test',
    type: 'A',
    expect: 'secure',
    negative: 'nxdomain',
    why: 'DNAME to a name the target zone denies (NSEC3)',
  },
  { name: 'out.ed25519.test', type: 'A', expect: 'insecure', why: 'CNAME from a signed zone into an unsigned one' },
  { name: 'www.wrongds.test', type: 'A', expect: 'bogus', why: 'DS points at a key the zone does not have' },
  { name: 'www.sha1only.test', type: 'A', expect: 'secure', why: 'a SHA-1 DS alone is used' },
  {
    name: 'www.sha1ds.test',
    type: 'A',
    expect: 'bogus',
    why: 'RFC 4509 §3: the right SHA-1 DS is ignored beside a SHA-256 DS (of another key)',
  },
  { name: 'www.expired.test', type: 'A', expect: 'bogus', why: 'signatures expired' },
  { name: 'www.future.test', type: 'A', expect: 'bogus', why: 'signatures not yet valid' },
  { name: 'www.corrupt.test', type: 'A', expect: 'bogus', why: 'corrupted RRSIG' },
  { name: 'ok.corrupt.test', type: 'A', expect: 'secure', why: 'intact RRset next to a corrupted one' },
  { name: 'www.stripped.test', type: 'A', expect: 'bogus', why: 'stripped RRSIG' },
  { name: 'nope.nonsec.test', type: 'A', expect: 'bogus', negative: 'nxdomain', why: 'NXDOMAIN whose NSEC signatures were stripped' },
  { name: 'www.kid.ent.p384.test', type: 'A', expect: 'secure', why: 'signed child below an empty non-terminal of its parent' },
  { name: 'www.kid.ent.n3.test', type: 'A', expect: 'insecure', why: 'unsigned child below an NSEC3 empty non-terminal (full cut walk)' },
  { name: 'test', type: 'DNSKEY', expect: 'secure', why: 'DNSKEY at a zone apex' },
  { name: 'rsa256.test', type: 'DS', expect: 'secure', why: 'DS RRset from the parent side of a same-server cut' },
  { name: 'unsigned.test', type: 'DS', expect: 'secure', negative: 'nodata', why: 'DS NODATA proof at an insecure delegation' },
];

describe('DNSSEC validation: oedns lookup agrees with delv on a signed hierarchy (one named for all zones)', function () {
  this.timeout(60_000);
  let h: SignedHierarchy | undefined;
  let named: NamedInstance | undefined;

  before(async function () {
    if (process.env.OEDNS_SKIP_INTEGRATION === '1') this.skip();
    const tools = signingToolsAvailable();
    if (!namedAvailable() || !tools.bind || !tools.ldns) {
      console.warn('    skipped: named, BIND signing tools or ldns-signzone not installed');
      this.skip();
    }
    h = buildSignedHierarchy(SPECS);
    named = await startNamed({ zones: h.zones });
  });

  after(async () => {
    await named?.stop();
    h?.cleanup();
  });

  for (const c of CASES) {
    it(`${c.why}: ${c.name}/${c.type} is ${c.expect}${c.negative ? ` (${c.negative})` : ''}`, async () => {
      const [delv, oedns] = await Promise.all([
        run('delv', ['-a', h!.bindAnchorFile, '+root=.', '@127.0.0.1', '-p', String(named!.port), c.name, c.type]),
        run(process.execPath, [OEDNS, 'lookup', '--server', named!.endpoint, '--trust-anchor', h!.anchorFile, '--json', c.name, c.type]),
      ]);
      let report;
      try {
        report = JSON.parse(oedns.stdout);
      } catch {
        assert.fail(`oedns lookup printed no JSON (exit ${oedns.code}): ${oedns.stdout}${oedns.stderr}`);
      }
      assert.deepEqual(Object.keys(report), ['name', 'type', 'rcode', 'verdict', 'reason', 'negative', 'records', 'chain']);
      const dv = delvVerdict(delv);
      let detail = `oedns: ${report.verdict} (${report.reason}); delv: ${dv}\n${delv.stdout}${delv.stderr}`;
      if (report.verdict !== c.expect || dv !== (c.delv ?? c.expect)) {
        // Explain the disagreement with delv's validator trace.
        const trace = await run('delv', [
          '-a',
          h!.bindAnchorFile,
          '+root=.',
          '+vtrace',
          '@127.0.0.1',
          '-p',
          String(named!.port),
          c.name,
          c.type,
        ]);
        detail += `\ndelv +vtrace:\n${trace.stderr.slice(-4000)}`;
      }
      assert.equal(report.verdict, c.expect, detail);
      assert.equal(dv, c.delv ?? c.expect, detail);
      assert.equal(oedns.code, c.expect === 'bogus' ? 1 : 0);
      assert.equal(report.negative, c.negative ?? null);
      if (c.expect !== 'bogus' && !c.negative) assert.ok(report.records.length > 0, 'records listed');
      assert.equal(report.chain[0].zone, '.');
    });
  }

  it('fetches the large IPSECKEY RRset over TCP after a truncated UDP answer', async () => {
    const seen: string[] = [];
    const q = netQuery({ host: '127.0.0.1', port: named!.port, onQuery: (_n, _t, tr) => seen.push(tr) });
    const m = await q('gw.rsa256.test', 45);
    assert.deepEqual(seen, ['udp', 'tcp']);
    assert.equal(m.answers.filter((r) => r.type === 45).length, 5);
  });

  it('says which cut made a name insecure and which key failed', async () => {
    const o = { server: named!.endpoint, trustAnchor: h!.anchorFile };
    const ins = await runLookup('www.unsigned.test', 'A', o);
    assert.equal(ins.report.verdict, 'insecure');
    assert.match(ins.report.reason, /^unsigned-delegation: .*unsigned\.test\./);
    assert.deepEqual(
      ins.report.chain.map((l) => [l.zone, l.verdict]),
      [
        ['.', 'secure'],
        ['test.', 'secure'],
        ['unsigned.test.', 'insecure'],
      ],
    );
    const bad = await runLookup('www.corrupt.test', 'A', o);
    assert.equal(bad.exitCode, 1);
    assert.match(bad.report.reason, /^sig-invalid: RRSIG A alg 13 tag \d+ over www\.corrupt\.test\.\/A/);
  });

  it('is indeterminate when no anchor covers the name (the built-in root anchors do not match the test root)', async () => {
    const r = await runLookup('www.rsa256.test', 'A', { server: named!.endpoint });
    assert.equal(r.report.verdict, 'bogus'); // the test root's DNSKEY set matches no IANA root DS
    assert.equal(r.exitCode, 1);
  });

  it('island of trust: names under the anchor validate from it, names outside every anchor are insecure (no-anchor)', async () => {
    // The anchor is rsa256.test's KSK, in BIND syntax (both delv and oedns read it).
    const zoneText = readFileSync(h!.files.get('rsa256.test')!, 'utf8');
    const t = zoneText
      .split('\n')
      .find((l) => /\sDNSKEY\s+257\s/.test(l) && !l.startsWith(';'))!
      .trim()
      .split(/\s+/);
    const i = t.indexOf('DNSKEY');
    const file = join(h!.dir, 'island.bind');
    writeFileSync(
      file,
      `trust-anchors {\n  rsa256.test. static-key ${t[i + 1]} ${t[i + 2]} ${t[i + 3]} "${t.slice(i + 4).join('')}";\n};\n`,
    );
    for (const [name, want] of [
      ['www.rsa256.test', 'secure'],
      ['www.p256.test', 'insecure'],
      ['www.unsigned.test', 'insecure'],
    ] as const) {
      const [delv, oedns] = await Promise.all([
        run('delv', ['-a', file, '+root=rsa256.test', '@127.0.0.1', '-p', String(named!.port), name, 'A']),
        runLookup(name, 'A', { server: named!.endpoint, trustAnchor: file }),
      ]);
      const detail = `${name}: oedns ${oedns.report.verdict} (${oedns.report.reason}); delv:\n${delv.stdout}${delv.stderr}`;
      assert.equal(oedns.report.verdict, want, detail);
      // delv labels data it did not try to validate (no anchor above it) "; authoritative": BIND's insecure.
      assert.equal(/^; authoritative$/m.test(delv.stdout) ? 'insecure' : delvVerdict(delv), want, detail);
      if (want === 'insecure') assert.match(oedns.report.reason, /^no-anchor: /, detail);
      assert.equal(oedns.exitCode, 0);
    }
  });
});
