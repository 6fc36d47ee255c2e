// The validator corners of issue 10, each built from the RFCs with hand-signed records over a scripted
// upstream: NSEC3 opt-out (RFC 5155 §9.2), wildcard proofs resting on wildcard-expanded NSECs
// (CVE-2017-15105; Unbound's val_nodata_failwc, val_nx_failwc, val_wcnsec_nods), the DS walk not
// trusting the unsigned rcode, and SHA-1 DS records beside SHA-256 ones (RFC 4509 §3).
import assert from 'node:assert/strict';
import type { Message, Name, RR } from '../../src/wire/types';
import { createValidator } from '../../src/dnssec/validator';
import { decodeDs, decodeNsec3, encodeDs } from '../../src/dnssec/records';
import type { TrustAnchor } from '../../src/dnssec/anchors';
import { base32hex } from '../../src/dnssec/crypto';
import { usableDsSet, validateKeySet } from '../../src/dnssec/ds';
import { nsecProveNodata, nsecProveNxdomain } from '../../src/dnssec/nsec';
import {
  DEFAULT_NSEC3_LIMITS,
  Nsec3Budget,
  nsec3Hash,
  nsec3ProveNodata,
  nsec3ProveNxdomain,
  nsec3ProveWildcardAnswer,
  type Nsec3Record,
} from '../../src/dnssec/nsec3';
import { TransportError } from '../../src/util/errors';
import { ChainFetcher, type WalkContext } from '../../src/dnssec/fetcher';
import { DEFAULT_KEY_CACHE_LIMITS } from '../../src/dnssec/key-cache';
import { optOutButSignedBy } from '../../src/dnssec/util';
import { a, authAnswer, chainAnswers, NOW, nsec, nsec3, rr, signed, T, TestKey } from './signer';

const root = new TestKey('', 15);
const tld = new TestKey('test', 13);
const ex = new TestKey('example.test', 15);
const anchors: TrustAnchor[] = [{ zone: '', ds: [decodeDs(root.ds().rdata)], keys: [] }];
const kind = (v: { kind: string; reason?: string }): string => (v.kind === 'secure' ? 'secure' : `${v.kind}/${v.reason}`);

/** Scripted upstream: the chain root → test → example.test, `extra` answers, and a fallback for DS queries. */
function upstream(extra: Record<string, Message>, dsFallback?: (name: Name) => Message): (n: Name, t: number) => Promise<Message> {
  const table: Record<string, Message> = {
    ...chainAnswers(root, tld, ex),
    ...extra,
  };
  return async (name, type) => {
    const hit = table[`${name}|${type}`];
    if (hit) return hit;
    if (type === T.DS && dsFallback) return dsFallback(name);
    throw new TransportError('timeout', `no scripted answer for ${name}/${type}`);
  };
}

/** DS questions on the way down inside example.test get an honest "exists, not a cut" NSEC. */
const notCut = (name: Name): Message => authAnswer(name, T.DS, [], signed(ex, [nsec(name, `\\000.${name}`, [T.A, T.RRSIG, T.NSEC])]));

const validate = (query: (n: Name, t: number) => Promise<Message>, name: Name, type: number, m: Message) =>
  createValidator({ anchors, query }).validate({ name, type, class: 1 }, m, NOW);

/** An NSEC3 chain (no salt, 0 iterations, as RFC 9276 asks) over `names` of example.test, each record signed. */
function chain3(names: Array<[Name, number[]]>, optOut: boolean): { recs: RR[][]; match: (n: Name) => RR[]; cover: (n: Name) => RR[] } {
  const salt = new Uint8Array();
  const hashed = names
    .map(([n, types]) => ({ h: nsec3Hash(n, salt, 0), types }))
    .sort((x, y) => Buffer.compare(Buffer.from(x.h), Buffer.from(y.h)));
  const recs = hashed.map((e, i) =>
    signed(ex, [nsec3(`${base32hex(e.h)}.example.test`, hashed[(i + 1) % hashed.length]!.h, e.types, { optOut })]),
  );
  const H = (n: Name): Buffer => Buffer.from(nsec3Hash(n, salt, 0));
  const ownerHash = (i: number): Buffer => Buffer.from(hashed[i]!.h);
  return {
    recs,
    match: (n) => recs[hashed.findIndex((e) => H(n).equals(Buffer.from(e.h)))]!,
    cover: (n) => {
      const h = H(n);
      const i = hashed.findIndex((_, j) => {
        const lo = ownerHash(j),
          hi = ownerHash((j + 1) % hashed.length);
        return lo.compare(hi) < 0 ? lo.compare(h) < 0 && h.compare(hi) < 0 : lo.compare(h) < 0 || h.compare(hi) < 0;
      });
      return recs[i]!;
    },
  };
}

