// The responder service's decisions, with a scripted resolver (ResolvePeer) and the dry-run engine
// behind a real PeerSync: what gets looked up, what gets installed, and what is refused and why.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { PeerResolution, ResolvePeer } from '../../src/autosp/resolve';
import type { Peer } from '../../src/ike-bridge/engine';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { PeerSync } from '../../src/peers';
import type { UnknownInitiator } from '../../src/responder/events';
import { ResponderService, type ResponderServiceOptions } from '../../src/responder/service';
import type { ResponderHook } from '../../src/responder/strongswan-catchall';
import { EngineError } from '../../src/util/errors';

class FakeHook implements ResponderHook {
  readonly events = new EventEmitter();
  started = 0;
  closed = 0;
  async start(): Promise<void> {
    this.started++;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

const KEY = { algorithm: 2, publicKey: new Uint8Array([3, 1, 0, 1, 0xaa]), precedence: 10 };
const VERDICTS = { a: 'secure', aaaa: 'secure', ipseckey: 'secure' };

function securePeer(name: string, addresses: string[]): Peer {
  return {
    name,
    addresses,
    auth: { kind: 'pubkey', keys: [KEY] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: 2_000_000_000,
    owner: 'autosp',
  };
}

/** A resolver answering from a table; counts lookups per name. */
function scripted(
  table: Record<string, Omit<PeerResolution, 'name' | 'at' | 'verdicts'> & { verdicts?: PeerResolution['verdicts'] }>,
): ResolvePeer & { calls: string[] } {
  const calls: string[] = [];
  const f = (async (name: string) => {
    calls.push(name);
    const r = table[name];
    if (!r)
      return {
        name,
        outcome: 'refused',
        reason: `${name} has no IPSECKEY`,
        verdicts: { a: 'secure', aaaa: 'secure', ipseckey: 'secure' },
        at: 0,
      };
    return { name, at: 0, verdicts: VERDICTS, ...r };
  }) as ResolvePeer & { calls: string[] };
  f.calls = calls;
  return f;
}

const alice = (address = '192.0.2.1', identity = 'alice.oe.test'): UnknownInitiator => ({
  identity,
  address,
  connection: 'oedns-catchall',
  uniqueId: '1',
});

describe('responder service (scripted resolver, dry-run engine)', () => {
  let engine: DryRunEngine;
  let sync: PeerSync;
  let hook: FakeHook;
  let svc: ResponderService | undefined;
  let clock = 0;

  beforeEach(() => {
    engine = new DryRunEngine();
    sync = new PeerSync({ engine });
    hook = new FakeHook();
    clock = 1_000_000;
  });
  afterEach(async () => {
    await svc?.close();
    svc = undefined;
    await sync.close();
  });

  function make(resolvePeer: ResolvePeer, o: Partial<ResponderServiceOptions> = {}): ResponderService {
    svc = new ResponderService({ hook, sync, resolvePeer, allow: ['alice.oe.test', '.corp.example'], nowMs: () => clock, ...o });
    return svc;
  }

  it('installs an allowed initiator with a secure key, for the address it came from only, and initiates back', async () => {
    const r = scripted({
      'alice.oe.test': { outcome: 'install', reason: 'secure', peer: securePeer('alice.oe.test', ['192.0.2.1', '192.0.2.9']) },
    });
    const s = make(r);
    const res = await s.handle(alice());
    assert.equal(res.outcome, 'installed', res.reason);
    const p = engine.get('alice.oe.test')!;
    assert.deepEqual(p.addresses, ['192.0.2.1']);
    assert.equal(p.owner, 'responder');
    assert.equal(p.initiate, true);
    assert.deepEqual(p.auth, { kind: 'pubkey', keys: [KEY] });
    assert.deepEqual(sync.registry.owners('alice.oe.test'), ['responder']);
    assert.equal(s.counters.installed, 1);
    assert.equal(s.counters.lookups, 1);
  });

  it('the hook drives it: an initiator event leads to a lookup', async () => {
    const r = scripted({ 'alice.oe.test': { outcome: 'install', reason: 'secure', peer: securePeer('alice.oe.test', ['192.0.2.1']) } });
    const s = make(r);
    await s.start();
    assert.equal(hook.started, 1);
    hook.events.emit('initiator', alice());
    for (let i = 0; i < 50 && !engine.get('alice.oe.test'); i++) await new Promise((res) => setTimeout(res, 5));
    assert.ok(engine.get('alice.oe.test'));
    await s.close();
    svc = undefined;
    assert.equal(hook.closed, 1);
    hook.events.emit('initiator', alice('192.0.2.1', 'h.corp.example'));
    assert.deepEqual(r.calls, ['alice.oe.test']);
  });

  it('looks up nothing for names off the list, or for identities that are not names', async () => {
    const r = scripted({});
    const s = make(r);
    assert.equal((await s.handle(alice('192.0.2.3', 'mallory.oe.test'))).outcome, 'not-allowed');
    assert.equal((await s.handle(alice('192.0.2.3', '192.0.2.3'))).outcome, 'not-a-hostname');
    assert.equal((await s.handle(alice('192.0.2.3', 'corp.example'))).outcome, 'not-allowed');
    assert.deepEqual(r.calls, []);
    assert.equal(engine.actions.length, 0);
  });

  it('an empty allow-list looks nothing up', async () => {
    const r = scripted({});
    const s = make(r, { allow: [] });
    const res = await s.handle(alice());
    assert.equal(res.outcome, 'not-allowed');
    assert.match(res.reason, /empty/);
    assert.deepEqual(r.calls, []);
  });

  for (const [outcome, expected] of [
    ['refused', 'no-secure-key'],
    ['bogus', 'bogus'],
    ['transient', 'lookup-failed'],
    ['clear', 'policy-clear'],
  ] as const) {
    it(`installs nothing when the lookup is ${outcome} (→ ${expected}), and says why`, async () => {
      const s = make(scripted({ 'alice.oe.test': { outcome, reason: `because ${outcome}` } }));
      const res = await s.handle(alice());
      assert.equal(res.outcome, expected);
      assert.match(res.reason, new RegExp(`because ${outcome}`));
      assert.equal(engine.actions.length, 0);
      assert.equal(sync.registry.size, 0);
      assert.equal(s.counters[expected], 1);
    });
  }

  it('never installs an unauthenticated fallback the policy would allow', async () => {
    const p: Peer = { ...securePeer('alice.oe.test', ['192.0.2.1']), auth: { kind: 'unauthenticated', method: 'wellknown-psk' } };
    const s = make(scripted({ 'alice.oe.test': { outcome: 'install', reason: 'insecure key, fallback', peer: p } }));
    assert.equal((await s.handle(alice())).outcome, 'no-secure-key');
    assert.equal(engine.actions.length, 0);
  });

  it("refuses an initiator whose address is not among the name's validated addresses", async () => {
    const s = make(
      scripted({ 'alice.oe.test': { outcome: 'install', reason: 'secure', peer: securePeer('alice.oe.test', ['192.0.2.1']) } }),
    );
    const res = await s.handle(alice('198.51.100.7'));
    assert.equal(res.outcome, 'address-mismatch');
    assert.match(res.reason, /198\.51\.100\.7/);
    assert.equal(engine.actions.length, 0);
  });

  it("with an IPSECKEY gateway, accepts IKE from the gateway and protects the host's addresses", async () => {
    const p: Peer = { ...securePeer('h.corp.example', ['10.1.2.3']), gateway: { kind: 'address', address: '192.0.2.50' } };
    const s = make(scripted({ 'h.corp.example': { outcome: 'install', reason: 'secure', peer: p } }));
    assert.equal((await s.handle(alice('10.1.2.3', 'h.corp.example'))).outcome, 'address-mismatch');
    clock += 60_000;
    const res = await s.handle(alice('192.0.2.50', 'h.corp.example'));
    assert.equal(res.outcome, 'installed', res.reason);
    assert.deepEqual(engine.get('h.corp.example')!.addresses, ['10.1.2.3']);
  });

  it('a name is looked up once per hold-down, however often it knocks', async () => {
    const r = scripted({});
    const s = make(r, { limits: { holdDownMs: 30_000 } });
    const all = await Promise.all([s.handle(alice()), s.handle(alice()), s.handle(alice())]);
    assert.deepEqual(all.map((x) => x.outcome).sort(), ['held-down', 'held-down', 'no-secure-key']);
    clock += 29_000;
    assert.equal((await s.handle(alice())).outcome, 'held-down');
    clock += 2_000;
    assert.equal((await s.handle(alice())).outcome, 'no-secure-key');
    assert.deepEqual(r.calls, ['alice.oe.test', 'alice.oe.test']);
  });

  it('a flood of distinct allowed names makes at most burst + rate lookups', async () => {
    const r = scripted({});
    const s = make(r, { limits: { lookupsPerSec: 2, burst: 5, maxQueue: 1000 } });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.handle(alice('192.0.2.1', `h${i}.corp.example`))));
    assert.equal(r.calls.length, 5);
    assert.equal(results.filter((x) => x.outcome === 'rate-limited').length, 195);
    clock += 1000;
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.handle(alice('192.0.2.1', `k${i}.corp.example`))));
    assert.equal(r.calls.length, 7);
    assert.equal(s.counters['rate-limited'], 203);
  });

