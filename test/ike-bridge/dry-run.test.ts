import assert from 'node:assert/strict';
import { createEngine, DryRunEngine } from '../../src/ike-bridge/index';
import type { Peer } from '../../src/ike-bridge/engine';

const peer = (name: string, addr: string): Peer => ({
  name,
  addresses: [addr],
  auth: { kind: 'pubkey', keys: [{ algorithm: 4, publicKey: new Uint8Array(32).fill(7), precedence: 10 }] },
  gateway: { kind: 'none' },
  level: 'private',
  expiresAt: 100,
  owner: 'serve',
});

describe('dry-run engine', () => {
  it('keeps installed peers in memory and records every action', async () => {
    const e = createEngine('dry-run', {}) as DryRunEngine;
    await e.install(peer('a.example', '192.0.2.1'));
    await e.install(peer('b.example', '192.0.2.2'));
    await e.remove('a.example');
    await e.remove('unknown.example'); // not an error
    assert.deepEqual(
      (await e.list()).map((p) => [p.name, p.connection, p.authenticated]),
      [['b.example', 'oe-b.example', true]],
    );
    assert.deepEqual(
      e.actions.map((a) => [a.op, a.name]),
      [
        ['install', 'a.example'],
        ['install', 'b.example'],
        ['remove', 'a.example'],
        ['remove', 'unknown.example'],
      ],
    );
    assert.deepEqual(await e.status(), { engine: 'dry-run', reachable: true, daemon: 'none (dry-run)', peers: 1 });
  });

  it('reconcile installs the missing, removes the extra and leaves equal peers alone (expiry ignored)', async () => {
    const e = new DryRunEngine();
    await e.install(peer('keep.example', '192.0.2.1'));
    await e.install(peer('drop.example', '192.0.2.2'));
    const r = await e.reconcile([{ ...peer('keep.example', '192.0.2.1'), expiresAt: 999 }, peer('new.example', '192.0.2.3')]);
    assert.deepEqual(r, { installed: ['new.example'], removed: ['drop.example'], unchanged: ['keep.example'], failed: [] });
  });
});