describe('corners: NSEC3 opt-out makes proofs insecure, not secure (RFC 5155 §9.2)', () => {
  // example.test: the apex, www, and (opt-out) an unsigned delegation child.example.test that has no NSEC3.
  const names: Array<[Name, number[]]> = [
    ['example.test', [T.NS, T.SOA, T.RRSIG, T.DNSKEY, 51]],
    ['www.example.test', [T.A, T.RRSIG]],
  ];
  const oo = chain3(names, true);
  const plain = chain3(names, false);
  const soa = rr('example.test', T.SOA, new Uint8Array(22));
  /** The NXDOMAIN proof for `q`: closest encloser example.test, next closer q, wildcard *.example.test. */
  const nxProof = (c: typeof oo, q: Name): RR[] => [...new Set([...c.match('example.test'), ...c.cover(q), ...c.cover('*.example.test')])];

  it('NXDOMAIN whose next closer name lies in an opt-out span is insecure; without opt-out, secure', async () => {
    for (const [c, want] of [
      [oo, 'insecure/nsec3-opt-out'],
      [plain, 'secure'],
    ] as const) {
      const nx = authAnswer('nope.example.test', T.A, [], [...signed(ex, [soa]), ...nxProof(c, 'nope.example.test')], 3);
      // The server answers the DS walk's question about the name with the same proof.
      const q = upstream({ 'nope.example.test|43': { ...nx, questions: [{ name: 'nope.example.test', type: T.DS, class: 1 }] } });
      const r = await validate(q, 'nope.example.test', T.A, nx);
      assert.equal(kind(r.verdict), want);
      assert.equal(r.negative, 'nxdomain');
    }
  });

  it('the proofs themselves: NXDOMAIN, wildcard answer, wildcard NODATA and unmatched NODATA', () => {
    const b = (): Nsec3Budget => new Nsec3Budget(64);
    const L = DEFAULT_NSEC3_LIMITS;
    const z = 'example.test';
    const wnames: Array<[Name, number[]]> = [...names, ['*.example.test', [T.TXT, T.RRSIG]]];
    const recs = (optOut: boolean): Nsec3Record[] =>
      chain3(wnames, optOut)
        .recs.map((s) => s[0]!)
        .map((r) => ({ owner: r.name, rd: decodeNsec3(r.rdata) }));
    for (const [optOut, want] of [
      [true, 'insecure/nsec3-opt-out'],
      [false, 'secure'],
    ] as const) {
      const r = recs(optOut);
      assert.equal(kind(nsec3ProveWildcardAnswer(r, 'q.example.test', '*.example.test', z, L, b())), want, 'wildcard answer');
      assert.equal(kind(nsec3ProveNodata(r, 'q.example.test', T.A, z, L, b())), want, 'wildcard NODATA');
    }
    const nowc = (optOut: boolean): Nsec3Record[] =>
      chain3(names, optOut)
        .recs.map((s) => s[0]!)
        .map((r) => ({ owner: r.name, rd: decodeNsec3(r.rdata) }));
    assert.equal(kind(nsec3ProveNxdomain(nowc(true), 'q.example.test', z, L, b())), 'insecure/nsec3-opt-out');
    assert.equal(
      kind(nsec3ProveNodata(nowc(true), 'q.example.test', T.MX, z, L, b())),
      'insecure/nsec3-opt-out',
      'NODATA in an opt-out span (Unbound val_nsec3_optout_ad)',
    );
    assert.equal(kind(nsec3ProveNodata(nowc(false), 'q.example.test', T.MX, z, L, b())), 'bogus/nsec-proof-failed');
    // The opt-out flag does not excuse a wrong proof: the wildcard NSEC3 lists the type asked for.
    assert.equal(kind(nsec3ProveNodata(recs(true), 'q.example.test', T.TXT, z, L, b())), 'bogus/nsec-proof-failed');
  });

  it('the DS walk does not trust the rcode: an opt-out DS denial under an NXDOMAIN rcode still proves an unsigned cut', async () => {
    // child.example.test is an unsigned delegation inside the opt-out span; its DS NODATA proof is a
    // closest encloser proof (example.test) with the next closer name covered by an opt-out NSEC3.
    const proof = [...signed(ex, [soa]), ...new Set([...oo.match('example.test'), ...oo.cover('child.example.test')])];
    const www = [a('www.child.example.test', '192.0.2.12')];
    for (const rcode of [0, 3]) {
      const q = upstream({ 'child.example.test|43': authAnswer('child.example.test', T.DS, [], proof, rcode) });
      const r = await validate(q, 'www.child.example.test', T.A, authAnswer('www.child.example.test', T.A, www));
      assert.equal(kind(r.verdict), 'insecure/nsec3-opt-out', `DS answer with rcode ${rcode}`);
      assert.equal(r.verdict.kind === 'insecure' && r.verdict.at, 'child.example.test');
    }
  });
});

