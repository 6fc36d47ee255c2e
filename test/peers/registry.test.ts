import assert from 'node:assert/strict';
import type { Peer, PeerOwner } from '../../src/ike-bridge/engine';
import { peer, T } from './fixtures';
import { PeerRegistry, peerMaterial } from '../../src/peers';

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
    assert.deepEqual(r.sweep(T + 150), { removed: ['other.example'], replaced: [] });
    assert.deepEqual(r.owners('peer.example'), ['autosp']);
    assert.equal(r.nextExpiry(), T + 200);
    assert.deepEqual(r.sweep(T + 200).removed, ['peer.example']);
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
    assert.equal(s.replaced[0].auth.kind, 'unauthenticated');
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
    assert.equal(r.forget('peer.example'), true);
    assert.equal(r.size, 0);
    assert.equal(r.forget('peer.example'), false);
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
