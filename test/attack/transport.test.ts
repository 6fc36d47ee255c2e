// Attack harness, transport (issue 10, item 8): spoofed replies (wrong id, wrong question) racing
// the genuine one, a truncated UDP reply followed by garbage over TCP, and an upstream that answers
// too late. See fixture.ts for what every case asserts.
import type { Message } from '../../src/wire/types';
import { encodeMessage } from '../../src/wire/message';
import { asks, type Exchange, garbage } from '../support/hostile-upstream';
import { attackSuite, EVIL, evilRecords, rrOf, T } from './fixture';

const isBob = (x: Exchange): boolean => asks(x, 'bob.oe.test');

/** The attacker's answer for the same question, sent before the genuine one. */
function spoofOf(x: Exchange, m: Message, change: Partial<Message>): Message {
  const owner = x.query.questions[0]!.name;
  return { ...m, answers: [rrOf(`${owner}. 300 IN A ${EVIL.address}`), ...evilRecords(owner).slice(1)], authorities: [], ...change };
}

attackSuite('attacks: transport (hostile upstream, real named)', (attack) => {
  attack({
    name: 'spoof with a wrong id',
    qname: 'bob.oe.test',
    qtype: 'A',
    attack: async (x) => {
      const m = await x.forward();
      if (!isBob(x) || x.transport !== 'udp') return m;
      return { all: [spoofOf(x, m, { id: (m.id + 1) & 0xffff }), m] };
    },
    lookupVerdicts: ['secure'],
    serveRcodes: [0],
  });

  attack({
    name: 'spoof with a wrong question',
    qname: 'bob.oe.test',
    qtype: 'A',
    attack: async (x) => {
      const m = await x.forward();
      if (!isBob(x) || x.transport !== 'udp') return m;
      return { all: [spoofOf(x, m, { questions: [{ name: EVIL.name, type: T.A, class: 1 }] }), m] };
    },
    lookupVerdicts: ['secure'],
    serveRcodes: [0],
  });

  attack({
    name: 'TC then garbage over TCP',
    qname: 'bob.oe.test',
    qtype: 'A',
    // UDP: truncated, nothing in it. TCP: a length prefix and bytes that are not a DNS message, or a
    // well-framed message with the attacker's data and a wrong id.
    attack: async (x) => {
      const m = await x.forward();
      if (!isBob(x)) return m;
      if (x.transport === 'udp') return { ...m, tc: true, answers: [], authorities: [], additionals: [] };
      const junk = Buffer.alloc(66, 0xa5);
      junk.writeUInt16BE(64, 0);
      const wrongId = encodeMessage(spoofOf(x, m, { id: (m.id + 7) & 0xffff }));
      const framed = Buffer.concat([Buffer.from([wrongId.length >> 8, wrongId.length & 0xff]), Buffer.from(wrongId)]);
      return { all: [garbage(new Uint8Array(framed)), garbage(new Uint8Array(junk))] };
    },
    lookupVerdicts: ['indeterminate'],
    serveRcodes: [2],
  });

  attack({
    name: 'slow answers',
    qname: 'bob.oe.test',
    qtype: 'A',
    // bob's answers arrive 4 s late, well after every timeout.
    attack: async (x) => {
      const m = await x.forward();
      return isBob(x) ? { delayMs: 4000, then: m } : m;
    },
    lookupVerdicts: ['indeterminate'],
    lookupTimeoutMs: 500,
    serveRcodes: [2],
  });

  attack({
    name: "slow answers to the validator's own DNSKEY query",
    qname: 'carol.oe.test',
    qtype: 'A',
    // The answer is quick; oe.test's DNSKEY set, which the validator needs for it, is not.
    attack: async (x) => {
      const m = await x.forward();
      return asks(x, 'oe.test', T.DNSKEY) ? { delayMs: 4000, then: m } : m;
    },
    lookupVerdicts: ['indeterminate'],
    lookupTimeoutMs: 500,
    serveRcodes: [2],
  });
});
