import assert from 'node:assert/strict';
import { ManualClock, peer, settle, T } from './fixtures';
import { PeerSync } from '../../src/peers';
import { FakeEngine } from './fake-engine';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import type { Peer } from '../../src/ike-bridge/engine';

describe('peers/sync', () => {
  let engine: FakeEngine;
  let clock: ManualClock;
  let sync: PeerSync;
  beforeEach(() => {
    engine = new FakeEngine();
    clock = new ManualClock();
    sync = new PeerSync({ engine, clock });
  });
  afterEach(async () => {
    engine.release();
    await sync.close();
  });

  it('installs a new peer and resolves once the engine holds it', async () => {
    const r = await sync.upsert(peer());
    assert.equal(r.change, 'added');
    assert.deepEqual(engine.calls, ['install peer.example']);
    assert.ok(engine.held.has('peer.example'));
    assert.ok(sync.isApplied('peer.example'));
  });

  it('coalesces concurrent installs of the same peer into one engine call', async () => {
    engine.hold();
    const all = Array.from({ length: 20 }, () => sync.upsert(peer()));
    await settle();
    engine.release();
    const results = await Promise.all(all);
    assert.deepEqual(engine.calls, ['install peer.example']);
    assert.equal(results[0]!.change, 'added');
    assert.ok(results.slice(1).every((r) => r.change === 'unchanged'));
    assert.equal(sync.stats().coalesced, 19);
  });

  it('a caller that joins a running install waits for it to finish', async () => {
    engine.hold();
    const first = sync.upsert(peer());
    await settle();
    let secondDone = false;
    const second = sync.upsert(peer({ expiresAt: T + 600 })).then(() => {
      secondDone = true;
    });
    await settle();
    assert.equal(secondDone, false, 'the refresh must not answer before the install');
    engine.release();
    await Promise.all([first, second]);
    assert.equal(engine.calls.length, 1);
  });

  it('a change during an install is applied right after it, for the same name', async () => {
    engine.hold();
    const a = sync.upsert(peer());
    await settle();
    const b = sync.upsert(peer({ addresses: ['192.0.2.99'] }));
    engine.release();
    await Promise.all([a, b]);
    assert.deepEqual(engine.calls, ['install peer.example', 'install peer.example']);
    // Claims merge: the second answer adds its address, it does not replace the first one.
    assert.deepEqual(engine.held.get('peer.example')?.addresses, ['192.0.2.10', '192.0.2.99']);
  });

  it('refreshing an installed peer costs no engine call', async () => {
    await sync.upsert(peer());
    assert.equal((await sync.upsert(peer({ expiresAt: T + 900 }))).change, 'refreshed');
    assert.deepEqual(engine.calls, ['install peer.example']);
  });

  it('removes a peer only when its last owner releases it', async () => {
    await sync.upsert(peer({ owner: 'serve' }));
    await sync.upsert(peer({ owner: 'autosp' }));
    await sync.release('peer.example', 'serve');
    assert.ok(engine.held.has('peer.example'));
    await sync.release('peer.example', 'autosp');
    assert.ok(!engine.held.has('peer.example'));
    assert.deepEqual(engine.calls, ['install peer.example', 'remove peer.example']);
  });

  it('forget() removes at once for every owner (key turned bogus)', async () => {
    await sync.upsert(peer({ owner: 'serve' }));
    await sync.upsert(peer({ owner: 'autosp' }));
    await sync.forget('peer.example');
    assert.equal(engine.held.size, 0);
    assert.deepEqual(sync.registry.owners('peer.example'), []);
  });

  it('the timer removes a peer when it expires, not before', async () => {
    sync.start();
    await sync.upsert(peer({ expiresAt: T + 300 }));
    await clock.advance(299);
    await settle();
    assert.ok(engine.held.has('peer.example'));
    await clock.advance(2);
    await settle();
    assert.ok(!engine.held.has('peer.example'));
    assert.equal(sync.registry.get('peer.example'), undefined);
  });

  it('a refresh pushes the removal back', async () => {
    sync.start();
    await sync.upsert(peer({ expiresAt: T + 300 }));
    await clock.advance(200);
    await sync.upsert(peer({ expiresAt: T + 500 }));
    await clock.advance(150);
    await settle();
    assert.ok(engine.held.has('peer.example'));
    await clock.advance(200);
    await settle();
    assert.ok(!engine.held.has('peer.example'));
  });

  it('an earlier expiry moves the timer forward', async () => {
    sync.start();
    await sync.upsert(peer({ name: 'late.example', expiresAt: T + 1000 }));
    await sync.upsert(peer({ name: 'soon.example', expiresAt: T + 10 }));
    await clock.advance(11);
    await settle();
    assert.deepEqual([...engine.held.keys()], ['late.example']);
  });

  it('an install that fails rejects, and the next request retries', async () => {
    engine.failInstall = true;
    await assert.rejects(sync.upsert(peer()), (e: Error & { code?: string }) => e.code === 'ENGINE_INSTALL');
    assert.equal(sync.isApplied('peer.example'), false);
    engine.failInstall = false;
    assert.equal((await sync.upsert(peer())).change, 'unchanged');
    assert.ok(engine.held.has('peer.example'));
    assert.equal(engine.calls.length, 2);
  });

  it('refuses with ENGINE_QUEUE_FULL when the queue is full, and keeps the peer for reconcile', async () => {
    sync = new PeerSync({ engine, clock, maxQueue: 2, concurrency: 1 });
    engine.hold();
    const ok = [
      sync.upsert(peer({ name: 'a.example' })),
      sync.upsert(peer({ name: 'b.example' })),
      sync.upsert(peer({ name: 'c.example' })),
    ];
    await assert.rejects(sync.upsert(peer({ name: 'd.example' })), (e: Error & { code?: string }) => e.code === 'ENGINE_QUEUE_FULL');
    engine.release();
    await Promise.all(ok);
    assert.equal(engine.maxInFlight, 1);
    assert.ok(!engine.held.has('d.example'));
    await sync.reconcile();
    assert.ok(engine.held.has('d.example'));
  });

  it('keeps engine calls within the concurrency bound', async () => {
    sync = new PeerSync({ engine, clock, concurrency: 3 });
    engine.hold();
    const all = Array.from({ length: 10 }, (_, i) => sync.upsert(peer({ name: `p${i}.example` })));
    await settle();
    assert.equal(engine.inFlight, 3);
    engine.release();
    await Promise.all(all);
    assert.equal(engine.held.size, 10);
    assert.ok(engine.maxInFlight <= 3);
  });

  it('reconcile() rebuilds the engine from the registry after it lost its state', async () => {
    await sync.upsert(peer({ name: 'a.example' }));
    await sync.upsert(peer({ name: 'b.example' }));
    engine.held.clear(); // the daemon restarted
    engine.held.set('stale.example', peer({ name: 'stale.example' }));
    const res = await sync.reconcile();
    assert.deepEqual(res.removed, ['stale.example']);
    assert.deepEqual([...engine.held.keys()].sort(), ['a.example', 'b.example']);
  });

  it('reconcile() drops expired peers first and shares one run among concurrent callers', async () => {
    await sync.upsert(peer({ name: 'old.example', expiresAt: T + 5 }));
    await sync.upsert(peer({ name: 'new.example', expiresAt: T + 500 }));
    clock.t = T + 10;
    const [r1, r2] = await Promise.all([sync.reconcile(), sync.reconcile()]);
    assert.equal(r1, r2);
    assert.equal(engine.calls.filter((c) => c.startsWith('reconcile')).length, 1);
    assert.deepEqual([...engine.held.keys()], ['new.example']);
  });

  it('reconcile() waits for installs in flight and holds new ones back', async () => {
    engine.hold();
    const inst = sync.upsert(peer({ name: 'a.example' }));
    await settle();
    const rec = sync.reconcile();
    const later = sync.upsert(peer({ name: 'b.example' }));
    await settle();
    assert.deepEqual(engine.calls, ['install a.example']);
    engine.release();
    await Promise.all([inst, rec, later]);
    assert.equal(engine.calls[1], 'reconcile a.example,b.example');
    assert.equal(engine.calls.length, 2, 'b was in the reconcile: no separate install needed');
  });

  it('after a failed reconcile the next request re-applies', async () => {
    await sync.upsert(peer());
    engine.failReconcile = true;
    await assert.rejects(sync.reconcile(), (e: Error & { code?: string }) => e.code === 'ENGINE_UNREACHABLE');
    assert.equal(sync.isApplied('peer.example'), false);
    engine.failReconcile = false;
    await sync.upsert(peer());
    assert.deepEqual(
      engine.calls.filter((c) => c.startsWith('install')),
      ['install peer.example', 'install peer.example'],
    );
  });
});

