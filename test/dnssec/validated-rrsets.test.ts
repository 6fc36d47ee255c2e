// The validator hands on exactly the RRsets it validated, and the rcode is part of the proof: records
// an attacker on the upstream path appends next to a genuine signed answer have no effect, a CNAME next
// to other data or a CNAME that is not the DNAME's substitution is bogus, NXDOMAIN around a signed
// answer is bogus, and TTLs never outlive the signatures (RFC 4035 §5.3.3).
import assert from 'node:assert/strict';
import type { Message, Name } from '../../src/wire/types';
import { createValidator } from '../../src/dnssec/validator';
import { decodeDs } from '../../src/dnssec/records';
import type { TrustAnchor } from '../../src/dnssec/anchors';
import { proofOf, provenMessage } from '../../src/dnssec/proof';
import { addressFacts, ipseckeyFacts } from '../../src/policy/answer-facts';
import { encodeIpseckey, encodeNameRdata, encodeSoa } from '../../src/wire/rdata';
import { TransportError } from '../../src/util/errors';
import { a, authAnswer, chainAnswers, cname, NOW, nsec, rr, signed, T, TestKey } from './signer';

const root = new TestKey('', 15);
const tld = new TestKey('test', 13);
const ex = new TestKey('example.test', 15);
const anchors: TrustAnchor[] = [{ zone: '', ds: [decodeDs(root.ds().rdata)], keys: [] }];
const T_IPSECKEY = 45;

function query(name: Name, type: number): Promise<Message> {
  const table: Record<string, Message> = {
    ...chainAnswers(root, tld, ex),
    'attacker.test|43': authAnswer('attacker.test', T.DS, [], signed(tld, [nsec('attacker.test', 'zz.test', [T.NS, T.RRSIG, T.NSEC])])),
  };
  const hit = table[`${name}|${type}`];
  if (hit) return Promise.resolve(hit);
  if (type === T.DS && name.endsWith('example.test')) {
    return Promise.resolve(authAnswer(name, T.DS, [], signed(ex, [nsec(name, `\\000.${name}`, [T.A, T.RRSIG, T.NSEC])])));
  }
  if (type === T.DS && name.endsWith('attacker.test')) return Promise.resolve(authAnswer(name, T.DS, [], [], 0));
  return Promise.reject(new TransportError('timeout', `no scripted answer for ${name}/${type}`));
}

const validate = (q: { name: Name; type: number }, m: Message, now = NOW) =>
  createValidator({ anchors, query }).validate({ ...q, class: 1 }, m, now);

const www = [a('www.example.test', '192.0.2.1', 300)];
const key = rr(
  'www.example.test',
  T_IPSECKEY,
  encodeIpseckey({ precedence: 10, gatewayType: 0, algorithm: 4, gateway: null, publicKey: new Uint8Array(32).fill(7) }),
  300,
);
const evilKey = rr(
  'evil.attacker.test',
  T_IPSECKEY,
  encodeIpseckey({ precedence: 0, gatewayType: 0, algorithm: 4, gateway: null, publicKey: new Uint8Array(32).fill(6) }),
  300,
);
const splice = [cname('www.example.test', 'evil.attacker.test'), a('evil.attacker.test', '203.0.113.66'), evilKey];

