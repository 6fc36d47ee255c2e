// Addresses that reach programs outside A/AAAA answers (src/capture/address-leaks.ts). Found by an
// adversarial review: for a `private` name whose A lookup failed closed, an HTTPS lookup still handed
// out its ipv4hint and an ANY lookup its A record. Real named serves the signed HTTPS records; the
// hostile upstream also tries to slip hints in beside a clear name's answer.
import assert from 'node:assert/strict';
import type { Message } from '../../src/wire/types';
import { httpsRR } from '../support/svcb';
import { ask, startServe, T, worldSuite } from './fixture';

const POLICY = 'default: private-or-clear\nrules:\n  - { zone: oe.test, level: private }\n  - { zone: clean.test, level: clear }\n';

/** Does any record's RDATA of the answer carry these address bytes? */
function carries(m: Message | undefined, address: number[]): boolean {
  return (m?.answers ?? []).some((rr) => Buffer.from(rr.rdata).includes(Buffer.from(address)));
}

const BOB_V4 = [192, 0, 2, 2];
const BOB_V6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

worldSuite('capture attacks: addresses outside A/AAAA answers', (world) => {
  it('an HTTPS answer for a protected name keeps its record without ipv4hint/ipv6hint, its RRSIG and AD; from the cache too', async () => {
    const s = await startServe(world(), POLICY);
    try {
      for (const round of ['upstream', 'cache']) {
        const r = await ask(s.port, 'bob.oe.test', T.HTTPS);
        assert.equal(r.msg?.rcode, 0, round);
        const https = r.msg.answers.filter((rr) => rr.type === T.HTTPS);
        assert.equal(https.length, 1, `${round}: the HTTPS record itself is still served`);
        assert.ok(Buffer.from(https[0]!.rdata).includes(Buffer.from('h2')), `${round}: alpn kept`);
        assert.ok(!carries(r.msg, BOB_V4) && !carries(r.msg, BOB_V6), `${round}: a hint address was handed out`);
        assert.ok(!r.msg.answers.some((rr) => rr.type === T.RRSIG), `${round}: an RRSIG that no longer matches was served`);
        assert.equal(r.msg.ad, false, round);
      }
      assert.ok(s.d.capture.counters.addressLeaksGuarded >= 2);
    } finally {
      await s.stop();
    }
  });

  it("a clear name's HTTPS answer is served as validated, hints, RRSIG and AD included", async () => {
    const s = await startServe(world(), POLICY);
    try {
      const r = await ask(s.port, 'probe.clean.test', T.HTTPS);
      assert.equal(r.msg?.rcode, 0);
      assert.ok(carries(r.msg, [192, 0, 2, 50]));
      assert.equal(r.msg.ad, true);
      assert.ok(r.msg.answers.some((rr) => rr.type === T.RRSIG));
    } finally {
      await s.stop();
    }
  });

  it('ANY for a protected name gets the RFC 8482 HINFO, not its A record', async () => {
    const s = await startServe(world(), POLICY);
    try {
      const r = await ask(s.port, 'bob.oe.test', T.ANY);
      assert.equal(r.msg?.rcode, 0);
      assert.deepEqual(
        r.msg.answers.map((rr) => rr.type),
        [T.HINFO],
      );
      assert.ok(Buffer.from(r.msg.answers[0]!.rdata).includes(Buffer.from('RFC8482')));
      assert.ok(!carries(r.msg, BOB_V4));
      assert.equal(r.msg.ad, false);
    } finally {
      await s.stop();
    }
  });

  it("unsigned hints for a protected name spliced beside a clear name's answer are not served", async () => {
    const s = await startServe(world(), POLICY);
    world().proxy.attack = async (x) => {
      const m = await x.forward();
      if (x.query.questions[0]?.type !== T.HTTPS) return m;
      return { ...m, answers: [...m.answers, httpsRR('bob.oe.test', 1, '.', { alpn: ['h2'], ipv4hint: ['203.0.113.66'] })] };
    };
    try {
      const r = await ask(s.port, 'probe.clean.test', T.HTTPS);
      // The validator may refuse the whole answer (SERVFAIL) or serve only the signed RRset.
      assert.ok(r.msg && [0, 2].includes(r.msg.rcode), `rcode ${r.msg?.rcode}`);
      assert.ok(!carries(r.msg, [203, 0, 113, 66]), 'the spliced hint was served');
      assert.ok(!r.msg.answers.some((rr) => rr.name.toLowerCase().startsWith('bob.')));
    } finally {
      await s.stop();
    }
  });
});