describe('corners: an opt-out span hands on the keys of the zone above it', () => {
  const names: Array<[Name, number[]]> = [
    ['example.test', [T.NS, T.SOA, T.RRSIG, T.DNSKEY, 51]],
    ['www.example.test', [T.A, T.RRSIG]],
  ];
  const oo = chain3(names, true);
  const soa = rr('example.test', T.SOA, new Uint8Array(22));
  const proof = [...signed(ex, [soa]), ...new Set([...oo.match('example.test'), ...oo.cover('host.example.test')])];
  const fetcher = (extra: Record<string, Message>): ChainFetcher =>
    new ChainFetcher({ anchors, query: upstream(extra), cache: DEFAULT_KEY_CACHE_LIMITS, nsec3: DEFAULT_NSEC3_LIMITS });
  const ctx = (): WalkContext => ({ nowSec: NOW, queries: 0, maxQueries: 48, links: new Map() });

  it('the walk says insecure at the span, with example.test and its keys; data example.test signed is judged with them', async () => {
    const st = await fetcher({ 'host.example.test|43': authAnswer('host.example.test', T.DS, [], proof) }).zoneFor(
      'host.example.test',
      ctx(),
    );
    assert.equal(kind(st.verdict), 'insecure/nsec3-opt-out');
    assert.equal(st.zone, 'example.test');
    assert.deepEqual(st.keys, [ex.dnskey]);
    // A wildcard expansion signed by example.test is example.test's data; unsigned data, or data signed
    // by anyone else, is what an unsigned delegation in the span would send.
    const wild = [a('host.example.test', '192.0.2.7')];
    assert.ok(optOutButSignedBy(st, [{ ...ex.sign([a('*.example.test', '192.0.2.7')]), name: 'host.example.test' }]));
    assert.ok(!optOutButSignedBy(st, []));
    assert.ok(!optOutButSignedBy(st, [tld.sign(wild)]));
  });

  it("a proven unsigned delegation hands on no keys: nothing below it is judged as the parent's", async () => {
    const n = nsec('example.test', 'zz.test', [T.NS, T.RRSIG, T.NSEC]);
    const st = await fetcher({ 'example.test|43': authAnswer('example.test', T.DS, [], signed(tld, [n])) }).zoneFor(
      'www.example.test',
      ctx(),
    );
    assert.equal(kind(st.verdict), 'insecure/unsigned-delegation');
    assert.deepEqual(st.keys, []);
    assert.ok(!optOutButSignedBy(st, [tld.sign([a('www.example.test', '192.0.2.1')])]));
  });
});