describe('validator: only validated RRsets leave it', () => {
  it('hands on the signed answer with its signature, TTL and expiry', async () => {
    const r = await validate({ name: 'www.example.test', type: T.A }, authAnswer('www.example.test', T.A, signed(ex, www)));
    assert.equal(r.verdict.kind, 'secure');
    assert.deepEqual(
      r.rrsets.map((s) => [s.name, s.type, s.role, s.security, s.records.length, s.sigs.length]),
      [['www.example.test', T.A, 'answer', 'secure', 1, 1]],
    );
    assert.equal(r.rrsets[0]!.sigExpiry, 2_000_000_000);
    assert.equal(r.ttl, 300);
  });

  it('a CNAME splice (genuine signed A + unsigned CNAME, A and IPSECKEY of the attacker) is bogus: nothing of it is handed on', async () => {
    for (const [type, genuine] of [
      [T.A, signed(ex, www)],
      [T_IPSECKEY, signed(ex, [key])],
    ] as const) {
      const r = await validate({ name: 'www.example.test', type }, authAnswer('www.example.test', type, [...genuine, ...splice]));
      assert.equal(r.verdict.kind === 'bogus' && r.verdict.reason, 'cname-chain', `type ${type}`);
      assert.match(r.verdict.kind === 'bogus' ? r.verdict.detail : '', /CNAME and/);
      assert.deepEqual(r.rrsets, []);
      const p = proofOf(r);
      assert.deepEqual(addressFacts(p, T.A).values, []);
      assert.deepEqual(ipseckeyFacts(p).values, []);
    }
  });

  it('unsigned records off the chain (another owner in the answer, authority and additional data) are dropped, not served', async () => {
    const extra = [a('evil.attacker.test', '203.0.113.66'), evilKey];
    const m = {
      ...authAnswer(
        'www.example.test',
        T.A,
        [...signed(ex, www), ...extra],
        [rr('example.test', T.NS, encodeNameRdata('ns.evil.attacker.test'))],
      ),
      additionals: [a('ns.evil.attacker.test', '203.0.113.1')],
    };
    const r = await validate({ name: 'www.example.test', type: T.A }, m);
    assert.equal(r.verdict.kind, 'secure');
    const served = provenMessage(m, proofOf(r));
    assert.deepEqual(
      served.answers.map((x) => [x.name, x.type]),
      [
        ['www.example.test', T.A],
        ['www.example.test', T.RRSIG],
      ],
    );
    assert.deepEqual([served.authorities, served.additionals], [[], []]);
    assert.deepEqual(addressFacts(proofOf(r), T.A).values, ['192.0.2.1']);
  });

  it('a junk RRSIG beside the one that verifies is not passed on', async () => {
    const junk = ex.sign(www, { keyTag: 1 });
    const r = await validate({ name: 'www.example.test', type: T.A }, authAnswer('www.example.test', T.A, [...signed(ex, www), junk]));
    assert.equal(r.verdict.kind, 'secure');
    assert.equal(r.rrsets[0]!.sigs.length, 1);
    assert.notEqual(Buffer.compare(Buffer.from(r.rrsets[0]!.sigs[0]!.rdata), Buffer.from(junk.rdata)), 0);
  });

  it('NXDOMAIN wrapped around a genuine signed answer and any SOA is bogus (the rcode is part of the proof)', async () => {
    const soa = rr(
      'example.test',
      T.SOA,
      encodeSoa({ mname: 'ns.example.test', rname: 'h.example.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 10800 }),
      10800,
    );
    const r = await validate({ name: 'www.example.test', type: T.A }, authAnswer('www.example.test', T.A, signed(ex, www), [soa], 3));
    assert.equal(r.verdict.kind === 'bogus' && r.verdict.reason, 'rcode-mismatch');
    assert.deepEqual(r.rrsets, []);
  });

  it('a validated NXDOMAIN keeps its rcode; its TTL is bounded by the SOA MINIMUM (RFC 9077)', async () => {
    const soa = rr(
      'example.test',
      T.SOA,
      encodeSoa({ mname: 'ns.example.test', rname: 'h.example.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 }),
      3600,
    );
    const denial = nsec('example.test', 'www.example.test', [T.SOA, T.NS, T.RRSIG, T.NSEC, T.DNSKEY]);
    const denial2 = nsec('www.example.test', 'example.test', [T.A, T.RRSIG, T.NSEC]);
    const r = await validate(
      { name: 'nope.example.test', type: T.A },
      authAnswer('nope.example.test', T.A, [], [...signed(ex, [soa]), ...signed(ex, [denial]), ...signed(ex, [denial2])], 3),
    );
    assert.equal(r.verdict.kind, 'secure');
    assert.equal(r.rcode, 3);
    assert.equal(r.ttl, 60);
    assert.ok(r.rrsets.every((s) => s.role === 'denial'));
    assert.ok(r.rrsets.some((s) => s.type === T.SOA));
  });

  it('NOERROR for a name the denial says does not exist stays what it was proven to be, and an rcode flip on a NODATA is bogus', async () => {
    const denial = nsec('www.example.test', 'zz.example.test', [T.A, T.RRSIG, T.NSEC]);
    const nodata = await validate(
      { name: 'www.example.test', type: T.AAAA },
      authAnswer('www.example.test', T.AAAA, [], signed(ex, [denial])),
    );
    assert.equal(nodata.verdict.kind, 'secure');
    assert.equal(nodata.rcode, 0);
    const flipped = await validate(
      { name: 'www.example.test', type: T.AAAA },
      authAnswer('www.example.test', T.AAAA, [], signed(ex, [denial]), 3),
    );
    assert.equal(flipped.verdict.kind, 'bogus');
  });

  it('TTLs are capped by the original TTL and by the time left on the signature', async () => {
    const long = [a('www.example.test', '192.0.2.1', 86400)];
    const r1 = await validate(
      { name: 'www.example.test', type: T.A },
      authAnswer('www.example.test', T.A, [...long, ex.sign(long, { originalTtl: 300 })]),
    );
    assert.equal(r1.rrsets[0]!.ttl, 300);
    assert.equal(r1.rrsets[0]!.records[0]!.ttl, 300);
    const r2 = await validate(
      { name: 'www.example.test', type: T.A },
      authAnswer('www.example.test', T.A, [...long, ex.sign(long, { expiration: NOW + 100 })]),
    );
    assert.equal(r2.rrsets[0]!.ttl, 100);
    assert.equal(r2.ttl, 100);
    assert.equal(r2.rrsets[0]!.sigExpiry, NOW + 100);
  });

  it('a DNAME is followed with the CNAME we synthesise; a sent CNAME that is not the substitution is bogus', async () => {
    const dname = rr('old.example.test', T.DNAME, encodeNameRdata('new.example.test'), 300);
    const target = [a('www.new.example.test', '192.0.2.5', 300)];
    const good = await validate(
      { name: 'www.old.example.test', type: T.A },
      authAnswer('www.old.example.test', T.A, [
        ...signed(ex, [dname]),
        cname('www.old.example.test', 'www.new.example.test'),
        ...signed(ex, target),
      ]),
    );
    assert.equal(good.verdict.kind, 'secure');
    assert.deepEqual(
      good.rrsets.map((s) => [s.name, s.type, s.role, s.synthesized ?? false]),
      [
        ['old.example.test', T.DNAME, 'dname', false],
        ['www.old.example.test', T.CNAME, 'cname', true],
        ['www.new.example.test', T.A, 'answer', false],
      ],
    );
    assert.deepEqual(addressFacts(proofOf(good), T.A).owner, 'www.new.example.test');
    const bad = await validate(
      { name: 'www.old.example.test', type: T.A },
      authAnswer('www.old.example.test', T.A, [
        ...signed(ex, [dname]),
        cname('www.old.example.test', 'evil.attacker.test'),
        a('evil.attacker.test', '203.0.113.66'),
      ]),
    );
    assert.equal(bad.verdict.kind === 'bogus' && bad.verdict.reason, 'cname-chain');
    assert.match(bad.verdict.kind === 'bogus' ? bad.verdict.detail : '', /substitution/);
  });

  it('a DNAME splice (genuine signed answer + unsigned DNAME and CNAME to the attacker) gives the attacker nothing', async () => {
    const dname = rr('example.test', T.DNAME, encodeNameRdata('attacker.test'));
    const r = await validate(
      { name: 'www.example.test', type: T.A },
      authAnswer('www.example.test', T.A, [
        ...signed(ex, www),
        dname,
        cname('www.example.test', 'www.attacker.test'),
        a('www.attacker.test', '203.0.113.66'),
      ]),
    );
    assert.equal(r.verdict.kind, 'bogus');
    assert.deepEqual(addressFacts(proofOf(r), T.A).values, []);
  });

  it('facts come from the end of a validated CNAME chain, with the smallest TTL and the earliest expiry on the way', async () => {
    const al = [cname('alias.example.test', 'www.example.test')];
    const r = await validate(
      { name: 'alias.example.test', type: T.A },
      authAnswer('alias.example.test', T.A, [...signed(ex, al, { expiration: NOW + 500 }), ...signed(ex, www)]),
    );
    const f = addressFacts(proofOf(r), T.A);
    assert.deepEqual([f.values, f.owner, f.ttl, f.sigExpiry], [['192.0.2.1'], 'www.example.test', 300, NOW + 500]);
  });
});
