// The keeper's rules on a manual clock with a scripted lookup and the dry-run engine: what each
// lookup outcome does to an installed peer, when the next lookup happens, and when IKE is started.
import assert from 'node:assert/strict';
import { AutospKeeper, type PeerResolution, refreshDelay } from '../../src/autosp';
import { parsePeersFile } from '../../src/autosp/peers-file';
import type { Peer } from '../../src/ike-bridge/engine';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { PeerSync, type SyncClock } from '../../src/peers';
import { ConfigError, EngineError, ViciError } from '../../src/util/errors';
import { EXIT, exitCodeFor } from '../../src/cli/autosp';

function clock(start = 1_000_000): SyncClock & { t: number } {
  const c = {
    t: start,
    now: () => c.t,
    setTimer: () => null,
    clearTimer: () => undefined,
  };
  return c;
}

function peer(name: string, key: number, addr = '192.0.2.7', ttl = 100, now = 1_000_000): Peer {
  return {
    name,
    addresses: [addr],
    gateway: { kind: 'none' },
    level: 'private',
    owner: 'autosp',
    expiresAt: now + ttl,
    auth: { kind: 'pubkey', keys: [{ algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(key) }] },
  };
}

const V = { a: 'secure', aaaa: 'secure', ipseckey: 'secure' };

describe('autosp keeper', () => {
  let c: ReturnType<typeof clock>;
  let engine: DryRunEngine;
  let sync: PeerSync;
  let next: (name: string) => PeerResolution;
  let keeper: AutospKeeper;

  beforeEach(() => {
    c = clock();
    engine = new DryRunEngine();
    sync = new PeerSync({ engine, clock: c });
    keeper = new AutospKeeper({ sync, clock: c, initiate: true, resolvePeer: async (n) => next(n) });
  });

  const install = (p: Peer, ttl = 100): PeerResolution => ({
    name: p.name,
    outcome: 'install',
    peer: p,
    ttl,
    reason: 'ok',
    verdicts: V,
    at: c.t,
  });
  const other = (name: string, outcome: PeerResolution['outcome']): PeerResolution => ({
    name,
    outcome,
    reason: outcome,
    verdicts: V,
    at: c.t,
  });

  it('installs with initiate, refreshes without an engine call, reinstalls (and initiates) on a key change', async () => {
    next = () => install(peer('h.example', 1));
    assert.equal((await keeper.add(['h.example']))[0]!.result, 'installed');
    assert.equal(engine.get('h.example')!.initiate, true);
    const calls = engine.actions.length;
    c.t += 95;
    next = () => install(peer('h.example', 1, '192.0.2.7', 100, c.t));
    const due = await keeper.refreshDue();
    assert.deepEqual(
      due.map((r) => r.result),
      ['unchanged'],
    );
    assert.equal(engine.actions.length, calls, 'a refresh with the same material costs no engine call');
    c.t += 95;
    next = () => install(peer('h.example', 2, '192.0.2.7', 100, c.t));
    assert.deepEqual(
      (await keeper.refreshDue()).map((r) => r.result),
      ['updated'],
    );
    const auth = engine.get('h.example')!.auth;
    assert.equal(auth.kind === 'pubkey' ? auth.keys[0]!.publicKey[0] : -1, 2);
    assert.equal(engine.get('h.example')!.initiate, true);
  });

  it("a key change ends the old key's SAs (in PeerSync), after the new key is installed; an address change does not", async () => {
    next = () => install(peer('h.example', 1));
    await keeper.add(['h.example']);
    engine.sas.set('h.example', ['7']);
    c.t += 95;
    next = () => install(peer('h.example', 1, '192.0.2.8', 100, c.t));
    assert.deepEqual(
      (await keeper.refreshDue()).map((r) => r.result),
      ['updated'],
    );
    assert.ok(!engine.actions.some((a) => a.op === 'terminate'), 'an address change is no key change');
    c.t += 95;
    next = () => install(peer('h.example', 3, '192.0.2.8', 100, c.t));
    await keeper.refreshDue();
    const tail = engine.actions
      .slice(-2)
      .map((a) => [a.op, a.ids ?? (a.peer?.auth.kind === 'pubkey' ? a.peer.auth.keys[0]!.publicKey[0] : null)]);
    assert.deepEqual(tail, [
      ['install', 3],
      ['terminate', ['7']],
    ]);
  });

  it('a transient failure keeps the installed peer and retries before it lapses', async () => {
    next = () => install(peer('h.example', 1));
    await keeper.add(['h.example']);
    c.t += 95;
    next = (n) => other(n, 'transient');
    const r = (await keeper.refreshDue())[0]!;
    assert.equal(r.result, 'failed');
    assert.match(r.reason, /kept until it lapses in 5 s/);
    assert.ok(engine.get('h.example'));
    const at = keeper.reports()[0]!.refreshAt!;
    assert.ok(at > c.t && at < 1_000_000 + 100, `retry at ${at}`);
  });

  it("refused releases and bogus invalidates autosp's claim (shunting), serve keeps its own; clear releases without a shunt", async () => {
    next = (n) => install(peer(n, 1));
    await keeper.add(['r.example', 'b.example', 'c.example']);
    await sync.upsert({ ...peer('b.example', 1), owner: 'serve' });
    await sync.upsert({ ...peer('r.example', 1), owner: 'serve' });
    c.t += 95;
    next = (n) => other(n, n === 'r.example' ? 'refused' : n === 'b.example' ? 'bogus' : 'clear');
    const res = Object.fromEntries((await keeper.refreshDue()).map((x) => [x.name, x.result]));
    assert.deepEqual(res, { 'r.example': 'refused', 'b.example': 'bogus', 'c.example': 'clear' });
    assert.deepEqual(sync.registry.owners('r.example'), ['serve'], 'refused: serve keeps its own claim');
    // Serve validated its own answer; it looks the name up again on its own (capture re-validates).
    assert.deepEqual(sync.registry.owners('b.example'), ['serve'], "bogus: only autosp's claim goes");
    assert.ok(engine.get('b.example'));
    assert.equal(engine.get('c.example'), undefined);
    assert.equal(engine.shuntOf('c.example'), undefined, 'clear: nothing kept closed');
    assert.deepEqual(keeper.names().sort(), ['b.example', 'c.example', 'r.example']);
  });

  it('adopted peers are not trusted from the state file: their addresses are held closed until a lookup validates them again', async () => {
    keeper.adopt({
      names: ['h.example', 'g.example'],
      peers: [
        { ...peer('h.example', 1), initiate: true },
        { ...peer('g.example', 1), level: 'private-or-clear' },
      ],
    });
    await sync.reconcile();
    assert.equal(engine.get('h.example'), undefined, 'no stored key is installed');
    assert.deepEqual(engine.shuntOf('h.example'), ['192.0.2.7'], 'private: closed meanwhile');
    assert.equal(engine.shuntOf('g.example'), undefined, 'private-or-clear: nothing to close');
    assert.equal(keeper.reports().find((r) => r.name === 'h.example')!.result, 'pending');
    next = (n) => install(peer(n, 1));
    const res = await keeper.refreshDue();
    assert.deepEqual(res.map((r) => [r.name, r.result]).sort(), [
      ['g.example', 'installed'],
      ['h.example', 'installed'],
    ]);
    assert.ok(engine.get('h.example'));
    assert.equal(engine.shuntOf('h.example'), undefined, 'validated again: the conn replaces the shunt');
  });

  it('refreshDelay: a tenth early, between 1 s and 60 s, never below 1 s', () => {
    assert.deepEqual([1, 2, 4, 30, 300, 3600, 86400].map(refreshDelay), [1, 1, 3, 27, 270, 3540, 86340]);
  });
});

