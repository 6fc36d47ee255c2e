// Review of the checks made ahead (ahead.ts): every public-key check made for a response, ahead on the
// thread pool or in verifyRrset, is charged to that response's work budget (budget.ts, KeyTrap). A guess
// that verifyRrset will never make (an RRSIG of another class, a denial a positive answer does not need)
// must not be free work for whoever wrote the response.
import assert from 'node:assert/strict';
import { DEFAULT_BUDGET_LIMITS } from '../../src/dnssec/budget';
import { verifiedAhead } from '../../src/dnssec/crypto';
import { decodeDs } from '../../src/dnssec/records';
import { createValidator } from '../../src/dnssec/validator';
import type { TrustAnchor } from '../../src/dnssec/anchors';
import type { Message, Name, RR } from '../../src/wire/types';
import { a, authAnswer, NOW, nsec, T, TestKey } from './signer';

const msg = authAnswer;

describe('checks made ahead stay inside the work budget', () => {
  const root = new TestKey('', 15);
  const tld = new TestKey('test', 13);
  const evil = new TestKey('evil.test', 13);
  const anchors: TrustAnchor[] = [{ zone: '', ds: [decodeDs(root.ds().rdata)], keys: [] }];
  const table: Record<string, Message> = {
    '|48': msg('', T.DNSKEY, [root.dnskey, root.sign([root.dnskey])]),
    'test|48': msg('test', T.DNSKEY, [tld.dnskey, tld.sign([tld.dnskey])]),
    'test|43': msg('test', T.DS, [tld.ds(), root.sign([tld.ds()])]),
    'evil.test|43': msg('evil.test', T.DS, [evil.ds(), tld.sign([evil.ds()])]),
    'evil.test|48': msg('evil.test', T.DNSKEY, [evil.dnskey, evil.sign([evil.dnskey])]),
  };
  // Junk NSEC RRsets whose only RRSIG is of class CH: verifyRrset passes it over (class mismatch) and
  // makes no check; a planner that does not look at the class checks it on the thread pool.
  const junk = (under: Name, n: number): RR[] =>
    Array.from({ length: n }, (_, i) => {
      const rr = nsec(`j${i}.${under}`, `j${i}\\000.${under}`, [T.A, T.RRSIG, T.NSEC]);
      return [rr, { ...evil.sign([rr]), class: 3 }];
    }).flat();
  // Each level below evil.test: no DS, no cut (one genuine NSEC), plus 5 junk RRsets.
  const notCut = (name: Name): Message => {
    const n = nsec(name, `\\000.${name}`, [T.A, T.RRSIG, T.NSEC]);
    return msg(name, T.DS, [], [n, evil.sign([n]), ...junk(name, 5)]);
  };
  const query = async (name: Name, type: number): Promise<Message> => table[`${name}|${type}`] ?? notCut(name);

  it('a deep name in a hostile zone costs no more public-key checks than one budget', async () => {
    const qname = `${'x.'.repeat(44)}evil.test`;
    const answer = [a(qname, '192.0.2.1')];
    // A positive answer: validateResponse never looks at denial records, so none of these are checked.
    const bad = (rr: RR): RR => {
      const sig = evil.sign([rr]);
      const rdata = Uint8Array.from(sig.rdata);
      rdata[rdata.length - 1]! ^= 1;
      return { ...sig, rdata };
    };
    const filler = Array.from({ length: 7 }, (_, i) => nsec(`f${i}.evil.test`, `f${i}\\000.evil.test`, [T.A])).flatMap((rr) => [
      rr,
      bad(rr),
    ]);
    const v = createValidator({ anchors, query });
    const before = verifiedAhead();
    const r = await v.validate({ name: qname, type: T.A, class: 1 }, msg(qname, T.A, [...answer, evil.sign(answer)], filler), NOW);
    const after = verifiedAhead();
    const wasted = after.made - before.made - (after.used - before.used);
    // Whatever the verdict (the walk may be cut short by the budget), checks made ahead and never used are
    // work the budget has to have counted: at most the whole budget, not several budgets' worth beside it.
    assert.ok(['secure', 'indeterminate'].includes(r.verdict.kind), r.verdict.kind);
    assert.ok(
      after.made - before.made <= DEFAULT_BUDGET_LIMITS.maxVerifications,
      `${after.made - before.made} checks made ahead (${wasted} never used) for one response; the budget allows ${DEFAULT_BUDGET_LIMITS.maxVerifications} in all`,
    );
  });
});
