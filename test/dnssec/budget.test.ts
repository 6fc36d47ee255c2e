// Work budgets against KeyTrap-class responses (CVE-2023-50387, CVE-2023-50868): properly signed zones
// built as an attacker would (test/dnssec/keytrap.ts). Each test shows the material is genuine (it
// verifies when the bounds are lifted) and that, bounded, it ends in 'indeterminate' after little work.
// Costs are asserted as counts of public-key operations, never as times (bench/keytrap.ts times them).
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { ValidationBudget, DEFAULT_BUDGET_LIMITS } from '../../src/dnssec/budget';
import { keyUnusable, RSA_LIMITS } from '../../src/dnssec/crypto';
import { validateKeySet } from '../../src/dnssec/ds';
import { decodeDs, decodeRrsig, canonicalRRsetWire, concat, keyTag, rrsigSignedPrefix } from '../../src/dnssec/records';
import { verifyRrset } from '../../src/dnssec/rrsig';
import { DEFAULT_NSEC3_LIMITS, nsec3ProveNxdomain, type Nsec3Record, nsec3Hash } from '../../src/dnssec/nsec3';
import { base32hex } from '../../src/dnssec/crypto';
import { ChainFetcher, type WalkContext } from '../../src/dnssec/fetcher';
import { classifyDsResponse, MAX_DENIAL_RRSETS } from '../../src/dnssec/chain';
import { DEFAULT_KEY_CACHE_LIMITS } from '../../src/dnssec/key-cache';
import type { TrustAnchor } from '../../src/dnssec/anchors';
import { encodeDnskey, encodeRrsig } from '../../src/wire/rdata';
import type { Message, Name } from '../../src/wire/types';
import { TransportError } from '../../src/util/errors';
import { a, authAnswer, NOW, nsec, rr, T, TestKey } from './signer';
import { bigExponentRsaKey, collidingEd25519Keys, junkRrsig, keyTrapZone } from './keytrap';

const UNBOUNDED = {
  maxVerifications: 1e9,
  maxFailures: 1e9,
  maxSigsPerRrset: 1e9,
  maxKeysPerTag: 1e9,
  maxDigests: 1e9,
  maxNsec3Hashes: 1e9,
};
const kind = (v: { kind: string; reason?: string }): string => (v.kind === 'secure' ? 'secure' : `${v.kind}/${v.reason}`);

