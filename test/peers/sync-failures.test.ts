// PeerSync after an engine call failed (review v11 F5, F9): a removal is retried with backoff until
// the engine confirms (the removed key stays trusted until then), and a key change whose first
// install failed still ends the old key's IKE SAs once the new key is in. The engine is the dry-run
// engine with failures injected; time is a hand-moved clock, so each retry is driven exactly.
import assert from 'node:assert/strict';
import { ManualClock, peer, T } from './fixtures';
import { PeerSync } from '../../src/peers';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import type { Peer, PeerAuth, ReconcileResult, ShuntSpec } from '../../src/ike-bridge/engine';
import { EngineError } from '../../src/util/errors';

/** Each timer's work (engine call, retry, registry change) runs several promise hops: 20 turns. */
const manualClock = (): ManualClock => new ManualClock(20, true);

/** Fails the next `failRemove` removes / `failInstall` installs with the given code; records when each remove was tried. */
class Flaky extends DryRunEngine {
  failRemove = 0;
  failInstall = 0;
  installCode = 'engine-vici';
  removeTries: number[] = [];
  constructor(private readonly clock: ManualClock) {
    super();
  }
  override async install(p: Peer): Promise<void> {
    if (this.failInstall-- > 0) {
      // An initiate failure happens after the conn is loaded (as in the strongSwan engine).
      if (this.installCode !== 'engine-vici') await super.install(p);
      throw new EngineError(this.installCode, `flaky: install ${p.name}`);
    }
    return super.install(p);
  }
  /** The dry run's reconcile, except that a removal that fails is reported by name, as real engines do. */
  override async reconcile(desired: Peer[], shunts: ShuntSpec[] = []): Promise<ReconcileResult> {
    const want = new Set(desired.map((p) => p.name));
    const failed: ReconcileResult['failed'] = [];
    for (const p of await this.list()) {
      if (p.shunt || want.has(p.name)) continue;
      await this.remove(p.name).catch((e: Error) => failed.push({ name: p.name, reason: e.message }));
    }
    const kept = failed.map((f) => this.get(f.name)!);
    const res = await super.reconcile([...desired, ...kept], shunts);
    const gone = new Set(failed.map((f) => f.name));
    return { ...res, installed: res.installed.filter((n) => !gone.has(n)), unchanged: res.unchanged.filter((n) => !gone.has(n)), failed };
  }
  override async remove(name: string): Promise<void> {
    this.removeTries.push(this.clock.t - T);
    if (this.failRemove-- > 0) throw new EngineError('engine-vici', 'flaky: vici-timeout');
    return super.remove(name);
  }
}

const key = (b: number): PeerAuth => ({ kind: 'pubkey', keys: [{ algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(b) }] });

