import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlError, controlRequest } from '../../src/control/client';
import { defaultControlPath, parseRequest } from '../../src/control/protocol';
import { startControlServer, type ControlServer, unsafeSocketDir } from '../../src/control/server';
import { lookupUser } from '../../src/resolver/privileges';

describe('control socket', () => {
  let dir: string;
  let server: ControlServer | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-ctl-'))));
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('checks the directories above a relative path too (made absolute first)', async function () {
    if (process.getuid?.() !== 0) return this.skip();
    // att belongs to another user, who could rename v (ours) away and put their own in its place.
    const att = join(dir, 'att');
    mkdirSync(att);
    chownSync(att, 1000, 1000);
    const v = join(att, 'v');
    mkdirSync(v, { mode: 0o700 });
    const cwd = process.cwd();
    process.chdir(v);
    try {
      await assert.rejects(
        startControlServer({ path: 'ctl/control.sock', handlers: {} }),
        (e: Error & { code?: string }) => e.code === 'control-dir-unsafe' && /att belongs to uid 1000/.test(e.message),
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('answers a known command and is owner-only', async () => {
    const path = join(dir, 'sub', 'control.sock');
    server = await startControlServer({ path, handlers: { status: () => ({ peers: 3 }) } });
    assert.deepEqual(await controlRequest(path, 'status'), { peers: 3 });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  });

  it('reports unknown commands and handler failures as errors, not crashes', async () => {
    const path = join(dir, 'control.sock');
    server = await startControlServer({
      path,
      handlers: {
        boom: () => {
          throw new Error('engine unreachable');
        },
        ok: () => 'fine',
      },
    });
    await assert.rejects(
      controlRequest(path, 'nope'),
      (e: Error & { code?: string }) => e.code === 'control-refused' && /unknown command/.test(e.message),
    );
    await assert.rejects(controlRequest(path, 'boom'), /engine unreachable/);
    assert.equal(await controlRequest(path, 'ok'), 'fine');
  });

  it('gives each refusal a code a client can act on without reading the text', async () => {
    const path = join(dir, 'control.sock');
    server = await startControlServer({
      path,
      handlers: {
        // A handler whose failure reads like the unknown-command text must not pass for one.
        boom: () => {
          throw new Error('unknown command "boom"');
        },
      },
    });
    const refusal = async (cmd: string) => {
      try {
        await controlRequest(path, cmd);
      } catch (e) {
        assert.ok(e instanceof ControlError && e.code === 'control-refused', String(e));
        return e.refusal;
      }
      assert.fail(`${cmd} was answered`);
    };
    assert.equal(await refusal('nope'), 'unknown-command');
    assert.equal(await refusal('boom'), 'failed');
  });

  it('survives garbage and over-long lines from a client', async () => {
    const path = join(dir, 'control.sock');
    server = await startControlServer({ path, handlers: { ok: () => 1 } });
    const reply = await new Promise<string>((resolve) => {
      const s = createConnection(path, () => s.write('not json\n'));
      s.setEncoding('utf8');
      s.once('data', (d: string) => (s.destroy(), resolve(d)));
    });
    assert.match(reply, /not valid JSON/);
    await new Promise<void>((resolve) => {
      const s = createConnection(path, () => s.write('x'.repeat(200_000)));
      let said = '';
      s.on('data', (d) => (said += d.toString()));
      s.on('error', () => undefined);
      s.on('close', () => {
        assert.match(said, /too long/);
        resolve();
      });
      s.on('error', () => resolve());
    });
    assert.equal(await controlRequest(path, 'ok'), 1);
  });

  it('replaces a stale socket but refuses to take a live one or delete a regular file', async () => {
    const path = join(dir, 'control.sock');
    server = await startControlServer({ path, handlers: {} });
    await assert.rejects(startControlServer({ path, handlers: {} }), (e: Error & { code?: string }) => e.code === 'control-in-use');
    await server.close();
    server = await startControlServer({ path, handlers: { ok: () => 2 } });
    assert.equal(await controlRequest(path, 'ok'), 2);
    const file = join(dir, 'file');
    writeFileSync(file, 'keep me');
    await assert.rejects(startControlServer({ path: file, handlers: {} }), (e: Error & { code?: string }) => e.code === 'control-path');
  });

  it('tells the user when no daemon listens', async () => {
    await assert.rejects(
      controlRequest(join(dir, 'absent.sock'), 'status'),
      (e: Error & { code?: string }) => e.code === 'control-unreachable' && /oedns serve/.test(e.message),
    );
  });

  it('never defaults to a guessable path in a world-writable directory', () => {
    assert.equal(defaultControlPath({}, 0), '/run/oedns/control.sock');
    assert.equal(defaultControlPath({ RUNTIME_DIRECTORY: '/run/oedns' }, 990), '/run/oedns/control.sock');
    assert.equal(defaultControlPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/run/user/1000/oedns/control.sock');
    assert.equal(defaultControlPath({}, 1000), '/run/oedns/control.sock');
    assert.doesNotMatch(defaultControlPath({}, 1000), /^\/tmp/);
  });

  it('judges a socket directory like OpenSSH judges a path: ours, not writable by others, parents not swappable', () => {
    type St = { uid: number; mode: number; dir?: boolean; link?: boolean };
    const fs = (tree: Record<string, St>) => (p: string) => {
      const s = tree[p] ?? { uid: 0, mode: 0o40755 };
      return { uid: s.uid, mode: s.mode, isDirectory: () => s.dir !== false, isSymbolicLink: () => s.link === true };
    };
    assert.equal(unsafeSocketDir('/run/oedns', 990, fs({ '/run/oedns': { uid: 990, mode: 0o40750 } })), undefined);
    assert.match(unsafeSocketDir('/run/oedns', 0, fs({ '/run/oedns': { uid: 990, mode: 0o40750 } }))!, /belongs to uid 990/);
    assert.match(unsafeSocketDir('/run/oedns', 990, fs({ '/run/oedns': { uid: 990, mode: 0o40770 } }))!, /writable by others/);
    assert.match(unsafeSocketDir('/run/oedns', 990, fs({ '/run/oedns': { uid: 990, mode: 0o40700, link: true } }))!, /not a directory/);
    assert.match(
      unsafeSocketDir('/x/y/s', 990, fs({ '/x/y/s': { uid: 990, mode: 0o40700 }, '/x/y': { uid: 1234, mode: 0o40755 } }))!,
      /belongs to uid 1234/,
    );
    assert.match(unsafeSocketDir('/x/s', 990, fs({ '/x/s': { uid: 990, mode: 0o40700 }, '/x': { uid: 0, mode: 0o40777 } }))!, /not sticky/);
    assert.equal(
      unsafeSocketDir('/tmp/s', 990, fs({ '/tmp/s': { uid: 990, mode: 0o40700 }, '/tmp': { uid: 0, mode: 0o41777 } })),
      undefined,
    );
  });

  it('refuses a socket directory owned by another user, writable by others, or a symlink', async function () {
    if (process.getuid?.() !== 0) return this.skip();
    const other = lookupUser(readFileSync('/etc/passwd', 'utf8'), 'nobody')!;
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, other.uid, other.gid);
    const refused = (e: Error & { code?: string }) => e.code === 'control-dir-unsafe';
    await assert.rejects(startControlServer({ path: join(theirs, 'c.sock'), handlers: {} }), refused);
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await assert.rejects(startControlServer({ path: join(open, 'c.sock'), handlers: {} }), refused);
    const link = join(dir, 'link');
    symlinkSync(open, link);
    await assert.rejects(startControlServer({ path: join(link, 'c.sock'), handlers: {} }), refused);
  });

  it('parses requests strictly', () => {
    assert.deepEqual(parseRequest('{"cmd":"status"}'), { cmd: 'status', args: undefined });
    assert.ok('error' in parseRequest('[]'));
    assert.ok('error' in parseRequest('{"cmd":"x","args":[1]}'));
  });
});