describe('autosp peers file', () => {
  it('takes names one per line with comments and blank lines, normalized, duplicates dropped', () => {
    assert.deepEqual(parsePeersFile('# peers\n\n  Bob.Example.   # trailing\r\nalice.example\nbob.example\n'), [
      'bob.example',
      'alice.example',
    ]);
  });
  it('names the line of a bad entry', () => {
    for (const [text, re] of [
      ['a.example\nb..example\n', /f:2: bad peer name "b\.\.example": has an empty label/],
      ['\n\n*.example', /f:3: bad peer name "\*\.example": wildcards/],
      ['a.example b.example', /f:1: one name per line/],
      ['a!.example', /f:1: bad peer name/],
      ['.', /f:1: bad peer name "\.": the root/],
    ] as const) {
      assert.throws(
        () => parsePeersFile(text, 'f'),
        (e: unknown) => e instanceof ConfigError && e.code === 'autosp-peers-file' && re.test(e.message),
      );
    }
  });
});

describe('autosp keeper: what an engine error means is read off its codes', () => {
  // The strongSwan engine wraps what VICI said in an EngineError (code engine-vici) with the ViciError
  // as its cause; only a daemon that is not there at all makes autosp exit 3 (unreachable).
  const cases = [
    [
      'charon is not there (vici-connect)',
      new ViciError('vici-connect', 'cannot reach charon at /run/charon.vici'),
      true,
      EXIT.UNREACHABLE,
    ],
    [
      'charon refuses this one peer (a command that failed)',
      new ViciError('vici-command', 'load-conn failed: unreachable gateway'),
      false,
      EXIT.FAILED,
    ],
  ] as const;
  for (const [what, cause, gone, exit] of cases) {
    it(`${what}: engineGone ${gone}, exit ${exit}`, async () => {
      const c = clock();
      const engine = new DryRunEngine();
      engine.install = async (p: Peer) => {
        throw new EngineError('engine-vici', `install ${p.name}: ${cause.message}`, { cause });
      };
      const keeper = new AutospKeeper({
        sync: new PeerSync({ engine, clock: c }),
        clock: c,
        initiate: false,
        resolvePeer: async (n) => ({ name: n, outcome: 'install', peer: peer(n, 1), ttl: 100, reason: 'ok', verdicts: V, at: c.t }),
      });
      const [r] = await keeper.add(['h.example']);
      assert.equal(r!.result, 'engine-error');
      assert.equal(r!.errorCode, 'engine-vici');
      assert.equal(r!.engineGone ?? false, gone);
      assert.equal(exitCodeFor([r!]), exit);
    });
  }
});