  it('bounds the queue of lookups and the lookups running at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    let running = 0;
    let maxRunning = 0;
    const slow: ResolvePeer = async (name) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gate;
      running--;
      return { name, outcome: 'refused', reason: 'no key', verdicts: VERDICTS, at: 0 };
    };
    const s = make(slow, { limits: { concurrency: 2, maxQueue: 5, burst: 100, lookupsPerSec: 100 } });
    const ps = Array.from({ length: 8 }, (_, i) => s.handle(alice('192.0.2.1', `h${i}.corp.example`)));
    await new Promise((res) => setTimeout(res, 10));
    assert.equal(s.pending, 5);
    assert.equal(maxRunning, 2);
    release();
    const out = await Promise.all(ps);
    assert.equal(out.filter((x) => x.outcome === 'queue-full').length, 3);
    assert.equal(out.filter((x) => x.outcome === 'no-secure-key').length, 5);
    assert.equal(maxRunning, 2);
    assert.equal(s.pending, 0);
  });

  it('leaves a name that serve or autosp already holds to them', async () => {
    await sync.upsert({ ...securePeer('alice.oe.test', ['192.0.2.1']), owner: 'serve' });
    const r = scripted({});
    const s = make(r);
    assert.equal((await s.handle(alice())).outcome, 'already-held');
    assert.deepEqual(r.calls, []);
  });

  it("keeps the peer when only initiating back failed (the initiator's retry is then accepted)", async () => {
    const failing = new (class extends DryRunEngine {
      override async install(peer: Peer): Promise<void> {
        await super.install(peer);
        throw new EngineError('ike-auth-failed', 'alice refused us');
      }
    })();
    await sync.close();
    engine = failing;
    sync = new PeerSync({ engine });
    const s = make(
      scripted({ 'alice.oe.test': { outcome: 'install', reason: 'secure', peer: securePeer('alice.oe.test', ['192.0.2.1']) } }),
    );
    const res = await s.handle(alice());
    assert.equal(res.outcome, 'installed');
    assert.match(res.reason, /initiating back failed/);
    assert.equal(s.counters.initiateFailed, 1);
    assert.ok(failing.get('alice.oe.test'));
  });

  it('reports an engine that cannot install as engine-failed', async () => {
    const broken = new (class extends DryRunEngine {
      override async install(): Promise<void> {
        throw new EngineError('engine-vici', 'charon is gone');
      }
    })();
    await sync.close();
    engine = broken;
    sync = new PeerSync({ engine });
    const s = make(
      scripted({ 'alice.oe.test': { outcome: 'install', reason: 'secure', peer: securePeer('alice.oe.test', ['192.0.2.1']) } }),
    );
    assert.equal((await s.handle(alice())).outcome, 'engine-failed');
  });
});
