// `oedns control` against a real `oedns serve` in front of a real named serving a signed hierarchy:
// reload (and SIGHUP), flush, log-level, stats, reconcile, negative trust anchors, trust anchors;
// the upstream file followed live; readiness sent to a NOTIFY_SOCKET as systemd would receive it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { lookupUser } from '../../src/resolver/privileges';
import { CLOSED_STATE_FILE } from '../../src/daemon/daemon';
import { writeClosedSet } from '../../src/daemon/leftovers';
import { generateKeyPairSync } from 'node:crypto';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startNamed, namedAvailable, type NamedInstance } from '../support/named';
import { buildSignedHierarchy, type SignedHierarchy, signingToolsAvailable } from '../support/zones';
import { freePort } from '../support/ports';
import { stopChild, until } from '../support/wait';
import { dig, integrationSkipped } from '../resolver/helpers';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;

interface Daemon {
  proc: ChildProcess;
  port: number;
  control: string;
  log(): string;
  stop(): Promise<number | null>;
}

async function serve(dir: string, config: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []): Promise<Daemon> {
  const control = join(dir, 'run', 'control.sock');
  const proc = spawn(
    process.execPath,
    [
      OEDNS,
      'serve',
      '--config',
      config,
      '--listen',
      '127.0.0.1:0',
      '--control',
      control,
      '--autosp-state',
      'none',
      '--log-level',
      'info',
      ...extra,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let log = '';
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  await until('oedns serve listening', () => /"msg":"listening"/.test(log) || proc.exitCode !== null, 15_000);
  const m = /"listen":\["127\.0\.0\.1:(\d+)"/.exec(log);
  if (!m) throw new Error(`oedns serve did not start:\n${log}`);
  return { proc, port: Number(m[1]), control, log: () => log, stop: () => stopChild(proc, exited) };
}

function ctl(d: Daemon, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [OEDNS, 'control', '--control', d.control, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? 1, out: r.stdout, err: r.stderr };
}
const json = (d: Daemon, args: string[]): any => JSON.parse(ctl(d, ['--json', ...args]).out);

describe('oedns control (against a real oedns serve and named)', function () {
  this.timeout(60_000);
  let h: SignedHierarchy | undefined;
  let named: NamedInstance | undefined;
  let d: Daemon | undefined;
  let dir = '';
  let config = '';
  let upstreamFile = '';
  let anchor = '';
  const writeConfig = (extra = ''): void =>
    writeFileSync(
      config,
      `upstream-file: ${upstreamFile}\ntrust-anchor: ${anchor}\ntrust-anchor-state: ${join(dir, 'state', 'ta.json')}\n${extra}`,
    );

  before(async function () {
    if (integrationSkipped || !namedAvailable() || !signingToolsAvailable().bind) return this.skip();
    h = buildSignedHierarchy([
      { name: '.' },
      { name: 'test' },
      {
        name: 'good.test',
        records: [
          'www 300 IN A 192.0.2.1',
          'other 300 IN A 192.0.2.2',
          'peer 300 IN A 192.0.2.7',
          `peer 300 IN IPSECKEY 10 0 2 . ${keyObjectToIpseckey(rsaKey).publicKey.toString('base64')}`,
        ],
      },
      { name: 'bad.test', records: ['www 300 IN A 192.0.2.66'], tamper: [{ action: 'corrupt-rrsig', name: 'www.bad.test', type: 'A' }] },
    ]);
    named = await startNamed({ zones: h.zones });
    // The daemon drops root to user oedns: like /etc/oedns, its config must stay readable to it, and
    // the state file's directory writable (as StateDirectory= makes /var/lib/oedns).
    dir = mkdtempSync(join(tmpdir(), 'oedns-ctl-'));
    chmodSync(dir, 0o755);
    const oedns = lookupUser(readFileSync('/etc/passwd', 'utf8'), 'oedns');
    mkdirSync(join(dir, 'state'));
    if (oedns) chownSync(join(dir, 'state'), oedns.uid, oedns.gid);
    config = join(dir, 'oedns.yaml');
    upstreamFile = join(dir, 'upstream.conf');
    anchor = join(dir, 'root.ds');
    copyFileSync(h.anchorFile, anchor);
    writeFileSync(upstreamFile, `nameserver ${named.endpoint}\n`);
    writeConfig();
    d = await serve(dir, config);
  });
  after(async () => {
    await d?.stop();
    await named?.stop();
    h?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('validates as configured: AD for the good zone, SERVFAIL for the tampered one', async () => {
    assert.match(await dig(d!.port, ['+dnssec', 'www.good.test', 'A']), /flags: qr rd ra ad;/);
    assert.match(await dig(d!.port, ['www.bad.test', 'A']), /status: SERVFAIL/);
  });

  it('nta add / list / remove: a broken zone resolves (insecure, no AD) only while the NTA lasts', async () => {
    let r = ctl(d!, ['nta', 'add', 'bad.test', '--lifetime', '10m']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^negative trust anchor bad\.test until /);
    const out = await dig(d!.port, ['+dnssec', 'www.bad.test', 'A']);
    assert.match(out, /status: NOERROR/);
    assert.match(out, /flags: qr rd ra;/);
    assert.match(out, /192\.0\.2\.66/);
    assert.match(await dig(d!.port, ['+dnssec', 'www.good.test', 'A']), / ad;/, 'other zones still validated');
    assert.deepEqual(
      json(d!, ['nta', 'list']).map((e: { name: string }) => e.name),
      ['bad.test'],
    );
    assert.equal(ctl(d!, ['nta', 'add', '.']).code, 1, 'the root is refused');
    r = ctl(d!, ['nta', 'remove', 'bad.test']);
    assert.equal(r.out, 'removed\n');
    assert.match(await dig(d!.port, ['www.bad.test', 'A']), /status: SERVFAIL/);
  });

  it('an answer cached under an NTA does not outlive it', async () => {
    assert.equal(ctl(d!, ['nta', 'add', 'bad.test', '--lifetime', '2s']).code, 0);
    const out = await dig(d!.port, ['www.bad.test', 'A']);
    assert.match(out, /status: NOERROR/);
    const ttl = Number(/^www\.bad\.test\.\s+(\d+)\s+IN\s+A/m.exec(out)![1]);
    assert.ok(ttl <= 2, `TTL ${ttl} is capped to the NTA's remaining life`);
    await new Promise((r) => setTimeout(r, 2500));
    assert.match(await dig(d!.port, ['www.bad.test', 'A']), /status: SERVFAIL/, 'validated again once the NTA ended');
  });

  it('flush NAME drops that name and below; flush drops everything; stats shows the cache', async () => {
    await dig(d!.port, ['www.good.test', 'A']);
    await dig(d!.port, ['other.good.test', 'A']);
    const before = json(d!, ['stats']).resolver.cache.entries as number;
    assert.ok(before >= 2);
    // www.good.test A, and the IPSECKEY that capture looked up for it: every type of the name goes.
    const one = json(d!, ['flush', 'www.good.test']);
    assert.ok(one.dropped >= 1 && one.dropped < before, JSON.stringify(one));
    assert.equal(json(d!, ['stats']).resolver.cache.entries, before - one.dropped);
    const r = ctl(d!, ['flush']);
    assert.match(r.out, /^flushed \d+ cache entries\n$/);
    assert.equal(json(d!, ['stats']).resolver.cache.entries, 0);
    const human = ctl(d!, ['stats']).out;
    assert.match(human, /^upstreams: 127\.0\.0\.1:\d+$/m);
    assert.match(human, /^cache: entries=0 /m);
  });

  it('log-level changes what the running daemon logs', async () => {
    const reloaded = (from: number): boolean => d!.log().slice(from).includes('"msg":"configuration reloaded"');
    assert.deepEqual(json(d!, ['log-level', 'warn']), { previous: 'info', level: 'warn' });
    let mark = d!.log().length;
    assert.equal(ctl(d!, ['reload']).code, 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(reloaded(mark), false, 'an info line while the level is warn');
    assert.equal(ctl(d!, ['log-level', 'loud']).code, 1);
    json(d!, ['log-level', 'info']);
    mark = d!.log().length;
    assert.equal(ctl(d!, ['reload']).code, 0);
    await until('the info line again', () => reloaded(mark), 5000);
  });

  it('reconcile re-applies the wanted peers; trust-anchors shows the RFC 5011 states', async () => {
    assert.match(ctl(d!, ['reconcile']).out, /^reconciled: \d+ peers/);
    await until('the state file', () => existsSync(join(dir, 'state', 'ta.json')), 10_000);
    const ta = json(d!, ['trust-anchors']);
    assert.equal(ta[0].managed, true);
    assert.deepEqual(
      ta[0].keys.map((k: { state: string }) => k.state),
      ['Valid'],
    );
    assert.match(readFileSync(join(dir, 'state', 'ta.json'), 'utf8'), /"Valid"/);
  });

  it('an RFC 5011 state with no trusted key fails closed: SERVFAIL, --check-config and doctor say so', async () => {
    await until('the state file', () => existsSync(join(dir, 'state', 'ta.json')), 10_000);
    const d2Dir = mkdtempSync(join(tmpdir(), 'oedns-untrusted-'));
    chmodSync(d2Dir, 0o755);
    const state = join(d2Dir, 'ta.json');
    writeFileSync(state, readFileSync(join(dir, 'state', 'ta.json'), 'utf8').replaceAll('"Valid"', '"Revoked"'));
    const cfg = join(d2Dir, 'oedns.yaml');
    writeFileSync(cfg, `upstream: [${named!.endpoint}]\ntrust-anchor: ${anchor}\ntrust-anchor-state: ${state}\n`);
    let d2: Daemon | undefined;
    try {
      const check = spawnSync(process.execPath, [OEDNS, 'serve', '--config', cfg, '--check-config'], { encoding: 'utf8' });
      assert.equal(check.status, 2, check.stdout);
      assert.match(check.stderr, /leaves no trusted key for \./);
      const doc = JSON.parse(
        spawnSync(process.execPath, [OEDNS, 'doctor', '--json', '--config', cfg], { encoding: 'utf8', timeout: 30_000 }).stdout,
      );
      const ta = doc.checks.find((c: { id: string }) => c.id === 'trust-anchors');
      assert.equal(ta.status, 'fail');
      assert.match(ta.detail, /holds no trusted key for \./);
      d2 = await serve(d2Dir, cfg, {}, ['--user', 'root']);
      const out = await dig(d2.port, ['+dnssec', 'www.good.test', 'A']);
      assert.match(out, /status: SERVFAIL/, 'not answered as insecure');
      assert.match(out, /EDE: .*no trusted key for \./);
      assert.match(d2.log(), /no trusted key left for these trust points/);
    } finally {
      await d2?.stop();
      rmSync(d2Dir, { recursive: true, force: true });
    }
  });

  it("doctor checks the RFC 5011 state the daemon uses, and shows each key's state", async () => {
    await until('the state file', () => existsSync(join(dir, 'state', 'ta.json')), 10_000);
    const d2Dir = mkdtempSync(join(tmpdir(), 'oedns-stateddoc-'));
    try {
      const state = join(d2Dir, 'ta.json');
      const cfg = join(d2Dir, 'oedns.yaml');
      writeFileSync(cfg, `upstream: [${named!.endpoint}]\ntrust-anchor: ${anchor}\ntrust-anchor-state: ${state}\ncontrol: none\n`);
      const taCheck = (): { status: string; detail: string } =>
        JSON.parse(
          spawnSync(process.execPath, [OEDNS, 'doctor', '--json', '--config', cfg], { encoding: 'utf8', timeout: 30_000 }).stdout,
        ).checks.find((c: { id: string }) => c.id === 'trust-anchors');
      const real = JSON.parse(readFileSync(join(dir, 'state', 'ta.json'), 'utf8'));
      const tag = real.trustPoints[0].keys[0].tag as number;
      writeFileSync(state, JSON.stringify(real));
      let c = taCheck();
      assert.equal(c.status, 'pass', c.detail);
      assert.match(
        c.detail,
        new RegExp(`^anchors \\(RFC 5011 state .*ta\\.json, from .*root\\.ds\\) validate .*; keys \\.: ${tag} Valid$`),
      );
      // The state trusts another key than the zone's (the configured DS still matches the zone): the
      // daemon validates nothing, and doctor must say so rather than check the configured anchor.
      const other = Buffer.concat([Buffer.from([1, 1, 3, 15]), Buffer.alloc(32, 7)]);
      real.trustPoints[0].keys[0] = { ...real.trustPoints[0].keys[0], rdata: other.toString('base64'), tag: 4242 };
      writeFileSync(state, JSON.stringify(real));
      c = taCheck();
      assert.equal(c.status, 'fail');
      assert.match(c.detail, /anchors \(RFC 5011 state .*\) do not validate the \. DNSKEY set: .*; keys \.: 4242 Valid/);
    } finally {
      rmSync(d2Dir, { recursive: true, force: true });
    }
  });

  it('shunt-clear ends a drop shunt left by the previous run; the closed-set file no longer lists it', async () => {
    // Its own daemon: the shunt comes from a closed-set file next to its autosp state.
    const dir2 = mkdtempSync(join(tmpdir(), 'oedns-ctl-shunt-'));
    let d2: Daemon | undefined;
    try {
      chmodSync(dir2, 0o755);
      const state = join(dir2, 'state');
      mkdirSync(state);
      const oedns = lookupUser(readFileSync('/etc/passwd', 'utf8'), 'oedns');
      if (oedns) chownSync(state, oedns.uid, oedns.gid);
      const closed = join(state, CLOSED_STATE_FILE);
      const nowSec = Math.floor(Date.now() / 1000);
      writeClosedSet(closed, [{ name: 'gone.good.test', addresses: ['198.51.100.77'], until: nowSec + 3000 }], nowSec);
      if (oedns) chownSync(closed, oedns.uid, oedns.gid);
      const config2 = join(dir2, 'oedns.yaml');
      writeFileSync(config2, `upstream-file: ${upstreamFile}\ntrust-anchor: ${anchor}\ntrust-anchor-state: ${join(state, 'ta.json')}\n`);
      d2 = await serve(dir2, config2, {}, ['--autosp-state', join(state, 'autosp.json')]);
      const shunts = (): { name: string; addresses: string[] }[] =>
        JSON.parse(spawnSync(process.execPath, [OEDNS, 'status', '--control', d2!.control, '--json'], { encoding: 'utf8' }).stdout).shunts;
      assert.deepEqual(
        shunts().map((x) => [x.name, x.addresses]),
        [['gone.good.test', ['198.51.100.77']]],
      );
      assert.deepEqual([ctl(d2, ['shunt-clear', 'other.good.test']).out], ['other.good.test has no drop shunt\n']);
      assert.equal(shunts().length, 1, 'another name clears nothing');
      const r = ctl(d2, ['shunt-clear', 'Gone.Good.Test.']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^drop shunt of Gone\.Good\.Test\. ended\n$/);
      assert.deepEqual(shunts(), []);
      await until('the daemon logs it', () => /"peer":"gone\.good\.test","msg":"drop shunt ended by the operator"/.test(d2!.log()), 5000);
      await until('the closed-set file follows', () => !readFileSync(closed, 'utf8').includes('198.51.100.77'), 10_000);
      assert.equal(ctl(d2, ['shunt-clear']).code !== 0, true, 'a name is required');
    } finally {
      await d2?.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  it('reload (and SIGHUP) re-read the config file; a broken file keeps the old configuration', async () => {
    writeConfig('negative-trust-anchors: [bad.test]\n');
    let r = ctl(d!, ['reload']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /negativeTrustAnchors/);
    assert.match(await dig(d!.port, ['www.bad.test', 'A']), /192\.0\.2\.66/);
    // A file whose last part is bad: nothing of it is applied (log level, NTAs), and --check-config says so too.
    writeConfig(`log-level: debug\nnegative-trust-anchors: [${'a'.repeat(70)}.example, bad.test]\n`);
    r = ctl(d!, ['reload']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /negativeTrustAnchors.*label longer than 63 bytes/);
    assert.equal(spawnSync(process.execPath, [OEDNS, 'serve', '--config', config, '--check-config']).status, 2);
    assert.deepEqual(
      json(d!, ['nta', 'list']).map((e: { name: string }) => e.name),
      ['bad.test'],
    );
    assert.deepEqual(json(d!, ['log-level', 'info']), { previous: 'info', level: 'info' });
    writeConfig('cache-size: 5\n');
    process.kill(d!.proc.pid!, 'SIGHUP');
    await until('the SIGHUP reload', () => /"restartNeeded":\["cacheSize"\]/.test(d!.log()), 5000);
    assert.match(await dig(d!.port, ['www.bad.test', 'A']), /status: SERVFAIL/);
    writeFileSync(config, 'listen: [nonsense\n');
    r = ctl(d!, ['reload']);
    assert.equal(r.code, 1);
    assert.match(r.err, /config-syntax/);
    assert.match(await dig(d!.port, ['+dnssec', 'www.good.test', 'A']), / ad;/);
    writeConfig();
  });

  it('follows the upstream file: a change of network reaches the daemon and empties the cache', async () => {
    await dig(d!.port, ['www.good.test', 'A']);
    assert.ok(json(d!, ['stats']).resolver.cache.entries > 0);
    const dead = `127.0.0.1:${await freePort()}`;
    writeFileSync(upstreamFile, `# network B\nnameserver 127.0.0.1:${d!.port}\nnameserver ${dead}\n`);
    await until('the new upstream', () => json(d!, ['stats']).upstreams.join() === dead, 5000);
    assert.equal(json(d!, ['stats']).resolver.cache.entries, 0, 'flushed');
    assert.match(await dig(d!.port, ['www.good.test', 'A']), /status: SERVFAIL/);
    writeFileSync(upstreamFile, `nameserver ${named!.endpoint}\n`);
    await until('the old upstream back', () => json(d!, ['stats']).upstreams.join() === named!.endpoint, 5000);
    assert.match(await dig(d!.port, ['+short', 'www.good.test', 'A']), /192\.0\.2\.1/);
  });

  it('stops following an upstream file anyone may write (its writer would see every query)', async () => {
    const mark = d!.log().length;
    chmodSync(upstreamFile, 0o666);
    try {
      writeFileSync(upstreamFile, `nameserver 127.0.0.1:${await freePort()}\n`);
      await until('the error line', () => d!.log().slice(mark).includes('upstream file not followed'), 5000);
      assert.match(d!.log().slice(mark), /writable by others \(mode 666\)/);
      assert.equal(json(d!, ['stats']).upstreams.join(), named!.endpoint, 'the servers it named before');
      assert.equal(ctl(d!, ['reload']).code, 1, 'nor taken by a reload');
      const doc = JSON.parse(
        spawnSync(process.execPath, [OEDNS, 'doctor', '--json', '--config', config], { encoding: 'utf8', timeout: 30_000 }).stdout,
      );
      assert.equal(doc.ok, false);
      assert.match(doc.checks[0].detail, /'upstreamFile' cannot be trusted: .*writable by others/);
    } finally {
      chmodSync(upstreamFile, 0o644);
      writeFileSync(upstreamFile, `nameserver ${named!.endpoint}\n`);
    }
  });

  it('tells systemd it is ready (READY=1 on NOTIFY_SOCKET), and around a reload', async function () {
    const py = spawnSync('python3', ['-c', 'import socket']);
    if (py.status !== 0) return this.skip();
    const sock = join(dir, 'notify.sock');
    const recv = spawn(
      'python3',
      [
        '-u',
        '-c',
        'import socket,sys,os\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nos.chmod(sys.argv[1],0o777)\nprint("bound")\nwhile True: print(s.recv(4096).decode().replace("\\n"," "))',
        sock,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let got = '';
    recv.stdout.on('data', (b: Buffer) => (got += b.toString()));
    const d2Dir = mkdtempSync(join(tmpdir(), 'oedns-ntf-'));
    let d2: Daemon | undefined;
    try {
      await until('receiver bound', () => got.includes('bound'), 5000);
      d2 = await serve(d2Dir, config, { NOTIFY_SOCKET: sock });
      await until('READY=1', () => /READY=1/.test(got), 10_000);
      assert.match(got, /READY=1 STATUS=answering on 127\.0\.0\.1:\d+/);
      got = '';
      assert.equal(ctl(d2, ['reload']).code, 0);
      await until('RELOADING=1 then READY=1', () => /RELOADING=1[\s\S]*READY=1/.test(got), 10_000);
    } finally {
      await d2?.stop();
      recv.kill();
      rmSync(d2Dir, { recursive: true, force: true });
    }
  });
});
