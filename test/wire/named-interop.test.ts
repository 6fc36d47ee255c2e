// The wire layer against the real BIND tools: zones signed by dnssec-signzone (NSEC and NSEC3), served by
// named, queried from Node over UDP and TCP, and compared with dig's printing, named-checkzone -D output
// and our own parse of the signed zone file. Signatures made by dnssec-signzone are verified with our
// canonical forms, which only works if every byte of the canonical RRset is right.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namedAvailable, startNamed, type NamedInstance } from '../support/named';
import { canonicalRRsetWire, keyTag, rrsigSignedPrefix } from '../../src/wire/canonical';
import { decodeMessage, encodeMessage, makeQuery, makeResponse } from '../../src/wire/message';
import { canonicalName, labelsToName, nameEquals, nameToLabels } from '../../src/wire/name';
import { formatRR, parseRR, parseZone } from '../../src/wire/presentation';
import { decodeDnskey, decodeIpseckey, decodeRrsig } from '../../src/wire/rdata';
import { typeFromName, typeName } from '../../src/wire/types-registry';
import type { Message, RR } from '../../src/wire/types';
import { toBase64 } from '../../src/wire/text';
import { dig, normalizeLine, rsaDnsKey, signZone, tcpQuery, testZone, toolsAvailable, udpQuery } from './interop-support';
import { hex } from './helpers';

const ZONES = [
  { origin: 'wire.example', alg: 'ECDSAP256SHA256', nsec3: undefined },
  { origin: 'wire3.example', alg: 'RSASHA256', nsec3: { salt: 'aabbccdd', iterations: 5 } },
];

const QUERIES: [string, string][] = [
  ['', 'SOA'],
  ['', 'NS'],
  ['', 'MX'],
  ['', 'TXT'],
  ['', 'DNSKEY'],
  ['', 'CAA'],
  ['www.', 'A'],
  ['www.', 'AAAA'],
  ['alias.', 'A'],
  ['Host.', 'IPSECKEY'],
  ['host.', 'IPSECKEY'],
  ['ed.', 'IPSECKEY'],
  ['odd\\.label.', 'TXT'],
  ['_sip._udp.', 'SRV'],
  ['x.wild.', 'TXT'],
  ['nx.', 'A'],
  ['www.', 'MX'],
  ['child.', 'DS'],
  ['a.child.', 'A'],
  // Falls between ed and Host: the NSEC proof's next name keeps its capital (RFC 6840 §5.1).
  ['eee.', 'A'],
];

/** RRset identity; RRSIGs are grouped by the type they cover, as a reply carries only the relevant ones. */
function rrKey(rr: RR): string {
  const covered = rr.type === 46 ? `/${(rr.rdata[0]! << 8) | rr.rdata[1]!}` : '';
  return `${canonicalName(rr.name)}/${rr.type}/${rr.class}${covered}`;
}

function multiset(lines: string[]): string[] {
  return lines.map(normalizeLine).sort();
}

