// The validator end to end over a scripted upstream (a fake: answers built and signed in memory), for
// the behaviours a real server cannot easily be made to show: caching, fetch failures, forged links.
import assert from 'node:assert/strict';
import type { Message, Name, RR } from '../../src/wire/types';
import { createValidator } from '../../src/dnssec/validator';
import { decodeDs } from '../../src/dnssec/records';
import { type TrustAnchor } from '../../src/dnssec/anchors';
import { TransportError } from '../../src/util/errors';
import { a, authAnswer, chainAnswers, cname, keyset, NOW, nsec, rr, signed, T, TestKey } from './signer';
import { encodeNameRdata } from '../../src/wire/rdata';

const root = new TestKey('', 15);
const tld = new TestKey('test', 13);
const ex = new TestKey('example.test', 15);
const anchors: TrustAnchor[] = [{ zone: '', ds: [decodeDs(root.ds().rdata)], keys: [] }];

/** A scripted upstream: fixed answers for the chain, an online-signer style NODATA for other DS queries. */
function upstream(overrides: Record<string, Message> = {}): { query: (n: Name, t: number) => Promise<Message>; log: string[] } {
  const log: string[] = [];
  const table: Record<string, Message> = {
    ...chainAnswers(root, tld, ex),
    ...overrides,
  };
  return {
    log,
    async query(name, type) {
      log.push(`${name}|${type}`);
      const hit = table[`${name}|${type}`];
      if (hit) return hit;
      if (type === T.DS && name.endsWith('example.test')) {
        // "Not a cut": an NSEC at the name without NS.
        return authAnswer(name, T.DS, [], signed(ex, [nsec(name, `\\000.${name}`, [T.A, T.RRSIG, T.NSEC])]));
      }
      throw new TransportError('timeout', `no scripted answer for ${name}/${type}`);
    },
  };
}

const www = [a('www.example.test', '192.0.2.1')];