describe('corners: wildcard proofs that rest on wildcard-expanded NSECs are bogus (CVE-2017-15105)', () => {
  const soa = signed(ex, [rr('example.test', T.SOA, new Uint8Array(22))]);
  /** An NSEC at `owner` signed as if expanded from *.example.test (RRSIG labels 2). */
  const expanded = (owner: Name, next: Name, types: number[]): RR[] => {
    const n = nsec(owner, next, types);
    return [n, ex.sign([n], { labels: 2 })];
  };
  const honest = (owner: Name, next: Name, types: number[]): RR[] => signed(ex, [nsec(owner, next, types)]);

  it('NODATA whose only NSEC was expanded from a wildcard (Unbound val_nodata_failwc)', async () => {
    const qn = '_25._tcp.mail.example.test';
    const bad = await validate(
      upstream({}, notCut),
      qn,
      52,
      authAnswer(qn, 52, [], [...soa, ...expanded(qn, 'delegation.example.test', [T.TXT, T.RRSIG, T.NSEC])]),
    );
    assert.equal(kind(bad.verdict), 'bogus/labels-mismatch');
    // Control: the same NSEC, really at that owner, proves the NODATA.
    const good = await validate(
      upstream({}, notCut),
      qn,
      52,
      authAnswer(qn, 52, [], [...soa, ...honest(qn, 'delegation.example.test', [T.TXT, T.RRSIG, T.NSEC])]),
    );
    assert.equal(kind(good.verdict), 'secure');
  });

  it('NXDOMAIN whose covering NSEC was expanded from a wildcard (Unbound val_nx_failwc)', async () => {
    const bad = await validate(
      upstream({}, notCut),
      'a.example.test',
      T.TXT,
      authAnswer(
        'a.example.test',
        T.TXT,
        [],
        [...soa, ...expanded('!.example.test', 'delegation.example.test', [T.TXT, T.RRSIG, T.NSEC])],
        3,
      ),
    );
    assert.equal(kind(bad.verdict), 'bogus/labels-mismatch');
    const good = await validate(
      upstream({}, notCut),
      'a.example.test',
      T.TXT,
      authAnswer(
        'a.example.test',
        T.TXT,
        [],
        [...soa, ...honest('!.example.test', 'delegation.example.test', [T.TXT, T.RRSIG, T.NSEC])],
        3,
      ),
    );
    assert.equal(kind(good.verdict), 'secure');
  });

  it('a DS denial resting on a wildcard-expanded NSEC is bogus, not an insecure delegation (Unbound val_wcnsec_nods)', async () => {
    // *.test IN NS ... makes `*.test NSEC aa.test NS RRSIG NSEC`; replayed under the name example.test.
    const n = nsec('example.test', 'aa.test', [T.NS, T.RRSIG, T.NSEC]);
    const q = upstream({ 'example.test|43': authAnswer('example.test', T.DS, [], [n, tld.sign([n], { labels: 1 })]) });
    const www = [a('www.example.test', '10.20.30.66')];
    const r = await validate(q, 'www.example.test', T.A, authAnswer('www.example.test', T.A, www));
    assert.equal(kind(r.verdict), 'bogus/labels-mismatch');
    // Control: the NSEC really at example.test proves the unsigned delegation.
    const q2 = upstream({ 'example.test|43': authAnswer('example.test', T.DS, [], signed(tld, [n])) });
    assert.equal(
      kind((await validate(q2, 'www.example.test', T.A, authAnswer('www.example.test', T.A, www))).verdict),
      'insecure/unsigned-delegation',
    );
  });

  it('wildcard NODATA without the NSEC that denies the name, or with the wrong closest encloser', () => {
    const Z = 'example.com';
    // val_nodatawc_nodeny: only the wildcard's own NSEC, which does not cover www.example.com.
    assert.equal(
      kind(nsecProveNodata([{ owner: '*.example.com', next: 'ns.example.com', types: [T.RRSIG, T.NSEC] }], 'www.example.com', T.A, Z)),
      'bogus/nsec-proof-failed',
    );
    // The name is denied but no NSEC matches the wildcard at its closest encloser.
    assert.equal(
      kind(
        nsecProveNodata([{ owner: 'ns.example.com', next: 'zork.example.com', types: [T.A, T.RRSIG, T.NSEC] }], 'www.example.com', T.A, Z),
      ),
      'bogus/nsec-proof-failed',
    );
    // A wildcard at another level (*.sub) is not the one at www's closest encloser.
    assert.equal(
      kind(
        nsecProveNodata(
          [
            { owner: 'ns.example.com', next: 'zork.example.com', types: [T.A, T.RRSIG, T.NSEC] },
            { owner: '*.sub.example.com', next: 'tt.example.com', types: [T.RRSIG, T.NSEC] },
          ],
          'www.example.com',
          T.A,
          Z,
        ),
      ),
      'bogus/nsec-proof-failed',
    );
    // NXDOMAIN where the wildcard exists (it should have been expanded).
    assert.equal(
      kind(
        nsecProveNxdomain(
          [
            { owner: 'ns.example.com', next: 'zork.example.com', types: [T.A, T.RRSIG, T.NSEC] },
            { owner: '*.example.com', next: 'ns.example.com', types: [T.TXT, T.RRSIG, T.NSEC] },
          ],
          'www.example.com',
          Z,
        ),
      ),
      'bogus/nsec-proof-failed',
    );
  });

  it('an NSEC signed by this zone but owned outside it proves nothing (Unbound val_nodatawc_badce)', async () => {
    const n = nsec('*.test', 'test', [T.RRSIG, T.NSEC]);
    const r = await validate(
      upstream({}, notCut),
      'www.example.test',
      T.A,
      authAnswer('www.example.test', T.A, [], [...soa, n, ex.sign([n], { owner: '*.test', labels: 1 })]),
    );
    assert.equal(r.verdict.kind, 'bogus');
  });
});

