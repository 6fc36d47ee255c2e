// Any signed zone can list any address. Found by an adversarial review: mallory.test (properly signed
// by its owner, no on-path position needed) lists bob's address under names of its own, with its own
// key or through a security gateway of its own; one lookup of such a name took bob's address into a
// conn that ends at mallory, and private traffic to bob went there. Two rules hold now (src/policy,
// src/peers): an IPSECKEY gateway other than the host itself only for zones the policy lists under
// `gateways:`, and an address held by one name is not given to another name with other keys.
import assert from 'node:assert/strict';
import type { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { reservedOnly } from '../support/reserved';
import { ask, MALLORY_GATEWAY, startServe, T, worldSuite } from './fixture';

const BOB = '192.0.2.2';

/** The names of the engine's peers that cover `address`. */
async function holders(engine: DryRunEngine, address: string): Promise<string[]> {
  return (await engine.list())
    .filter((p) => p.addresses.includes(address))
    .map((p) => p.name)
    .sort();
}

worldSuite("capture attacks: a signed name that lists another host's address", (world) => {
  it("bob first: a name with another key cannot take bob's address (SERVFAIL under private, bob keeps it)", async () => {
    const s = await startServe(world(), 'default: private\nmax-ttl: 600\n');
    try {
      assert.equal((await ask(s.port, 'bob.oe.test', T.A)).msg?.rcode, 0);
      const bobKey = s.engine.get('bob.oe.test');
      assert.ok(bobKey, 'bob installed');
      const r = await ask(s.port, 'www.mallory.test', T.A);
      assert.equal(r.msg?.rcode, 2, 'level private and the claim refused: SERVFAIL');
      assert.equal(s.engine.get('www.mallory.test'), undefined);
      assert.deepEqual(await holders(s.engine, BOB), ['bob.oe.test']);
      assert.deepEqual(s.engine.get('bob.oe.test'), bobKey, 'bob keeps his key and his address');
    } finally {
      await s.stop();
    }
  });

  it("mallory first: bob's lookup fails closed instead of sending bob's traffic into mallory's conn", async () => {
    const s = await startServe(world(), 'default: private\nmax-ttl: 600\n');
    try {
      assert.equal((await ask(s.port, 'www.mallory.test', T.A)).msg?.rcode, 0);
      assert.deepEqual(await holders(s.engine, BOB), ['www.mallory.test']);
      const r = await ask(s.port, 'bob.oe.test', T.A);
      assert.equal(r.msg?.rcode, 2, 'bob is private and cannot get his address protected with his key: SERVFAIL, no address');
      assert.equal(r.msg?.answers.filter((a) => a.type === T.A).length, 0);
      assert.equal(s.engine.get('bob.oe.test'), undefined);
    } finally {
      await s.stop();
    }
  });

  it("a second name with bob's own key shares bob's address (one host under two names)", async () => {
    const s = await startServe(world(), 'default: private\nmax-ttl: 600\n');
    try {
      assert.equal((await ask(s.port, 'bob.oe.test', T.A)).msg?.rcode, 0);
      assert.equal((await ask(s.port, 'alias.mallory.test', T.A)).msg?.rcode, 0);
      assert.deepEqual(await holders(s.engine, BOB), ['alias.mallory.test', 'bob.oe.test']);
    } finally {
      await s.stop();
    }
  });

  it('a security gateway is refused unless the policy lists the zone under gateways:', async () => {
    const closed = await startServe(world(), 'default: private\nmax-ttl: 600\n');
    try {
      const r = await ask(closed.port, 'gw.mallory.test', T.A);
      assert.equal(r.msg?.rcode, 2);
      assert.equal(closed.engine.get('gw.mallory.test'), undefined, 'no conn through a gateway');
      assert.deepEqual(await holders(closed.engine, BOB), []);
    } finally {
      await closed.stop();
    }
    const open = await startServe(world(), 'default: private\nmax-ttl: 600\ngateways: [mallory.test]\n');
    try {
      assert.equal((await ask(open.port, 'gw.mallory.test', T.A)).msg?.rcode, 0);
      assert.deepEqual(open.engine.get('gw.mallory.test')?.gateway, { kind: 'address', address: MALLORY_GATEWAY });
    } finally {
      await open.stop();
    }
  });

  it('a gateway is not "the host itself" next to other addresses: bob\'s address plus the gateway\'s own is refused', async () => {
    const s = await startServe(world(), 'default: private\nmax-ttl: 600\n');
    try {
      const r = await ask(s.port, 'own.mallory.test', T.A);
      assert.equal(r.msg?.rcode, 2);
      assert.equal(s.engine.get('own.mallory.test'), undefined);
      assert.equal((await ask(s.port, 'bob.oe.test', T.A)).msg?.rcode, 0);
      assert.deepEqual(await holders(s.engine, BOB), ['bob.oe.test']);
    } finally {
      await s.stop();
    }
  });

  it("an address the host reserves (its own, its router, its upstream) is no peer's, whatever a signed name says", async () => {
    const s = await startServe(world(), 'default: private\nmax-ttl: 600\n', reservedOnly('192.0.2.53'));
    try {
      const r = await ask(s.port, 'ns.mallory.test', T.A);
      assert.equal(r.msg?.rcode, 2);
      assert.match(r.msg?.edns?.options.map((o) => Buffer.from(o.data).toString('latin1')).join(' ') ?? '', /reserved|router|upstream/);
      assert.deepEqual(await holders(s.engine, '192.0.2.53'), []);
    } finally {
      await s.stop();
    }
  });
});
