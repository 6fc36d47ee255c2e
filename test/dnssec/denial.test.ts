// Denial of existence, NSEC (RFC 4035 §5.4) and NSEC3 (RFC 5155 §8), on authenticated records.
import assert from 'node:assert/strict';
import { nsecProveNodata, nsecProveNxdomain, nsecProveWildcardAnswer, nsecCovers, type NsecRecord } from '../../src/dnssec/nsec';
import {
  DEFAULT_NSEC3_LIMITS,
  Nsec3Budget,
  nsec3Hash,
  nsec3ProveNodata,
  nsec3ProveNxdomain,
  nsec3ProveWildcardAnswer,
  type Nsec3Record,
} from '../../src/dnssec/nsec3';
import { base32hex, base32hexDecode } from '../../src/dnssec/crypto';
import type { Verdict } from '../../src/dnssec/verdict';
import { RFC5155_ITERATIONS, RFC5155_SALT } from '../vectors/rfc5155-appendix-a';

const A = 1,
  NS = 2,
  SOA = 6,
  MX = 15,
  TXT = 16,
  AAAA = 28,
  DS = 43,
  RRSIG = 46,
  NSEC = 47,
  DNSKEY = 48;
const k = (v: Verdict): string =>
  v.kind === 'bogus' || v.kind === 'insecure' || v.kind === 'indeterminate' ? `${v.kind}/${v.reason}` : v.kind;

// Zone example: example (apex), a.example (delegation, NS DS), b.example (unsigned delegation), host.example,
// *.w.example, x.y.example (so y.example is an empty non-terminal).
const Z = 'example';
const chain: NsecRecord[] = [
  { owner: 'example', next: 'a.example', types: [NS, SOA, RRSIG, NSEC, DNSKEY] },
  { owner: 'a.example', next: 'b.example', types: [NS, DS, RRSIG, NSEC] },
  { owner: 'b.example', next: 'host.example', types: [NS, RRSIG, NSEC] },
  { owner: 'host.example', next: '*.w.example', types: [A, RRSIG, NSEC] },
  { owner: '*.w.example', next: 'x.y.example', types: [TXT, RRSIG, NSEC] },
  { owner: 'x.y.example', next: 'example', types: [A, RRSIG, NSEC] },
];
const pick = (...owners: string[]): NsecRecord[] => chain.filter((r) => owners.includes(r.owner));