describe('corners: SHA-1 DS records are ignored beside SHA-256 ones (RFC 4509 §3)', () => {
  const zone = 'sha.test';
  const ksk = new TestKey(zone, 13, 257);
  const other = new TestKey(zone, 13, 257);
  const set = [ksk.dnskey];
  const ds = (k: TestKey, digestType: number) => decodeDs(k.ds(digestType).rdata);
  const check = (dsSet: ReturnType<typeof ds>[]): string =>
    kind(validateKeySet({ zone, ds: dsSet, keys: [] }, set, [ksk.sign(set)], NOW).verdict);

  it('a correct SHA-1 DS alone is enough', () => {
    assert.equal(check([ds(ksk, 1)]), 'secure');
  });

  it('a correct SHA-1 DS is ignored when a SHA-256 (or SHA-384) DS is present, even one for another key', () => {
    assert.equal(check([ds(ksk, 1), ds(other, 2)]), 'bogus/ds-mismatch');
    assert.equal(check([ds(ksk, 1), ds(other, 4)]), 'bogus/ds-mismatch');
    assert.equal(check([ds(ksk, 1), ds(ksk, 2)]), 'secure');
  });

  it('only DS records we can use count as present: a SHA-256 DS of an unknown algorithm or with a short digest does not hide SHA-1', () => {
    const unknownAlg = { ...ds(other, 2), algorithm: 253 };
    const short = { ...ds(other, 2), digest: ds(other, 2).digest.subarray(0, 20) };
    assert.equal(check([ds(ksk, 1), unknownAlg]), 'secure');
    assert.equal(check([ds(ksk, 1), short]), 'secure');
    assert.deepEqual(
      usableDsSet([ds(ksk, 1), short]).map((d) => d.digestType),
      [1],
    );
  });

  it('the DS set is judged as published: a DS RRset with both digests for the key validates end to end', async () => {
    const both = [ex.ds(1), ex.ds(2)];
    const q = upstream({ 'example.test|43': authAnswer('example.test', T.DS, signed(tld, both)) }, notCut);
    const www = [a('www.example.test', '192.0.2.1')];
    assert.equal((await validate(q, 'www.example.test', T.A, authAnswer('www.example.test', T.A, signed(ex, www)))).verdict.kind, 'secure');
    const wrong256 = rr('example.test', T.DS, encodeDs({ ...decodeDs(ex.ds(2).rdata), digest: new Uint8Array(32).fill(7) }));
    const q2 = upstream({ 'example.test|43': authAnswer('example.test', T.DS, signed(tld, [ex.ds(1), wrong256])) }, notCut);
    assert.equal(
      kind((await validate(q2, 'www.example.test', T.A, authAnswer('www.example.test', T.A, signed(ex, www)))).verdict),
      'bogus/ds-mismatch',
    );
  });
});
