// Who may hold an address (src/peers/registry.ts claimedElsewhere, src/peers/sync.ts upsert). Found by
// two adversarial reviews: any signed name can list any address, so the registry decides which name
// holds it, and that decision must stay cheap, bounded and right through expiry and shunts.
import assert from 'node:assert/strict';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { MAX_NAMES_PER_ADDRESS, MAX_PEER_ADDRESSES, PeerRegistry, PeerSync } from '../../src/peers';
import { EngineError } from '../../src/util/errors';
import { parseIpv6RouteTable, parseRouteTable, reservedAddressesNow } from '../../src/daemon/reserved-addresses';
import { networkInterfaces } from 'node:os';
import { peer, T } from './fixtures';

const OTHER_KEY = { kind: 'pubkey' as const, keys: [{ algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(9) }] };

describe('peers: address ownership', () => {
  it('a name with other keys cannot take an address another name holds; one with the same keys shares it', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ name: 'bob.example' }), T);
    assert.deepEqual(
      r.claimedElsewhere(peer({ name: 'mallory.example', auth: OTHER_KEY }), T).map((c) => c.heldBy),
      ['bob.example'],
    );
    assert.deepEqual(r.claimedElsewhere(peer({ name: 'www.bob.example' }), T), []);
    assert.deepEqual(
      r.claimedElsewhere(peer({ name: 'mallory.example', gateway: { kind: 'address', address: '198.51.100.7' } }), T).length,
      1,
    );
  });

  it('two names of one host keep sharing the address after their private answers end (the shunt remembers the keys)', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ name: 'www.example', expiresAt: T + 3 }), T);
    r.upsert(peer({ name: 'host.example', expiresAt: T + 3 }), T);
    r.sweep(T + 10);
    assert.deepEqual(r.shunt('www.example', T + 10), ['192.0.2.10']);
    assert.deepEqual(r.claimedElsewhere(peer({ name: 'host.example', expiresAt: T + 400 }), T + 10), []);
    assert.deepEqual(r.claimedElsewhere(peer({ name: 'mallory.example', auth: OTHER_KEY, expiresAt: T + 400 }), T + 10).length, 2);
  });

  it('a private claim that ran out but is not swept yet still holds its address (it is about to become a shunt)', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ name: 'bob.example', expiresAt: T + 3 }), T);
    assert.equal(r.claimedElsewhere(peer({ name: 'mallory.example', auth: OTHER_KEY }), T + 5).length, 1, 'between expiry and sweep');
    r.sweep(T + 5);
    assert.equal(r.claimedElsewhere(peer({ name: 'mallory.example', auth: OTHER_KEY }), T + 6).length, 1, "the sweep's shunt is indexed");
    const open = new PeerRegistry();
    open.upsert(peer({ name: 'bob.example', level: 'private-or-clear', expiresAt: T + 3 }), T);
    assert.equal(
      open.claimedElsewhere(peer({ name: 'mallory.example', auth: OTHER_KEY }), T + 5).length,
      0,
      'nothing fails closed: the address is free',
    );
  });

  it('the index shrinks when names let go of their addresses', () => {
    const r = new PeerRegistry({ shuntGraceSec: 0 });
    for (let i = 0; i < 200; i++) {
      const addresses = Array.from({ length: 10 }, (_, j) => `198.18.${i}.${j + 1}`);
      r.upsert(peer({ name: `n${i}.example`, addresses, level: i % 2 ? 'private' : 'private-or-clear' }), T);
    }
    assert.equal(r.indexedAddresses, 2000);
    for (let i = 0; i < 100; i++) r.release(`n${i}.example`, 'serve', T + 1);
    r.sweep(T + 1000);
    assert.equal(r.indexedAddresses, 0);
    assert.equal(r.size, 0);
  });

  it('at most MAX_NAMES_PER_ADDRESS names share one address; one more is refused', () => {
    const r = new PeerRegistry();
    const many = Array.from({ length: 60 }, (_, j) => `198.18.0.${j + 1}`);
    for (let i = 0; i < MAX_NAMES_PER_ADDRESS; i++) {
      const p = peer({ name: `w${i}.example`, addresses: many });
      assert.deepEqual(r.claimedElsewhere(p, T), []);
      r.upsert(p, T);
    }
    const clash = r.claimedElsewhere(peer({ name: 'one-more.example', addresses: many }), T);
    assert.equal(clash.length, many.length);
    assert.match(clash[0]!.heldBy, /at most 64 share an address/);
  });

  it('PeerSync refuses reserved addresses and peers with too many addresses, before anything reaches the engine', async () => {
    const engine = new DryRunEngine();
    const sync = new PeerSync({
      engine,
      clock: { now: () => T, setTimer: () => 0, clearTimer: () => undefined },
      reserved: () => new Set(['192.0.2.53']),
    });
    await assert.rejects(
      sync.upsert(peer({ name: 'ns.mallory.example', addresses: ['192.0.2.53'] })),
      (e: unknown) => e instanceof EngineError && e.code === 'address-reserved',
    );
    await assert.rejects(
      sync.upsert(peer({ name: 'ns.mallory.example', addresses: ['::ffff:192.0.2.53'] })),
      (e: unknown) => e instanceof EngineError && e.code === 'address-reserved',
    );
    const wide = Array.from({ length: MAX_PEER_ADDRESSES + 1 }, (_, j) => `198.18.1.${j + 1}`);
    await assert.rejects(
      sync.upsert(peer({ name: 'wide.example', addresses: wide })),
      (e: unknown) => e instanceof EngineError && e.code === 'too-many-addresses',
    );
    assert.equal(engine.actions.length, 0);
  });
});

describe('daemon/reserved-addresses', () => {
  it("reads IPv4 and IPv6 default routers from the kernel's route tables", () => {
    const v4 = 'Iface\tDestination\tGateway \tFlags\n eth0\t00000000\t010200C0\t0003\n eth0\t000200C0\t00000000\t0001\n';
    assert.deepEqual(parseRouteTable(v4), ['192.0.2.1']);
    const v6 = [
      'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0',
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003 eth0',
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo',
    ].join('\n');
    assert.deepEqual(parseIpv6RouteTable(v6), ['fd00::1']);
    assert.deepEqual(parseRouteTable('garbage\nx y z\n'), []);
  });

  it("holds this host's interface addresses and the upstreams", () => {
    const set = reservedAddressesNow([{ host: '203.0.113.53', port: 53, family: 4 }]);
    assert.ok(set.has('203.0.113.53'));
    assert.ok(set.has('127.0.0.1'));
    for (const list of Object.values(networkInterfaces()))
      for (const i of list ?? []) if (i.family === 'IPv4') assert.ok(set.has(i.address), i.address);
  });
});
