// Known-answer vectors from the RFCs, run through the pure validator.
import assert from 'node:assert/strict';
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { encodeA, encodeMx, encodeNsec, encodeRrsig, encodeDnskey } from '../../src/wire/rdata';
import type { RR } from '../../src/wire/types';
import { verifyRrset } from '../../src/dnssec/rrsig';
import { computeDsDigest, dsMatchesKey, validateKeySet } from '../../src/dnssec/ds';
import { nsec3Hash } from '../../src/dnssec/nsec3';
import { base32hex, checkValidity, serialLt, verifySignature } from '../../src/dnssec/crypto';
import { canonicalRRsetWire, concat, decodeDs, keyTag, rrsigSignedPrefix, canonicalRdata } from '../../src/dnssec/records';
import { ROOT_ANCHORS } from '../../src/dnssec/anchors';
import { RFC5702, type SigVector } from '../vectors/rfc5702';
import { RFC6605 } from '../vectors/rfc6605';
import { RFC8080, RFC8080_RRSET, RFC8080_TIMES, RFC8080_ZONE } from '../vectors/rfc8080';
import { RFC5155_HASHES, RFC5155_ITERATIONS, RFC5155_SALT } from '../vectors/rfc5155-appendix-a';

const time = (s: string): number =>
  Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14)) / 1000;

function dnskeyRR(zone: string, text: string): RR {
  const [flags, proto, alg, ...key] = text.split(/\s+/);
  return {
    name: zone,
    type: 48,
    class: 1,
    ttl: 3600,
    rdata: encodeDnskey({
      flags: Number(flags),
      protocol: Number(proto),
      algorithm: Number(alg),
      publicKey: new Uint8Array(Buffer.from(key.join(''), 'base64')),
    }),
  };
}

function rrsigRR(owner: string, ttl: number, text: string): RR {
  const t = text.split(/\s+/);
  const types: Record<string, number> = { A: 1, MX: 15 };
  return {
    name: owner,
    type: 46,
    class: 1,
    ttl,
    rdata: encodeRrsig({
      typeCovered: types[t[0]!]!,
      algorithm: +t[1]!,
      labels: +t[2]!,
      originalTtl: +t[3]!,
      expiration: time(t[4]!),
      inception: time(t[5]!),
      keyTag: +t[6]!,
      signerName: t[7]!.replace(/\.$/, ''),
      signature: new Uint8Array(Buffer.from(t.slice(8).join(''), 'base64')),
    }),
  };
}

function rrsetOf(v: SigVector['rrset']): RR[] {
  return v.rdata.map((d) => ({
    name: v.owner,
    type: v.type === 'A' ? 1 : 15,
    class: 1,
    ttl: v.ttl,
    rdata: v.type === 'A' ? encodeA(d) : encodeMx({ preference: +d.split(' ')[0]!, exchange: d.split(' ')[1]!.replace(/\.$/, '') }),
  }));
}

describe('RFC 5702 and RFC 6605 example signatures', () => {
  for (const v of [...RFC5702, ...RFC6605]) {
    it(`${v.name} verifies, and fails once the RRset changes`, () => {
      const key = dnskeyRR(v.zone, v.dnskey);
      assert.equal(keyTag(key.rdata), v.keyTag);
      const rrs = rrsetOf(v.rrset);
      const sig = rrsigRR(v.rrset.owner, v.rrset.ttl, v.rrsig);
      const ok = verifyRrset(rrs, [sig], [key], v.zone, v.nowSec);
      assert.equal(ok.verdict.kind, 'secure', JSON.stringify(ok.verdict));
      assert.equal(ok.keyTag, v.keyTag);
      const changed = verifyRrset([{ ...rrs[0]!, rdata: encodeA('192.0.2.254') }], [sig], [key], v.zone, v.nowSec);
      assert.equal(changed.verdict.kind, 'bogus');
      assert.equal(changed.verdict.kind === 'bogus' && changed.verdict.reason, 'sig-invalid');
    });
  }
  for (const v of RFC6605) {
    it(`${v.name}: the RFC's DS matches the key`, () => {
      const [tag, alg, dt, ...hex] = v.ds.split(' ');
      const ds = {
        keyTag: Number(tag),
        algorithm: Number(alg),
        digestType: Number(dt),
        digest: new Uint8Array(Buffer.from(hex.join(''), 'hex')),
      };
      assert.ok(dsMatchesKey(ds, v.zone, dnskeyRR(v.zone, v.dnskey).rdata));
      assert.ok(!dsMatchesKey({ ...ds, digest: ds.digest.map((b, i) => (i === 0 ? b ^ 1 : b)) }, v.zone, dnskeyRR(v.zone, v.dnskey).rdata));
    });
  }
});

