// Found by an adversarial review: an upstream answer with an rcode the upstream pool then did not turn
// into a failure (NOTAUTH, YXDOMAIN, NOTZONE...: it retried only SERVFAIL, REFUSED, NOTIMP and FORMERR) came
// out of the validator as secure, rcode NOERROR, no RRsets: a proven NODATA. One unsigned header from
// an on-path attacker made any record of a signed name "provably" absent: served with AD (a TLSA's
// proven absence turns DANE off), and an IPSECKEY's taken by decide() for "publishes no key" rather
// than "could not be validated" (autosp then releases an installed peer at once instead of keeping
// it until it lapses).
import assert from 'node:assert/strict';
import type { Message } from '../../src/wire/types';
import { asks } from '../support/hostile-upstream';
import { ask, startServe, T, worldSuite } from './fixture';

function rcodeOnly(query: Message, rcode: number): Message {
  return { ...query, qr: true, ra: true, aa: false, ad: false, rcode, answers: [], authorities: [], additionals: [] };
}

worldSuite('attack: an rcode the upstream pool lets through is no proof', (world) => {
  for (const rcode of [9, 6]) {
    it(`rcode ${rcode} for a signed name is never served as a validated NODATA (IPSECKEY, A)`, async () => {
      const s = await startServe(world());
      try {
        world().proxy.attack = async (x) =>
          asks(x, 'bob.oe.test', T.IPSECKEY) || asks(x, 'carol.oe.test', T.A) ? rcodeOnly(x.query, rcode) : x.forward();
        for (const [name, type] of [
          ['bob.oe.test', T.IPSECKEY],
          ['carol.oe.test', T.A],
        ] as const) {
          const r = await ask(s.port, name, type);
          assert.ok(
            !(r.msg?.rcode === 0 && r.msg.ad),
            `${name}/${type} answered rcode ${r.msg?.rcode} AD ${r.msg?.ad}, ${r.msg?.answers.length} answers: a forged proven NODATA`,
          );
        }
      } finally {
        await s.stop();
      }
    });
  }
});