describe('work budgets (KeyTrap)', () => {
  // 40 keys share the ZSK's tag; the answer carries 20 junk RRSIGs with that tag, then the real one.
  const z = keyTrapZone('keytrap.test', 40, 20);

  it('the KeyTrap zone is genuine: unbounded, its answer verifies after sigs × keys verifications', () => {
    assert.equal(verifyRrset(z.dnskeys, [z.dnskeySig], [z.ksk.dnskey], z.zone, NOW).verdict.kind, 'secure');
    const b = new ValidationBudget(UNBOUNDED);
    assert.equal(verifyRrset(z.answer, z.answerSigs, z.dnskeys, z.zone, NOW, b).verdict.kind, 'secure');
    assert.equal(b.verifications, 20 * 41 + 1);
  });

  it('bounded, the same answer is indeterminate after at most maxFailures failed verifications', () => {
    const b = new ValidationBudget();
    const r = verifyRrset(z.answer, z.answerSigs, z.dnskeys, z.zone, NOW, b);
    assert.equal(kind(r.verdict), 'indeterminate/budget-exhausted');
    assert.match(r.verdict.kind === 'indeterminate' ? r.verdict.detail : '', /failed signature verifications/);
    assert.equal(b.failures, DEFAULT_BUDGET_LIMITS.maxFailures);
    assert.equal(b.verifications, DEFAULT_BUDGET_LIMITS.maxFailures);
    // The default budget of a lone call bounds it too.
    assert.equal(kind(verifyRrset(z.answer, z.answerSigs, z.dnskeys, z.zone, NOW).verdict), 'indeterminate/budget-exhausted');
  });

  it('a spent budget refuses every further RRset of the response without any arithmetic', () => {
    const b = new ValidationBudget();
    verifyRrset(z.answer, z.answerSigs, z.dnskeys, z.zone, NOW, b);
    const before = b.verifications;
    const other = [a('ok.keytrap.test', '192.0.2.1')];
    const r = verifyRrset(other, [z.zsk.sign(other)], z.dnskeys, z.zone, NOW, b);
    assert.equal(kind(r.verdict), 'indeterminate/budget-exhausted');
    assert.equal(b.verifications, before);
  });

  it('tries at most maxKeysPerTag keys per RRSIG', () => {
    const zsk = new TestKey('tags.test', 15, 256);
    const www = [a('www.tags.test', '192.0.2.1')];
    const fakes = collidingEd25519Keys('tags.test', zsk.tag, 4);
    // Four impostors listed before the real key: the real one is the fifth with that tag.
    const b = new ValidationBudget({ maxFailures: 100 });
    const r = verifyRrset(www, [zsk.sign(www)], [...fakes, zsk.dnskey], 'tags.test', NOW, b);
    assert.equal(kind(r.verdict), 'indeterminate/budget-exhausted');
    assert.match(r.verdict.kind === 'indeterminate' ? r.verdict.detail : '', /5 keys share tag \d+/);
    assert.equal(b.verifications, DEFAULT_BUDGET_LIMITS.maxKeysPerTag);
    // Three impostors: the real key is within reach (tag collisions do happen between honest keys).
    assert.equal(verifyRrset(www, [zsk.sign(www)], [...fakes.slice(1), zsk.dnskey], 'tags.test', NOW).verdict.kind, 'secure');
  });

  it('takes at most maxSigsPerRrset RRSIGs of one RRset to the public-key step', () => {
    const zsk = new TestKey('sigs.test', 15, 256);
    const www = [a('www.sigs.test', '192.0.2.1')];
    const junk = Array.from({ length: 9 }, () => junkRrsig(zsk, www));
    const b = new ValidationBudget({ maxFailures: 100 });
    const r = verifyRrset(www, [...junk, zsk.sign(www)], [zsk.dnskey], 'sigs.test', NOW, b);
    assert.equal(kind(r.verdict), 'indeterminate/budget-exhausted');
    assert.match(r.verdict.kind === 'indeterminate' ? r.verdict.detail : '', /more than 8 RRSIGs/);
    assert.equal(b.verifications, 8);
    assert.equal(
      verifyRrset(www, [...junk.slice(2), zsk.sign(www)], [zsk.dnskey], 'sigs.test', NOW, new ValidationBudget({ maxFailures: 100 }))
        .verdict.kind,
      'secure',
    );
  });

  it('an ordinary broken signature is still bogus, not hidden behind the budget', () => {
    const zsk = new TestKey('broken.test', 13, 256);
    const www = [a('www.broken.test', '192.0.2.1')];
    const r = verifyRrset(www, [junkRrsig(zsk, www)], [zsk.dnskey], 'broken.test', NOW, new ValidationBudget());
    assert.equal(kind(r.verdict), 'bogus/sig-invalid');
  });

  it('counts every verification of a response, successful ones too', () => {
    const zsk = new TestKey('many.test', 15, 256);
    const b = new ValidationBudget({ maxVerifications: 5 });
    const results = Array.from({ length: 7 }, (_, i) => {
      const set = [a(`h${i}.many.test`, '192.0.2.1')];
      return kind(verifyRrset(set, [zsk.sign(set)], [zsk.dnskey], 'many.test', NOW, b).verdict);
    });
    assert.deepEqual(results, [
      'secure',
      'secure',
      'secure',
      'secure',
      'secure',
      'indeterminate/budget-exhausted',
      'indeterminate/budget-exhausted',
    ]);
    assert.match(b.spent ?? '', /more than 5 signature verifications/);
  });

  it('a DNSKEY set with many keys sharing the DS tag: at most maxKeysPerTag digests per DS', () => {
    const ksk = new TestKey('dsk.test', 15, 257);
    const fakes = collidingEd25519Keys('dsk.test', ksk.tag, 6, 257);
    const set = [...fakes, ksk.dnskey];
    const b = new ValidationBudget();
    const r = validateKeySet({ zone: 'dsk.test', ds: [decodeDs(ksk.ds().rdata)], keys: [] }, set, [ksk.sign(set)], NOW, b);
    assert.equal(kind(r.verdict), 'indeterminate/budget-exhausted');
    assert.equal(b.digests, DEFAULT_BUDGET_LIMITS.maxKeysPerTag);
    const ok = [...fakes.slice(3), ksk.dnskey];
    assert.equal(
      validateKeySet({ zone: 'dsk.test', ds: [decodeDs(ksk.ds().rdata)], keys: [] }, ok, [ksk.sign(ok)], NOW).verdict.kind,
      'secure',
    );
  });

  it('NSEC3 hashes are counted per response, across proofs, and remembered', () => {
    const salt = Uint8Array.of(0xab);
    const names = ['example', 'a.example', 'z.example'];
    const hashed = names.map((n) => nsec3Hash(n, salt, 10)).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const recs: Nsec3Record[] = hashed.map((h, i) => ({
      owner: `${base32hex(h)}.example`,
      rd: { hashAlgorithm: 1, flags: 0, iterations: 10, salt, nextHashed: hashed[(i + 1) % hashed.length]!, types: [T.A] },
    }));
    const b = new ValidationBudget({ maxNsec3Hashes: 6 });
    const deep = 'a.b.c.d.e.f.g.example';
    assert.equal(kind(nsec3ProveNxdomain(recs, deep, 'example', DEFAULT_NSEC3_LIMITS, b)), 'indeterminate/budget-exhausted');
    assert.equal(b.hashes, 6);
    const again = new ValidationBudget({ maxNsec3Hashes: 20 });
    nsec3ProveNxdomain(recs, 'q.example', 'example', DEFAULT_NSEC3_LIMITS, again);
    const used = again.hashes;
    nsec3ProveNxdomain(recs, 'q.example', 'example', DEFAULT_NSEC3_LIMITS, again);
    assert.equal(again.hashes, used, 'the second proof over the same names costs no hash');
  });
});

