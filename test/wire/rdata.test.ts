import assert from 'node:assert/strict';
import { ParseError, WireError } from '../../src/util/errors';
import * as rd from '../../src/wire/rdata';
import { formatIPv6, parseIPv6 } from '../../src/wire/ip';
import { rfc4025Examples } from '../vectors/wire-rfc4025-3';
import { rfc4034_2_3_dnskey, rfc4034_3_3_rrsig, rfc4034_4_3_nsec, rfc4034_5_4_ds } from '../vectors/wire-rfc4034';
import { rfc5155Nsec3, rfc5155Nsec3param } from '../vectors/wire-rfc5155';
import { hex, roundTrip, throwsCode, unhex } from './helpers';

describe('wire/rdata', () => {
  describe('RFC examples round-trip byte-exactly', () => {
    it('DNSKEY (RFC 4034 §2.3)', () => roundTrip(rd.dnskey, rfc4034_2_3_dnskey.value, rfc4034_2_3_dnskey.hex));
    it('RRSIG (RFC 4034 §3.3)', () => roundTrip(rd.rrsig, rfc4034_3_3_rrsig.value, rfc4034_3_3_rrsig.hex));
    it('NSEC (RFC 4034 §4.3)', () => roundTrip(rd.nsec, rfc4034_4_3_nsec.value, rfc4034_4_3_nsec.hex));
    it('DS (RFC 4034 §5.4)', () => roundTrip(rd.ds, rfc4034_5_4_ds.value, rfc4034_5_4_ds.hex));
    it('NSEC3PARAM (RFC 5155 Appendix A)', () => roundTrip(rd.nsec3param, rfc5155Nsec3param.value, rfc5155Nsec3param.hex));
    it('NSEC3 (RFC 5155 Appendix A)', () => roundTrip(rd.nsec3, rfc5155Nsec3.value, rfc5155Nsec3.hex));
    for (const v of rfc4025Examples) it(`IPSECKEY (RFC 4025 §3.3): ${v.name}`, () => roundTrip(rd.ipseckey, v.value, v.hex));
  });

  it('round-trips the simple types', () => {
    roundTrip(rd.a, '192.0.2.1', 'c0000201');
    roundTrip(rd.aaaa, '2001:db8::1', '20010db8000000000000000000000001');
    roundTrip(rd.nameRdata, 'ns1.Example.com', '036e7331074578616d706c6503636f6d00');
    roundTrip(
      rd.soa,
      { mname: 'ns', rname: 'h.m', serial: 2026112301, refresh: 3600, retry: 900, expire: 604800, minimum: 300 },
      '026e7300' + '0168016d00' + '78c4052d' + '00000e10' + '00000384' + '00093a80' + '0000012c',
    );
    roundTrip(rd.mx, { preference: 10, exchange: 'mail.example' }, '000a046d61696c076578616d706c6500');
    roundTrip(rd.txt, [Uint8Array.from([0x61]), new Uint8Array(0)], '016100');
  });

  it('exposes decodeX/encodeX over whole RDATA', () => {
    assert.equal(rd.decodeA(unhex('7f000001')), '127.0.0.1');
    assert.equal(hex(rd.encodeAaaa('::1')), '00000000000000000000000000000001');
    assert.equal(rd.decodeNameRdata(rd.encodeNameRdata('a.b')), 'a.b');
    assert.deepEqual(rd.decodeIpseckey(rd.encodeIpseckey(rfc4025Examples[3]!.value)), rfc4025Examples[3]!.value);
    assert.deepEqual(
      rd.decodeSoa(rd.encodeSoa({ mname: '', rname: '', serial: 0, refresh: 1, retry: 2, expire: 3, minimum: 4 })).minimum,
      4,
    );
  });

  it('keeps unassigned IPSECKEY algorithms and EdDSA (RFC 9373) as numbers', () => {
    for (const algorithm of [0, 3, 4, 200]) {
      const v: rd.Ipseckey = { precedence: 1, gatewayType: 1, algorithm, gateway: '127.0.0.1', publicKey: Uint8Array.from([1]) };
      assert.deepEqual(rd.decodeIpseckey(rd.encodeIpseckey(v)), v);
    }
    assert.equal(rd.IpseckeyAlgorithm.EdDSA, 4);
  });

  it('encodes and decodes type bit maps across windows', () => {
    const types = [1, 2, 6, 46, 47, 48, 255, 256, 1234, 32768, 65535];
    assert.deepEqual(rd.decodeTypeBitmap(rd.encodeTypeBitmap(types)), types);
    assert.deepEqual(rd.decodeTypeBitmap(rd.encodeTypeBitmap([47, 1, 1])), [1, 47]);
    assert.equal(hex(rd.encodeTypeBitmap([])), '');
    throwsCode(() => rd.decodeTypeBitmap(unhex('0001400001')), WireError, 'bitmap'); // window 0 twice
    throwsCode(() => rd.decodeTypeBitmap(unhex('0000')), WireError, 'bitmap'); // empty window
    throwsCode(() => rd.decodeTypeBitmap(unhex('0021' + '00'.repeat(33))), WireError, 'bitmap'); // 33 octets
    throwsCode(() => rd.decodeTypeBitmap(unhex('000340')), WireError, 'bitmap'); // cut off
  });

  it('prints and parses IPv6 like BIND', () => {
    const cases: [string, string][] = [
      ['2001:0DB8:0:8002::2000:1', '2001:db8:0:8002::2000:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
      ['1:0:1:1:1:1:1:1', '1:0:1:1:1:1:1:1'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['::192.0.2.1', '::192.0.2.1'],
    ];
    for (const [input, printed] of cases) assert.equal(formatIPv6(parseIPv6(input)), printed, input);
    for (const bad of ['1:2:3', '1::2::3', ':::', '12345::', '1:2:3:4:5:6:7:8:9', 'g::1', '1.2.3.4']) {
      throwsCode(() => parseIPv6(bad), ParseError, 'bad-address');
    }
    throwsCode(() => rd.encodeA('1.2.3.04'), ParseError, 'bad-address');
    throwsCode(() => rd.encodeA('256.1.1.1'), ParseError, 'bad-address');
  });

  describe('malformed RDATA', () => {
    it('rejects wrong address lengths', () => {
      throwsCode(() => rd.decodeA(unhex('7f0000')), WireError, 'rdata');
      throwsCode(() => rd.decodeAaaa(unhex('00')), WireError, 'rdata');
    });
    it('rejects IPSECKEY with an undefined gateway type or a short gateway', () => {
      throwsCode(() => rd.decodeIpseckey(unhex('0a0402' + '00')), WireError, 'ipseckey-gateway-type');
      throwsCode(() => rd.decodeIpseckey(unhex('0a0102c000')), WireError, 'rdata');
      throwsCode(() => rd.decodeIpseckey(unhex('0a0202' + '20010db8')), WireError, 'rdata');
      throwsCode(() => rd.decodeIpseckey(unhex('0a0302' + '03777777')), WireError, 'truncated');
      throwsCode(() => rd.decodeIpseckey(unhex('0a0302' + 'c000')), WireError, 'rdata-compressed');
      throwsCode(
        () => rd.encodeIpseckey({ precedence: 1, gatewayType: 0, algorithm: 2, gateway: '1.2.3.4', publicKey: new Uint8Array(0) }),
        ParseError,
        'ipseckey-gateway',
      );
    });
    it('rejects a compression pointer inside RRSIG RDATA', () => {
      const r = unhex(rfc4034_3_3_rrsig.hex);
      const bad = Uint8Array.from([...r.subarray(0, 18), 0xc0, 0x00, ...r.subarray(31)]);
      throwsCode(() => rd.decodeRrsig(bad), WireError, 'rdata-compressed');
    });
    it('rejects truncated DNSSEC RDATA', () => {
      throwsCode(() => rd.decodeDnskey(unhex('0100')), WireError, 'rdata');
      throwsCode(() => rd.decodeDs(unhex('ec4505')), WireError, 'rdata');
      throwsCode(() => rd.decodeRrsig(unhex(rfc4034_3_3_rrsig.hex).subarray(0, 17)), WireError, 'rdata');
      throwsCode(() => rd.decodeNsec3param(unhex('0100000c04aabb')), WireError, 'rdata');
      throwsCode(() => rd.decodeNsec3(unhex('0101000c00')), WireError, 'rdata');
      throwsCode(() => rd.decodeNsec3(unhex('0101000c0000')), WireError, 'rdata'); // zero-length hash
      throwsCode(() => rd.decodeSoa(unhex('0000000000')), WireError, 'rdata');
      throwsCode(() => rd.decodeSoa(unhex('0000' + '00'.repeat(21))), WireError, 'rdlength');
      throwsCode(() => rd.decodeTxt(new Uint8Array(0)), WireError, 'rdata');
      throwsCode(() => rd.decodeTxt(unhex('0561')), WireError, 'rdata');
    });
    it('lets only WireError escape from random RDATA for every typed decoder (fuzz)', () => {
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const decoders = [
        rd.decodeA,
        rd.decodeAaaa,
        rd.decodeDnskey,
        rd.decodeDs,
        rd.decodeRrsig,
        rd.decodeNsec,
        rd.decodeNsec3,
        rd.decodeNsec3param,
        rd.decodeIpseckey,
        rd.decodeSoa,
        rd.decodeMx,
        rd.decodeTxt,
        rd.decodeNameRdata,
        rd.decodeTypeBitmap,
      ];
      const seeds = [rfc4034_3_3_rrsig.hex, rfc4034_4_3_nsec.hex, rfc5155Nsec3.hex, rfc4025Examples[3]!.hex].map(unhex);
      for (let i = 0; i < 20000; i++) {
        let b: Uint8Array;
        if (i & 1) b = Uint8Array.from({ length: rnd(40) }, () => rnd(256));
        else {
          b = Uint8Array.from(seeds[rnd(seeds.length)]!);
          b[rnd(b.length)] = rnd(256);
          if (rnd(3) === 0) b = b.subarray(0, rnd(b.length));
        }
        for (const d of decoders) {
          try {
            d(b);
          } catch (e) {
            if (!(e instanceof WireError)) throw new Error(`${d.name} threw ${String(e)} on ${hex(b)}`);
          }
        }
      }
    });
  });
});