describe('validator over a scripted upstream', () => {
  it('validates an answer through every zone cut and lists the chain', async () => {
    const up = upstream();
    const v = createValidator({ anchors, query: up.query });
    const r = await v.validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, signed(ex, www)),
      NOW,
    );
    assert.equal(r.verdict.kind, 'secure');
    assert.deepEqual(
      r.chain.map((c) => [c.zone, c.keys, c.verdict]),
      [
        ['', [root.tag], 'secure'],
        ['test', [tld.tag], 'secure'],
        ['example.test', [ex.tag], 'secure'],
      ],
    );
  });

  it('answers from its key cache the second time (no DS/DNSKEY queries)', async () => {
    const up = upstream();
    const v = createValidator({ anchors, query: up.query });
    const q = { name: 'www.example.test', type: T.A, class: 1 };
    await v.validate(q, authAnswer('www.example.test', T.A, signed(ex, www)), NOW);
    const first = up.log.length;
    const again = await v.validate(q, authAnswer('www.example.test', T.A, signed(ex, www)), NOW + 10);
    assert.equal(again.verdict.kind, 'secure');
    assert.equal(up.log.length, first);
    assert.ok(v.stats().hits > 0);
  });

  it('is insecure (no-anchor) when no trust anchor covers the name: an island of trust says nothing outside it', async () => {
    const up = upstream();
    const v = createValidator({ anchors: [{ zone: 'elsewhere', ds: anchors[0]!.ds, keys: [] }], query: up.query });
    const r = await v.validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, signed(ex, www)),
      NOW,
    );
    assert.equal(r.verdict.kind === 'insecure' && r.verdict.reason, 'no-anchor');
    assert.match(r.verdict.kind === 'insecure' ? r.verdict.detail : '', /no trust anchor covers .*example\.test\./);
    assert.deepEqual(up.log, [], 'nothing to fetch');
  });

  it('with an island anchor, names inside it are validated from it and names outside are insecure', async () => {
    const island: TrustAnchor[] = [{ zone: 'example.test', ds: [decodeDs(ex.ds().rdata)], keys: [] }];
    const up = upstream();
    const v = createValidator({ anchors: island, query: up.query });
    const inside = await v.validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, signed(ex, www)),
      NOW,
    );
    assert.equal(inside.verdict.kind, 'secure');
    assert.deepEqual(
      inside.chain.map((c) => c.zone),
      ['example.test'],
    );
    const forged = await v.validate({ name: 'www.example.test', type: T.A, class: 1 }, authAnswer('www.example.test', T.A, www), NOW);
    assert.equal(forged.verdict.kind, 'bogus');
    const outside = await v.validate(
      { name: 'www.other.test', type: T.A, class: 1 },
      authAnswer('www.other.test', T.A, [a('www.other.test', '192.0.2.9')]),
      NOW,
    );
    assert.equal(outside.verdict.kind === 'insecure' && outside.verdict.reason, 'no-anchor');
  });

  it('is indeterminate when the chain cannot be fetched', async () => {
    const v = createValidator({
      anchors,
      query: async () => {
        throw new TransportError('timeout', 'upstream silent');
      },
    });
    const r = await v.validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, signed(ex, www)),
      NOW,
    );
    assert.equal(r.verdict.kind === 'indeterminate' && r.verdict.reason, 'fetch-failed');
  });

  it('is bogus when a signed zone serves an unsigned RRset', async () => {
    const r = await createValidator({ anchors, query: upstream().query }).validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, www),
      NOW,
    );
    assert.equal(r.verdict.kind === 'bogus' && r.verdict.reason, 'rrsig-missing');
  });

  it('validates every link of a CNAME chain: a forged target is bogus even when the CNAME is signed', async () => {
    const al = [cname('alias.example.test', 'www.example.test')];
    const good = await createValidator({ anchors, query: upstream().query }).validate(
      { name: 'alias.example.test', type: T.A, class: 1 },
      authAnswer('alias.example.test', T.A, [...signed(ex, al), ...signed(ex, www)]),
      NOW,
    );
    assert.equal(good.verdict.kind, 'secure');
    const forged = [a('www.example.test', '203.0.113.66')];
    const bad = await createValidator({ anchors, query: upstream().query }).validate(
      { name: 'alias.example.test', type: T.A, class: 1 },
      authAnswer('alias.example.test', T.A, [...signed(ex, al), ...forged, ex.sign(www)]),
      NOW,
    );
    assert.equal(bad.verdict.kind === 'bogus' && bad.verdict.reason, 'sig-invalid');
  });

  it('rejects a wildcard-expanded answer without the proof that the name does not exist', async () => {
    const wild = [a('*.example.test', '192.0.2.7')];
    const sig = ex.sign(wild);
    const r = await createValidator({ anchors, query: upstream().query }).validate(
      { name: 'host.example.test', type: T.A, class: 1 },
      authAnswer('host.example.test', T.A, [a('host.example.test', '192.0.2.7'), { ...sig, name: 'host.example.test' }]),
      NOW,
    );
    assert.equal(r.verdict.kind === 'bogus' && r.verdict.reason, 'nsec-missing');
  });

  it('rejects a DS RRset signed by the child instead of the parent', async () => {
    const up = upstream({ 'example.test|43': authAnswer('example.test', T.DS, signed(ex, [ex.ds()])) });
    const r = await createValidator({ anchors, query: up.query }).validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, signed(ex, www)),
      NOW,
    );
    assert.equal(r.verdict.kind === 'bogus' && r.verdict.reason, 'signer-mismatch');
  });

  it('finds an insecure cut from a signed NSEC without DS, and says where', async () => {
    const up = upstream({
      'example.test|43': authAnswer('example.test', T.DS, [], signed(tld, [nsec('example.test', 'zz.test', [T.NS, T.RRSIG, T.NSEC])])),
    });
    const r = await createValidator({ anchors, query: up.query }).validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, www),
      NOW,
    );
    assert.equal(r.verdict.kind, 'insecure');
    assert.equal(r.verdict.kind === 'insecure' && r.verdict.at, 'example.test');
  });

  it('does not accept an unsigned claim that a delegation has no DS', async () => {
    const up = upstream({
      'example.test|43': authAnswer('example.test', T.DS, [], [nsec('example.test', 'zz.test', [T.NS, T.RRSIG, T.NSEC])]),
    });
    const r = await createValidator({ anchors, query: up.query }).validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, www),
      NOW,
    );
    assert.equal(r.verdict.kind, 'bogus');
  });

  it('follows a DNAME and validates it', async () => {
    const dname = [rr('old.example.test', T.DNAME, encodeNameRdata('example.test'))];
    const synth = cname('www.old.example.test', 'www.example.test');
    const r = await createValidator({ anchors, query: upstream().query }).validate(
      { name: 'www.old.example.test', type: T.A, class: 1 },
      authAnswer('www.old.example.test', T.A, [...signed(ex, dname), synth, ...signed(ex, www)]),
      NOW,
    );
    assert.equal(r.verdict.kind, 'secure');
  });

  it('never throws on malformed records: they end in a verdict', async () => {
    const junk = (type: number, bytes: number[]): RR => rr('www.example.test', type, Uint8Array.from(bytes));
    const cases: RR[][] = [
      [...www, junk(T.RRSIG, [0, 1, 13])],
      [...www, junk(T.RRSIG, [0, 1, 13, 3, 0, 0, 14, 16, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 0x3f])],
      [junk(T.CNAME, [0xc0, 0x0c])],
      [rr('www.example.test', T.DNAME, Uint8Array.from([3, 0x61]))],
    ];
    for (const answers of cases) {
      const r = await createValidator({ anchors, query: upstream().query }).validate(
        { name: 'www.example.test', type: T.A, class: 1 },
        authAnswer('www.example.test', T.A, answers),
        NOW,
      );
      assert.notEqual(r.verdict.kind, 'secure');
    }
    const up = upstream({
      'example.test|48': authAnswer('example.test', T.DNSKEY, [
        rr('example.test', T.DNSKEY, Uint8Array.from([1])),
        ex.dnskey,
        ex.sign([ex.dnskey]),
      ]),
    });
    const r = await createValidator({ anchors, query: up.query }).validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, signed(ex, www)),
      NOW,
    );
    assert.notEqual(r.verdict.kind, 'secure'); // the key set as served (with the junk key) is not what was signed
    const nsecJunk = authAnswer(
      'nope.example.test',
      T.A,
      [],
      [rr('example.test', T.NSEC, Uint8Array.from([9, 9, 9])), ex.sign([rr('example.test', T.NSEC, Uint8Array.from([9, 9, 9]))])],
      3,
    );
    const n = await createValidator({ anchors, query: upstream().query }).validate(
      { name: 'nope.example.test', type: T.A, class: 1 },
      nsecJunk,
      NOW,
    );
    assert.equal(n.verdict.kind, 'bogus');
  });
});

