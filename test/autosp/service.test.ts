// autosp through a running daemon's control socket: the CLI hands names over, the daemon's registry
// holds them for owner autosp, and a peer that serve also wants stays until both have let go.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autospPolicy, createAutospService, createPeerResolver, loadAutospState, readAutospState, ResolvePeer, validatingLookup } from '../../src/autosp';
import { startControlServer, ControlServer } from '../../src/control/server';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { netQuery } from '../../src/dnssec/net-query';
import { createValidator } from '../../src/dnssec/validator';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { PeerSync } from '../../src/peers';
import { autosp, AutospWorld, worldUnavailable, worldUp } from './helpers';

describe('autosp with a daemon (control socket, shared registry)', function () {
  let w: AutospWorld;
  let server: ControlServer | undefined;
  let closeService: (() => Promise<void>) | undefined;
  let resolvePeer: ResolvePeer;

  before(async function () {
    const why = worldUnavailable();
    if (why) {
      console.log(`    skipping autosp daemon tests: ${why}`);
      this.skip();
    }
    w = await worldUp();
    const query = netQuery({ host: w.named.address, port: w.named.port, timeoutMs: 1000 });
    const validator = createValidator({ anchors: parseTrustAnchors(readFileSync(w.h.anchorFile, 'utf8')), query });
    resolvePeer = createPeerResolver({ resolver: validatingLookup(query, validator), policy: autospPolicy() });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await closeService?.();
    closeService = undefined;
  });
  after(async () => {
    await w?.down();
  });

  it('add/remove/list go to the daemon; a peer serve also holds stays until serve releases it', async () => {
    const engine = new DryRunEngine();
    const sync = new PeerSync({ engine });
    const statePath = join(w.dir, 'daemon-state.json');
    const svc = createAutospService({ sync, resolvePeer, statePath, engine });
    closeService = svc.close;
    const path = join(w.dir, 'ctl', 'control.sock');
    server = await startControlServer({ path, handlers: { status: () => ({}), ...svc.handlers } });

    const add = await autosp(['add', 'bob.ok.test', 'nokey.ok.test', '--control', path, '--json']);
    assert.equal(add.code, 1, add.stderr); // nokey is refused
    const out = JSON.parse(add.stdout) as { mode: string; peers: Array<{ name: string; result: string }> };
    assert.equal(out.mode, 'daemon');
    assert.deepEqual(out.peers.map((p) => [p.name, p.result]), [['bob.ok.test', 'installed'], ['nokey.ok.test', 'refused']]);
    assert.ok(engine.get('bob.ok.test'));
    assert.deepEqual(sync.registry.owners('bob.ok.test'), ['autosp']);
    assert.deepEqual(readAutospState(statePath).names, ['bob.ok.test', 'nokey.ok.test']);
    assert.deepEqual(loadAutospState(statePath).map((p) => [p.name, p.owner]), [['bob.ok.test', 'autosp']]);

    // serve's capture wants bob too.
    const bob = sync.registry.get('bob.ok.test')!;
    await sync.upsert({ ...bob, owner: 'serve', expiresAt: Math.floor(Date.now() / 1000) + 300 });

    const rm = await autosp(['remove', 'bob.ok.test', 'nokey.ok.test', '--control', path, '--json']);
    assert.equal(rm.code, 0, rm.stderr);
    const rmOut = JSON.parse(rm.stdout) as { peers: Array<{ name: string; result: string; reason: string }> };
    assert.equal(rmOut.peers[0].result, 'removed');
    assert.match(rmOut.peers[0].reason, /still held for serve/);
    assert.ok(engine.get('bob.ok.test'), 'serve still wants bob: the engine must keep it');
    assert.deepEqual(sync.registry.owners('bob.ok.test'), ['serve']);

    await sync.release('bob.ok.test', 'serve');
    assert.equal(engine.get('bob.ok.test'), undefined);

    const list = await autosp(['list', '--control', path, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { peers: unknown[] }).peers, []);
    assert.deepEqual(readAutospState(statePath).names, []);
  });

  it('a daemon restarted with the state file adopts the names and peers', async () => {
    const statePath = join(w.dir, 'adopt-state.json');
    {
      const sync = new PeerSync({ engine: new DryRunEngine() });
      const svc = createAutospService({ sync, resolvePeer, statePath });
      await svc.keeper.add(['carol.ok.test']);
      await svc.close();
    }
    const engine = new DryRunEngine();
    const sync = new PeerSync({ engine });
    const svc = createAutospService({ sync, resolvePeer, statePath, engine });
    closeService = svc.close;
    assert.deepEqual(svc.keeper.names(), ['carol.ok.test']);
    assert.deepEqual(sync.registry.owners('carol.ok.test'), ['autosp']);
    await sync.reconcile();
    assert.ok(engine.get('carol.ok.test'));
  });

  it('a daemon that does not take autosp requests: exit 3, nothing done behind its back', async () => {
    const path = join(w.dir, 'ctl2', 'control.sock');
    server = await startControlServer({ path, handlers: { status: () => ({}) } });
    const r = await autosp(['add', 'bob.ok.test', '--state', join(w.dir, 'never.json'), '--server', w.named.endpoint], { OEDNS_CONTROL: path });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /does not take autosp requests/);
  });
});