describe('RSA keys too large to use', () => {
  it('refuses exponents above 35 bits and moduli above 4096 bits, before any arithmetic', () => {
    const pub = (e: Uint8Array, nBytes: number): Uint8Array => {
      const n = new Uint8Array(nBytes).fill(0xc5);
      return Uint8Array.from([...(e.length < 256 ? [e.length] : [0, e.length >> 8, e.length & 0xff]), ...e, ...n]);
    };
    assert.equal(keyUnusable(8, pub(Uint8Array.of(1, 0, 1), 256)), null);
    assert.equal(keyUnusable(8, pub(Uint8Array.of(0x07, 0xff, 0xff, 0xff, 0xff), 256)), null); // 35 bits
    assert.match(keyUnusable(8, pub(Uint8Array.of(0x08, 0, 0, 0, 1), 256)) ?? '', /exponent of 36 bits/);
    assert.match(keyUnusable(10, pub(Uint8Array.of(1, 0, 1), 4096 / 8 + 1)) ?? '', /modulus of 4104 bits/);
    assert.match(keyUnusable(5, pub(new Uint8Array(375).fill(0xff), 384)) ?? '', /exponent of 3000 bits/);
    assert.equal(keyUnusable(13, new Uint8Array(64)), null);
    assert.deepEqual(RSA_LIMITS, { maxExponentBits: 35, maxModulusBits: 4096 });
  });

  // One key, made once: a 3072-bit modulus with a 3000-bit public exponent (RFC 3110 allows 4096).
  let big: TestKey;
  before(function () {
    this.timeout(30_000);
    big = new TestKey('bigexp.test', 8, 257, bigExponentRsaKey(3072, 3000));
  });

  it('a genuine signature by a 3000-bit-exponent key is refused as unusable-key, with no verification done', () => {
    const www = [a('www.bigexp.test', '192.0.2.1')];
    const sig = big.sign(www);
    // The material is genuine: node:crypto verifies it (slowly).
    const data = concat([rrsigSignedPrefix(sig.rdata), canonicalRRsetWire(www, 3600)]);
    assert.ok(cryptoVerify('sha256', data, createPublicKey(big.privateKey), decodeRrsig(sig.rdata).signature));
    const b = new ValidationBudget();
    const r = verifyRrset(www, [sig], [big.dnskey], 'bigexp.test', NOW, b);
    assert.equal(kind(r.verdict), 'bogus/unusable-key');
    assert.match(r.verdict.kind === 'bogus' ? r.verdict.detail : '', /exponent of 3000 bits/);
    assert.equal(b.verifications, 0);
  });

  it('a zone whose DS vouches only for such a key is insecure (RFC 6840 §5.2 reasoning); a stripped good key stays bogus', () => {
    const set = [big.dnskey];
    const tp = { zone: 'bigexp.test', ds: [decodeDs(big.ds().rdata)], keys: [] };
    const r = validateKeySet(tp, set, [big.sign(set)], NOW);
    assert.equal(kind(r.verdict), 'insecure/unusable-key');
    // A second DS names a usable key the (attacker-trimmed) DNSKEY set no longer holds: not insecure.
    const good = new TestKey('bigexp.test', 13, 257);
    const trimmed = validateKeySet({ ...tp, ds: [...tp.ds, decodeDs(good.ds().rdata)] }, set, [big.sign(set)], NOW);
    assert.equal(kind(trimmed.verdict), 'bogus/unusable-key');
    // With the usable key present and signing, the zone is secure; the big key is simply never used.
    const both = [big.dnskey, good.dnskey];
    const ok = validateKeySet({ ...tp, ds: [...tp.ds, decodeDs(good.ds().rdata)] }, both, [good.sign(both)], NOW);
    assert.equal(ok.verdict.kind, 'secure');
  });

  it('a fake 4104-bit modulus key is refused too', () => {
    const n = new Uint8Array(513).fill(0x9d);
    const rdata = encodeDnskey({ flags: 256, protocol: 3, algorithm: 8, publicKey: Uint8Array.from([3, 1, 0, 1, ...n]) });
    const key = rr('huge.test', T.DNSKEY, rdata);
    const www = [a('www.huge.test', '192.0.2.1')];
    const fake = new TestKey('huge.test', 8, 256);
    const sig = rr('www.huge.test', T.RRSIG, encodeRrsig({ ...decodeRrsig(fake.sign(www).rdata), keyTag: keyTag(rdata) }));
    const b = new ValidationBudget();
    assert.equal(kind(verifyRrset(www, [sig], [key], 'huge.test', NOW, b).verdict), 'bogus/unusable-key');
    assert.equal(b.verifications, 0);
  });
});