describe('validator: negative trust anchors (RFC 7646) apply name by name', () => {
  // An NTA on broken.test, ending 100 s from NOW: the scripted upstream knows nothing of broken.test,
  // so any DS/DNSKEY query for it would be a walk the NTA should have spared (and would fail).
  const nta = (name: Name) => (/(^|\.)broken\.test$/i.test(name) ? { name: 'broken.test', expiresAt: NOW + 100 } : undefined);
  const q = { name: 'x.broken.test', type: T.A, class: 1 };
  const link = cname('x.broken.test', 'www.example.test');

  it('sets aside the names under it (insecure, not walked, kept no longer than the NTA)', async () => {
    const up = upstream();
    const r = await createValidator({ anchors, query: up.query, negativeAnchor: nta }).validate(
      q,
      authAnswer(q.name, T.A, [a('x.broken.test', '192.0.2.9')]),
      NOW,
    );
    assert.equal(r.verdict.kind === 'insecure' && `${r.verdict.reason} at ${r.verdict.at}`, 'negative-trust-anchor at broken.test');
    assert.equal(r.ttl, 100);
    assert.deepEqual(
      up.log.filter((l) => l.includes('broken')),
      [],
    );
  });

  it('validates a CNAME target outside it: a forged address is bogus, the genuine signed one passes (insecure as a whole)', async () => {
    const forged = await createValidator({ anchors, query: upstream().query, negativeAnchor: nta }).validate(
      q,
      authAnswer(q.name, T.A, [link, a('www.example.test', '203.0.113.66')]),
      NOW,
    );
    assert.equal(forged.verdict.kind === 'bogus' && forged.verdict.reason, 'rrsig-missing');
    assert.deepEqual(forged.rrsets, []);
    const genuine = await createValidator({ anchors, query: upstream().query, negativeAnchor: nta }).validate(
      q,
      authAnswer(q.name, T.A, [link, ...signed(ex, www)]),
      NOW,
    );
    assert.equal(genuine.verdict.kind === 'insecure' && genuine.verdict.reason, 'negative-trust-anchor');
    assert.deepEqual(
      genuine.rrsets.map((s) => `${s.name} ${s.role} ${s.security}`),
      ['x.broken.test cname insecure', 'www.example.test answer secure'],
    );
    assert.equal(genuine.ttl, 100);
  });

  it('leaves names outside it alone (secure, no ttl cap from the NTA)', async () => {
    const r = await createValidator({ anchors, query: upstream().query, negativeAnchor: nta }).validate(
      { name: 'www.example.test', type: T.A, class: 1 },
      authAnswer('www.example.test', T.A, signed(ex, www)),
      NOW,
    );
    assert.equal(r.verdict.kind, 'secure');
    assert.ok(r.ttl !== undefined && r.ttl > 100, `ttl ${r.ttl}`);
  });

  // The upstream pool turns every rcode but NOERROR and NXDOMAIN into a TransportError, but the
  // validator is given messages by other callers too and must not rely on that. Unsigned and proving nothing, such a response once
  // came out secure with rcode NOERROR and no RRsets: a proven NODATA that an on-path attacker could
  // forge for any name of a signed zone (its IPSECKEY: the name "provably" has no key).
  for (const rcode of [2, 5, 6, 9, 10]) {
    it(`makes an rcode ${rcode} answer indeterminate, never a proven NODATA`, async () => {
      const v = createValidator({ anchors, query: upstream().query });
      const r = await v.validate({ name: 'www.example.test', type: 45, class: 1 }, authAnswer('www.example.test', 45, [], [], rcode), NOW);
      assert.equal(r.verdict.kind === 'indeterminate' && r.verdict.reason, 'upstream-error');
      assert.equal(r.rcode, rcode);
      assert.deepEqual(r.rrsets, []);
    });
  }
});

describe('validator: an anchor left with no key', () => {
  // What TrustAnchorManager.anchors() hands over for a trust point whose RFC 5011 state has no trusted
  // key left. The daemon refuses question names under it; a CNAME target under it, reached from a
  // name under another anchor, must fail closed too, never pass as insecure.
  it('makes the names under it indeterminate (a forged CNAME target there is never insecure), without asking for its keys', async () => {
    const isl = new TestKey('island.test', 13);
    const up = upstream({ 'island.test|48': keyset(isl) });
    const v = createValidator({ anchors: [...anchors, { zone: 'island.test', ds: [], keys: [] }], query: up.query });
    const q = { name: 'alias.example.test', type: T.A, class: 1 };
    const r = await v.validate(
      q,
      authAnswer(q.name, T.A, [...signed(ex, [cname('alias.example.test', 'www.island.test')]), a('www.island.test', '203.0.113.66')]),
      NOW,
    );
    assert.equal(r.verdict.kind, 'indeterminate', `verdict ${r.verdict.kind} (${r.verdict.reason})`);
    assert.deepEqual(r.rrsets, []);
    assert.deepEqual(
      up.log.filter((l) => l.startsWith('island.test')),
      [],
    );
  });
});
