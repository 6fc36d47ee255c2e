// chooseMode against a real control server (no BIND, no charon): which daemons autosp hands its
// names to, and that "does not take autosp requests" is told by the daemon's refusal code, never by
// the words of an error.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseMode } from '../../src/autosp/daemon-client';
import { Unreachable } from '../../src/autosp/errors';
import { type ControlHandler, type ControlServer, startControlServer } from '../../src/control/server';

describe('autosp daemon client: choosing the mode', () => {
  let dir: string;
  let server: ControlServer | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-autosp-mode-'))));
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const daemon = async (handlers: Record<string, ControlHandler>) => {
    const path = join(dir, 'control.sock');
    server = await startControlServer({ path, handlers });
    return path;
  };

  it('daemon mode when the daemon answers peer-list', async () => {
    const path = await daemon({ 'peer-list': () => ({ peers: [] }) });
    assert.deepEqual(await chooseMode({ control: path }), { kind: 'daemon', path });
  });

  it('a daemon without autosp commands (unknown-command) is an error, not direct mode', async () => {
    const path = await daemon({ status: () => ({}) });
    await assert.rejects(
      chooseMode({ control: path }),
      (e: Error) => e instanceof Unreachable && /does not take autosp requests/.test(e.message),
    );
  });

  it('a peer-list that fails with words like an unknown command is not taken for one', async () => {
    const path = await daemon({
      'peer-list': () => {
        throw new Error('unknown command in the engine');
      },
    });
    await assert.rejects(
      chooseMode({ control: path }),
      (e: Error) =>
        e instanceof Unreachable && /unknown command in the engine/.test(e.message) && !/does not take autosp requests/.test(e.message),
    );
  });

  it('no daemon at the default path: direct mode; at an explicit --control: an error', async () => {
    const missing = join(dir, 'none.sock');
    const saved = process.env.OEDNS_CONTROL;
    process.env.OEDNS_CONTROL = missing;
    try {
      assert.deepEqual(await chooseMode({}), { kind: 'direct' });
    } finally {
      if (saved === undefined) delete process.env.OEDNS_CONTROL;
      else process.env.OEDNS_CONTROL = saved;
    }
    await assert.rejects(chooseMode({ control: missing }), Unreachable);
    assert.deepEqual(await chooseMode({ daemon: false, control: missing }), { kind: 'direct' });
  });
});
