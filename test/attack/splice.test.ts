// Attack harness, splices (issue 10, item 8): the genuine signed answer with the attacker's unsigned
// records added, through a hostile upstream in front of a real named. Each case runs `oedns lookup`
// (the CLI) and `oedns serve` (dry-run engine): see fixture.ts for what every case asserts.
import assert from 'node:assert/strict';
import type { Message } from '../../src/wire/types';
import { asks, type Exchange, passThrough } from '../support/hostile-upstream';
import { ask, attackSuite, EVIL, evilRecords, ipseckeyRdata, lookup, rrOf, startServe, T } from './fixture';

/** The genuine answer for `owner` (A or IPSECKEY) plus, unsigned, CNAME evil + evil A + evil IPSECKEY. */
const cnameSplice =
  (owner: string) =>
  async (x: Exchange): Promise<Message> => {
    const m = await x.forward();
    return asks(x, owner) ? { ...m, answers: [...m.answers, ...evilRecords(owner)] } : m;
  };

/** bob.old.oe.test: the signed DNAME stays, the synthesized CNAME now points at the attacker. */
const dnameSplice = async (x: Exchange): Promise<Message> => {
  const m = await x.forward();
  if (!asks(x, 'bob.old.oe.test')) return m;
  const answers = m.answers.map((r) => (r.type === T.CNAME ? rrOf(`bob.old.oe.test. 300 IN CNAME ${EVIL.name}.`) : r));
  return { ...m, answers: [...answers, ...evilRecords('bob.old.oe.test').slice(1)] };
};

attackSuite('attacks: splices (hostile upstream, real named)', (attack, world) => {
  it('without an attack, lookup is secure and serve installs bob with his genuine key and sets AD (the harness sees installs)', async () => {
    world().proxy.attack = passThrough;
    const r = await lookup(world(), 'bob.oe.test', 'IPSECKEY');
    assert.equal(r.json.verdict, 'secure');
    assert.ok(r.json.records.some((l) => l.includes(world().bobKey.split(' ').pop()!.slice(0, 40))));
    const s = await startServe(world());
    try {
      const a = await ask(s.port, 'bob.oe.test', T.A);
      assert.equal(a.msg?.rcode, 0);
      assert.equal(a.msg?.ad, true);
      const peer = s.engine.get('bob.oe.test');
      assert.ok(peer, 'bob is installed');
      assert.deepEqual(peer.addresses, ['192.0.2.2']);
      assert.equal(
        peer.auth.kind === 'pubkey' && Buffer.from(peer.auth.keys[0]!.publicKey).toString('base64'),
        world().bobKey.split(' ').pop(),
      );
    } finally {
      await s.stop();
    }
  });

  attack({
    name: 'CNAME splice (A)',
    qname: 'bob.oe.test',
    qtype: 'A',
    attack: cnameSplice('bob.oe.test'),
    lookupVerdicts: ['bogus'],
  });

  attack({
    name: 'CNAME splice (IPSECKEY)',
    qname: 'bob.oe.test',
    qtype: 'IPSECKEY',
    attack: cnameSplice('bob.oe.test'),
    lookupVerdicts: ['bogus'],
  });

  attack({
    name: 'DNAME splice',
    qname: 'bob.old.oe.test',
    qtype: 'A',
    attack: dnameSplice,
    lookupVerdicts: ['bogus'],
  });
});

export { ipseckeyRdata };
