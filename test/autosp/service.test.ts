// autosp through a running daemon's control socket: the CLI hands names over, the daemon's registry
// holds them for owner autosp, and a peer that serve also wants stays until both have let go.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  autospPolicy,
  createAutospService,
  createPeerResolver,
  loadAutospState,
  readAutospState,
  type ResolvePeer,
  validatingLookup,
} from '../../src/autosp';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { netQuery } from '../../src/resolver/net-query';
import { createValidator } from '../../src/dnssec/validator';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { PeerSync } from '../../src/peers';
import { autosp, autospSpawn, type AutospWorld, until, worldUnavailable, worldUp } from './helpers';

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
    assert.deepEqual(
      out.peers.map((p) => [p.name, p.result]),
      [
        ['bob.ok.test', 'installed'],
        ['nokey.ok.test', 'refused'],
      ],
    );
    assert.ok(engine.get('bob.ok.test'));
    assert.deepEqual(sync.registry.owners('bob.ok.test'), ['autosp']);
    assert.deepEqual(readAutospState(statePath).names, ['bob.ok.test', 'nokey.ok.test']);
    assert.deepEqual(
      loadAutospState(statePath).map((p) => [p.name, p.owner]),
      [['bob.ok.test', 'autosp']],
    );

    // serve's capture wants bob too.
    const bob = sync.registry.get('bob.ok.test')!;
    await sync.upsert({ ...bob, owner: 'serve', expiresAt: Math.floor(Date.now() / 1000) + 300 });

    const rm = await autosp(['remove', 'bob.ok.test', 'nokey.ok.test', '--control', path, '--json']);
    assert.equal(rm.code, 0, rm.stderr);
    const rmOut = JSON.parse(rm.stdout) as { peers: Array<{ name: string; result: string; reason: string }> };
    assert.equal(rmOut.peers[0]!.result, 'removed');
    assert.match(rmOut.peers[0]!.reason, /still held for serve/);
    assert.ok(engine.get('bob.ok.test'), 'serve still wants bob: the engine must keep it');
    assert.deepEqual(sync.registry.owners('bob.ok.test'), ['serve']);

    await sync.release('bob.ok.test', 'serve');
    assert.equal(engine.get('bob.ok.test'), undefined);

    const list = await autosp(['list', '--control', path, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { peers: unknown[] }).peers, []);
    assert.deepEqual(readAutospState(statePath).names, []);
  });

  it('a daemon restarted with the state file adopts the names, holds stored private addresses closed and trusts nothing before looking the names up again', async () => {
    const statePath = join(w.dir, 'adopt-state.json');
    {
      const sync = new PeerSync({ engine: new DryRunEngine() });
      const svc = createAutospService({ sync, resolvePeer, statePath });
      await svc.keeper.add(['carol.ok.test']);
      await svc.close();
    }
    const engine = new DryRunEngine();
    const sync = new PeerSync({ engine });
    assert.deepEqual(
      loadAutospState(statePath).map((p) => [p.name, p.initiate]),
      [['carol.ok.test', false]],
    );
    const svc = createAutospService({ sync, resolvePeer, statePath, engine, initiate: true });
    closeService = svc.close;
    assert.deepEqual(svc.keeper.names(), ['carol.ok.test']);
    // The stored key is not trusted: no claim yet, but the stored private address stays closed.
    assert.deepEqual(sync.registry.owners('carol.ok.test'), []);
    const stored = loadAutospState(statePath)[0]!.addresses;
    assert.deepEqual(sync.registry.shunt('carol.ok.test').sort(), [...stored].sort());
    // The keeper looks the name up at once; the validated answer takes the address back.
    await until('carol looked up and validated again', () => sync.registry.owners('carol.ok.test').includes('autosp'));
    await until('carol installed', () => engine.get('carol.ok.test') !== undefined);
    assert.deepEqual(sync.registry.shunt('carol.ok.test'), []);
  });

  it('watch hands its peers to a daemon that appears, and takes them back when it goes', async () => {
    const path = join(w.dir, 'ctl3', 'control.sock');
    const file = join(w.dir, 'handover-peers.txt');
    const state = join(w.dir, 'handover-state.json');
    writeFileSync(file, 'bob.ok.test\n');
    const child = autospSpawn(
      [
        'watch',
        '--peers',
        file,
        '--state',
        state,
        '--daemon-check',
        '0.5',
        '--server',
        w.named.endpoint,
        '--trust-anchor',
        w.h.anchorFile,
        '--engine',
        'dry-run',
      ],
      { OEDNS_CONTROL: path },
    );
    let err = '';
    child.stderr!.on('data', (d) => (err += String(d)));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const why = (e: unknown): never => assert.fail(`${String(e)}\n--- watch stderr ---\n${err.slice(-3000)}`);
    try {
      await until('direct install', () => {
        try {
          return readAutospState(state).peers.some((p) => p.name === 'bob.ok.test');
        } catch {
          return false;
        }
      }).catch(why);
      const engine = new DryRunEngine();
      const sync = new PeerSync({ engine });
      const svc = createAutospService({ sync, resolvePeer, engine, statePath: join(w.dir, 'handover-daemon.json') });
      closeService = svc.close;
      server = await startControlServer({ path, handlers: svc.handlers });
      await until('the daemon holds bob for autosp', () => sync.registry.owners('bob.ok.test').includes('autosp')).catch(why);
      assert.ok(engine.get('bob.ok.test'));
      assert.match(err, /handing the peers over/);
      await server.close();
      server = undefined;
      await until('watch notices the daemon is gone', () => /the daemon is gone/.test(err)).catch(why);
      await new Promise((r) => setTimeout(r, 1000));
      assert.doesNotMatch(err, /step failed|handover failed/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err.slice(-2000));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a daemon that does not take autosp requests: exit 3, nothing done behind its back', async () => {
    const path = join(w.dir, 'ctl2', 'control.sock');
    server = await startControlServer({ path, handlers: { status: () => ({}) } });
    const r = await autosp(['add', 'bob.ok.test', '--state', join(w.dir, 'never.json'), '--server', w.named.endpoint], {
      OEDNS_CONTROL: path,
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /does not take autosp requests/);
  });
});
