import assert from 'node:assert/strict';
import type { Peer, PeerOwner } from '../../src/ike-bridge/engine';
import { peer, T } from './fixtures';
import { DEFAULT_SHUNT_GRACE_SEC, PeerRegistry, peerMaterial, strictestLevel } from '../../src/peers';
import { MAX_CLAIM_ADDRESSES } from '../../src/peers/registry';

const unauth = (owner: PeerOwner, expiresAt: number): Peer =>
  peer({ owner, expiresAt, auth: { kind: 'unauthenticated', method: 'tofu-cert' } });

describe('peers/registry', () => {
  it('reports added, refreshed, unchanged and replaced', () => {
    const r = new PeerRegistry();
    assert.equal(r.upsert(peer(), T).change, 'added');
    assert.equal(r.upsert(peer({ expiresAt: T + 600 }), T + 10).change, 'refreshed');
    assert.equal(r.upsert(peer({ expiresAt: T + 600 }), T + 20).change, 'unchanged');
    assert.equal(r.upsert(peer({ expiresAt: T + 500 }), T + 20).change, 'unchanged');
    assert.equal(r.upsert(peer({ addresses: ['192.0.2.11'], expiresAt: T + 600 }), T + 30).change, 'replaced');
    const rolled = peer({ auth: { kind: 'pubkey', keys: [{ algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(2) }] } });
    assert.equal(r.upsert({ ...rolled, addresses: ['192.0.2.11'] }, T + 40).change, 'replaced');
    assert.equal(r.size, 1);
  });

  it('treats names case-insensitively and without the trailing dot', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ name: 'Peer.Example.' }), T);
    assert.equal(r.upsert(peer({ name: 'peer.example' }), T).change, 'unchanged');
    assert.equal(r.get('PEER.example')?.name, 'peer.example');
  });

  it('address order does not make a peer different', () => {
    const a = peer({ addresses: ['192.0.2.1', '2001:db8::1'] });
    const b = peer({ addresses: ['2001:db8::1', '192.0.2.1'], expiresAt: T + 1, owner: 'autosp' });
    assert.equal(peerMaterial(a), peerMaterial(b));
  });

  it('keeps a peer wanted by serve and autosp until both release it', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'serve' }), T);
    assert.equal(r.upsert(peer({ owner: 'autosp', expiresAt: T + 3600 }), T).change, 'refreshed');
    assert.deepEqual(r.owners('peer.example').sort(), ['autosp', 'serve']);
    assert.equal(r.release('peer.example', 'serve', T).change, 'unchanged');
    assert.ok(r.get('peer.example'));
    assert.equal(r.release('peer.example', 'serve', T).change, 'absent');
    assert.equal(r.release('peer.example', 'autosp', T).change, 'removed');
    assert.equal(r.get('peer.example'), undefined);
    assert.equal(r.release('nobody.example', 'autosp', T).change, 'absent');
  });

  it('lives as long as the longest claim; expired() lists only names with no live claim', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'serve', expiresAt: T + 100 }), T);
    r.upsert(peer({ owner: 'autosp', expiresAt: T + 200 }), T);
    r.upsert(peer({ name: 'other.example', expiresAt: T + 50 }), T);
    assert.equal(r.get('peer.example')?.expiresAt, T + 200);
    assert.equal(r.nextExpiry(), T + 50);
    assert.deepEqual(r.expired(T + 49), []);
    assert.deepEqual(r.expired(T + 50), ['other.example']);
    assert.deepEqual(r.expired(T + 150), ['other.example']);
    assert.deepEqual(r.expired(T + 200).sort(), ['other.example', 'peer.example']);
    assert.equal(r.size, 2, 'expired() changes nothing');
  });

  it('sweep() drops expired claims and reports removals', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'serve', expiresAt: T + 100 }), T);
    r.upsert(peer({ owner: 'autosp', expiresAt: T + 200 }), T);
    r.upsert(peer({ name: 'other.example', expiresAt: T + 50 }), T);
    // other.example is `private`: its address stays in a drop shunt for the grace period.
    assert.deepEqual(r.sweep(T + 150), { removed: ['other.example'], replaced: [], shunts: ['other.example'] });
    assert.deepEqual(r.owners('peer.example'), ['autosp']);
    assert.equal(r.nextExpiry(), T + 200);
    assert.deepEqual(r.sweep(T + 200).removed, ['peer.example']);
    // Swept at T+150, 100 s after its answer ended: the grace counts from the sweep (never shorter).
    assert.equal(r.nextExpiry(), T + 150 + DEFAULT_SHUNT_GRACE_SEC);
    assert.deepEqual(r.sweep(T + 200 + DEFAULT_SHUNT_GRACE_SEC).shunts.sort(), ['other.example', 'peer.example']);
    assert.equal(r.nextExpiry(), undefined);
    assert.equal(r.size, 0);
  });

  it('an authenticated claim beats an unauthenticated one, whatever the order', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'serve', expiresAt: T + 100 }), T);
    assert.equal(r.upsert(unauth('responder', T + 500), T).change, 'refreshed');
    assert.equal(r.get('peer.example', T)?.auth.kind, 'pubkey');
    // When the authenticated claim expires, the fallback takes over: the engine must reinstall.
    const s = r.sweep(T + 100);
    assert.deepEqual(s.removed, []);
    assert.equal(s.replaced.length, 1);
    assert.equal(s.replaced[0]!.auth.kind, 'unauthenticated');
  });

  it('release() reports replaced when the remaining claim differs', () => {
    const r = new PeerRegistry();
    r.upsert(unauth('responder', T + 500), T);
    assert.equal(r.upsert(peer({ owner: 'autosp' }), T).change, 'replaced');
    const rel = r.release('peer.example', 'autosp', T);
    assert.equal(rel.change, 'replaced');
    assert.equal(rel.peer?.auth.kind, 'unauthenticated');
  });

  it('forget() drops a peer for every owner', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'serve' }), T);
    r.upsert(peer({ owner: 'autosp' }), T);
    assert.equal(r.forget('peer.example', T), true);
    assert.deepEqual(r.owners('peer.example'), []);
    assert.equal(r.get('peer.example'), undefined);
    assert.deepEqual(r.shunt('peer.example', T), ['192.0.2.10'], 'a private peer leaves a drop shunt');
    assert.equal(r.forget('peer.example', T), false);
  });

  it('desired() gives one peer per name, ready for Engine.reconcile', () => {
    const r = new PeerRegistry();
    for (let i = 0; i < 50; i++) r.upsert(peer({ name: `p${i}.example`, expiresAt: T + i + 1 }), T);
    r.upsert(peer({ name: 'p1.example', owner: 'autosp', expiresAt: T + 999 }), T);
    const d = r.desired();
    assert.equal(d.length, 50);
    assert.equal(d.find((p) => p.name === 'p1.example')?.expiresAt, T + 999);
  });
});