/** FakeEngine that can also install several peers in one call (like the strongSwan engine). */
class BatchingEngine extends FakeEngine {
  batches: string[][] = [];
  failNames = new Set<string>();
  async installMany(peers: Parameters<FakeEngine['install']>[0][]): Promise<{ name: string; reason: string }[]> {
    this.batches.push(peers.map((p) => p.name));
    const failed: { name: string; reason: string }[] = [];
    for (const p of peers) {
      if (this.failNames.has(p.name)) failed.push({ name: p.name, reason: 'fake: refused' });
      else this.held.set(p.name, p);
    }
    return failed;
  }
}

describe('peers/sync with an engine that installs in batches', () => {
  it('installs a burst of new peers in few engine calls, and a failure rejects only its own name', async () => {
    const engine = new BatchingEngine();
    const sync = new PeerSync({ engine, clock: new ManualClock(), concurrency: 1 });
    engine.hold(); // the first install holds the only worker while the others queue up
    engine.failNames.add('p5.example');
    const first = sync.upsert(peer({ name: 'p0.example' }));
    await settle();
    const rest = Array.from({ length: 9 }, (_, i) => sync.upsert(peer({ name: `p${i + 1}.example` })));
    engine.release();
    await first;
    const results = await Promise.allSettled(rest);
    assert.deepEqual(engine.calls, ['install p0.example'], 'only the first went alone');
    assert.equal(engine.batches.length, 1);
    assert.equal(engine.batches[0]!.length, 9);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
    assert.equal(engine.held.size, 9);
    assert.ok(!sync.isApplied('p5.example'));
    // The failed one is retried by the next request.
    engine.failNames.clear();
    await sync.upsert(peer({ name: 'p5.example' }));
    assert.ok(engine.held.has('p5.example'));
    await sync.close();
  });
});