describe('NSEC denial of existence', () => {
  it('covers names between owner and next, and wraps at the last NSEC', () => {
    assert.ok(nsecCovers(chain[3]!, 'i.example', Z));
    assert.ok(!nsecCovers(chain[3]!, 'host.example', Z));
    assert.ok(nsecCovers(chain[5]!, 'zzz.example', Z));
    assert.ok(!nsecCovers(chain[5]!, 'other.test', Z));
  });

  it('proves NXDOMAIN with a covering NSEC and one covering the wildcard', () => {
    assert.equal(k(nsecProveNxdomain(pick('host.example', 'example'), 'i.example', Z)), 'secure');
  });

  it('rejects a forged NSEC that does not cover the name', () => {
    assert.equal(k(nsecProveNxdomain(pick('x.y.example', 'example'), 'i.example', Z)), 'bogus/nsec-proof-failed');
  });

  it('rejects an NXDOMAIN proof without the wildcard part', () => {
    assert.equal(k(nsecProveNxdomain(pick('host.example'), 'i.example', Z)), 'bogus/nsec-proof-failed');
  });

  it('rejects NXDOMAIN when a wildcard exists at the closest encloser (it should have been expanded)', () => {
    // z.w.example: the wildcard *.w.example matches; an NSEC covering z.w.example alone proves nothing.
    assert.equal(k(nsecProveNxdomain(chain, 'z.w.example', Z)), 'bogus/nsec-proof-failed');
  });

  it('RFC 6840 §4.1: an NSEC at a delegation cannot deny names below it', () => {
    // b.example NSEC (NS, no SOA) "covers" c.b.example lexically but the name lives in the child zone.
    assert.equal(k(nsecProveNxdomain(pick('b.example', 'example'), 'c.b.example', Z)), 'bogus/nsec-proof-failed');
    assert.equal(k(nsecProveNodata(pick('b.example'), 'b.example', A, Z)), 'bogus/nsec-proof-failed');
  });

  it('proves NODATA with an NSEC at the name lacking the type', () => {
    assert.equal(k(nsecProveNodata(chain, 'host.example', AAAA, Z)), 'secure');
    assert.equal(k(nsecProveNodata(chain, 'host.example', A, Z)), 'bogus/nsec-proof-failed');
  });

  it('proves NODATA for an empty non-terminal', () => {
    assert.equal(k(nsecProveNodata(pick('*.w.example'), 'y.example', A, Z)), 'secure');
  });

  it('proves wildcard NODATA', () => {
    assert.equal(k(nsecProveNodata(pick('host.example'), 'q.w.example', MX, Z)), 'bogus/nsec-proof-failed');
    // q.w.example sorts after *.w.example: covered by the *.w.example NSEC itself, which also matches the wildcard.
    assert.equal(k(nsecProveNodata(pick('*.w.example'), 'q.w.example', MX, Z)), 'secure');
    assert.equal(k(nsecProveNodata(pick('*.w.example'), 'q.w.example', TXT, Z)), 'bogus/nsec-proof-failed');
  });

  it('DS NODATA at an unsigned delegation comes from the parent side (NS without SOA)', () => {
    assert.equal(k(nsecProveNodata(chain, 'b.example', DS, Z)), 'secure');
    assert.equal(k(nsecProveNodata(chain, 'a.example', DS, Z)), 'bogus/nsec-proof-failed');
  });

  it('requires qname to be proven absent for a wildcard answer', () => {
    assert.equal(k(nsecProveWildcardAnswer(pick('*.w.example'), 'q.w.example', '*.w.example', Z)), 'secure');
    assert.equal(k(nsecProveWildcardAnswer(pick('host.example'), 'q.w.example', '*.w.example', Z)), 'bogus/wildcard-proof-failed');
  });
});

// NSEC3 over the RFC 5155 Appendix A names (salt aabbccdd, 12 iterations) in a smaller zone of our own.
const salt = new Uint8Array(Buffer.from(RFC5155_SALT, 'hex'));
const H = (n: string): Uint8Array => nsec3Hash(n, salt, RFC5155_ITERATIONS);
function nsec3Chain(names: Array<[string, number[]]>, o: { optOut?: boolean; iterations?: number } = {}): Nsec3Record[] {
  const hashed = names.map(([n, t]) => ({ h: H(n), t })).sort((x, y) => Buffer.compare(Buffer.from(x.h), Buffer.from(y.h)));
  return hashed.map((e, i) => ({
    owner: `${base32hex(e.h)}.example`,
    rd: {
      hashAlgorithm: 1,
      flags: o.optOut ? 1 : 0,
      iterations: o.iterations ?? RFC5155_ITERATIONS,
      salt,
      nextHashed: hashed[(i + 1) % hashed.length]!.h,
      types: e.t,
    },
  }));
}
const zone3 = nsec3Chain([
  ['example', [NS, SOA, RRSIG, DNSKEY]],
  ['a.example', [NS, DS, RRSIG]],
  ['ns1.example', [A, RRSIG]],
  ['w.example', []],
  ['*.w.example', [MX, RRSIG]],
  ['x.w.example', [MX, RRSIG]],
  ['y.w.example', []],
  ['x.y.w.example', [MX, RRSIG]],
]);
const L = DEFAULT_NSEC3_LIMITS;
const budget = (): Nsec3Budget => new Nsec3Budget(L.maxHashes);

