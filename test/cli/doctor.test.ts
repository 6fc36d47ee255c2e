// `oedns doctor` against the real parts: a signed hierarchy served by named (our key published,
// another key published, none published), a real charon from the lab, a running `oedns serve`.
// Each problem must be named with a fix, and the exit status is 0 only when everything passes.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateHostKey, ipseckeyLine, writeHostKey } from '../../src/ike-bridge/identity';
import { runDoctor } from '../../src/cli/doctor';
import type { CheckResult } from '../../src/doctor/checks';
import { type Lab, labUnavailable, labUp } from '../support/lab';
import { type NamedInstance, namedAvailable, startNamed } from '../support/named';
import { buildSignedHierarchy, type SignedHierarchy, signingToolsAvailable } from '../support/zones';
import { stopChild, until } from '../support/wait';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');

describe('oedns doctor (real named, real charon)', function () {
  this.timeout(120_000);
  let lab: Lab | undefined;
  let h: SignedHierarchy | undefined;
  let named: NamedInstance | undefined;
  let daemon: { proc: ChildProcess; exited: Promise<unknown> } | undefined;
  let dir = '';
  let ourKey = '';
  let resolvConf = '';
  let control = '';

  const config = (name: string, o: { identity?: string; vici?: string; engine?: string } = {}): string => {
    const f = join(dir, `${name}.yaml`);
    writeFileSync(
      f,
      [
        'listen: [127.0.0.1:53]',
        `upstream: [${named!.endpoint}]`,
        `trust-anchor: ${h!.anchorFile}`,
        `engine: ${o.engine ?? 'strongswan'}`,
        `identity: ${o.identity ?? 'alice.oe.test'}`,
        `key: ${ourKey}`,
        `vici: ${o.vici ?? lab!.a.vici}`,
        `control: ${control}`,
        'autosp-state: none',
        // As the daemon below runs (the key check then reads the key as root does).
        'user: root',
        '',
      ].join('\n'),
    );
    return f;
  };
  const doctor = (cfg: string, args: string[] = []): { code: number; checks: CheckResult[]; ok: boolean } => {
    const r = spawnSync(process.execPath, [OEDNS, 'doctor', '--json', '--config', cfg, '--resolv-conf', resolvConf, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: CheckResult[] };
    return { code: r.status ?? 1, ...out };
  };
  const check = (checks: CheckResult[], id: string): CheckResult => checks.find((c) => c.id === id)!;

  before(async function () {
    if (labUnavailable() || !namedAvailable() || !signingToolsAvailable().bind) return this.skip();
    dir = mkdtempSync(join(tmpdir(), 'oedns-doctor-'));
    const key = generateHostKey('ed25519');
    ourKey = writeHostKey(join(dir, 'keys'), key).privateKey;
    const other = generateHostKey('ed25519');
    const rec = (owner: string, k: typeof key): string => ipseckeyLine(owner, k).replace(/^\S+\. IN /, `${owner.split('.')[0]} 300 IN `);
    h = buildSignedHierarchy([
      { name: '.' },
      { name: 'test' },
      {
        name: 'oe.test',
        algorithm: 'ECDSAP256SHA256',
        records: [
          'alice 300 IN A 192.0.2.1',
          rec('alice.oe.test', key),
          'carol 300 IN A 192.0.2.3',
          'dave 300 IN A 192.0.2.4',
          rec('dave.oe.test', other),
        ],
      },
    ]);
    named = await startNamed({ zones: h.zones });
    lab = await labUp();
    resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
    control = join(dir, 'run', 'control.sock');
  });
  after(async () => {
    if (daemon) await stopChild(daemon.proc, daemon.exited);
    await lab?.down();
    await named?.stop();
    h?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes every check on a host that is set up, and exits 0', async () => {
    const cfg = config('good');
    // The daemon the last check asks for: this very configuration, on a free port.
    const proc = spawn(process.execPath, [OEDNS, 'serve', '--config', cfg, '--listen', '127.0.0.1:0', '--user', 'root'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
    daemon = { proc, exited: new Promise((r) => proc.once('exit', r)) };
    await until('oedns serve', () => /"msg":"listening"/.test(log), 15_000);
    const r = doctor(cfg);
    assert.equal(r.code, 0, JSON.stringify(r.checks, null, 1));
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.checks.map((c) => c.id),
      [
        'config',
        'engine',
        'charon',
        'vici-group',
        'identity',
        'key',
        'trust-seed',
        'foreign-conns',
        'published',
        'trust-anchors',
        'upstreams',
        'system-resolver',
        'clock',
        'daemon',
      ],
    );
    for (const c of r.checks) assert.equal(c.status, 'pass', `${c.id}: ${c.detail}`);
    assert.match(check(r.checks, 'charon').detail, /charon.* answers on .*charon\.vici, plugins present/);
    assert.match(check(r.checks, 'published').detail, /alice\.oe\.test IPSECKEY is our key, DNSSEC-secure/);
  });

  it('names a trust seed others can read and a foreign conn that accepts any certificate charon trusts', async () => {
    // The seed serve made next to the key (the test above), then opened up; a "corp VPN" that pins no CA.
    const seed = join(dir, 'keys', 'trust-root.seed');
    chmodSync(seed, 0o644);
    const vici = new ViciClient({ socketPath: lab!.a.vici });
    await vici.loadConn('corp-vpn', {
      version: 2,
      remote_addrs: ['%any'],
      local: { auth: 'pubkey', id: 'alice.oe.test' },
      remote: { auth: 'pubkey', id: '%any' },
      children: { 'corp-vpn': { mode: 'tunnel', local_ts: ['dynamic'], remote_ts: ['dynamic'] } },
    });
    try {
      const r = doctor(config('open'));
      assert.equal(r.code, 1);
      const s = check(r.checks, 'trust-seed');
      assert.equal(s.status, 'fail');
      assert.match(s.detail, /mode 0644: group or others can read it/);
      const f = check(r.checks, 'foreign-conns');
      assert.equal(f.status, 'fail');
      assert.match(f.detail, /corp-vpn/);
      assert.doesNotMatch(f.detail, /oe-|oedns-/);
    } finally {
      chmodSync(seed, 0o600);
      await vici.unloadConn('corp-vpn');
      await vici.close();
    }
  });

  it('names a missing charon, with the fix', () => {
    const r = doctor(config('nocharon', { vici: join(dir, 'no-such.vici') }));
    assert.equal(r.code, 1);
    const c = check(r.checks, 'charon');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /charon is not reachable on .*no-such\.vici/);
    assert.match(c.fix!, /systemctl enable --now strongswan/);
    assert.equal(check(r.checks, 'published').status, 'pass', 'the other checks still run');
  });

  it('names a published key that is not ours, and prints the record to publish', () => {
    const r = doctor(config('wrongkey', { identity: 'dave.oe.test' }));
    assert.equal(r.code, 1);
    const c = check(r.checks, 'published');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /the IPSECKEY published for dave\.oe\.test \(1 record\) is not our key/);
    assert.match(
      c.fix!,
      /^publish in dave\.oe\.test's signed zone: dave\.oe\.test\. IN IPSECKEY 10 0 4 \. [A-Za-z0-9+/=]+ \(or set 'key:'/,
    );
  });

  it('names an unpublished key, and prints the record to publish', () => {
    const r = doctor(config('unpublished', { identity: 'carol.oe.test' }));
    assert.equal(r.code, 1);
    const c = check(r.checks, 'published');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /no IPSECKEY is published for carol\.oe\.test \(validated nodata answer\)/);
    assert.match(c.fix!, /^publish in carol\.oe\.test's signed zone: carol\.oe\.test\. IN IPSECKEY /);
  });

  it('names a dry-run engine, a single-label identity, a resolv.conf that bypasses oedns', () => {
    writeFileSync(resolvConf, 'nameserver 192.0.2.53\n');
    try {
      const r = doctor(config('misc', { identity: 'laptop', engine: 'dry-run' }));
      assert.equal(r.code, 1);
      assert.match(check(r.checks, 'engine').fix!, /engine: strongswan/);
      assert.equal(check(r.checks, 'charon').status, 'skip');
      assert.match(check(r.checks, 'identity').detail, /'laptop' is not a name others can look up/);
      const s = check(r.checks, 'system-resolver');
      assert.match(s.detail, /sends the system's queries to 192\.0\.2\.53, not to oedns/);
      assert.match(s.fix!, /nameserver 127\.0\.0\.1/);
    } finally {
      writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
    }
  });

  it("names a clock outside the signatures' validity (and says the anchors fail because of it)", async () => {
    const r = await runDoctor({ config: config('clock'), resolvConf, timeout: '2000' }, Math.floor(Date.now() / 1000) + 400 * 86400);
    assert.equal(r.ok, false);
    assert.match(check(r.checks, 'clock').detail, /outside the validity of the root's signatures/);
    assert.match(check(r.checks, 'clock').fix!, /timedatectl set-ntp true/);
    assert.match(check(r.checks, 'trust-anchors').fix!, /clock/);
  });

  it('prints one line per check and a fix under each failure', () => {
    const r = spawnSync(
      process.execPath,
      [OEDNS, 'doctor', '--config', config('text', { identity: 'carol.oe.test' }), '--resolv-conf', resolvConf],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^PASS {2}config +.*text\.yaml is valid$/m);
    assert.match(r.stdout, /^FAIL {2}published +no IPSECKEY is published for carol\.oe\.test/m);
    assert.match(r.stdout, /^ +fix: publish in carol\.oe\.test's signed zone: /m);
    assert.match(r.stdout, /\n1 problem found\n$/);
  });
});
