// Checks made ahead on the thread pool (src/dnssec/ahead.ts, crypto.ts verifyAhead): a success kept
// is used only by a check on exactly the same bytes, failures are never kept, the work budget still
// counts every check, and the plan stays bounded whatever a response holds.
import assert from 'node:assert/strict';
import { checkAhead, dsChecks, MAX_AHEAD, responseChecks } from '../../src/dnssec/ahead';
import { ValidationBudget } from '../../src/dnssec/budget';
import { madeAhead, verifiedAhead, verifySignature } from '../../src/dnssec/crypto';
import { likelyCheck, verifyRrset } from '../../src/dnssec/rrsig';
import type { ZoneStatus } from '../../src/dnssec/validate';
import { type Message, RRType } from '../../src/wire/types';
import { a, NOW, rr, TestKey } from './signer';
import { dnsResponse } from '../support/messages';

const zone = 'example.test';
const zsk = new TestKey(zone, 13, 256);
const other = new TestKey(zone, 13, 256);
const keys = [zsk.dnskey];

function message(answers: Message['answers'], authorities: Message['authorities'] = [], rcode = 0): Message {
  return dnsResponse({ id: 1, rd: true, ra: true, cd: true, rcode, answers, authorities });
}

describe('checks made ahead of validation', () => {
  const www = [a('www.example.test', '192.0.2.1')];

  it('a success made ahead is used once by the same check, and the budget counts it once', async () => {
    const sig = zsk.sign(www);
    const c = likelyCheck(www, [sig], keys, zone, NOW);
    assert.ok(c);
    const before = verifiedAhead();
    const budget = new ValidationBudget();
    await checkAhead([c], budget);
    assert.equal(verifiedAhead().kept, before.kept + 1);
    assert.equal(budget.verifications, 1);
    assert.equal(verifyRrset(www, [sig], keys, zone, NOW, budget).verdict.kind, 'secure');
    assert.equal(verifiedAhead().used, before.used + 1);
    assert.equal(budget.verifications, 1);
    // Used up: the next check on the same bytes is made again, and still says secure.
    assert.equal(verifyRrset(www, [sig], keys, zone, NOW).verdict.kind, 'secure');
    assert.equal(verifiedAhead().used, before.used + 1);
  });

  it('a kept success says nothing about other bytes: other data, other key', async () => {
    const sig = zsk.sign(www);
    const c = likelyCheck(www, [sig], keys, zone, NOW)!;
    await checkAhead([c], new ValidationBudget());
    const before = verifiedAhead();
    const forged = [a('www.example.test', '192.0.2.66')];
    assert.equal(verifyRrset(forged, [sig], keys, zone, NOW).verdict.kind, 'bogus');
    const otherKey = likelyCheck(www, [other.sign(www)], [other.dnskey], zone, NOW)!.key;
    assert.equal(verifySignature(c.alg, otherKey, c.data, c.sig), 'invalid');
    assert.equal(madeAhead(c.alg, otherKey, c.data, c.sig), false);
    assert.equal(verifiedAhead().used, before.used);
    assert.equal(madeAhead(c.alg, c.key, c.data, c.sig), true);
    assert.equal(verifiedAhead().used, before.used + 1);
  });

  it('a failure made ahead is not kept', async () => {
    const bad = { ...zsk.sign(www) };
    const sig = Uint8Array.from(bad.rdata);
    sig[sig.length - 1]! ^= 1;
    bad.rdata = sig;
    const before = verifiedAhead();
    await checkAhead([likelyCheck(www, [bad], keys, zone, NOW)!], new ValidationBudget());
    const after = verifiedAhead();
    assert.equal(after.made, before.made + 1);
    assert.equal(after.kept, before.kept);
    assert.equal(verifyRrset(www, [bad], keys, zone, NOW).verdict.kind, 'bogus');
  });

  it('checks made ahead are charged to the budget, and none is made past it', async () => {
    const budget = new ValidationBudget({ maxVerifications: 3 });
    const checks = Array.from({ length: 5 }, () => likelyCheck(www, [zsk.sign(www)], keys, zone, NOW)!);
    const before = verifiedAhead();
    await checkAhead(checks, budget);
    assert.equal(verifiedAhead().made, before.made + 3);
    assert.equal(budget.verifications, 3);
    assert.equal(budget.spent, undefined);
    assert.equal(checkAhead(checks, budget), undefined);
  });

  it('successes no check comes for are bounded in bytes, not only in number', async () => {
    // An RRset's canonical form repeats its owner (up to 255 bytes) for every record: ~16 times the
    // compressed message. 60 such successes, never used, would otherwise stay kept (~20 MB).
    const owner = `${'o'.repeat(60)}.${'p'.repeat(60)}.${'q'.repeat(60)}.${'r'.repeat(40)}.example.test`;
    const big = Array.from({ length: 1200 }, (_, i) => a(owner, `10.${i >> 8}.${i & 255}.1`));
    for (let i = 0; i < 60; i++) {
      const c = likelyCheck(big, [zsk.sign(big, { inception: NOW - 1000 - i })], keys, zone, NOW)!;
      await checkAhead([c], new ValidationBudget());
    }
    assert.ok(verifiedAhead().bytes <= 1 << 20, `${verifiedAhead().bytes} bytes kept`);
  });

  it('plans no check of an RRSIG of another class (verifyRrset passes it over)', () => {
    assert.equal(likelyCheck(www, [{ ...zsk.sign(www), class: 3 }], keys, zone, NOW), null);
  });

  it('plans nothing a cheap rule already rules out: wrong signer, expired, no key with the tag', () => {
    assert.equal(likelyCheck(www, [zsk.sign(www, { signer: 'other.test' })], keys, zone, NOW), null);
    assert.equal(likelyCheck(www, [zsk.sign(www, { inception: NOW - 100, expiration: NOW - 1 })], keys, zone, NOW), null);
    assert.equal(likelyCheck(www, [other.sign(www, { keyTag: (zsk.tag + 1) & 0xffff })], keys, zone, NOW), null);
  });

  it('plans at most one check per RRset and MAX_AHEAD per response, whatever it holds', () => {
    const st: ZoneStatus = { zone, keys, verdict: { kind: 'secure', reason: 'chain-complete' } };
    // A SigJam answer: many valid-looking RRSIGs over one RRset.
    const sigs = Array.from({ length: 40 }, () => zsk.sign(www));
    const one = responseChecks({ name: 'www.example.test', type: RRType.A, class: 1 }, message([...www, ...sigs]), () => st, NOW);
    assert.equal(one.length, 1);
    // A denial with many NSEC RRsets.
    const nsecs = Array.from({ length: 30 }, (_, i) => {
      const n = rr(`n${i}.example.test`, RRType.NSEC, Uint8Array.of(0, 0, 6, 0x40, 1, 0, 0, 0, 3));
      return [n, zsk.sign([n])];
    }).flat();
    const denial = responseChecks({ name: 'x.example.test', type: RRType.A, class: 1 }, message([], nsecs), () => st, NOW);
    assert.ok(denial.length <= MAX_AHEAD);
    const ds = dsChecks({ zone, keys, keyTags: [zsk.tag] }, 'x.example.test', message([], nsecs), NOW);
    assert.ok(ds.length <= 6);
  });
});
