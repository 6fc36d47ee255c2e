import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalRdata, canonicalRRsetWire, keyTag, rrsigSignedPrefix } from '../../src/wire/canonical';
import { encodeName } from '../../src/wire/name';
import * as rd from '../../src/wire/rdata';
import type { RR } from '../../src/wire/types';
import { rfc4034_2_3_dnskey, rfc4034_3_3_rrsig, rfc4034_4_3_nsec, rfc4034_5_4_dnskey, rfc4034_5_4_ds } from '../vectors/wire-rfc4034';
import { hex, unhex } from './helpers';

const rr = (name: string, type: number, rdata: Uint8Array, ttl = 3600): RR => ({ name, type, class: 1, ttl, rdata });

describe('wire/canonical', () => {
  it('computes RFC 4034 key tags (§2.3 → 2642, §5.4 → 60485)', () => {
    assert.equal(keyTag(unhex(rfc4034_2_3_dnskey.hex)), 2642);
    const k54 = rd.encodeDnskey({
      flags: 256,
      protocol: 3,
      algorithm: 5,
      publicKey: Uint8Array.from(Buffer.from(rfc4034_5_4_dnskey.publicKeyB64, 'base64')),
    });
    assert.equal(keyTag(k54), 60485);
  });

  it('uses the modulus bits for algorithm 1 key tags (RFC 4034 Appendix B.1)', () => {
    // The modulus ends ...ff 12 34: the tag is the upper 16 of those 24 bits.
    assert.equal(keyTag(unhex('01000301' + '0103' + 'aabbccddeeff1234')), 0xff12);
  });

  it('reproduces the RFC 4034 §5.4 DS digest from owner and DNSKEY RDATA', () => {
    const k54 = rd.encodeDnskey({
      flags: 256,
      protocol: 3,
      algorithm: 5,
      publicKey: Uint8Array.from(Buffer.from(rfc4034_5_4_dnskey.publicKeyB64, 'base64')),
    });
    const digest = createHash('sha1')
      .update(encodeName('DSKEY.example.COM', { lowercase: true }))
      .update(canonicalRdata(48, k54))
      .digest();
    assert.equal(hex(digest), hex(rfc4034_5_4_ds.value.digest));
  });

  it('lowercases names in RDATA of the RFC 4034 §6.2 types but not NSEC (RFC 6840 §5.1)', () => {
    const mx = rd.encodeMx({ preference: 10, exchange: 'Mail.EXAMPLE' });
    assert.equal(hex(canonicalRdata(15, mx)), hex(rd.encodeMx({ preference: 10, exchange: 'mail.example' })));
    const soa = rd.encodeSoa({ mname: 'NS.Example', rname: 'Host.Master', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 });
    assert.equal(
      hex(canonicalRdata(6, soa)),
      hex(rd.encodeSoa({ mname: 'ns.example', rname: 'host.master', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 })),
    );
    const sig = rd.encodeRrsig({ ...rfc4034_3_3_rrsig.value, signerName: 'EXAMPLE.com' });
    assert.equal(rd.decodeRrsig(canonicalRdata(46, sig)).signerName, 'example.com');
    const nsec = rd.encodeNsec({ next: 'Host.Example.com', types: [1] });
    assert.equal(hex(canonicalRdata(47, nsec)), hex(nsec), 'NSEC keeps its case');
    const srv = unhex('000a0014' + '0050' + hex(encodeName('SIP.Example')));
    assert.equal(hex(canonicalRdata(33, srv)), '000a00140050' + hex(encodeName('sip.example')));
    const naptr = unhex('0064000a' + '0155' + '0745324B2B534950' + '00' + hex(encodeName('_SIP._udp.Example')));
    assert.equal(
      hex(canonicalRdata(35, naptr)),
      '0064000a01550745324b2b53495000' + hex(encodeName('_sip._udp.example')),
      'flags and service strings keep their case',
    );
    const a6 = unhex('40' + '0000000000000001' + hex(encodeName('Net.Example')));
    assert.equal(hex(canonicalRdata(38, a6)), '400000000000000001' + hex(encodeName('net.example')));
    const txt = rd.encodeTxt([Buffer.from('ABC')]);
    assert.equal(hex(canonicalRdata(16, txt)), hex(txt), 'TXT is not a name');
    const ipk = unhex('0a0302' + hex(encodeName('GW.Example')) + '01');
    assert.equal(hex(canonicalRdata(45, ipk)), hex(ipk), 'IPSECKEY gateway is not in the list');
  });

  it('builds the canonical RRset: lowercased owner, given TTL, sorted RDATA, duplicates dropped', () => {
    const a = (ip: string): Uint8Array => rd.encodeA(ip);
    const rrs = [rr('WWW.Example', 1, a('192.0.2.2')), rr('www.example', 1, a('192.0.2.1'), 7), rr('www.EXAMPLE', 1, a('192.0.2.2'))];
    const wire = canonicalRRsetWire(rrs, 300);
    const one = (ip: string): string => hex(encodeName('www.example')) + '0001' + '0001' + '0000012c' + '0004' + hex(a(ip));
    assert.equal(hex(wire), one('192.0.2.1') + one('192.0.2.2'));
    // Ordering compares canonical RDATA: names lowercased before comparing.
    const ns = [rr('z', 2, rd.encodeNameRdata('B.example')), rr('z', 2, rd.encodeNameRdata('a.example'))];
    const w2 = hex(canonicalRRsetWire(ns, 1));
    assert.ok(w2.indexOf(hex(encodeName('a.example'))) < w2.indexOf(hex(encodeName('b.example'))));
    // Shorter RDATA that is a prefix sorts first (absence of an octet sorts before a zero octet).
    const t = [rr('t', 16, unhex('0100')), rr('t', 16, unhex('01'))];
    assert.ok(hex(canonicalRRsetWire(t, 1)).startsWith('0174' + '00' + '0010000100000001000101'));
  });

  it('gives the RRSIG RDATA before the signature with the signer lowercased', () => {
    const v = { ...rfc4034_3_3_rrsig.value, signerName: 'Example.COM' };
    const p = rrsigSignedPrefix(rd.encodeRrsig(v));
    assert.equal(hex(p), rfc4034_3_3_rrsig.hex.slice(0, 36) + hex(encodeName('example.com')));
  });

  it('leaves NSEC of the RFC 4034 §4.3 example untouched', () => {
    assert.equal(hex(canonicalRdata(47, unhex(rfc4034_4_3_nsec.hex))), rfc4034_4_3_nsec.hex);
  });
});
