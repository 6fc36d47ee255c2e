// The real `oedns serve` process in front of a real named, queried with dig, kdig and from Node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodeMessage, makeQuery } from '../../src/wire/message';
import { RRType } from '../../src/wire/types';
import { startNamed, namedAvailable, type NamedInstance } from '../support/named';
import { lookupUser } from '../../src/resolver/privileges';
import { freePort } from '../support/ports';
import {
  type ServeProcess,
  anchorOf,
  dig,
  exampleZoneText,
  integrationSkipped,
  kdig,
  startServe,
  tempDir,
  udpExchange,
  waitFor,
  writeSignedZone,
} from '../resolver/helpers';
import { aRecord, answerWith, startFakeUpstream } from '../resolver/fake-upstream';

const ZONE = 'example.test';
const NEG = 'neg.test';
const negZone = (extra = ''): string =>
  `$ORIGIN ${NEG}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 120\n@ IN NS ns1\nns1 IN A 127.0.0.1\nhost IN A 192.0.2.50\n${extra}`;

describe('oedns serve (CLI process)', function () {
  let named: NamedInstance | undefined;
  let serve: ServeProcess | undefined;
  let negFile = '';
  /** Trust anchor for ZONE: its answers are validated (AD), names outside it have no anchor. */
  let anchor = '';
  const extra: ServeProcess[] = [];
  const others: Array<() => Promise<void>> = [];

  before(async function () {
    if (integrationSkipped || !namedAvailable()) return this.skip();
    const dir = tempDir();
    negFile = join(dir, `${NEG}.db`);
    writeFileSync(negFile, negZone());
    const signed = writeSignedZone(dir, ZONE, exampleZoneText(ZONE));
    anchor = anchorOf(signed);
    named = await startNamed({
      zones: [
        { name: ZONE, file: signed },
        { name: NEG, file: negFile },
      ],
    });
    serve = await startServe(['--upstream', named.endpoint, '--listen', '[::1]:0', '--trust-anchor', anchor]);
  });
  after(async () => {
    for (const s of extra) await s.stop();
    for (const o of others) await o();
    await serve?.stop();
    await named?.stop();
  });

  it('validates answers itself: AD for a DO client on the anchored zone, never copied from upstream', async () => {
    assert.match(await dig(serve!.port, ['+dnssec', `www.${ZONE}`, 'A']), /flags: qr rd ra ad;/);
    // neg.test has no anchor: answered, but not marked authentic.
    assert.match(await dig(serve!.port, ['+dnssec', `host.${NEG}`, 'A']), /flags: qr rd ra;/);
  });

  it('answers A, AAAA and CNAME over UDP', async () => {
    assert.equal((await dig(serve!.port, ['+short', `www.${ZONE}`, 'A'])).trim(), '192.0.2.1');
    assert.equal((await dig(serve!.port, ['+short', `www.${ZONE}`, 'AAAA'])).trim(), '2001:db8::1');
    assert.deepEqual((await dig(serve!.port, ['+short', `alias.${ZONE}`, 'A'])).trim().split('\n'), [`www.${ZONE}.`, '192.0.2.1']);
  });

  it('listens on IPv6 too', () => {
    const m = /"listen":\["127\.0\.0\.1:\d+","\[::1\]:(\d+)"\]/.exec(serve!.stderr());
    assert.ok(m, serve!.stderr());
    const out = spawnSync('dig', ['+time=3', '+tries=1', '+short', '-p', m[1]!, '@::1', `www.${ZONE}`, 'A'], { encoding: 'utf8' });
    assert.equal(out.stdout.trim(), '192.0.2.1');
  });

  it('answers NXDOMAIN with the SOA, and DNSSEC records when asked (+dnssec)', async () => {
    const out = await dig(serve!.port, ['+dnssec', `nope.${ZONE}`, 'A']);
    assert.match(out, /status: NXDOMAIN/);
    assert.match(out, new RegExp(`${ZONE}\\.\\s+\\d+\\s+IN\\s+SOA`));
    assert.match(out, /\sNSEC\s/);
    assert.match(out, /\sRRSIG\s/);
    assert.doesNotMatch(await dig(serve!.port, [`nope.${ZONE}`, 'A']), /RRSIG/);
  });

  it('caches NODATA (RFC 2308): a record added upstream stays hidden until the negative TTL runs out', async () => {
    const first = await dig(serve!.port, [`host.${NEG}`, 'TXT']);
    assert.match(first, /status: NOERROR/);
    assert.match(first, /ANSWER: 0/);
    writeFileSync(negFile, negZone('host IN TXT "now it exists"\n').replace(' 1 3600', ' 2 3600'));
    await named!.reload();
    assert.match(
      spawnSync('dig', ['-p', String(named!.port), '@127.0.0.1', '+short', `host.${NEG}`, 'TXT'], { encoding: 'utf8' }).stdout,
      /now it exists/,
    );
    const cached = await dig(serve!.port, [`host.${NEG}`, 'TXT']);
    assert.match(cached, /ANSWER: 0/);
    const ttl = Number(new RegExp(`${NEG}\\.\\s+(\\d+)\\s+IN\\s+SOA`).exec(cached)![1]);
    assert.ok(ttl <= 120, `negative TTL ${ttl} is capped by the SOA minimum`);
  });

  it('sets TC=1 on a UDP answer that does not fit, and sends it whole over TCP (several 4096-bit IPSECKEYs)', async () => {
    const udp = await dig(serve!.port, ['+ignore', '+notcp', '+dnssec', `big.${ZONE}`, 'IPSECKEY']);
    assert.match(udp, /flags: qr tc/);
    const size = Number(/MSG SIZE\s+rcvd: (\d+)/.exec(udp)![1]);
    assert.ok(size <= 1232, `UDP answer of ${size} bytes`);
    const tcp = await dig(serve!.port, ['+tcp', '+dnssec', `big.${ZONE}`, 'IPSECKEY']);
    assert.equal((tcp.match(/\sIPSECKEY\s+\d+ 1 2 192\.0\.2\./g) ?? []).length, 3);
    assert.ok(Number(/MSG SIZE\s+rcvd: (\d+)/.exec(tcp)![1]) > 1600);
    // dig's default: retry over TCP after TC.
    assert.equal((await dig(serve!.port, ['+short', `big.${ZONE}`, 'IPSECKEY'])).trim().split('\n').length, 3);
    const k = await kdig(serve!.port, ['+tcp', `big.${ZONE}`, 'IPSECKEY']);
    assert.match(k, /ANSWER: 3/);
  });

  it('answers several queries over one kept-open TCP connection (kdig +keepopen)', async () => {
    const out = await kdig(serve!.port, ['+tcp', '+keepopen', `www.${ZONE}`, 'A', `www.${ZONE}`, 'AAAA', `small.${ZONE}`, 'IPSECKEY']);
    assert.match(out, /192\.0\.2\.1/);
    assert.match(out, /2001:db8::1/);
    assert.match(out, /IPSECKEY\s+10 1 2 192\.0\.2\.38/);
  });

  it('keeps answering after garbage, truncated and oversize datagrams', async () => {
    const good = encodeMessage(makeQuery(`www.${ZONE}`, RRType.A));
    for (let i = 0; i < 40; i++) await udpExchange(serve!.port, randomBytes(1 + ((i * 97) % 3000)), 20);
    await udpExchange(serve!.port, Buffer.from(good).subarray(0, 15), 100);
    await udpExchange(serve!.port, Buffer.concat([good, randomBytes(60_000)]), 100);
    assert.equal(serve!.proc.exitCode, null);
    assert.equal((await dig(serve!.port, ['+short', `www.${ZONE}`, 'A'])).trim(), '192.0.2.1');
  });

  it('drops privileges to the dedicated user oedns (not nobody) after binding when started as root', function () {
    const ids = lookupUser(readFileSync('/etc/passwd', 'utf8'), 'oedns');
    if (process.getuid?.() !== 0 || !ids) return this.skip(); // scripts/install-deps.sh creates the user
    assert.match(serve!.stderr(), /"user":"oedns"/);
    const status = readFileSync(`/proc/${serve!.proc.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${ids.uid}\\s+${ids.uid}\\s+${ids.uid}\\s+${ids.uid}`, 'm'));
    assert.match(status, new RegExp(`^Gid:\\s+${ids.gid}\\s`, 'm'));
  });

  it('fails over from a silent upstream to the next one', async () => {
    const silent: Socket = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    others.push(() => new Promise<void>((r) => silent.close(() => r())));
    const s = await startServe([
      '--upstream',
      `127.0.0.1:${silent.address().port}`,
      '--upstream',
      named!.endpoint,
      '--upstream-timeout-ms',
      '300',
      '--trust-anchor',
      anchor,
    ]);
    extra.push(s);
    assert.equal((await dig(s.port, ['+short', `www.${ZONE}`, 'A'])).trim(), '192.0.2.1');
  });

  it('answers SERVFAIL when every upstream is dead', async () => {
    const s = await startServe([
      '--upstream',
      `127.0.0.1:${await freePort()}`,
      '--upstream',
      `127.0.0.1:${await freePort()}`,
      '--upstream-timeout-ms',
      '300',
    ]);
    extra.push(s);
    assert.match(await dig(s.port, [`www.${ZONE}`, 'A']), /status: SERVFAIL/);
    assert.ok(await waitFor(() => /all-upstreams-failed/.test(s.stderr())), s.stderr());
  });

  it('ignores spoofed upstream answers (wrong id, wrong question) and relays the real one', async () => {
    // A relay in front of named that first fires forged answers at oedns, then passes named's real answer.
    const toNamed = createSocket('udp4');
    await new Promise<void>((r) => toNamed.bind(0, '127.0.0.1', () => r()));
    const pending = new Map<number, (b: Buffer) => void>();
    toNamed.on('message', (b) => pending.get(b.readUInt16BE(0))?.(b));
    const relay = await startFakeUpstream((m, reply) => {
      const q0 = m.questions[0]!;
      reply({ ...answerWith(m, [aRecord(q0.name, '6.6.6.6')]), id: (m.id ^ 0x5a5a) & 0xffff });
      reply(answerWith({ ...m, questions: [{ ...q0, name: `evil.${ZONE}` }] }, [aRecord(`evil.${ZONE}`, '6.6.6.7')]));
      pending.set(m.id, (b) => setTimeout(() => reply(b), 30));
      toNamed.send(encodeMessage(m), named!.port, '127.0.0.1');
    });
    others.push(async () => {
      await relay.close();
      await new Promise<void>((r) => toNamed.close(() => r()));
    });
    const s = await startServe(['--upstream', relay.endpoint, '--trust-anchor', anchor]);
    extra.push(s);
    assert.equal((await dig(s.port, ['+short', `www.${ZONE}`, 'A'])).trim(), '192.0.2.1');
    assert.ok(relay.received.length >= 1);
  });

  it('reads a config file with the same keys as the options', async () => {
    const dir = tempDir();
    const file = join(dir, 'oedns.json');
    writeFileSync(
      file,
      JSON.stringify({
        listen: ['127.0.0.1:0'],
        upstream: [named!.endpoint],
        'cache-size': 100,
        allow: ['192.0.2.0/24'],
        'trust-anchor': anchor,
        control: 'none',
      }),
    );
    const s = await startServe(['--config', file], { listen: false });
    extra.push(s);
    assert.match(s.stderr(), /"allow":\["loopback","192\.0\.2\.0\/24"\]/);
    assert.equal((await dig(s.port, ['+short', `www.${ZONE}`, 'AAAA'])).trim(), '2001:db8::1');
    const example = resolve(__dirname, '../../../examples/oedns.json');
    assert.ok(JSON.parse(readFileSync(example, 'utf8')).listen, 'examples/oedns.json parses');
  });

  it('exits with status 2 and one line on a bad option', () => {
    const r = spawnSync(
      process.execPath,
      [resolve(__dirname, '../../src/cli/oedns.js'), 'serve', '--upstream', '192.0.2.53', '--allow', '10.0.0.0/99'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr.trim(), /^oedns bad-cidr: .*10\.0\.0\.0\/99/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('after dropping root it can still save autosp state (its own directory is handed to the user)', async function () {
    if (process.getuid?.() !== 0 || !lookupUser(readFileSync('/etc/passwd', 'utf8'), 'oedns')) return this.skip();
    // Under /var/tmp (1777): oedns must be able to reach the state directory, and /tmp may be 0700.
    const root = mkdtempSync(join('/var/tmp', 'oedns-state-'));
    chmodSync(root, 0o755);
    others.push(async () => rmSync(root, { recursive: true, force: true }));
    const state = join(root, 'oedns', 'autosp.json');
    const control = join(root, 'ctl', 'control.sock'); // its directory becomes 0700 (owner-only socket)
    const s = await startServe(['--upstream', named!.endpoint, '--trust-anchor', anchor, '--autosp-state', state, '--control', control]);
    extra.push(s);
    assert.match(s.stderr(), /"user":"oedns"/);
    const r = spawnSync(
      process.execPath,
      [resolve(__dirname, '../../src/cli/autosp.js'), 'add', `big.${ZONE}`, '--control', control, '--json'],
      { encoding: 'utf8' },
    );
    assert.doesNotMatch(r.stderr, /EACCES|permission denied/i, r.stderr + r.stdout);
    assert.equal(statSync(join(root, 'oedns')).uid, lookupUser(readFileSync('/etc/passwd', 'utf8'), 'oedns')!.uid);
    await waitFor(() => existsSync(state));
    assert.ok(existsSync(state), `${r.status} ${r.stdout} ${r.stderr}\n${s.stderr().slice(-2000)}`);
    assert.match(readFileSync(state, 'utf8'), new RegExp(`big\\.${ZONE.replace('.', '\\.')}`));
  });

  it('stops cleanly on SIGTERM', async () => {
    const s = await startServe(['--upstream', named!.endpoint, '--trust-anchor', anchor]);
    assert.equal(await s.stop(), 0);
    assert.ok(await waitFor(() => /"msg":"stopping"/.test(s.stderr())), s.stderr());
  });
});