describe('peers/sync: fail-closed lifecycle (dry-run engine with shunts)', () => {
  const v4 = '192.0.2.10';
  const v6 = '2001:db8::10';
  let engine: DryRunEngine;
  let clock: ManualClock;
  let sync: PeerSync;
  const ops = (): string[] =>
    engine.actions.map((a) => `${a.op}${a.addresses ? ` ${a.addresses.join(',')}` : a.peer ? ` ${a.peer.addresses.join(',')}` : ''}`);
  beforeEach(() => {
    engine = new DryRunEngine();
    clock = new ManualClock();
    sync = new PeerSync({ engine, clock, shuntGraceSec: 600 });
    sync.start();
  });
  afterEach(() => sync.close());

  it('A, AAAA, A: the engine ends up holding both families, and each upsert checks its own addresses', async () => {
    await sync.upsert(peer({ addresses: [v4] }));
    assert.ok(sync.holds('peer.example', [v4], true));
    await sync.upsert(peer({ addresses: [v6] }));
    await sync.upsert(peer({ addresses: [v4] }));
    assert.deepEqual(engine.get('peer.example')?.addresses, [v4, v6]);
    assert.ok(sync.holds('peer.example', [v4, v6], true));
    assert.deepEqual(ops(), [`install ${v4}`, `install ${v4},${v6}`]);
  });

  it('a private peer that expires leaves a drop shunt first, then the conn goes; the next lookup brings it back protected', async () => {
    await sync.upsert(peer({ addresses: [v4], expiresAt: T + 300 }));
    await clock.advance(301);
    await settle();
    assert.equal(engine.get('peer.example'), undefined);
    assert.deepEqual(engine.shuntOf('peer.example'), [v4]);
    assert.deepEqual(ops(), [`install ${v4}`, `shunt ${v4}`, 'remove']);
    assert.deepEqual(
      sync.shunts().map((x) => [x.name, x.addresses, x.until]),
      [['peer.example', [v4], T + 300 + 600]],
    );
    // The next validated answer: conn first, then the shunt ends (never a moment in clear).
    await sync.upsert(peer({ addresses: [v4], expiresAt: T + 900 }));
    assert.deepEqual(ops().slice(3), [`install ${v4}`, 'shunt ']);
    assert.equal(engine.shuntOf('peer.example'), undefined);
    assert.ok(sync.holds('peer.example', [v4]));
  });

  it('the shunt ends after the grace period', async () => {
    await sync.upsert(peer({ addresses: [v4], expiresAt: T + 300 }));
    await clock.advance(301);
    await clock.advance(598);
    await settle();
    assert.deepEqual(engine.shuntOf('peer.example'), [v4]);
    await clock.advance(2);
    await settle();
    assert.equal(engine.shuntOf('peer.example'), undefined);
    assert.equal(sync.registry.size, 0);
  });

  it("private-or-clear keeps today's behaviour: removal leaves nothing", async () => {
    await sync.upsert(peer({ level: 'private-or-clear', expiresAt: T + 300 }));
    await clock.advance(301);
    await settle();
    assert.deepEqual(ops(), [`install ${v4}`, 'remove']);
  });

  it("a bogus answer for serve keeps autosp's claim and conn, and shunts what only serve had", async () => {
    await sync.upsert(peer({ owner: 'autosp', addresses: [v4], expiresAt: T + 900 }));
    await sync.upsert(peer({ owner: 'serve', addresses: [v4, v6] }));
    const r = await sync.invalidate('peer.example', 'serve');
    assert.deepEqual(r.shunted, [v6]);
    assert.deepEqual(engine.get('peer.example')?.addresses, [v4]);
    assert.deepEqual(engine.shuntOf('peer.example'), [v6]);
    // The shunt for v6 went in before the conn lost it.
    assert.deepEqual(ops(), [`install ${v4}`, `install ${v4},${v6}`, `shunt ${v6}`, `install ${v4}`]);
  });

  it('upsert() rejects with ENGINE_NOT_CONVERGED when its addresses are not held once the engine settled', async () => {
    engine = new DryRunEngine();
    const gate: { open?: () => void } = {};
    const slow = Object.assign(Object.create(engine) as DryRunEngine, {
      install: async (p: Peer) => {
        await new Promise<void>((res) => (gate.open = res));
        return engine.install(p);
      },
    });
    sync = new PeerSync({ engine: slow, clock });
    const up = sync.upsert(peer({ addresses: [v4] }));
    await settle();
    // Meanwhile the answer turns bogus: the claim goes before the engine finished.
    const inv = sync.invalidate('peer.example', 'serve');
    gate.open!();
    await assert.rejects(up, (e: Error & { code?: string }) => e.code === 'ENGINE_NOT_CONVERGED');
    await inv;
    assert.equal(engine.get('peer.example'), undefined);
    assert.deepEqual(engine.shuntOf('peer.example'), [v4]);
  });

  it('a key change for any owner ends the IKE SAs authenticated with the old key, after the new key is in', async () => {
    await sync.upsert(peer({ owner: 'autosp' }));
    engine.sas.set('peer.example', ['7', '8']);
    const rolled = { kind: 'pubkey' as const, keys: [{ algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(9) }] };
    // Seen by capture (owner serve): the newest claim's key wins, and the old SAs end.
    await sync.upsert(peer({ owner: 'serve', auth: rolled }));
    assert.deepEqual(
      engine.actions.slice(-2).map((a) => [a.op, a.ids ?? null]),
      [
        ['install', null],
        ['terminate', ['7', '8']],
      ],
    );
    assert.equal(sync.stats().rolledSas, 2);
    // Same key again (a refresh): nothing ends.
    engine.sas.set('peer.example', ['9']);
    await sync.upsert(peer({ owner: 'responder', auth: rolled }));
    assert.ok(!engine.actions.some((a) => a.op === 'terminate' && a.ids?.includes('9')));
  });
});
