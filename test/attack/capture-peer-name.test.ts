// Found by an adversarial review: the peer a capture decision acts on is the END of the address chain (addr.owner),
// while the policy level and the key verdict come from the QUERY name's lookups. An insecure CNAME
// link (any unsigned zone, or an on-path attacker forging an answer for an unsigned name) therefore
// lets a name nobody signed act on a secure peer's registry entry.
//
//
// The hostile upstream here only plays an unsigned zone's authoritative server answering per qtype:
// it adds nothing signed that named did not sign, and it touches no answer for a signed name.
import assert from 'node:assert/strict';
import type { Message, RR } from '../../src/wire/types';
import { type Exchange, passThrough, asks } from '../support/hostile-upstream';
import { ask, rrOf, startServe, T, worldSuite } from './fixture';

/** What a recursive resolver hands on for `alias` when the unsigned zone's server answers `alias CNAME target`. */
async function viaCname(x: Exchange, alias: string, target: string, type: number): Promise<Message> {
  const m = await x.ask(target, type);
  const q = x.query.questions[0]!;
  return {
    ...m,
    id: x.query.id,
    questions: [q],
    aa: false,
    answers: [rrOf(`${alias}. 0 IN CNAME ${target}.`), ...m.answers],
    authorities: m.answers.length ? [] : m.authorities,
  };
}

worldSuite('capture attacks: peer named by the chain end, acted on from another name', (world) => {
  it("a lookup of an unsigned alias whose IPSECKEY chain is bogus leaves bob's peer and every owner's claim alone", async () => {
    const s = await startServe(world(), 'default: private-or-clear\nmax-ttl: 600\n');
    try {
      // bob is protected: serve installed him (a program looked him up) and autosp also wants him.
      const a = await ask(s.port, 'bob.oe.test', T.A);
      assert.equal(a.msg?.rcode, 0);
      const bob = s.engine.get('bob.oe.test');
      assert.ok(bob && bob.auth.kind === 'pubkey', 'bob installed with his key');
      await s.d.sync.upsert({ ...bob, owner: 'autosp', expiresAt: Math.floor(Date.now() / 1000) + 3600 });
      assert.deepEqual(s.d.sync.registry.owners('bob.oe.test').sort(), ['autosp', 'serve']);

      // The owner of plain.test (unsigned, no path position) answers, with TTL 0 so nothing caches it:
      //   x.plain.test A        -> CNAME bob.oe.test   (bob's genuine signed A follows)
      //   x.plain.test IPSECKEY -> CNAME bob.stale.test (any bogus name: here expired signatures)
      world().proxy.attack = async (x) => {
        if (asks(x, 'x.plain.test', T.A)) return viaCname(x, 'x.plain.test', 'bob.oe.test', T.A);
        if (asks(x, 'x.plain.test', T.IPSECKEY)) return viaCname(x, 'x.plain.test', 'bob.stale.test', T.IPSECKEY);
        return x.forward();
      };
      const r = await ask(s.port, 'x.plain.test', T.A);
      console.log(
        `      x.plain.test A -> rcode ${r.msg?.rcode}; engine actions: ${s.engine.actions.map((x) => `${x.op} ${x.name}`).join(', ')}`,
      );
      console.log(
        `      bob in registry now: ${JSON.stringify(s.d.sync.registry.owners('bob.oe.test'))}; in engine: ${s.engine.get('bob.oe.test') ? 'yes' : 'NO'}`,
      );
      assert.ok(s.engine.get('bob.oe.test'), 'bob.oe.test was removed from the engine by a lookup of x.plain.test');
      assert.deepEqual(s.d.sync.registry.owners('bob.oe.test').sort(), ['autosp', 'serve'], 'claims on bob were dropped');
    } finally {
      await s.stop();
    }
  });

  it("an unsigned alias cannot replace bob's authenticated peer with an unauthenticated fallback (bob is level private)", async () => {
    const policy = [
      'default: opportunistic',
      'max-ttl: 600',
      'fallback: { method: tofu-cert, any-key: true }',
      'rules:',
      '  - { zone: oe.test, level: private }',
      '',
    ].join('\n');
    const s = await startServe(world(), policy);
    try {
      const a = await ask(s.port, 'bob.oe.test', T.A);
      assert.equal(a.msg?.rcode, 0);
      assert.equal(s.engine.get('bob.oe.test')?.auth.kind, 'pubkey');
      // plain.test publishes (statically, no attack needed; TTL 0 only to show nothing is cached):
      //   x.plain.test CNAME bob.oe.test
      world().proxy.attack = async (x) => {
        if (asks(x, 'x.plain.test', T.A)) return viaCname(x, 'x.plain.test', 'bob.oe.test', T.A);
        if (asks(x, 'x.plain.test', T.IPSECKEY)) return viaCname(x, 'x.plain.test', 'bob.oe.test', T.IPSECKEY);
        return x.forward();
      };
      const r = await ask(s.port, 'x.plain.test', T.A);
      const after = s.engine.get('bob.oe.test');
      console.log(
        `      x.plain.test A -> rcode ${r.msg?.rcode}; bob now ${after?.auth.kind} level ${after?.level} ${JSON.stringify(after?.auth)}`,
      );
      // bob's own name again, from cache: the capture memo only checks that *a* peer named bob is applied.
      world().proxy.attack = passThrough;
      await ask(s.port, 'bob.oe.test', T.A);
      const later = s.engine.get('bob.oe.test');
      console.log(`      bob.oe.test A again -> bob ${later?.auth.kind}; capture reused=${s.d.capture.counters.reused}`);
      assert.equal(after?.auth.kind, 'pubkey', 'bob (policy private) now accepts an unauthenticated peer');
    } finally {
      await s.stop();
    }
  });

  it('a block rule on a name holds for every alias of it (the strictest level of the chain applies)', async () => {
    const policy = ['default: private-or-clear', 'rules:', '  - { name: bob.oe.test, level: block }', ''].join('\n');
    const s = await startServe(world(), policy);
    try {
      const direct = await ask(s.port, 'bob.oe.test', T.A);
      world().proxy.attack = async (x) => {
        if (asks(x, 'x.plain.test', T.A)) return viaCname(x, 'x.plain.test', 'bob.oe.test', T.A);
        if (asks(x, 'x.plain.test', T.IPSECKEY)) return viaCname(x, 'x.plain.test', 'bob.oe.test', T.IPSECKEY);
        return x.forward();
      };
      const alias = await ask(s.port, 'x.plain.test', T.A);
      const www = await ask(s.port, 'www.oe.test', T.A); // a signed alias in bob's own zone
      const show = (m?: Message) => `rcode ${m?.rcode} ${(m?.answers ?? []).filter((r: RR) => r.type === T.A).length} A`;
      console.log(`      bob.oe.test: ${show(direct.msg)}; x.plain.test: ${show(alias.msg)}; www.oe.test: ${show(www.msg)}`);
      assert.equal(www.msg?.rcode, 5, "www.oe.test (CNAME bob) hands out the blocked peer's address");
    } finally {
      await s.stop();
    }
  });
});