describe('peers/registry: claims merge, per-address lifetimes, drop shunts', () => {
  const v4 = '192.0.2.10';
  const v6 = '2001:db8::10';

  it('A then AAAA then A from one owner: the peer holds both families, each with its own lifetime', () => {
    const r = new PeerRegistry();
    assert.equal(r.upsert(peer({ addresses: [v4], expiresAt: T + 100 }), T).change, 'added');
    assert.equal(r.upsert(peer({ addresses: [v6], expiresAt: T + 300 }), T + 1).change, 'replaced');
    assert.deepEqual(r.get('peer.example', T + 2)?.addresses, [v4, v6]);
    assert.equal(r.upsert(peer({ addresses: [v4], expiresAt: T + 102 }), T + 2).change, 'unchanged');
    assert.deepEqual(r.get('peer.example', T + 2)?.addresses, [v4, v6], 'the second A answer does not drop the AAAA address');
    // The IPv4 address lapses first: reinstall with IPv6 only, and IPv4 goes into the shunt (private).
    const s = r.sweep(T + 102);
    assert.deepEqual(
      s.replaced.map((p) => p.addresses),
      [[v6]],
    );
    assert.deepEqual(s.shunts, ['peer.example']);
    assert.deepEqual(r.shunt('peer.example', T + 102), [v4]);
  });

  it("another owner never narrows a peer: a local A answer keeps autosp's IPv6 address", () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'autosp', addresses: [v4, v6], expiresAt: T + 600 }), T);
    assert.equal(r.upsert(peer({ owner: 'serve', addresses: [v4], expiresAt: T + 60 }), T).change, 'unchanged');
    assert.deepEqual(r.get('peer.example', T)?.addresses, [v4, v6]);
  });

  it('the engine holds the strictest level of the claims', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'serve', level: 'private-or-clear' }), T);
    assert.equal(r.get('peer.example', T)?.level, 'private-or-clear');
    r.upsert(peer({ owner: 'autosp', level: 'private' }), T);
    assert.equal(r.get('peer.example', T)?.level, 'private');
    assert.equal(strictestLevel('clear', 'opportunistic', 'private-or-clear'), 'opportunistic');
    assert.equal(strictestLevel('private', 'block'), 'block');
  });

  it('a private address stays shunted until the grace after its answer ended; private-or-clear leaves nothing', () => {
    const r = new PeerRegistry({ shuntGraceSec: 600 });
    r.upsert(peer({ name: 'p.example', addresses: [v4], expiresAt: T + 100 }), T);
    r.upsert(peer({ name: 'c.example', addresses: ['192.0.2.20'], level: 'private-or-clear', expiresAt: T + 100 }), T);
    const s = r.sweep(T + 100);
    assert.deepEqual(s.removed.sort(), ['c.example', 'p.example']);
    assert.deepEqual(s.shunts, ['p.example']);
    assert.deepEqual(r.shunts(T + 100), [{ name: 'p.example', addresses: [v4], until: T + 700 }]);
    assert.deepEqual(r.shunt('c.example', T + 100), []);
    assert.equal(r.nextExpiry(), T + 700);
    assert.deepEqual(r.sweep(T + 699).shunts, []);
    assert.deepEqual(r.sweep(T + 700).shunts, ['p.example']);
    assert.equal(r.size, 0);
  });

  it('a later answer at a weaker level does not lower an address a private answer handed out', () => {
    // app.example (private) is a CNAME to host.example (private-or-clear): the program that asked for
    // app holds the address as a private one, whatever a direct lookup of host says afterwards.
    const r = new PeerRegistry({ shuntGraceSec: 600 });
    r.upsert(peer({ name: 'host.example', addresses: [v4], level: 'private', expiresAt: T + 100 }), T);
    r.upsert(peer({ name: 'host.example', addresses: [v4], level: 'private-or-clear', expiresAt: T + 300 }), T + 50);
    assert.equal(r.get('host.example', T + 60)?.level, 'private', 'the stricter live answer still sets the level');
    r.sweep(T + 300);
    assert.deepEqual(
      r.shunt('host.example', T + 300),
      [v4],
      "dropped after its last answer: still closed until the private answer's grace",
    );
    // The address stayed private while either answer lived: the grace runs from the last one's end.
    assert.deepEqual(r.shunts(T + 300), [{ name: 'host.example', addresses: [v4], until: T + 900 }]);
    // Once that grace has passed, a private-or-clear answer alone leaves nothing behind.
    const r2 = new PeerRegistry({ shuntGraceSec: 600 });
    r2.upsert(peer({ name: 'host.example', addresses: [v4], level: 'private-or-clear', expiresAt: T + 300 }), T);
    r2.sweep(T + 300);
    assert.deepEqual(r2.shunt('host.example', T + 300), []);
  });

  it('a new claim for a shunted address takes it out of the shunt', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ addresses: [v4, v6], expiresAt: T + 100 }), T);
    r.sweep(T + 100);
    assert.deepEqual(r.shunt('peer.example', T + 100), [v4, v6]);
    r.upsert(peer({ addresses: [v4], expiresAt: T + 400 }), T + 100);
    assert.deepEqual(r.get('peer.example', T + 100)?.addresses, [v4]);
    assert.deepEqual(r.shunt('peer.example', T + 100), [v6], 'only the address nobody protects stays shunted');
  });

  it("invalidate() drops one owner's claim and shunts only what nobody else protects", () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'autosp', addresses: [v4], expiresAt: T + 600 }), T);
    r.upsert(peer({ owner: 'serve', addresses: [v4, v6], expiresAt: T + 300 }), T);
    const res = r.invalidate('peer.example', 'serve', T + 10);
    assert.equal(res.change, 'replaced');
    assert.deepEqual(res.shunted, [v6]);
    assert.deepEqual(r.owners('peer.example'), ['autosp']);
    assert.deepEqual(r.get('peer.example', T + 10)?.addresses, [v4]);
    // Claimed before the TTL ended: the grace runs from the end of that TTL.
    assert.deepEqual(r.shunts(T + 10), [{ name: 'peer.example', addresses: [v6], until: T + 300 + DEFAULT_SHUNT_GRACE_SEC }]);
    assert.equal(r.invalidate('peer.example', 'responder', T).change, 'absent');
  });

  it('release(..., { shunt: false }) leaves nothing behind (policy says clear is fine)', () => {
    const r = new PeerRegistry();
    r.upsert(peer({ owner: 'autosp' }), T);
    assert.equal(r.release('peer.example', 'autosp', T, { shunt: false }).change, 'removed');
    assert.equal(r.size, 0);
  });

  it('shunts are bounded: the ones ending soonest go first', () => {
    const r = new PeerRegistry({ maxShunted: 3, shuntGraceSec: 100 });
    for (let i = 0; i < 5; i++) r.upsert(peer({ name: `p${i}.example`, addresses: [`192.0.2.${i + 1}`], expiresAt: T + 10 + i }), T);
    r.sweep(T + 20);
    assert.deepEqual(
      r.shunts(T + 20).map((x) => x.name),
      ['p2.example', 'p3.example', 'p4.example'],
    );
    assert.equal(r.evictedShunts, 2);
  });
});

