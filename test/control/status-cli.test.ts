import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { type DaemonStatus, formatStatus } from '../../src/control/status';

const run = promisify(execFile);
const cli = join(__dirname, '../../src/cli/oedns.js');

const sample: DaemonStatus = {
  version: '0.1.0',
  startedAt: 1000,
  now: 1060,
  listen: ['127.0.0.1:53'],
  upstreams: ['127.0.0.1:5300'],
  engine: { engine: 'dry-run', reachable: true, peers: 2 },
  peers: [
    {
      name: 'bob.oe.test',
      addresses: ['192.0.2.2'],
      level: 'private',
      keySource: 'dnssec-secure',
      authenticated: true,
      owners: ['serve'],
      expiresAt: 1360,
      ikeState: 'ESTABLISHED',
      childState: 'INSTALLED',
    },
    {
      name: 'carol.oe.test',
      addresses: ['192.0.2.3'],
      level: 'opportunistic',
      keySource: 'unauthenticated',
      authenticated: false,
      owners: ['serve'],
      expiresAt: 1100,
    },
  ],
  counters: { queries: 10, installs: 2 },
};

describe('oedns status', () => {
  let dir: string;
  let server: ControlServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-status-'));
    server = await startControlServer({ path: join(dir, 'c.sock'), handlers: { status: () => sample } });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says plainly that a fallback peer is encrypted but not authenticated', () => {
    const text = formatStatus(sample);
    assert.match(text, /carol\.oe\.test .*NO: encrypted, not authenticated/);
    assert.match(text, /bob\.oe\.test .*yes \(dnssec-secure\) +300 s +ESTABLISHED +INSTALLED/);
    assert.match(text, /counters: installs=2 queries=10/);
  });

  it('lists the removals the engine failed and that wait for a retry', () => {
    const text = formatStatus({
      ...sample,
      retrying: [
        { name: 'dave.oe.test', attempts: 3, removal: true },
        { name: 'bob.oe.test', attempts: 1, removal: false },
      ],
    });
    assert.match(text, /pending removals .*: dave\.oe\.test \(3 tries\)$/m);
    assert.doesNotMatch(formatStatus(sample), /pending removals/);
  });

  it('prints the daemon status as a table and as JSON', async () => {
    const human = await run('node', [cli, 'status', '--control', join(dir, 'c.sock')]);
    assert.match(human.stdout, /bob\.oe\.test/);
    const json = await run('node', [cli, 'status', '--json', '--control', join(dir, 'c.sock')]);
    assert.deepEqual(JSON.parse(json.stdout), sample);
  });

  it('exits 1 with a clear line when no daemon runs', async () => {
    await assert.rejects(
      run('node', [cli, 'status', '--control', join(dir, 'none.sock')]),
      (e: { code: number; stderr: string }) => e.code === 1 && /no oedns daemon is listening/.test(e.stderr),
    );
  });
});