function dnskeyToPublicKey(rdata: Uint8Array): { key: KeyObject; alg: number } {
  const k = decodeDnskey(rdata);
  if (k.algorithm === 13) {
    const x = Buffer.from(k.publicKey.subarray(0, 32)).toString('base64url');
    const y = Buffer.from(k.publicKey.subarray(32)).toString('base64url');
    return { key: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' }), alg: 13 };
  }
  const eLen = k.publicKey[0]!;
  const e = Buffer.from(k.publicKey.subarray(1, 1 + eLen)).toString('base64url');
  const n = Buffer.from(k.publicKey.subarray(1 + eLen)).toString('base64url');
  return { key: createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' }), alg: k.algorithm };
}

describe('wire interop with BIND (named, dig, dnssec-signzone, named-checkzone)', function () {
  let dir = '';
  let named: NamedInstance | undefined;
  const signedFiles = new Map<string, string>();

  before(async function () {
    if (process.env.OEDNS_SKIP_INTEGRATION === '1') this.skip();
    const missing = namedAvailable() ? toolsAvailable(['dig', 'dnssec-keygen', 'dnssec-signzone', 'named-checkzone']) : 'named';
    if (missing) {
      console.log(`    (skipped: ${missing} is not installed)`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'oedns-wire-'));
    const ipseckey = toBase64(rsaDnsKey(4096));
    for (const z of ZONES) signedFiles.set(z.origin, signZone(dir, z.origin, testZone(z.origin, ipseckey), z.alg, z.nsec3));
    named = await startNamed({ zones: ZONES.map((z) => ({ name: z.origin, file: signedFiles.get(z.origin)! })) });
  });

  after(async () => {
    await named?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const z of ZONES) {
    describe(`${z.origin} (${z.nsec3 ? 'NSEC3' : 'NSEC'}, ${z.alg})`, () => {
      const replies = new Map<string, Message>();

      it('decodes every reply named sends and prints each RR exactly as dig does', async () => {
        for (const [prefix, qtype] of QUERIES) {
          const qname = prefix + z.origin;
          const q = makeQuery(qname, typeFromName(qtype), { do: true, udpSize: 4096, rd: false });
          // named caps UDP answers at 1232 bytes (max-udp-size): big ones come with TC, then over TCP.
          let m = decodeMessage(await udpQuery(named!.port, encodeMessage(q)));
          if (m.tc) m = decodeMessage(await tcpQuery(named!.port, encodeMessage(q)));
          assert.equal(m.id, q.id);
          assert.ok(!m.tc);
          assert.ok(m.edns?.do, 'named echoes DO');
          replies.set(`${qname} ${qtype}`, m);
          const ours = [...m.answers, ...m.authorities, ...m.additionals].map(formatRR);
          const theirs = dig(named!.port, qname, qtype);
          assert.deepEqual(multiset(ours), multiset(theirs), `${qname} ${qtype}`);
          // Exact layout too (tabs included), line by line as sets.
          assert.deepEqual([...ours].sort(), [...theirs].sort(), `${qname} ${qtype} (layout)`);
        }
      });

      it('re-encodes replies that decode to the same message, compressed and not', () => {
        for (const m of replies.values()) {
          assert.deepEqual(decodeMessage(encodeMessage(m)), m);
          assert.deepEqual(decodeMessage(encodeMessage(m, { compress: false })), m);
        }
      });

      it('reads NXDOMAIN with its denial proof and NODATA', () => {
        const nx = replies.get(`nx.${z.origin} A`)!;
        assert.equal(nx.rcode, 3);
        assert.ok(nx.authorities.some((r) => r.type === (z.nsec3 ? 50 : 47)));
        const nodata = replies.get(`www.${z.origin} MX`)!;
        assert.equal(nodata.rcode, 0);
        assert.equal(nodata.answers.length, 0);
      });

      it('carries all four IPSECKEY gateway types with a 4096-bit RSA key', () => {
        const m = replies.get(`Host.${z.origin} IPSECKEY`)!;
        const keys = m.answers.filter((r) => r.type === 45).map((r) => decodeIpseckey(r.rdata));
        assert.deepEqual(keys.map((k) => [k.gatewayType, k.gateway]).sort(), [
          [0, null],
          [1, '192.0.2.38'],
          [2, '2001:db8:0:8002::2000:1'],
          [3, 'GW.Wire.Example'],
        ]);
        for (const k of keys) assert.equal((k.publicKey.length - 1 - k.publicKey[0]!) * 8, 4096);
        assert.equal(decodeIpseckey(replies.get(`ed.${z.origin} IPSECKEY`)!.answers.find((r) => r.type === 45)!.rdata).algorithm, 4);
      });

      it('gets a truncated reply over small UDP and the whole RRset over TCP', async () => {
        const q = makeQuery(`host.${z.origin}`, 45, { do: true, udpSize: 512, rd: false });
        const small = decodeMessage(await udpQuery(named!.port, encodeMessage(q)));
        assert.ok(small.tc);
        const full = decodeMessage(await tcpQuery(named!.port, encodeMessage(q)));
        assert.ok(!full.tc);
        assert.equal(full.answers.filter((r) => r.type === 45).length, 4);
        assert.ok(encodeMessage(full).length > 2048);
        // Our own truncation of the full answer keeps it under the client's size.
        const cut = encodeMessage(full, { maxSize: 512 });
        assert.ok(cut.length <= 512 && decodeMessage(cut).tc);
      });

      it('verifies dnssec-signzone signatures with canonicalRRsetWire and rrsigSignedPrefix', () => {
        const keys = replies.get(`${z.origin} DNSKEY`)!.answers.filter((r) => r.type === 48);
        const byTag = new Map(keys.map((k) => [keyTag(k.rdata), dnskeyToPublicKey(k.rdata)]));
        let checked = 0;
        for (const m of replies.values()) {
          const all = [...m.answers, ...m.authorities];
          for (const sigRR of all.filter((r) => r.type === 46)) {
            const sig = decodeRrsig(sigRR.rdata);
            const rrset = all.filter((r) => r.type === sig.typeCovered && nameEquals(r.name, sigRR.name));
            let owner = sigRR.name;
            // Wildcard expansion: the RRSIG labels field is smaller than the owner's (RFC 4035 §5.3.2).
            const labels = nameToLabels(owner);
            if (sig.labels < labels.length) owner = labelsToName([Buffer.from('*'), ...labels.slice(labels.length - sig.labels)]);
            const data = Buffer.concat([
              rrsigSignedPrefix(sigRR.rdata),
              canonicalRRsetWire(
                rrset.map((r) => ({ ...r, name: owner })),
                sig.originalTtl,
              ),
            ]);
            const k = byTag.get(sig.keyTag)!;
            assert.ok(k, `key ${sig.keyTag} for ${sigRR.name} ${typeName(sig.typeCovered)}`);
            const ok =
              k.alg === 13
                ? verify('sha256', data, { key: k.key, dsaEncoding: 'ieee-p1363' }, sig.signature)
                : verify('sha256', data, k.key, sig.signature);
            assert.ok(ok, `signature over ${sigRR.name} ${typeName(sig.typeCovered)} verifies`);
            checked++;
          }
        }
        assert.ok(checked >= 20, `checked ${checked} signatures`);
        if (!z.nsec3) {
          const nx = replies.get(`eee.${z.origin} A`)!;
          const nsec = nx.authorities.find((r) => r.type === 47 && nameEquals(r.name, `ed.${z.origin}`));
          assert.ok(nsec && formatRR(nsec).includes(`Host.${z.origin}.`), 'a signed NSEC with a mixed-case next name was checked');
        }
      });

      it('parses the signed zone file into the same RDATA bytes named sends', () => {
        const zoneRRs = parseZone(readFileSync(signedFiles.get(z.origin)!, 'utf8'));
        const fromZone = new Map<string, string[]>();
        for (const rr of zoneRRs) fromZone.set(rrKey(rr), [...(fromZone.get(rrKey(rr)) ?? []), hex(rr.rdata)]);
        let compared = 0;
        for (const m of replies.values()) {
          const sets = new Map<string, string[]>();
          // Glue and the delegation NS in a referral are not authoritative data of the zone file's owner
          // set in every case, but they are in the file: compare everything in answer and authority.
          for (const rr of [...m.answers, ...m.authorities]) {
            if (rr.name.startsWith('x.wild')) continue; // synthesised from the wildcard
            sets.set(rrKey(rr), [...(sets.get(rrKey(rr)) ?? []), hex(rr.rdata)]);
          }
          for (const [k, v] of sets) {
            assert.deepEqual([...v].sort(), [...(fromZone.get(k) ?? [])].sort(), k);
            compared++;
          }
        }
        assert.ok(compared > 20);
      });

      it('prints the parsed signed zone as named-checkzone -D does', () => {
        const text = readFileSync(signedFiles.get(z.origin)!, 'utf8');
        const ours = parseZone(text).map(formatRR);
        const theirs = execFileSync('named-checkzone', ['-q', '-D', '-o', '-', z.origin, signedFiles.get(z.origin)!], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l !== '' && !l.startsWith(';'));
        assert.deepEqual(multiset(ours), multiset(theirs));
      });
    });
  }

  it('decodes the query dig sends (EDNS, DO, cookie option) and dig reads our reply', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    let seen: Message | undefined;
    sock.on('message', (msg, rinfo) => {
      seen = decodeMessage(msg);
      const r = makeResponse(seen, 0);
      r.aa = true;
      r.answers = [
        parseRR(`${seen.questions[0]!.name}. 60 IN IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==`),
      ];
      sock.send(encodeMessage(r), rinfo.port, rinfo.address);
    });
    try {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          'dig',
          [
            '+dnssec',
            '+bufsize=1400',
            '+time=2',
            '+tries=1',
            '+nocmd',
            '+noall',
            '+answer',
            '-p',
            String(port),
            '@127.0.0.1',
            'Gw.Example',
            'IPSECKEY',
          ],
          (err, stdout) => (err ? reject(err) : resolve(stdout)),
        ),
      );
      assert.ok(seen);
      assert.deepEqual(seen.questions, [{ name: 'Gw.Example', type: 45, class: 1 }]);
      assert.ok(seen.rd && seen.edns?.do);
      assert.equal(seen.edns?.udpSize, 1400);
      assert.ok(
        seen.edns?.options.some((o) => o.code === 10),
        'dig sends a DNS cookie (RFC 7873)',
      );
      assert.equal(out.trim(), 'Gw.Example.\t\t60\tIN\tIPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==');
    } finally {
      sock.close();
    }
  });
});