describe('NSEC3 denial of existence', () => {
  it('proves NXDOMAIN with a closest encloser proof and a covered wildcard', () => {
    assert.equal(k(nsec3ProveNxdomain(zone3, 'c.example', Z, L, budget())), 'secure');
    assert.equal(k(nsec3ProveNxdomain(zone3, 'a.c.x.example', Z, L, budget())), 'secure');
  });

  it('rejects NXDOMAIN when the NSEC3 covering the wildcard is withheld', () => {
    const hw = H('*.example');
    const coversWildcard = (r: Nsec3Record): boolean => {
      const lo = Buffer.from(base32hexDecode(r.owner.split('.')[0]!)!);
      const hi = Buffer.from(r.rd.nextHashed);
      const h = Buffer.from(hw);
      return lo.compare(hi) < 0 ? lo.compare(h) < 0 && h.compare(hi) < 0 : lo.compare(h) < 0 || h.compare(hi) < 0;
    };
    const withheld = zone3.filter((r) => !coversWildcard(r));
    assert.equal(withheld.length, zone3.length - 1);
    assert.equal(k(nsec3ProveNxdomain(withheld, 'c.example', Z, L, budget())), 'bogus/nsec-proof-failed');
  });

  it('rejects NXDOMAIN for a name that has a matching NSEC3 (it exists)', () => {
    assert.equal(k(nsec3ProveNxdomain(zone3, 'ns1.example', Z, L, budget())), 'bogus/nsec-proof-failed');
  });

  it('proves NODATA with a matching NSEC3 lacking the type, and not when the type is listed', () => {
    assert.equal(k(nsec3ProveNodata(zone3, 'ns1.example', MX, Z, L, budget())), 'secure');
    assert.equal(k(nsec3ProveNodata(zone3, 'ns1.example', A, Z, L, budget())), 'bogus/nsec-proof-failed');
  });

  it('proves NODATA at an empty non-terminal', () => {
    assert.equal(k(nsec3ProveNodata(zone3, 'y.w.example', A, Z, L, budget())), 'secure');
  });

  it('proves wildcard NODATA and wildcard expansion', () => {
    assert.equal(k(nsec3ProveNodata(zone3, 'z.w.example', A, Z, L, budget())), 'secure');
    assert.equal(k(nsec3ProveWildcardAnswer(zone3, 'z.w.example', '*.w.example', Z, L, budget())), 'secure');
    assert.equal(k(nsec3ProveWildcardAnswer(zone3, 'x.w.example', '*.w.example', Z, L, budget())), 'bogus/wildcard-proof-failed');
  });

  it('opt-out: a DS denial resting on an opt-out span is insecure, not secure', () => {
    const oo = nsec3Chain(
      [
        ['example', [NS, SOA, RRSIG, DNSKEY]],
        ['ns1.example', [A, RRSIG]],
      ],
      { optOut: true },
    );
    assert.equal(k(nsec3ProveNodata(oo, 'unsigned.example', DS, Z, L, budget())), 'insecure/nsec3-opt-out');
    const noOo = nsec3Chain([
      ['example', [NS, SOA, RRSIG, DNSKEY]],
      ['ns1.example', [A, RRSIG]],
    ]);
    assert.equal(k(nsec3ProveNodata(noOo, 'unsigned.example', DS, Z, L, budget())), 'bogus/nsec-proof-failed');
  });

  it('RFC 9276: iterations above the limit make the answer insecure and say so', () => {
    const many = nsec3Chain([['example', [NS, SOA, RRSIG, DNSKEY]]], { iterations: 500 });
    const v = nsec3ProveNxdomain(many, 'nope.example', Z, L, budget());
    assert.equal(k(v), 'insecure/nsec3-iterations');
    assert.match(v.kind === 'insecure' ? v.detail : '', /500 iterations, above the limit of 150/);
  });

  it('stops hashing at the budget and answers indeterminate', () => {
    const v = nsec3ProveNxdomain(zone3, 'a.b.c.d.e.f.g.h.example', Z, L, new Nsec3Budget(3));
    assert.equal(k(v), 'indeterminate/budget-exhausted');
  });

  it('ignores NSEC3 records from another zone', () => {
    const foreign = zone3.map((r) => ({ ...r, owner: r.owner.replace(/example$/, 'other') }));
    assert.equal(k(nsec3ProveNodata(foreign, 'ns1.example', MX, Z, L, budget())), 'insecure/unsupported-algorithm');
  });
});
