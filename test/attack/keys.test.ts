// Attack harness, signatures and keys (issue 10, item 8): RRSIGs stripped, the zone's key swapped
// under the key set's genuine RRSIG, the attacker's key added to the key set, and a zone signed a
// month ago replayed with its expired signatures. See fixture.ts for what every case asserts.
import type { Message, RR } from '../../src/wire/types';
import { asks, covers, type Exchange, stripRrsigs } from '../support/hostile-upstream';
import { attackSuite, EVIL, ipseckeyRdata, rrOf, T } from './fixture';

const isBob = (x: Exchange): boolean => asks(x, 'bob.oe.test');

/** bob's answer replaced by the attacker's data, signed (signer oe.test) with the attacker's key. */
function forgedBob(x: Exchange, m: Message): Message {
  const q = x.query.questions[0]!;
  const data: RR[] =
    q.type === T.IPSECKEY
      ? [rrOf(`bob.oe.test. 300 IN IPSECKEY ${ipseckeyRdata('bob.oe.test', EVIL.ipsec, 0)}`)]
      : q.type === T.A
        ? [rrOf(`bob.oe.test. 300 IN A ${EVIL.address}`)]
        : [];
  if (data.length === 0) return m;
  const now = Math.floor(Date.now() / 1000);
  return { ...m, answers: [...data, EVIL.dnssec.sign(data, { inception: now - 3600, expiration: now + 86400 })] };
}

const isZsk = (r: RR): boolean => r.type === T.DNSKEY && r.rdata[0] === 1 && r.rdata[1] === 0;

attackSuite('attacks: signatures and keys (hostile upstream, real named)', (attack) => {
  attack({
    name: 'RRSIGs stripped',
    qname: 'bob.oe.test',
    qtype: 'IPSECKEY',
    // Every answer about oe.test unsigned, bob's replaced by the attacker's.
    attack: async (x) => {
      const m = await x.forward();
      if (isBob(x)) return forgedBobUnsigned(x, m);
      return /oe\.test$/i.test(x.query.questions[0]?.name ?? '') ? stripRrsigs(m) : m;
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });

  attack({
    name: 'key swap under a genuine RRSIG',
    qname: 'bob.oe.test',
    qtype: 'A',
    // oe.test's ZSK replaced by the attacker's key in the DNSKEY answer; the KSK's RRSIG over the
    // genuine key set kept; bob's data signed with the attacker's key.
    attack: async (x) => {
      const m = await x.forward();
      if (asks(x, 'oe.test', T.DNSKEY))
        return { ...m, answers: m.answers.map((r) => (isZsk(r) ? { ...r, rdata: EVIL.dnssec.dnskey.rdata } : r)) };
      return isBob(x) ? forgedBob(x, m) : m;
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });

  attack({
    name: 'forged with an added DNSKEY',
    qname: 'bob.oe.test',
    qtype: 'A',
    // The attacker's key appended to oe.test's key set, with his own RRSIG over the enlarged set
    // beside the genuine ones; bob's data signed with his key.
    attack: async (x) => {
      const m = await x.forward();
      if (asks(x, 'oe.test', T.DNSKEY)) {
        const keys = [...m.answers.filter((r) => r.type === T.DNSKEY), { ...EVIL.dnssec.dnskey, ttl: m.answers[0]!.ttl }];
        const now = Math.floor(Date.now() / 1000);
        return {
          ...m,
          answers: [...m.answers, EVIL.dnssec.dnskey, EVIL.dnssec.sign(keys, { inception: now - 3600, expiration: now + 86400 })],
        };
      }
      return isBob(x) ? forgedBob(x, m) : m;
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });

  attack({
    name: 'expired signatures replayed',
    qname: 'bob.stale.test',
    qtype: 'A',
    // stale.test was signed for a window that ended ten days ago: every answer from it is a replay
    // of once-genuine data whose signatures have expired.
    attack: (x) => x.forward(),
    lookupVerdicts: ['bogus'],
    bad: ['192.0.2.70'],
    serveRcodes: [2],
  });
});

/** bob's answer replaced by the attacker's data with no signature at all. */
function forgedBobUnsigned(x: Exchange, m: Message): Message {
  const f = forgedBob(x, m);
  return {
    ...f,
    answers: f.answers.filter((r) => r.type !== T.RRSIG),
    authorities: f.authorities.filter((r) => r.type !== T.RRSIG || covers(r) < 0),
  };
}
