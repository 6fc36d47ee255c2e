import assert from 'node:assert/strict';
import { ParseError } from '../../src/util/errors';
import { formatRdata, formatRR, parseRdataText, parseRR, parseTtl, parseZone } from '../../src/wire/presentation';
import { typeFromName, typeName } from '../../src/wire/types-registry';
import { fromBase32hex, toBase32hex } from '../../src/wire/text';
import { rfc4025Examples } from '../vectors/wire-rfc4025-3';
import { rfc4034_2_3_dnskey, rfc4034_3_3_rrsig, rfc4034_4_3_nsec, rfc4034_5_4_ds } from '../vectors/wire-rfc4034';
import { rfc5155Nsec3, rfc5155Nsec3param } from '../vectors/wire-rfc5155';
import { hex, throwsCode, unhex } from './helpers';

describe('wire/presentation', () => {
  describe('RFC examples: text → wire → text as BIND prints it', () => {
    const cases: { name: string; type: number; input: string; text: string; hex: string }[] = [
      ...rfc4025Examples.map((v) => ({ name: `RFC 4025 §3.3 ${v.name}`, type: 45, input: v.input, text: v.text, hex: v.hex })),
      {
        name: 'RFC 4034 §2.3 DNSKEY',
        type: 48,
        input: rfc4034_2_3_dnskey.text,
        text: rfc4034_2_3_dnskey.text,
        hex: rfc4034_2_3_dnskey.hex,
      },
      { name: 'RFC 4034 §3.3 RRSIG', type: 46, input: rfc4034_3_3_rrsig.text, text: rfc4034_3_3_rrsig.text, hex: rfc4034_3_3_rrsig.hex },
      { name: 'RFC 4034 §4.3 NSEC', type: 47, input: rfc4034_4_3_nsec.text, text: rfc4034_4_3_nsec.text, hex: rfc4034_4_3_nsec.hex },
      {
        name: 'RFC 4034 §5.4 DS',
        type: 43,
        input: '60485 5 1 ( 2BB183AF5F22588179A53B0A\n 98631FAD1A292118 )',
        text: rfc4034_5_4_ds.text,
        hex: rfc4034_5_4_ds.hex,
      },
      { name: 'RFC 5155 NSEC3PARAM', type: 51, input: rfc5155Nsec3param.input, text: rfc5155Nsec3param.text, hex: rfc5155Nsec3param.hex },
      { name: 'RFC 5155 NSEC3', type: 50, input: rfc5155Nsec3.input, text: rfc5155Nsec3.text, hex: rfc5155Nsec3.hex },
    ];
    for (const c of cases) {
      it(c.name, () => {
        assert.equal(hex(parseRdataText(c.type, c.input)), c.hex);
        assert.equal(formatRdata(c.type, unhex(c.hex)), c.text);
        assert.equal(hex(parseRdataText(c.type, c.text)), c.hex);
      });
    }
  });

  it('prints other types as named-rrchecker does', () => {
    const rows: [string, string][] = [
      ['DS', '60485 13 2 2BB183AF5F22588179A53B0A98631FAD1A2921182BB183AF5F225881 79A53B0A'],
      ['TLSA', '3 1 1 2BB183AF5F22588179A53B0A98631FAD1A2921182BB183AF5F225881 79A53B0A'],
      ['SSHFP', '4 2 2BB183AF5F22588179A53B0A98631FAD1A2921182BB183AF5F225881 79A53B0A'],
      ['CAA', '128 issue "letsencrypt.org; x=\\"y\\""'],
      ['NSEC3', '1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR'],
      ['NSEC3PARAM', '1 0 0 -'],
      ['HINFO', '"PC" "Linux os"'],
      ['SRV', '0 5 5060 sip.example.'],
      ['NAPTR', '100 10 "U" "E2U+sip" "!^.*$!sip:x@y!" .'],
      ['TXT', '""'],
      ['TXT', '"\\000\\009 ~\\127\\128"'],
      ['TXT', '"a\\"b" "c\\\\d" "e f" "\\255;"'],
      ['RP', 'mbox.example. txt.example.'],
      ['AAAA', '::ffff:1.2.3.4'],
      ['SOA', 'ns1.wire.test. hostmaster.wire.test. 2026112301 7200 900 1209600 300'],
      ['TYPE999', '\\# 40 0102030405060708090A0102030405060708090A0102030405060708 090A0102030405060708090A'],
      ['TYPE999', '\\# 0'],
    ];
    for (const [t, text] of rows) {
      const type = typeFromName(t);
      assert.equal(formatRdata(type, parseRdataText(type, text)), text, t);
    }
    assert.equal(hex(parseRdataText(16, '"a\\"b" "c\\\\d" "e f" "\\255;"')), '0361226203635c640365206602ff3b');
  });

  it('falls back to the RFC 3597 form for RDATA that does not parse', () => {
    assert.equal(formatRdata(1, unhex('0102')), '\\# 2 0102');
    assert.equal(formatRdata(45, unhex('0a0902')), '\\# 3 0A0902');
    assert.equal(formatRdata(29, unhex('00')), '\\# 1 00', 'LOC has no text form here');
    assert.equal(hex(parseRdataText(1, '\\# 4 7f000001')), '7f000001');
    throwsCode(() => parseRdataText(1, '\\# 5 7f000001'), ParseError, 'bad-rdata');
    throwsCode(() => parseRdataText(29, '52 22 23.000 N'), ParseError, 'bad-rdata');
  });

  it('formats whole RRs with dig column layout', () => {
    assert.equal(
      formatRR({ name: 'wire.test', type: 51, class: 1, ttl: 0, rdata: parseRdataText(51, '1 0 5 AABBCCDD') }),
      'wire.test.\t\t0\tIN\tNSEC3PARAM 1 0 5 AABBCCDD',
    );
    assert.equal(
      formatRR({ name: 'www.wire.test', type: 1, class: 1, ttl: 3600, rdata: unhex('c0000250') }),
      'www.wire.test.\t\t3600\tIN\tA\t192.0.2.80',
    );
    assert.equal(
      formatRR({ name: 'Host.wire3.test', type: 45, class: 1, ttl: 300, rdata: unhex('0a0002') }),
      'Host.wire3.test.\t300\tIN\tIPSECKEY 10 0 2 .',
    );
    assert.equal(
      formatRR({
        name: '77B0F6TJH2N1BD6SQGJ6ECA920O0LTEC.wire3.test',
        type: 50,
        class: 1,
        ttl: 300,
        rdata: parseRdataText(50, '1 1 5 AABBCCDD 88HQU62HOS3GOBQ3H6CUCT4HSRFNKPUS NS'),
      }),
      '77B0F6TJH2N1BD6SQGJ6ECA920O0LTEC.wire3.test. 300 IN NSEC3 1 1 5 AABBCCDD 88HQU62HOS3GOBQ3H6CUCT4HSRFNKPUS NS',
    );
    assert.equal(formatRR({ name: '', type: 2, class: 3, ttl: 1, rdata: unhex('00') }), '.\t\t\t1\tCH\tNS\t.');
  });

  it('parses single RRs with optional TTL and class in either order', () => {
    const a = parseRR('www.example. 300 IN A 192.0.2.1');
    assert.deepEqual({ ...a, rdata: hex(a.rdata) }, { name: 'www.example', type: 1, class: 1, ttl: 300, rdata: 'c0000201' });
    assert.equal(parseRR('www IN 1h A 192.0.2.1', { origin: 'example' }).ttl, 3600);
    assert.equal(parseRR('www A 192.0.2.1', { origin: 'example', ttl: 5 }).name, 'www.example');
    assert.equal(parseRR('@ CH TXT "x"', { origin: 'a', ttl: 1 }).class, 3);
    const mx = parseRR('x 1 MX 10 mail', { origin: 'Example.COM' });
    assert.equal(hex(mx.rdata), '000a' + '046d61696c074578616d706c6503434f4d00');
    throwsCode(() => parseRR('www A 192.0.2.1'), ParseError, 'no-ttl');
    throwsCode(() => parseRR('www 1 BOGUS 1'), ParseError, 'unknown-type');
    throwsCode(() => parseRR('www 1 A 192.0.2.1 extra'), ParseError, 'bad-rdata');
    throwsCode(() => parseRR('www 1 IPSECKEY 10 0 2 1.2.3.4 AQID'), ParseError, 'bad-rdata');
    throwsCode(() => parseRR('www 1 IPSECKEY 10 5 2 . AQID'), ParseError, 'bad-rdata');
    throwsCode(() => parseRR('www 1 TXT ("a"'), ParseError, 'unbalanced-parens');
    throwsCode(() => parseRR('www 1 TXT "a'), ParseError, 'unbalanced-quotes');
    throwsCode(() => parseRR('www 1 DNSKEY 256 3 13 !!!!'), ParseError, 'bad-base64');
  });

  it('round-trips IPSECKEY presentation for every gateway type and algorithm', () => {
    for (const text of [
      '10 0 2 . AQID',
      '1 1 1 10.0.0.1 AQID',
      '255 2 3 ::1 AQID',
      '0 3 4 gw.example. AQID',
      '7 1 77 127.0.0.1 AQID',
      '10 0 2 .',
    ]) {
      const rd = parseRdataText(45, text);
      assert.equal(formatRdata(45, rd), text);
    }
    // Relative gateway names follow the origin.
    assert.equal(formatRdata(45, parseRR('h 1 IPSECKEY 10 3 2 gw AQID', { origin: 'example' }).rdata), '10 3 2 gw.example. AQID');
  });

  it('parses a zone with directives, continuation, omitted fields and comments', () => {
    const zone = [
      '$ORIGIN example.',
      '$TTL 1h',
      '@ IN SOA ns hostmaster ( 1 ; serial',
      '   2h 15m 2w 5m )',
      '  NS ns ; same owner',
      'ns 60 A 192.0.2.1',
      '   AAAA 2001:db8::1',
      'txt TXT "semi;colon" unquoted "paren(" ; comment "quoted"',
      'a\\.b CNAME @',
      '$ORIGIN sub.example.',
      'x TYPE65280 \\# 2 abcd',
      'y.example. 7 CLASS3 TXT x',
    ].join('\n');
    const rrs = parseZone(zone);
    assert.deepEqual(
      rrs.map((r) => [r.name, typeName(r.type), r.ttl, r.class]),
      [
        ['example', 'SOA', 3600, 1],
        ['example', 'NS', 3600, 1],
        ['ns.example', 'A', 60, 1],
        ['ns.example', 'AAAA', 3600, 1],
        ['txt.example', 'TXT', 3600, 1],
        ['a\\.b.example', 'CNAME', 3600, 1],
        ['x.sub.example', 'TYPE65280', 3600, 1],
        ['y.example', 'TXT', 7, 3],
      ],
    );
    assert.equal(formatRdata(6, rrs[0]!.rdata), 'ns.example. hostmaster.example. 1 7200 900 1209600 300');
    assert.equal(formatRdata(16, rrs[4]!.rdata), '"semi;colon" "unquoted" "paren("');
    throwsCode(() => parseZone('$INCLUDE other.zone'), ParseError, 'unsupported-directive');
    throwsCode(() => parseZone('  A 1.2.3.4', { ttl: 1 }), ParseError, 'no-owner');
  });

  it('knows type mnemonics and the TYPEnnn form', () => {
    assert.equal(typeName(45), 'IPSECKEY');
    assert.equal(typeName(65534), 'TYPE65534');
    assert.equal(typeFromName('nsec3param'), 51);
    assert.equal(typeFromName('TYPE45'), 45);
    throwsCode(() => typeFromName('TYPE65536'), ParseError, 'unknown-type');
    assert.equal(parseTtl('1w2d3h4m5s'), 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  });

  it('encodes base32hex as RFC 4648 §10 test vectors', () => {
    const v: [string, string][] = [
      ['', ''],
      ['f', 'CO'],
      ['fo', 'CPNG'],
      ['foo', 'CPNMU'],
      ['foob', 'CPNMUOG'],
      ['fooba', 'CPNMUOJ1'],
      ['foobar', 'CPNMUOJ1E8'],
    ];
    for (const [plain, enc] of v) {
      assert.equal(toBase32hex(Buffer.from(plain)), enc);
      assert.equal(Buffer.from(fromBase32hex(enc.toLowerCase())).toString(), plain);
    }
    throwsCode(() => fromBase32hex('CPNMUOJ1E9'), ParseError, 'bad-base32hex');
  });
});