describe('budgets in the chain walk', () => {
  const root = new TestKey('', 15);
  const anchors: TrustAnchor[] = [{ zone: '', ds: [decodeDs(root.ds().rdata)], keys: [] }];
  const msg = authAnswer;

  it('a DS answer stuffed with validly signed NSECs: only the first MAX_DENIAL_RRSETS are checked', () => {
    const tld = new TestKey('test', 13);
    const parent = { zone: 'test', keys: [tld.dnskey], keyTags: [tld.tag] };
    const filler = Array.from({ length: 10 }, (_, i) => {
      const n = nsec(`f${i}.test`, `f${i}a.test`, [T.A, T.RRSIG, T.NSEC]);
      return [n, tld.sign([n])];
    }).flat();
    const cut = nsec('child.test', 'd.test', [T.NS, T.RRSIG, T.NSEC]);
    const proof = [cut, tld.sign([cut])];
    const b = new ValidationBudget();
    const stuffed = classifyDsResponse(
      parent,
      'child.test',
      msg('child.test', T.DS, [], [...filler, ...proof]),
      NOW,
      DEFAULT_NSEC3_LIMITS,
      b,
    );
    assert.equal(stuffed.kind === 'end' && stuffed.verdict.kind, 'bogus');
    assert.equal(b.verifications, MAX_DENIAL_RRSETS);
    const honest = classifyDsResponse(parent, 'child.test', msg('child.test', T.DS, [], [...proof, ...filler]), NOW, DEFAULT_NSEC3_LIMITS);
    assert.equal(honest.kind === 'end' && kind(honest.verdict), 'insecure/unsigned-delegation');
  });

  it('a DNSKEY set stopped by a per-RRset limit is remembered like a bogus one (no refetch for 60 s)', async () => {
    const ksk = new TestKey('trap', 15, 257);
    const set = [ksk.dnskey];
    // Nine junk RRSIGs claiming the KSK's tag, then the real one: the ninth is past maxSigsPerRrset.
    const junk = Array.from({ length: 9 }, () => junkRrsig(ksk, set));
    const log: string[] = [];
    const table: Record<string, Message> = {
      '|48': msg('', T.DNSKEY, [root.dnskey, root.sign([root.dnskey])]),
      'trap|43': msg('trap', T.DS, [ksk.ds(), root.sign([ksk.ds()])]),
      'trap|48': msg('trap', T.DNSKEY, [...set, ...junk, ksk.sign(set)]),
    };
    const query = async (n: Name, t: number): Promise<Message> => {
      log.push(`${n}|${t}`);
      const m = table[`${n}|${t}`];
      if (!m) throw new TransportError('timeout', `no answer for ${n}/${t}`);
      return m;
    };
    const f = new ChainFetcher({ anchors, query, cache: DEFAULT_KEY_CACHE_LIMITS, nsec3: DEFAULT_NSEC3_LIMITS });
    const ctx = (now: number): WalkContext => ({ nowSec: now, queries: 0, maxQueries: 48, links: new Map() });
    const c1 = ctx(NOW);
    const z1 = await f.zoneFor('trap', c1);
    assert.equal(kind(z1.verdict), 'indeterminate/budget-exhausted');
    assert.match(z1.verdict.kind === 'indeterminate' ? z1.verdict.detail : '', /more than 8 RRSIGs/);
    assert.equal(c1.budget?.verifications, 10); // the root's key set, the DS RRset, then 8 junk RRSIGs
    const fetches = (): number => log.filter((l) => l === 'trap|48').length;
    assert.equal(fetches(), 1);
    await f.zoneFor('trap', ctx(NOW + 59));
    assert.equal(fetches(), 1, 'remembered for the bogus lifetime');
    await f.zoneFor('trap', ctx(NOW + 61));
    assert.equal(fetches(), 2, 'asked again after 60 s');
  });

  it('a DNSKEY set cut short by an exhausted response budget is not remembered', async () => {
    const ksk = new TestKey('spent', 15, 257);
    const set = [ksk.dnskey];
    const table: Record<string, Message> = {
      '|48': msg('', T.DNSKEY, [root.dnskey, root.sign([root.dnskey])]),
      'spent|43': msg('spent', T.DS, [ksk.ds(), root.sign([ksk.ds()])]),
      'spent|48': msg('spent', T.DNSKEY, [...set, ksk.sign(set)]),
    };
    let fetches = 0;
    const query = async (n: Name, t: number): Promise<Message> => {
      if (n === 'spent' && t === 48) fetches++;
      return table[`${n}|${t}`]!;
    };
    const f = new ChainFetcher({
      anchors,
      query,
      cache: DEFAULT_KEY_CACHE_LIMITS,
      nsec3: DEFAULT_NSEC3_LIMITS,
      budget: { maxVerifications: 2 },
    });
    const c = (): WalkContext => ({ nowSec: NOW, queries: 0, maxQueries: 48, links: new Map() });
    assert.equal(kind((await f.zoneFor('spent', c())).verdict), 'indeterminate/budget-exhausted'); // root keys, DS, then none left
    const fresh: WalkContext = { ...c(), budget: new ValidationBudget() };
    assert.equal((await f.zoneFor('spent', fresh)).verdict.kind, 'secure');
    assert.equal(fetches, 2);
  });
});
