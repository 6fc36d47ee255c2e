// autosp as scripts see it: exit codes, table and JSON output, the state file, against a real named
// serving signed (and broken, and unsigned) zones, with the dry-run engine.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAutospState } from '../../src/autosp/state';
import { generateHostKey } from '../../src/ike-bridge/identity';
import { privateKeyPemForCharon } from '../../src/ike-bridge/keys';
import { autosp, type AutospWorld, worldUnavailable, worldUp } from './helpers';

interface Out {
  mode: string;
  exitCode: number;
  peers: Array<{ name: string; result: string; reason: string; addresses: string[]; keys: number; level?: string; authenticated: boolean }>;
}

describe('autosp CLI (dry-run engine, real named)', function () {
  let w: AutospWorld;
  let state: string;
  let n = 0;

  before(async function () {
    const why = worldUnavailable();
    if (why) {
      console.log(`    skipping autosp CLI tests: ${why}`);
      this.skip();
    }
    w = await worldUp();
  });
  after(async () => {
    await w?.down();
  });
  beforeEach(() => {
    state = join(w.dir, `state-${++n}.json`);
  });

  const run = (args: string[]) => autosp([...args, ...w.dns, '--state', state]);
  const json = (stdout: string): Out => JSON.parse(stdout) as Out;

  it('add installs a validated peer (A, AAAA, IPSECKEY), level private, and records it in the state file', async () => {
    const r = await run(['add', 'BOB.ok.test.', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const o = json(r.stdout);
    assert.equal(o.mode, 'direct');
    assert.deepEqual(
      o.peers.map((p) => [p.name, p.result, p.addresses, p.keys, p.level, p.authenticated]),
      [['bob.ok.test', 'installed', ['192.0.2.2', '2001:db8::2'], 1, 'private', true]],
    );
    const s = readAutospState(state);
    assert.deepEqual(s.names, ['bob.ok.test']);
    assert.equal(s.peers[0]!.owner, 'autosp');
    assert.equal(s.peers[0]!.name, 'bob.ok.test');

    const again = await run(['add', 'bob.ok.test', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(json(again.stdout).peers[0]!.result, 'unchanged');

    const l = await run(['list', '--json']);
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(
      json(l.stdout).peers.map((p) => [p.name, p.result]),
      [['bob.ok.test', 'installed']],
    );
  });

  it('refuses bogus, keyless, unsigned and missing peers: exit 1, nothing installed', async () => {
    const r = await run(['add', 'bogus.ok.test', 'nokey.ok.test', 'host.plain.test', 'nx.ok.test', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const byName = Object.fromEntries(json(r.stdout).peers.map((p) => [p.name, p]));
    assert.equal(byName['bogus.ok.test']!.result, 'bogus');
    assert.equal(byName['nokey.ok.test']!.result, 'refused');
    assert.match(byName['nokey.ok.test']!.reason, /no IPSECKEY/);
    assert.equal(byName['host.plain.test']!.result, 'refused');
    assert.match(byName['host.plain.test']!.reason, /unsigned/);
    assert.equal(byName['nx.ok.test']!.result, 'refused');
    for (const p of Object.values(byName)) assert.deepEqual([p.addresses, p.keys, p.authenticated], [[], 0, false]);
    assert.deepEqual(readAutospState(state).peers, []);
    // Still wanted (looked up again later), so list shows them as not installed: exit 1.
    const l = await run(['list', '--json']);
    assert.equal(l.code, 1);
    assert.ok(json(l.stdout).peers.every((p) => p.result === 'pending'));
  });

  it('a bogus peer that was installed is taken out when looked up again', async () => {
    // Install carol, then make the state claim it under a name whose records are bogus.
    assert.equal((await run(['add', 'carol.ok.test'])).code, 0);
    const s = readAutospState(state);
    const stored = JSON.parse(readFileSync(state, 'utf8')) as { peers: Array<{ name: string }> };
    assert.equal(s.peers.length, 1);
    const forged = { ...stored.peers[0], name: 'bogus.ok.test' };
    writeFileSync(
      state,
      JSON.stringify({ version: 1, updatedAt: 0, names: ['carol.ok.test', 'bogus.ok.test'], peers: [stored.peers[0], forged] }),
    );
    assert.deepEqual(
      readAutospState(state).peers.map((p) => p.name),
      ['carol.ok.test', 'bogus.ok.test'],
    );
    const r = await run(['add', 'bogus.ok.test', '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(json(r.stdout).peers[0]!.result, 'bogus');
    assert.deepEqual(
      readAutospState(state).peers.map((p) => p.name),
      ['carol.ok.test'],
    );
  });

  it('remove releases the peer; removing an unknown name is not an error', async () => {
    assert.equal((await run(['add', 'bob.ok.test', 'carol.ok.test'])).code, 0);
    const r = await run(['remove', 'bob.ok.test', 'zed.ok.test', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      json(r.stdout).peers.map((p) => [p.name, p.result]),
      [
        ['bob.ok.test', 'removed'],
        ['zed.ok.test', 'absent'],
      ],
    );
    const s = readAutospState(state);
    assert.deepEqual([s.names, s.peers.map((p) => p.name)], [['carol.ok.test'], ['carol.ok.test']]);
  });

  it('sync makes the set exactly the file: adds, keeps, removes; prints a table', async () => {
    const file = join(w.dir, `peers-${n}.txt`);
    writeFileSync(file, '# hosts we talk to\n\nbob.ok.test   # the build box\ncarol.ok.test\n');
    const r1 = await run(['sync', '--peers', file]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^PEER\s+RESULT\s+ADDRESSES\s+KEYS\s+LEVEL\s+EXPIRES IN\s+DETAIL$/m);
    assert.match(
      r1.stdout,
      /^bob\.ok\.test\s+installed\s+192\.0\.2\.2,2001:db8::2\s+1\s+private\s+\d+ s\s+level private: secure IPSECKEY/m,
    );
    writeFileSync(file, 'carol.ok.test\n');
    const r2 = await run(['sync', '--peers', file, '--json']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(
      json(r2.stdout).peers.map((p) => [p.name, p.result]),
      [
        ['carol.ok.test', 'unchanged'],
        ['bob.ok.test', 'removed'],
      ],
    );
    assert.deepEqual(readAutospState(state).names, ['carol.ok.test']);
  });

  it('a long sync reports progress on stderr, the result on stdout', async () => {
    const file = join(w.dir, `many-${n}.txt`);
    const names = Array.from({ length: 24 }, (_, i) => `nx${i}.ok.test`);
    writeFileSync(file, ['bob.ok.test', ...names].join('\n') + '\n');
    const r = await run(['sync', '--peers', file, '--json']);
    assert.equal(r.code, 1, r.stderr); // the nx names have no records
    assert.match(r.stderr, /^resolved 25\/25 peers$/m);
    assert.match(r.stderr, /^resolved \d+\/25 peers$/m);
    const o = json(r.stdout);
    assert.equal(o.peers.length, 25);
    assert.deepEqual(
      o.peers.filter((p) => p.result === 'installed').map((p) => p.name),
      ['bob.ok.test'],
    );
  });

  it('a bad peers file is a usage error naming the line (exit 2), and changes nothing', async () => {
    const file = join(w.dir, `bad-${n}.txt`);
    writeFileSync(file, 'bob.ok.test\n# fine\nnot a name\n');
    const r = await run(['sync', '--peers', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${file.replace(/\./g, '\\.')}:3: one name per line`));
    writeFileSync(file, 'bob.ok.test\n\n*.ok.test\n');
    const r2 = await run(['sync', '--peers', file]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /:3: bad peer name "\*\.ok\.test": wildcards/);
    assert.deepEqual(readAutospState(state).names, []);
  });

  it('usage errors exit 2: bad names, unknown engine, strongswan without identity', async () => {
    assert.equal((await run(['add', 'a..b'])).code, 2);
    assert.equal(
      (await autosp(['add', 'bob.ok.test', '--engine', 'racoon', '--no-daemon', '--state', state, '--server', w.named.endpoint])).code,
      2,
    );
    assert.equal(
      (await autosp(['add', 'bob.ok.test', '--engine', 'strongswan', '--no-daemon', '--state', state, '--server', w.named.endpoint])).code,
      2,
    );
    assert.equal((await autosp(['frobnicate'])).code, 2);
  });

  it("while another autosp holds the state lock, add and watch exit 2 (autosp-busy); a dead holder's lock is taken over", async () => {
    writeFileSync(`${state}.lock`, `${process.pid}\n`);
    const r = await run(['add', 'bob.ok.test']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /autosp-busy: another autosp \(pid \d+\)/);
    const file = join(w.dir, `busy-${n}.txt`);
    writeFileSync(file, 'bob.ok.test\n');
    const wr = await run(['watch', '--peers', file]);
    assert.equal(wr.code, 2, wr.stderr);
    writeFileSync(`${state}.lock`, '2147483646\n'); // no such process
    const r2 = await run(['add', 'bob.ok.test']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(existsSync(`${state}.lock`), false, 'the lock is released at exit');
  });

  it('an unreachable engine exits 3 before changing anything', async () => {
    const keyFile = join(w.dir, 'k.pem');
    writeFileSync(keyFile, privateKeyPemForCharon(generateHostKey('ed25519')));
    const r = await autosp([
      'add',
      'bob.ok.test',
      '--engine',
      'strongswan',
      '--vici',
      join(w.dir, 'no-such.vici'),
      '--identity',
      'me.ok.test',
      '--key',
      keyFile,
      '--no-daemon',
      '--state',
      state,
      '--server',
      w.named.endpoint,
      '--trust-anchor',
      w.h.anchorFile,
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /unreachable/);
    assert.deepEqual(readAutospState(state).names, []);
  });

  it('an explicit --control that does not answer exits 3', async () => {
    const r = await autosp(['add', 'bob.ok.test', '--control', join(w.dir, 'nobody.sock'), '--state', state, '--server', w.named.endpoint]);
    assert.equal(r.code, 3, r.stderr);
  });
});
