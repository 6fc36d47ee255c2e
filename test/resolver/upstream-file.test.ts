// Upstreams that follow the network: the resolv.conf-style file is parsed without our own addresses,
// watched (also when replaced by rename, as NetworkManager does, or created late), and the pool
// switches servers without dropping questions in flight.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEndpoint } from '../../src/resolver/endpoint';
import { isOwnAddress, upstreamFileProblem, upstreamsFromResolvConf, watchUpstreamFile } from '../../src/resolver/upstream-file';
import { resolveServeConfig } from '../../src/config/serve';
import { ConfigError } from '../../src/util/errors';
import { DEFAULT_UPSTREAM, UpstreamPool } from '../../src/resolver/upstream';
import { TransportError } from '../../src/util/errors';
import { RRType } from '../../src/wire/types';
import { aRecord, answerWith, startFakeUpstream } from './fake-upstream';

const ep = parseEndpoint;

describe('resolver/upstream-file', () => {
  it('never takes oedns itself, including through a wildcard listener, and drops duplicates', () => {
    const text = 'nameserver 127.0.0.1\nnameserver 10.0.0.1\nnameserver 10.0.0.1\nnameserver ::1\nnameserver bogus\n';
    assert.deepEqual(
      upstreamsFromResolvConf(text, [ep('127.0.0.1:53')]).map((e) => e.host),
      ['10.0.0.1', '::1'],
    );
    assert.deepEqual(
      upstreamsFromResolvConf('nameserver 127.0.0.1\nnameserver ::1\n', [ep('0.0.0.0:53'), ep('[::]:53')]).map((e) => e.host),
      [],
    );
    assert.equal(isOwnAddress(ep('127.0.0.53'), [ep('127.0.0.1:53')]), false, "systemd-resolved's stub is not us");
  });

  it('compares addresses, not strings: IPv4-mapped, the unspecified address, wildcard listeners', () => {
    const local = () => ['127.0.0.1', '192.0.2.7', '::1', '2001:db8::7'];
    const own = (up: string, listen: string[]): boolean => isOwnAddress(ep(up), listen.map(ep), local);
    // What the review found forwarding to itself: ::ffff:127.0.0.1 and 0.0.0.0 past a 127.0.0.1 listener.
    assert.equal(own('[::ffff:127.0.0.1]:5300', ['127.0.0.1:5300']), true);
    assert.equal(own('[::ffff:7f00:1]:5300', ['127.0.0.1:5300']), true);
    assert.equal(own('0.0.0.0:5300', ['127.0.0.1:5300']), true);
    assert.equal(own('[::]:5300', ['[::1]:5300']), true);
    assert.equal(own('[0:0::1]:5300', ['[::1]:5300']), true);
    // A wildcard listener owns every local address on its port, and only local ones.
    assert.equal(own('192.0.2.7', ['0.0.0.0:53']), true);
    assert.equal(own('127.0.0.53', ['0.0.0.0:53']), true);
    assert.equal(own('[::ffff:192.0.2.7]:53', ['0.0.0.0:53']), true);
    assert.equal(own('192.0.2.8', ['0.0.0.0:53']), false, 'a server on the LAN is not us');
    assert.equal(own('2001:db8::7', ['[::]:53']), true);
    assert.equal(own('192.0.2.7', ['[::]:53']), false, 'we bind :: IPv6-only');
    assert.equal(own('127.0.0.1:5300', ['127.0.0.1:53']), false, 'another port is another server');
  });

  it('trusts the file only when nobody but root (or systemd-resolve) can write, replace or create it', function () {
    const root = process.getuid?.() === 0;
    const dir = mkdtempSync(join(tmpdir(), 'oedns-upf-'));
    try {
      chmodSync(dir, 0o755);
      const file = join(dir, 'resolv.conf');
      assert.equal(upstreamFileProblem(file), undefined, 'missing, in a directory only its owner writes');
      writeFileSync(file, 'nameserver 192.0.2.1\n', { mode: 0o644 });
      chmodSync(file, 0o644);
      assert.equal(upstreamFileProblem(file), undefined);
      chmodSync(file, 0o666);
      assert.match(upstreamFileProblem(file)!, /resolv\.conf is writable by others \(mode 666\)/);
      assert.throws(
        () => resolveServeConfig({ upstreamFile: file }, {}),
        (e: unknown) => e instanceof ConfigError && e.code === 'upstream-file-unsafe',
      );
      chmodSync(file, 0o644);
      // Sticky is not enough for its own directory: the file may be missing and anyone could create it.
      chmodSync(dir, 0o1777);
      assert.match(upstreamFileProblem(file)!, /is writable by others \(mode 1777\): anyone could replace or create/);
      chmodSync(dir, 0o755);
      // A link is judged by where it points, and by where the link itself is.
      const sub = join(dir, 'open');
      mkdirSync(sub, { mode: 0o777 });
      chmodSync(sub, 0o777);
      symlinkSync(file, join(sub, 'link.conf'));
      assert.match(upstreamFileProblem(join(sub, 'link.conf'))!, /open is writable by others/);
      if (root) {
        chownSync(file, 1000, 1000);
        assert.match(upstreamFileProblem(file)!, /belongs to uid 1000/);
        assert.equal(upstreamFileProblem(file, { owners: () => [0, 1000] }), undefined, "systemd-resolve's own file");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops following a file that becomes writable by others, keeping the servers it named', async function () {
    this.timeout(10_000);
    const dir = mkdtempSync(join(tmpdir(), 'oedns-upf-'));
    chmodSync(dir, 0o755);
    const file = join(dir, 'resolv.conf');
    writeFileSync(file, 'nameserver 192.0.2.1\n');
    const seen: string[][] = [];
    const problems: string[] = [];
    const w = watchUpstreamFile(
      file,
      [ep('127.0.0.1:53')],
      [],
      (s) => seen.push(s.map((e) => e.host)),
      50,
      (p) => problems.push(p),
    );
    try {
      w.check();
      chmodSync(file, 0o666);
      writeFileSync(file, 'nameserver 192.0.2.66\n');
      w.check();
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seen, [['192.0.2.1']]);
      assert.equal(problems.length, 1, 'said once, not at every poll');
      assert.match(problems[0]!, /writable by others/);
      chmodSync(file, 0o644);
      w.check();
      assert.deepEqual(seen, [['192.0.2.1'], ['192.0.2.66']]);
    } finally {
      w.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('notices a new file, a replacement by rename and a removal', async function () {
    this.timeout(10_000);
    const dir = mkdtempSync(join(tmpdir(), 'oedns-upf-'));
    const file = join(dir, 'resolv.conf');
    const seen: string[][] = [];
    const w = watchUpstreamFile(file, [ep('127.0.0.1:53')], [], (s) => seen.push(s.map((e) => e.host)), 50);
    const wait = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      writeFileSync(file, 'nameserver 127.0.0.1\nnameserver 192.0.2.1\n');
      await wait(1);
      writeFileSync(`${file}.new`, 'nameserver 192.0.2.2\n');
      renameSync(`${file}.new`, file);
      await wait(2);
      writeFileSync(file, 'nameserver 192.0.2.2\n# same servers, other text\n');
      w.check();
      rmSync(file);
      await wait(3);
      assert.deepEqual(seen, [['192.0.2.1'], ['192.0.2.2'], []]);
    } finally {
      w.close();
    }
  });

  it('the pool switches to new servers; with none it fails fast with no-upstream', async () => {
    const a = await startFakeUpstream((m, reply) => reply(answerWith(m, [aRecord(m.questions[0]!.name, '192.0.2.10')])));
    const b = await startFakeUpstream((m, reply) => reply(answerWith(m, [aRecord(m.questions[0]!.name, '192.0.2.20')])));
    const pool = new UpstreamPool({ ...DEFAULT_UPSTREAM, servers: [], timeoutMs: 500 }, true);
    try {
      const q = { name: 'x.example', type: RRType.A, class: 1 };
      await assert.rejects(pool.query(q), (e: unknown) => e instanceof TransportError && e.code === 'no-upstream');
      pool.setServers([ep(a.endpoint)]);
      assert.equal(a.received.length, 0);
      await pool.query(q);
      pool.setServers([ep(b.endpoint)]);
      await pool.query(q);
      assert.equal(a.received.length, 1);
      assert.equal(b.received.length, 1);
    } finally {
      pool.close();
      await a.close();
      await b.close();
    }
  });
});