describe('peers/sync after engine failures', () => {
  let clock: ManualClock;
  let engine: Flaky;
  let sync: PeerSync;
  beforeEach(() => {
    clock = manualClock();
    engine = new Flaky(clock);
    sync = new PeerSync({ engine, clock, retryMs: 1000, retryMaxMs: 8000 });
    sync.start();
  });
  afterEach(async () => {
    engine.failRemove = engine.failInstall = 0;
    await sync.close();
  });

  for (const level of ['private', 'private-or-clear'] as const) {
    it(`a ${level} peer whose removal failed is removed by a retry, and counted as pending until then`, async () => {
      await sync.upsert(peer({ level, expiresAt: T + 60 }));
      engine.failRemove = 2;
      await clock.advance(60.5); // the TTL ends; the sweep's remove fails
      assert.ok(engine.get('peer.example'), 'still held after the failed removal');
      assert.equal(sync.stats().pendingRemovals, 1);
      assert.deepEqual(sync.pendingRetries(), [{ name: 'peer.example', attempts: 1, removal: true }]);
      await clock.advance(1); // first retry: fails again
      assert.ok(engine.get('peer.example'));
      assert.equal(sync.stats().pendingRemovals, 1);
      await clock.advance(2); // second retry, 2 s later: the engine confirms
      assert.equal(engine.get('peer.example'), undefined);
      assert.equal(sync.stats().pendingRemovals, 0);
      assert.equal(sync.stats().retrying, 0);
      assert.deepEqual(
        engine.removeTries.map((t) => t - engine.removeTries[0]!),
        [0, 1, 3],
      );
    });
  }

  it('retries a removal with a doubling delay up to retryMaxMs, and never gives it up', async () => {
    await sync.upsert(peer({ expiresAt: T + 10 }));
    engine.failRemove = 12;
    await clock.advance(11);
    await clock.advance(200);
    const gaps = engine.removeTries.slice(1).map((t, i) => t - engine.removeTries[i]!);
    assert.deepEqual(gaps.slice(0, 6), [1, 2, 4, 8, 8, 8]);
    assert.equal(engine.removeTries.length, 13, 'the 13th try succeeds');
    assert.equal(engine.get('peer.example'), undefined);
    assert.equal(sync.stats().pendingRemovals, 0);
  });

  it('a new lookup of the peer while its removal waits for a retry cancels the removal', async () => {
    await sync.upsert(peer({ expiresAt: T + 10 }));
    engine.failRemove = 1;
    await clock.advance(11);
    assert.equal(sync.stats().pendingRemovals, 1);
    await sync.upsert(peer({ expiresAt: T + 600 }));
    assert.equal(sync.stats().retrying, 0);
    await clock.advance(5);
    assert.equal(engine.removeTries.length, 1);
    assert.ok(engine.get('peer.example'));
  });

  it('a stale peer whose removal fails during reconcile (after a restart) is retried until removed', async () => {
    await engine.install(peer({ name: 'stale.example' })); // left by an earlier run; the registry does not want it
    engine.failRemove = 1;
    const res = await sync.reconcile();
    assert.deepEqual(
      res.failed.map((f) => f.name),
      ['stale.example'],
    );
    assert.equal(sync.stats().pendingRemovals, 1);
    await clock.advance(1);
    assert.equal(engine.get('stale.example'), undefined);
    assert.equal(sync.stats().pendingRemovals, 0);
  });

  it("a key change whose first install fails ends the old key's SAs once a later install of the new key succeeds", async () => {
    await sync.upsert(peer({ auth: key(1) }));
    engine.sas.set('peer.example', ['7']); // authenticated with key 1
    engine.failInstall = 1;
    await assert.rejects(sync.upsert(peer({ auth: key(2) })), (e: EngineError) => e.code === 'engine-vici');
    assert.deepEqual(engine.sas.get('peer.example'), ['7'], 'not ended while key 2 is not in');
    assert.equal(sync.stats().pendingRolledSas, 1);
    // An IKE rekey meanwhile gives the old key's SA a new id: it is ended too.
    engine.sas.set('peer.example', ['7', '8']);
    await sync.upsert(peer({ auth: key(2) }));
    assert.deepEqual(engine.sas.get('peer.example'), []);
    assert.equal(sync.stats().rolledSas, 2);
    assert.equal(sync.stats().pendingRolledSas, 0);
  });

  it('the background retry of a failed key change ends the old SAs without a new lookup', async () => {
    await sync.upsert(peer({ auth: key(1) }));
    engine.sas.set('peer.example', ['7']);
    engine.failInstall = 1;
    await assert.rejects(sync.upsert(peer({ auth: key(2) })));
    await clock.advance(1);
    const held = engine.get('peer.example')!.auth;
    assert.equal(held.kind === 'pubkey' && held.keys[0]!.publicKey[0], 2);
    assert.deepEqual(engine.sas.get('peer.example'), []);
    assert.equal(sync.stats().rolledSas, 1);
  });

  it("a key change whose install fails at initiate (the new conn is in) ends the old key's SAs at once", async () => {
    await sync.upsert(peer({ auth: key(1) }));
    engine.sas.set('peer.example', ['7']);
    engine.failInstall = 1;
    engine.installCode = 'ike-auth-failed';
    await assert.rejects(sync.upsert(peer({ auth: key(2) })), (e: EngineError) => e.code === 'ike-auth-failed');
    assert.deepEqual(engine.sas.get('peer.example'), []);
    assert.equal(sync.stats().rolledSas, 1);
    // An initiate failure is left to the next lookup: no background retry initiating over and over.
    assert.equal(sync.stats().retrying, 0);
    // The next lookup (the peer has switched meanwhile, its new SA is 9): nothing more to end.
    engine.sas.set('peer.example', ['9']);
    await sync.upsert(peer({ auth: key(2) }));
    assert.deepEqual(engine.sas.get('peer.example'), ['9']);
    assert.equal(sync.stats().rolledSas, 1);
  });

  it('DNS going back to the old key after a failed change keeps the SAs that key authenticated', async () => {
    await sync.upsert(peer({ auth: key(1) }));
    engine.sas.set('peer.example', ['7']);
    engine.failInstall = 1;
    await assert.rejects(sync.upsert(peer({ auth: key(2) })));
    await sync.upsert(peer({ auth: key(1) }));
    assert.deepEqual(engine.sas.get('peer.example'), ['7']);
    assert.equal(sync.stats().pendingRolledSas, 0);
    assert.ok(!engine.actions.some((a) => a.op === 'terminate'));
  });

  it('a failed key change followed by the removal of the peer leaves nothing pending', async () => {
    await sync.upsert(peer({ auth: key(1), expiresAt: T + 30 }));
    engine.sas.set('peer.example', ['7']);
    engine.failInstall = 10; // the background retries fail too
    await assert.rejects(sync.upsert(peer({ auth: key(2), expiresAt: T + 30 })));
    await clock.advance(31);
    assert.equal(engine.get('peer.example'), undefined);
    assert.equal(engine.sas.get('peer.example'), undefined, 'remove() ended every SA of the name');
    assert.equal(sync.stats().pendingRolledSas, 0);
    assert.equal(sync.stats().retrying, 0);
  });
});
