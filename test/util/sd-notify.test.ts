// Readiness for systemd: $NOTIFY_SOCKET is read once and taken out of our environment, so children
// (ipsec whack, swanctl...) cannot speak for the service; systemd-notify alone gets it. The binary is
// a small script here that writes what it was given; the real one is exercised by the control tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sdNotifier } from '../../src/util/sd-notify';

describe('sd-notify', () => {
  it('takes NOTIFY_SOCKET out of the environment children inherit; only the notify helper gets it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oedns-notify-'));
    const saved = process.env.NOTIFY_SOCKET;
    try {
      const fake = join(dir, 'systemd-notify');
      writeFileSync(fake, `#!/bin/sh\nprintf '%s %s\\n' "$NOTIFY_SOCKET" "$*" >> ${join(dir, 'got')}\n`);
      chmodSync(fake, 0o755);
      process.env.NOTIFY_SOCKET = join(dir, 'notify.sock');
      const n = sdNotifier(process.env, fake);
      assert.equal(n.enabled, true);
      assert.equal(process.env.NOTIFY_SOCKET, undefined);
      const child = spawnSync('sh', ['-c', 'printf "%s" "${NOTIFY_SOCKET-unset}"'], { encoding: 'utf8' });
      assert.equal(child.stdout, 'unset', 'a child started afterwards does not see it');
      assert.equal(await n.notify({ READY: '1' }), true);
      assert.equal(readFileSync(join(dir, 'got'), 'utf8'), `${join(dir, 'notify.sock')} READY=1\n`);
    } finally {
      if (saved === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is off without a socket', async () => {
    const n = sdNotifier({}, '/nonexistent');
    assert.equal(n.enabled, false);
    assert.equal(await n.notify({ READY: '1' }), false);
  });
});
