// `autosp watch` as a process: follows a record that changes after its TTL, drops a peer whose key
// disappears, re-reads the peers file, survives SIGHUP and exits 0 on SIGTERM.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAutospState } from '../../src/autosp/state';
import { autospSpawn, type AutospWorld, until, worldUnavailable, worldUp } from './helpers';

describe('autosp watch (dry-run engine, real named, short TTLs)', function () {
  let w: AutospWorld;
  let child: ChildProcess | undefined;
  let stderr = '';

  before(async function () {
    const why = worldUnavailable();
    if (why) {
      console.log(`    skipping autosp watch tests: ${why}`);
      this.skip();
    }
    w = await worldUp();
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('close', r));
    }
    await w?.down();
  });

  it('follows address changes and key removal after the TTL, re-reads the file, exits 0 on SIGTERM', async () => {
    const state = join(w.dir, 'watch-state.json');
    const file = join(w.dir, 'watch-peers.txt');
    writeFileSync(file, 'host.w.test\n');
    child = autospSpawn(['watch', '--peers', file, '--state', state, ...w.dns]);
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => child!.once('close', (code) => r(code)));
    const peer = (name: string) => {
      try {
        return readAutospState(state).peers.find((p) => p.name === name);
      } catch {
        return undefined; // mid-rename
      }
    };
    const addrOf = (name: string) => peer(name)?.addresses.join(',');
    const fail = (what: string) => `${what}\n--- autosp stderr ---\n${stderr.slice(-3000)}`;

    await until('host.w.test installed', () => addrOf('host.w.test') === '192.0.2.20').catch((e) => assert.fail(fail(String(e))));
    const keyBefore = peer('host.w.test')!.auth;

    // The address moves: the new one is installed once the 2 s TTL has run out.
    await w.setW(['host 2 IN A 192.0.2.21', w.wRecords[1]!]);
    await until('new address picked up', () => addrOf('host.w.test') === '192.0.2.21').catch((e) => assert.fail(fail(String(e))));
    assert.deepEqual(peer('host.w.test')!.auth, keyBefore);

    // SIGHUP re-reads the file and must not end the process.
    writeFileSync(file, 'host.w.test\nbob.ok.test\n');
    child.kill('SIGHUP');
    await until('bob added from the file', () => addrOf('bob.ok.test') === '192.0.2.2,2001:db8::2').catch((e) =>
      assert.fail(fail(String(e))),
    );
    assert.equal(child.exitCode, null);

    // The key is withdrawn: the peer goes (still wanted: it comes back if the key does).
    await w.setW(['host 2 IN A 192.0.2.21']);
    await until('host.w.test removed', () => peer('host.w.test') === undefined && peer('bob.ok.test') !== undefined).catch((e) =>
      assert.fail(fail(String(e))),
    );
    assert.ok(readAutospState(state).names.includes('host.w.test'));

    // A broken edit keeps the last good list.
    writeFileSync(file, 'host.w.test\nbob..ok.test\n');
    await until('the bad file is reported', () => /peers file not reloaded/.test(stderr)).catch((e) => assert.fail(fail(String(e))));
    assert.ok(peer('bob.ok.test'));

    child.kill('SIGTERM');
    assert.equal(await exited, 0, fail('exit status'));
    // Installed peers stay installed (and recorded) after watch ends.
    assert.ok(peer('bob.ok.test'));
  });
});
