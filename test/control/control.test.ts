import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/control/client';
import { parseRequest } from '../../src/control/protocol';
import { startControlServer, ControlServer } from '../../src/control/server';

describe('control socket', () => {
  let dir: string;
  let server: ControlServer | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-ctl-'))));
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
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
    await assert.rejects(controlRequest(path, 'nope'), (e: Error & { code?: string }) => e.code === 'control-refused' && /unknown command/.test(e.message));
    await assert.rejects(controlRequest(path, 'boom'), /engine unreachable/);
    assert.equal(await controlRequest(path, 'ok'), 'fine');
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
    await assert.rejects(controlRequest(join(dir, 'absent.sock'), 'status'), (e: Error & { code?: string }) => e.code === 'control-unreachable' && /oedns serve/.test(e.message));
  });

  it('parses requests strictly', () => {
    assert.deepEqual(parseRequest('{"cmd":"status"}'), { cmd: 'status', args: undefined });
    assert.ok('error' in parseRequest('[]'));
    assert.ok('error' in parseRequest('{"cmd":"x","args":[1]}'));
  });
});
