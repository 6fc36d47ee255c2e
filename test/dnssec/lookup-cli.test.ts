// `oedns lookup` usage errors exit 2 before any query is sent; transport failure is indeterminate (1).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { firstNameserver, parseServer } from '../../src/resolver/net-query';

const OEDNS = join(__dirname, '..', '..', 'src', 'cli', 'oedns.js');
const lookup = (...args: string[]) => spawnSync(process.execPath, [OEDNS, 'lookup', ...args], { encoding: 'utf8', timeout: 20_000 });

describe('oedns lookup command line', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-lookup-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 on an unknown type, a bad server, a missing name or an unusable anchor file', () => {
    const bad = join(dir, 'bad.anchor');
    writeFileSync(bad, 'example. IN A 192.0.2.1\n');
    for (const args of [
      ['example.', 'NOTATYPE', '--server', '127.0.0.1'],
      ['example.', 'A', '--server', '127.0.0.1:99999'],
      [],
      ['example.', '--server', '127.0.0.1', '--trust-anchor', bad],
      ['example.', '--server', '127.0.0.1', '--trust-anchor', join(dir, 'missing')],
    ]) {
      const r = lookup(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
  });

  it('is indeterminate (exit 1) when the server does not answer', async () => {
    // A bound UDP socket that never answers: queries go nowhere but stay on loopback.
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    const port = (sink.address() as { port: number }).port;
    try {
      const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const c = spawn(process.execPath, [
          OEDNS,
          'lookup',
          '--json',
          '--timeout',
          '200',
          '--server',
          `127.0.0.1:${port}`,
          'example.',
          'A',
        ]);
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d));
        c.on('exit', (status) => resolve({ status, stdout: out }));
      });
      assert.equal(r.status, 1);
      const j = JSON.parse(r.stdout);
      assert.equal(j.verdict, 'indeterminate');
      assert.match(j.reason, /^fetch-failed/);
    } finally {
      sink.close();
    }
  });

  it('parses server endpoints and resolv.conf', () => {
    assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseServer('[::1]:53'), { host: '::1', port: 53 });
    assert.deepEqual(parseServer('::1'), { host: '::1', port: 53 });
    assert.equal(parseServer('host:0'), null);
    assert.equal(firstNameserver('# c\nsearch x\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n'), '10.0.0.1');
  });
});