describe('RFC 8080 Ed25519 / Ed448 examples', () => {
  for (const v of RFC8080) {
    it(`${v.name}: key tag ${v.keyTag}, DS digest, and a signature by the example private key verifies`, () => {
      const key = dnskeyRR(RFC8080_ZONE, v.dnskey);
      assert.equal(keyTag(key.rdata), v.keyTag);
      const [, , , digest] = v.ds.split(' ');
      assert.equal(Buffer.from(computeDsDigest(RFC8080_ZONE, key.rdata, 2)!).toString('hex'), digest);
      const pub = Buffer.from(v.dnskey.split(' ')[3]!, 'base64');
      const priv = createPrivateKey({
        key: {
          kty: 'OKP',
          crv: v.algorithm === 15 ? 'Ed25519' : 'Ed448',
          d: Buffer.from(v.privateKey, 'base64').toString('base64url'),
          x: pub.toString('base64url'),
        },
        format: 'jwk',
      });
      const rrs = rrsetOf(RFC8080_RRSET);
      const fields = {
        typeCovered: 15,
        algorithm: v.algorithm,
        labels: 2,
        originalTtl: 3600,
        expiration: RFC8080_TIMES.expiration,
        inception: RFC8080_TIMES.inception,
        keyTag: v.keyTag,
        signerName: RFC8080_ZONE,
      };
      const data = concat([rrsigSignedPrefix(encodeRrsig({ ...fields, signature: new Uint8Array() })), canonicalRRsetWire(rrs, 3600)]);
      const sig = {
        name: RFC8080_ZONE,
        type: 46,
        class: 1,
        ttl: 3600,
        rdata: encodeRrsig({ ...fields, signature: new Uint8Array(cryptoSign(null, data, priv)) }),
      };
      const r = verifyRrset(rrs, [sig], [key], RFC8080_ZONE, RFC8080_TIMES.nowSec);
      assert.equal(r.verdict.kind, 'secure', JSON.stringify(r.verdict));
      const other = RFC8080.find((x) => x.algorithm === v.algorithm && x !== v)!;
      const wrongKey = dnskeyRR(RFC8080_ZONE, other.dnskey);
      assert.equal(verifySignature(v.algorithm, wrongKey.rdata.subarray(4), data, new Uint8Array(cryptoSign(null, data, priv))), 'invalid');
    });
  }
});

describe('RFC 5155 Appendix A NSEC3 hashes', () => {
  for (const [name, hash] of RFC5155_HASHES) {
    it(`H(${name}) = ${hash}`, () => {
      assert.equal(base32hex(nsec3Hash(name, new Uint8Array(Buffer.from(RFC5155_SALT, 'hex')), RFC5155_ITERATIONS)), hash);
    });
  }
});

describe('built-in trust anchors', () => {
  it('holds the IANA root KSK-2017 (20326) and KSK-2024 (38696) as SHA-256 DS', () => {
    assert.deepEqual(
      ROOT_ANCHORS[0]!.ds.map((d) => [d.keyTag, d.algorithm, d.digestType]),
      [
        [20326, 8, 2],
        [38696, 8, 2],
      ],
    );
  });
  it('KSK-2017 as published in bind.keys matches its built-in DS and signs like any key', () => {
    const key = dnskeyRR(
      '',
      '257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=',
    );
    assert.equal(keyTag(key.rdata), 20326);
    assert.ok(dsMatchesKey(ROOT_ANCHORS[0]!.ds[0]!, '', key.rdata));
    // Unsigned: the anchor alone does not make the set secure.
    assert.equal(validateKeySet(ROOT_ANCHORS[0]!, [key], [], 1_700_000_000).verdict.kind, 'bogus');
  });
});

describe('canonical RRset form (RFC 4034 §6)', () => {
  it('lowercases owner and RDATA names, sorts by RDATA, drops duplicates, and takes an explicit wildcard owner', () => {
    const rrs: RR[] = [
      { name: 'WWW.Example.NET', type: 15, class: 1, ttl: 60, rdata: encodeMx({ preference: 20, exchange: 'B.Example.net' }) },
      { name: 'www.example.net', type: 15, class: 1, ttl: 60, rdata: encodeMx({ preference: 10, exchange: 'A.EXAMPLE.net' }) },
      { name: 'www.example.net', type: 15, class: 1, ttl: 60, rdata: encodeMx({ preference: 10, exchange: 'a.example.NET' }) },
    ];
    const owner = Buffer.from('03777777076578616d706c65036e657400', 'hex');
    const rec = (pref: number, host: string): Buffer => {
      const rd = Buffer.concat([Buffer.from([0, pref]), Buffer.from(host, 'hex')]);
      return Buffer.concat([owner, Buffer.from([0, 15, 0, 1, 0, 0, 0x0e, 0x10, 0, rd.length]), rd]);
    };
    const expected = Buffer.concat([rec(10, '0161076578616d706c65036e657400'), rec(20, '0162076578616d706c65036e657400')]);
    assert.deepEqual(Buffer.from(canonicalRRsetWire(rrs, 3600)), expected);
    const wild = Buffer.from(canonicalRRsetWire(rrs, 3600, '*.Example.net'));
    assert.deepEqual(wild.subarray(0, 15), Buffer.from('012a076578616d706c65036e657400', 'hex'));
    const nsecRdata = encodeNsec({ next: 'Host.Example.net', types: [1, 46, 47] });
    assert.deepEqual(Buffer.from(canonicalRdata(47, nsecRdata)), Buffer.from(nsecRdata)); // NSEC keeps its case (RFC 6840 §5.1)
    assert.notDeepEqual(Buffer.from(canonicalRdata(15, rrs[0]!.rdata)), Buffer.from(rrs[0]!.rdata)); // MX does not
  });
});

describe('RFC 1982 serial arithmetic for signature times', () => {
  it('orders across the 2^32 wrap', () => {
    assert.ok(serialLt(0xffffff00, 0x00000100));
    assert.ok(!serialLt(0x00000100, 0xffffff00));
    assert.ok(!serialLt(5, 5));
  });
  it('accepts a window spanning the wrap in 2106 and rejects times outside it', () => {
    const now = 2 ** 32 + 0x10; // just after the wrap
    assert.equal(checkValidity(0xffffff00, 0x00000100, now), 'ok');
    assert.equal(checkValidity(0xffffff00, 0x00000008, now), 'expired');
    assert.equal(checkValidity(0x00000020, 0x00000100, now), 'not-yet-valid');
  });
  it('DS parsing keeps the digest bytes', () => {
    const d = decodeDs(new Uint8Array([0x4f, 0x66, 8, 2, 1, 2, 3]));
    assert.deepEqual([d.keyTag, d.algorithm, d.digestType, [...d.digest]], [20326, 8, 2, [1, 2, 3]]);
  });
});
