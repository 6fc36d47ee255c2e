// Attack harness, denials and downgrades (issue 10, item 8): an rcode the signatures do not cover,
// NXDOMAINs forged with and without borrowed NSECs, and a signed zone made to look unsigned (its DS
// removed, with and without a wrong NSEC). See fixture.ts for what every case asserts.
import type { Message } from '../../src/wire/types';
import { asks, type Exchange, stripRrsigs } from '../support/hostile-upstream';
import { attackSuite, EVIL, ipseckeyRdata, rrOf, T } from './fixture';

const underOe = (x: Exchange): boolean =>
  /(^|\.)oe\.test$/i.test(x.query.questions[0]?.name ?? '') && x.query.questions[0]?.name.toLowerCase() !== 'oe.test';
const isBob = (x: Exchange): boolean => asks(x, 'bob.oe.test');

/** The zone's genuine SOA (and its RRSIG), as an NXDOMAIN's authority section carries it. */
async function soaOf(x: Exchange, zone: string): Promise<Message['authorities']> {
  const m = await x.ask(zone, T.SOA);
  return m.answers.filter((r) => r.type === T.SOA || r.type === T.RRSIG);
}

/** bob's answers become the attacker's, unsigned: what a downgrade is for. */
function evilBob(x: Exchange, m: Message): Message {
  const q = x.query.questions[0]!;
  const answers =
    q.type === T.IPSECKEY
      ? [rrOf(`bob.oe.test. 300 IN IPSECKEY ${ipseckeyRdata('bob.oe.test', EVIL.ipsec, 0)}`)]
      : q.type === T.A
        ? [rrOf(`bob.oe.test. 300 IN A ${EVIL.address}`)]
        : [];
  return { ...stripRrsigs(m), answers };
}

attackSuite('attacks: denials and downgrades (hostile upstream, real named)', (attack) => {
  attack({
    name: 'rcode flip',
    qname: 'bob.oe.test',
    qtype: 'A',
    // The genuine signed answer, the rcode NXDOMAIN, the zone's genuine SOA in the authority section.
    attack: async (x) => {
      const m = await x.forward();
      return isBob(x) ? { ...m, rcode: 3, authorities: await soaOf(x, 'oe.test') } : m;
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });

  attack({
    name: 'fake NXDOMAIN without proof',
    qname: 'bob.oe.test',
    qtype: 'A',
    attack: async (x) => {
      const m = await x.forward();
      return isBob(x) ? { ...m, rcode: 3, answers: [], authorities: await soaOf(x, 'oe.test') } : m;
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });

  attack({
    name: 'fake NXDOMAIN with borrowed NSECs',
    qname: 'bob.oe.test',
    qtype: 'A',
    // The genuine NXDOMAIN of another name (its SOA and NSECs), served for bob.
    attack: async (x) => {
      const m = await x.forward();
      if (!isBob(x)) return m;
      const other = await x.ask('nope.oe.test', x.query.questions[0]!.type);
      return { ...m, rcode: 3, answers: [], authorities: other.authorities };
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });

  attack({
    name: 'downgrade to insecure without NSEC',
    qname: 'bob.oe.test',
    qtype: 'A',
    // "oe.test has no DS": an empty NOERROR with test's SOA, then oe.test's data unsigned and forged.
    attack: async (x) => {
      const m = await x.forward();
      if (asks(x, 'oe.test', T.DS)) return { ...m, answers: [], authorities: await soaOf(x, 'test') };
      if (underOe(x)) return isBob(x) ? evilBob(x, m) : stripRrsigs(m);
      return m;
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });

  attack({
    name: 'downgrade to insecure with a wrong NSEC',
    qname: 'bob.oe.test',
    qtype: 'A',
    // As above, with test's genuine NSEC proving that plain.test (another name) has no DS.
    attack: async (x) => {
      const m = await x.forward();
      if (asks(x, 'oe.test', T.DS)) {
        const plain = await x.ask('plain.test', T.DS);
        return { ...m, answers: [], authorities: plain.authorities };
      }
      if (underOe(x)) return isBob(x) ? evilBob(x, m) : stripRrsigs(m);
      return m;
    },
    lookupVerdicts: ['bogus'],
    serveRcodes: [2],
  });
});