describe('peers/registry: bounds on addresses and shunts', () => {
  const many = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}.${i >> 8}.${i & 255}`);

  it(`a claim holds at most ${MAX_CLAIM_ADDRESSES} addresses: those of earlier answers ending soonest leave it, into the shunt when private`, () => {
    const r = new PeerRegistry({ shuntGraceSec: 100 });
    r.upsert(peer({ addresses: many('10.1', 40), expiresAt: T + 50 }), T);
    r.upsert(peer({ addresses: many('10.2', 40), expiresAt: T + 60 }), T + 1);
    const p = r.get('peer.example', T + 1)!;
    assert.equal(p.addresses.length, MAX_CLAIM_ADDRESSES);
    for (const a of many('10.2', 40)) assert.ok(p.addresses.includes(a), `${a} of the latest answer is kept`);
    assert.deepEqual(r.shunt('peer.example', T + 1), many('10.1', 16).sort());
  });

  it('at the shunt bound the shunts ending soonest go, whichever name holds them, and the count stays at the bound', () => {
    // (bench/shunt-evict.ts measures the cost: a heap, not a sort of every shunt per eviction.)
    const r = new PeerRegistry({ shuntGraceSec: 100, maxShunted: 4096 });
    const names = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `n${from + i}.example`);
    const addrs = (i: number): string[] => Array.from({ length: 64 }, (_, j) => `10.${i >> 8}.${i & 255}.${j}`);
    let i = 0;
    for (const n of names(0, 64)) r.upsert(peer({ name: n, addresses: addrs(i), expiresAt: T + 10 + (i++ % 7) }), T);
    for (const n of names(0, 64)) r.release(n, 'serve', T + 1);
    assert.equal(
      r.shunts(T + 1).reduce((s, x) => s + x.addresses.length, 0),
      4096,
    );
    assert.equal(r.evictedShunts, 0);
    // Refreshing a shunt many times leaves stale heap entries; they must not count or be evicted twice.
    for (let k = 0; k < 3; k++) for (const n of names(0, 64)) r.holdShunt(n, addrs(Number(n.slice(1, -8))), T + 1000 + k, T + 1);
    assert.equal(r.evictedShunts, 0);
    for (const n of names(64, 8)) r.upsert(peer({ name: n, addresses: addrs(i++), expiresAt: T + 5000 }), T + 2);
    for (const n of names(64, 8)) r.release(n, 'serve', T + 3);
    const left = r.shunts(T + 3);
    assert.equal(
      left.reduce((s, x) => s + x.addresses.length, 0),
      4096,
    );
    assert.equal(r.evictedShunts, 8 * 64);
    // The newest (ending T+5100) are whole; 8 of the older names lost their addresses.
    for (const n of names(64, 8)) assert.equal(left.find((x) => x.name === n)?.addresses.length, 64, n);
    // Names emptied by eviction are gone from the registry too (no empty entries left behind).
    assert.equal(r.size, left.length);
    assert.ok(left.length < 72, String(left.length));
  });
});

describe('peers/registry: shunts held without a claim (state file after a restart)', () => {
  it('holdShunt() closes addresses until a validated claim takes them back', () => {
    const r = new PeerRegistry();
    assert.deepEqual(r.holdShunt('peer.example', ['192.0.2.10', '2001:DB8::10'], T + 100, T), ['192.0.2.10', '2001:db8::10']);
    assert.equal(r.get('peer.example'), undefined, 'no key is trusted');
    assert.deepEqual(r.shunt('peer.example', T), ['192.0.2.10', '2001:db8::10']);
    r.upsert(peer({ addresses: ['192.0.2.10'] }), T + 1);
    assert.deepEqual(r.shunt('peer.example', T + 1), ['2001:db8::10']);
    assert.deepEqual(r.holdShunt('gone.example', ['192.0.2.20'], T - 1, T), [], 'already over');
    r.sweep(T + 100);
    assert.deepEqual(r.shunts(T + 100), []);
  });

  it('counts a shunt that ends early among its changes (the stored closed set must drop it)', () => {
    const r = new PeerRegistry();
    r.holdShunt('peer.example', ['192.0.2.10'], T + 100, T);
    const before = r.changes;
    assert.equal(r.clearShunt('other.example'), false);
    assert.equal(r.changes, before, 'nothing ended');
    assert.equal(r.clearShunt('Peer.Example.'), true);
    assert.ok(r.changes > before, 'a writer comparing changes writes again');
    assert.deepEqual(r.closedSet(T), []);
  });
});
