// `oedns publish` against a real named that signs its zones itself (dnssec-policy) and takes updates
// from TSIG keys made by tsig-keygen (update-policy). Proves: the key lands and validates secure from
// the zone's own anchor (our validator and `oedns lookup`); a repeat sends nothing; a wrong secret,
// an unknown key, a skewed clock and a name outside the policy are each refused with their code and
// leave the zone as it was; a concurrent change is not overwritten; the rollover steps in order.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { netQuery } from '../../src/resolver/net-query';
import { generateHostKey, ipseckeyLine, writeHostKey } from '../../src/ike-bridge/identity';
import { privateKeyPemForCharon } from '../../src/ike-bridge/keys';
import { tcpExchange } from '../../src/resolver/tcp-exchange';
import { publish, type PublishIo } from '../../src/publish/publish';
import { pickTsigKey } from '../../src/publish/tsig-keyfile';
import { PublishError } from '../../src/publish/errors';
import { ourRecord } from '../../src/cli/publish';
import { freePort } from '../support/ports';
import { qtype, startMitm, withTtl } from './mitm';
import { type SigningNamed, signingNamedUnavailable, startSecondary, startSigningNamed } from './signing-named';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');

function oedns(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [OEDNS, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('oedns publish against a signing BIND (dnssec-policy, update-policy, TSIG)', function () {
  this.timeout(120_000);
  let s: SigningNamed;
  let dir: string;
  const keyDir = (n: string): string => join(dir, n);

  before(async function () {
    const why = signingNamedUnavailable();
    if (why) {
      console.log(`    skipping: ${why}`);
      this.skip();
    }
    s = await startSigningNamed(
      [
        {
          name: 'pub.test',
          transfer: true,
          grants: [
            'grant publish-key subdomain hosts.pub.test. IPSECKEY;',
            'grant sha512-key subdomain hosts.pub.test. IPSECKEY;',
            'grant sha1-key subdomain hosts.pub.test. IPSECKEY;',
            'grant sha384-key subdomain hosts.pub.test. IPSECKEY;',
            'grant other-key subdomain hosts.pub.test. IPSECKEY;',
            'grant * self * IPSECKEY;',
          ],
        },
        { name: 'inline.test', inline: true, grants: ['grant publish-key subdomain hosts.inline.test. IPSECKEY;'] },
      ],
      {
        'publish-key': 'hmac-sha256',
        'sha512-key': 'hmac-sha512',
        'sha384-key': 'hmac-sha384',
        'sha1-key': 'hmac-sha1',
        'other-key': 'hmac-sha256',
        'self1.pub.test': 'hmac-sha256',
        'self2.pub.test': 'hmac-sha256',
      },
    );
    dir = mkdtempSync(join(tmpdir(), 'oedns-publish-keys-'));
  });

  after(async () => {
    await s?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // The zone's NS (ns.pub.test) says port 53, where this named is not: name the server to check.
  const common = (name: string, kd: string, key = 'publish-key'): string[] => [
    'publish',
    '--name',
    name,
    '--key-dir',
    kd,
    '--tsig-key',
    s.keyFiles[key]!,
    '--server',
    s.named.endpoint,
    '--resolver',
    s.named.endpoint,
    '--trust-anchor',
    s.anchorFile,
    '--wait',
    '20',
    '--check-servers',
    s.named.endpoint,
  ];
  const newKey = (sub: string, name: string, type: 'rsa' | 'ed25519' | 'ecdsa-p256' = 'ed25519'): string => {
    const k = generateHostKey(type, 2048);
    writeHostKey(keyDir(sub), k, true);
    return ipseckeyLine(name, k).split(' IPSECKEY ')[1]!;
  };
  // dig splits the base64 key into words; ipseckeyLine does not.
  const norm = (rdata: string): string => {
    const f = rdata.trim().split(/\s+/);
    return [...f.slice(0, 4), f.slice(4).join('')].join(' ');
  };
  const published = (name: string): string[] => s.dig(name, 'IPSECKEY').map(norm).sort();

  it("publishes an RSA key that our validator and oedns lookup then find secure from the zone's own anchor", async () => {
    const rdata = newKey('rsa', 'h1.hosts.pub.test', 'rsa');
    const r = await oedns([...common('h1.hosts.pub.test', keyDir('rsa')), '--ttl', '600', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.action, 'updated');
    assert.equal(out.zone, 'pub.test');
    assert.deepEqual(out.verification.verdict, 'secure');
    assert.equal(out.verification.matches, true);
    assert.deepEqual(published('h1.hosts.pub.test'), [norm(rdata)]);
    const l = await oedns([
      'lookup',
      '--server',
      s.named.endpoint,
      '--trust-anchor',
      s.anchorFile,
      '--json',
      'h1.hosts.pub.test',
      'IPSECKEY',
    ]);
    assert.equal(l.code, 0, l.stderr);
    const lk = JSON.parse(l.stdout);
    assert.equal(lk.verdict, 'secure');
    assert.equal(lk.records.length, 1);
    assert.match(lk.records[0], /\s600\s+IN\s+IPSECKEY 10 0 2 \. /);
  });

  it('run again: nothing to send, the zone keeps its serial, still secure', async () => {
    const before = s.serial('pub.test');
    const r = await oedns([...common('h1.hosts.pub.test', keyDir('rsa')), '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).action, 'unchanged');
    assert.equal(s.serial('pub.test'), before);
  });

  it('a new key replaces the old record (prerequisite: the RRset as read); --dry-run first sends nothing', async () => {
    const rdata = newKey('ed', 'h1.hosts.pub.test');
    const serial = s.serial('pub.test');
    const dry = await oedns([...common('h1.hosts.pub.test', keyDir('ed')), '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const d = JSON.parse(dry.stdout);
    assert.equal(d.action, 'dry-run');
    assert.equal(d.removed.length, 1);
    assert.equal(d.added.length, 1);
    assert.equal(s.serial('pub.test'), serial, 'a dry run changes nothing');
    const r = await oedns(common('h1.hosts.pub.test', keyDir('ed')));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^- h1\.hosts\.pub\.test\. 600 IN IPSECKEY 10 0 2 /m);
    assert.match(r.stdout, /^\+ h1\.hosts\.pub\.test\. 600 IN IPSECKEY 10 0 4 /m);
    assert.match(r.stdout, /secure after \d+ s/);
    assert.deepEqual(published('h1.hosts.pub.test'), [norm(rdata)]);
  });

  it('a wrong secret is refused (BADSIG, exit 3) and changes nothing', async () => {
    newKey('wrong', 'h1.hosts.pub.test');
    const text = readFileSync(s.keyFiles['publish-key']!, 'utf8');
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, text.replace(/secret "[^"]+"/, `secret "${Buffer.alloc(32, 9).toString('base64')}"`), { mode: 0o600 });
    const serial = s.serial('pub.test');
    const before = published('h1.hosts.pub.test');
    const r = await oedns([
      ...common('h1.hosts.pub.test', keyDir('wrong')).map((a) => (a === s.keyFiles['publish-key'] ? bad : a)),
      '--json',
    ]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.error.code, 'tsig-badsig');
    // Refused at our signed read, before any update was sent: certainly nothing changed (named cannot
    // sign an answer to a request it could not verify, so the answer itself proves nothing).
    assert.equal(out.error.changed, false);
    assert.equal(out.error.detail.authenticated, false);
    assert.equal(s.serial('pub.test'), serial);
    assert.deepEqual(published('h1.hosts.pub.test'), before);
  });

  it('a key the server does not know is BADKEY (exit 3)', async () => {
    const unknown = join(dir, 'unknown.key');
    writeFileSync(unknown, readFileSync(s.keyFiles['publish-key']!, 'utf8').replace('"publish-key"', '"nobody-key"'), { mode: 0o600 });
    const r = await oedns([
      ...common('h1.hosts.pub.test', keyDir('wrong')).map((a) => (a === s.keyFiles['publish-key'] ? unknown : a)),
      '--json',
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, 'tsig-badkey');
  });

  it('a name outside the update-policy is REFUSED (exit 3) and nothing is added', async () => {
    newKey('out', 'h9.pub.test');
    const r = await oedns([...common('h9.pub.test', keyDir('out')), '--json']);
    assert.equal(r.code, 3, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.error.code, 'update-refused');
    // named signs its refusal over our request: the answer is authentic, so nothing was applied.
    assert.equal(out.error.detail.authenticated, true);
    assert.equal(out.error.changed, false);
    assert.deepEqual(published('h9.pub.test'), []);
  });

  it('per-host keys (docs: grant * self * IPSECKEY, key named after the host): each key changes only its own name', async () => {
    newKey('self1', 'self1.pub.test');
    const own = await oedns(common('self1.pub.test', keyDir('self1'), 'self1.pub.test'));
    assert.equal(own.code, 0, own.stderr);
    assert.equal(published('self1.pub.test').length, 1);
    newKey('self2', 'self2.pub.test');
    const other = await oedns([...common('self2.pub.test', keyDir('self2'), 'self1.pub.test'), '--json']);
    assert.equal(other.code, 3, other.stderr);
    assert.equal(JSON.parse(other.stdout).error.code, 'update-refused');
    assert.deepEqual(published('self2.pub.test'), []);
  });

  it('a clock off by more than the fudge is BADTIME with the skew, and nothing changes', async () => {
    const key = pickTsigKey(readFileSync(s.keyFiles['publish-key']!, 'utf8'));
    const serial = s.serial('pub.test');
    const err = await publish(
      {
        name: 'h2.hosts.pub.test',
        server: { host: '127.0.0.1', port: s.named.port },
        records: [ourRecord(generateHostKey('ed25519'), 10)],
        key,
        anchors: [],
        waitSec: 0,
      },
      io(s, { skewSec: -1000 }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof PublishError, String(err));
    assert.equal(err.code, 'tsig-badtime');
    const skew = err.detail.skew as number;
    assert.ok(skew >= 995 && skew <= 1005, `skew ${skew}`);
    assert.equal(err.detail.authenticated, true, 'named signs its BADTIME answer');
    assert.equal(err.changed, false);
    assert.equal(s.serial('pub.test'), serial);
  });

  it('a change made by someone else between our read and our update is not overwritten (exit 4)', async () => {
    const key = pickTsigKey(readFileSync(s.keyFiles['publish-key']!, 'utf8'));
    const theirs = ourRecord(generateHostKey('ed25519'), 20);
    const ours = ourRecord(generateHostKey('ed25519'), 10);
    const base = io(s);
    const racing: PublishIo = {
      ...base,
      // Just before our update goes out (opcode 5; our signed reads go the same way), another writer adds its own record.
      async send(server, wire) {
        if (((wire[2]! >> 3) & 0xf) === 5)
          await publish({ name: 'h3.hosts.pub.test', server, records: [theirs], key, anchors: [], waitSec: 0 }, base);
        return base.send(server, wire);
      },
    };
    const err = await publish(
      { name: 'h3.hosts.pub.test', server: { host: '127.0.0.1', port: s.named.port }, records: [ours], key, anchors: [], waitSec: 0 },
      racing,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof PublishError, String(err));
    assert.equal(err.code, 'publish-conflict');
    assert.equal(published('h3.hosts.pub.test').length, 1);
    assert.match(published('h3.hosts.pub.test')[0]!, /^20 0 4 /);
  });

  it('hmac-sha512, hmac-sha384 and hmac-sha1 keys work too', async () => {
    for (const [i, k] of ['sha512-key', 'sha384-key', 'sha1-key'].entries()) {
      newKey(`alg${i}`, `a${i}.hosts.pub.test`);
      const r = await oedns(common(`a${i}.hosts.pub.test`, keyDir(`alg${i}`), k));
      assert.equal(r.code, 0, `${k}: ${r.stderr}`);
    }
  });

  it('finds the zone from the SOA and the primary from its MNAME', async () => {
    const key = pickTsigKey(readFileSync(s.keyFiles['publish-key']!, 'utf8'));
    const base = io(s);
    const seen: string[] = [];
    // MNAME ns.pub.test has A 127.0.0.1 and port 53; this named listens elsewhere, so map the port.
    const mapped: PublishIo = {
      ...base,
      send: (e, w) => (seen.push(`${e.host}:${e.port}`), base.send({ host: e.host, port: e.port === 53 ? s.named.port : e.port }, w)),
      direct: (e) => (seen.push(`direct ${e.host}:${e.port}`), base.direct({ host: e.host, port: e.port === 53 ? s.named.port : e.port })),
    };
    const anchors = parseTrustAnchors(readFileSync(s.anchorFile, 'utf8'));
    const rep = await publish(
      { name: 'h4.hosts.pub.test', records: [ourRecord(generateHostKey('ecdsa-p256'), 10)], key, anchors, waitSec: 20 },
      mapped,
    );
    assert.equal(rep.zone, 'pub.test');
    assert.deepEqual(rep.server, { host: '127.0.0.1', port: 53 });
    assert.ok(seen.includes('127.0.0.1:53'));
    assert.equal(rep.verification?.verdict, 'secure');
    assert.equal(rep.verification?.matches, true);
    // The name servers checked are the zone's NS set (ns.pub.test, A 127.0.0.1, port 53).
    assert.ok(seen.includes('direct 127.0.0.1:53'));
    assert.deepEqual(
      rep.servers?.map((x) => [x.server, x.ns, x.confirmed]),
      [['127.0.0.1:53', 'ns.pub.test', true]],
    );
    assert.equal(rep.servers?.[0]!.serial, rep.soa?.serial);
  });

  it('the rollover clock starts only once every name server serves the new version (a secondary that lags until notified)', async () => {
    const sec = await startSecondary(s, 'pub.test');
    try {
      const kd = keyDir('lag');
      const name = 'lag.hosts.pub.test';
      newKey('lag', name);
      const both = (args: string[]): string[] =>
        args.map((a, i) => (args[i - 1] === '--check-servers' ? `${s.named.endpoint},${sec.named.endpoint}` : a));
      // Without NOTIFY the secondary stays behind: reported, and bounded by --wait.
      const p0 = await oedns([...both(common(name, kd)), '--ttl', '2', '--wait', '3', '--json']);
      assert.equal(p0.code, 0, p0.stderr);
      const o0 = JSON.parse(p0.stdout);
      assert.deepEqual(
        o0.servers.map((x: { confirmed: boolean }) => x.confirmed),
        [true, false],
      );
      assert.match(p0.stderr, /1 of the zone's name servers did not serve serial \d+ within --wait/);
      // publish --add while the secondary lags and is notified 2 s later: the clock starts after that.
      assert.equal((await oedns(['keygen', '--next', '--out', kd, '--name', name])).code, 0);
      let notifiedAt = 0;
      const later = new Promise<void>((r) => setTimeout(r, 2000)).then(async () => {
        notifiedAt = Date.now() / 1000;
        await sec.notify();
      });
      const add = await oedns([...both(common(name, kd)), '--add', '--json']);
      await later;
      assert.equal(add.code, 0, add.stderr);
      const o = JSON.parse(add.stdout);
      assert.deepEqual(
        o.servers.map((x: { confirmed: boolean }) => x.confirmed),
        [true, true],
      );
      assert.equal(o.servers[1].serial, o.serial);
      const state = JSON.parse(readFileSync(join(kd, 'rollover.json'), 'utf8'));
      assert.ok(
        state.at >= Math.floor(notifiedAt),
        `the clock started at ${state.at}, before the secondary had the new version (${notifiedAt})`,
      );
      assert.equal(state.waitSec, 2);
      // A secondary that never confirms (not notified again): the wait includes the SOA refresh (3600 s).
      const kd2 = keyDir('lag2');
      const name2 = 'lag2.hosts.pub.test';
      newKey('lag2', name2);
      assert.equal((await oedns([...common(name2, kd2), '--ttl', '2'])).code, 0);
      assert.equal((await oedns(['keygen', '--next', '--out', kd2, '--name', name2])).code, 0);
      const add2 = await oedns([...both(common(name2, kd2)), '--add', '--wait', '3']);
      assert.equal(add2.code, 0, add2.stderr);
      assert.match(add2.stderr, /the wait before key activate includes the zone's SOA refresh \(3600 s\)/);
      assert.equal(JSON.parse(readFileSync(join(kd2, 'rollover.json'), 'utf8')).waitSec, 2 + 3600);
    } finally {
      await sec.stop();
    }
  });

  it('an inline-signed zone: waits until the signed version serves the key', async () => {
    newKey('inline', 'h1.hosts.inline.test');
    const r = await oedns([...common('h1.hosts.inline.test', keyDir('inline')), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.zone, 'inline.test');
    assert.equal(out.verification.verdict, 'secure');
    assert.equal(out.verification.matches, true);
  });

  it('no server listening: unreachable (exit 5); no zone for the name: zone-not-found (exit 5)', async () => {
    newKey('nobody', 'h1.hosts.pub.test');
    const port = await freePort();
    const r = await oedns([
      ...common('h1.hosts.pub.test', keyDir('nobody')).map((a) => (a === s.named.endpoint ? `127.0.0.1:${port}` : a)),
      '--timeout',
      '300',
      '--json',
    ]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(JSON.parse(r.stdout).error.code, /^(server-unreachable|zone-not-found)$/);
    const z = await oedns([...common('h1.elsewhere.example', keyDir('nobody')), '--json']);
    assert.equal(z.code, 5, z.stderr);
    assert.equal(JSON.parse(z.stdout).error.code, 'zone-not-found');
  });

  /** The same arguments with --server pointing elsewhere (the resolver stays named). */
  const via = (args: string[], server: string): string[] => args.map((a, i) => (args[i - 1] === '--server' ? server : a));
  const upstream = (): { host: string; port: number } => ({ host: '127.0.0.1', port: s.named.port });

  it('an attacker on the path to the primary cannot choose the TTL the rollover waits for: reads are TSIG-signed', async () => {
    const kd = keyDir('ttl');
    const name = 'ttl.hosts.pub.test';
    const cur = newKey('ttl', name);
    assert.equal((await oedns([...common(name, kd), '--ttl', '600'])).code, 0);
    assert.equal((await oedns(['keygen', '--next', '--out', kd, '--name', name])).code, 0);
    // Rewrites only the TTL of every IPSECKEY answer (UDP or TCP); the records stay as they are.
    const m = await startMitm(upstream(), (q, a) => (qtype(q) === 45 ? withTtl(a, 45, 1) : undefined));
    let r;
    try {
      r = await oedns([...via(common(name, kd), m.endpoint), '--add', '--json']);
    } finally {
      await m.close();
    }
    const out = JSON.parse(r.stdout);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(out.error.code, 'read-unauthenticated');
    assert.equal(out.error.changed, false);
    assert.ok(!existsSync(join(kd, 'rollover.json')), 'no rollover clock started');
    assert.deepEqual(published(name), [norm(cur)], 'nothing was sent');
    // Straight to named, the add takes the zone's TTL, and activation must wait for it.
    const add = await oedns([...common(name, kd), '--add', '--json']);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(JSON.parse(add.stdout).ttl, 600);
    assert.ok(JSON.parse(readFileSync(join(kd, 'rollover.json'), 'utf8')).waitSec >= 600);
  });

  it('a replayed signed answer does not make publish report the key as already published and secure', async () => {
    const name = 'replay.hosts.pub.test';
    newKey('r1', name);
    const k2 = newKey('r2', name);
    let recorded: Uint8Array | undefined;
    const rec = await startMitm(upstream(), (q, a) => void (qtype(q) === 45 && (recorded = a)));
    try {
      const r1 = await oedns(via(common(name, keyDir('r1')), rec.endpoint));
      assert.equal(r1.code, 0, r1.stderr);
    } finally {
      await rec.close();
    }
    assert.ok(recorded, 'the attacker saw the answer that showed key 1 secure');
    assert.equal((await oedns(common(name, keyDir('r2')))).code, 0, 'the zone moves on to key 2');
    // Every IPSECKEY answer is now the recorded one (id fixed up); its RRSIG is still valid.
    const replay = await startMitm(upstream(), (q) => {
      if (qtype(q) !== 45) return undefined;
      const a = recorded!.slice();
      a[0] = q[0]!;
      a[1] = q[1]!;
      return a;
    });
    let r;
    try {
      r = await oedns([...via(common(name, keyDir('r1')), replay.endpoint), '--json']);
    } finally {
      await replay.close();
    }
    const out = JSON.parse(r.stdout);
    assert.notEqual(out.action, 'unchanged', 'not "already published"');
    assert.equal(r.code, 5, r.stderr);
    assert.equal(out.error.code, 'read-unauthenticated');
    assert.deepEqual(published(name), [norm(k2)], 'the zone still holds key 2');
  });

  it('rollover: keygen --next, publish --add, key activate, publish --withdraw-old, each refused when too early', async () => {
    const kd = keyDir('roll');
    const name = 'roll.hosts.pub.test';
    const cur = newKey('roll', name);
    const p0 = await oedns([...common(name, kd), '--ttl', '6']);
    assert.equal(p0.code, 0, p0.stderr);

    const g = await oedns(['keygen', '--next', '--out', kd, '--name', name]);
    assert.equal(g.code, 0, g.stderr);
    const next = g.stdout.trim().split(' IPSECKEY ')[1]!;
    assert.ok(existsSync(join(kd, 'host.next.key.pem')));
    const show = await oedns(['keygen', '--show', '--out', kd, '--name', name]);
    assert.deepEqual(
      show.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' IPSECKEY ')[1]),
      [cur, next],
    );

    const plain = await oedns([...common(name, kd), '--json']);
    assert.equal(plain.code, 8, 'a plain publish mid-rollover would drop the next key');
    assert.equal(JSON.parse(plain.stdout).error.code, 'rollover-state');

    const early = await oedns(['key', 'activate', '--key-dir', kd, '--json']);
    assert.equal(early.code, 8);
    assert.equal(JSON.parse(early.stdout).error.code, 'rollover-not-published');

    const add = await oedns([...common(name, kd), '--add', '--json']);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stderr, /next: oedns key activate, not before /);
    assert.deepEqual(published(name), [norm(cur), norm(next)].sort());
    const tooSoon = await oedns(['key', 'activate', '--key-dir', kd, '--json']);
    assert.equal(tooSoon.code, 8);
    assert.equal(JSON.parse(tooSoon.stdout).error.code, 'rollover-too-early');

    await new Promise((r) => setTimeout(r, 6200));
    const act = await oedns(['key', 'activate', '--key-dir', kd]);
    assert.equal(act.code, 0, act.stderr);
    assert.match(act.stderr, /next: oedns publish --withdraw-old, not before /);
    const shown = await oedns(['keygen', '--show', '--out', kd, '--name', name]);
    assert.deepEqual(
      shown.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' IPSECKEY ')[1]),
      [next, cur],
      'next is current, the previous key is old',
    );

    const wEarly = await oedns([...common(name, kd), '--withdraw-old', '--json']);
    assert.equal(wEarly.code, 8);
    assert.equal(JSON.parse(wEarly.stdout).error.code, 'rollover-too-early');
    await new Promise((r) => setTimeout(r, 6200));
    const w = await oedns([...common(name, kd), '--withdraw-old']);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(published(name), [norm(next)]);
    assert.ok(!existsSync(join(kd, 'host.old.key.pem')), 'the withdrawn private key is removed');
    assert.match(w.stderr, /rollover done/);
  });

  it('publish --withdraw-old --wait 0 keeps the old private key (nothing was checked); a checked run removes it', async () => {
    const kd = keyDir('w0');
    const name = 'w0.hosts.pub.test';
    newKey('w0', name);
    assert.equal((await oedns([...common(name, kd), '--ttl', '1'])).code, 0);
    assert.equal((await oedns(['keygen', '--next', '--out', kd, '--name', name])).code, 0);
    assert.equal((await oedns([...common(name, kd), '--add', '--ttl', '1'])).code, 0);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await oedns(['key', 'activate', '--key-dir', kd])).code, 0);
    await new Promise((r) => setTimeout(r, 1500));
    const w0 = await oedns([...common(name, kd), '--withdraw-old', '--wait', '0']);
    assert.equal(w0.code, 0, w0.stderr);
    assert.equal(published(name).length, 1, 'withdrawn from the zone');
    assert.ok(existsSync(join(kd, 'host.old.key.pem')), 'not deleted without a check');
    assert.match(w0.stderr, /host\.old\.key\.pem is kept; run oedns publish --withdraw-old again/);
    const w = await oedns([...common(name, kd), '--withdraw-old', '--json']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(JSON.parse(w.stdout).action, 'unchanged');
    assert.ok(!existsSync(join(kd, 'host.old.key.pem')), 'removed once the zone was seen secure with the new key alone');
  });

  it('rollover steps are tied to the keys: a next key replaced after --add is not activated; no new --add while the old key is kept', async () => {
    const kd = keyDir('bound');
    const name = 'bound.hosts.pub.test';
    newKey('bound', name);
    const p0 = await oedns([...common(name, kd), '--ttl', '1']);
    assert.equal(p0.code, 0, p0.stderr);
    assert.equal((await oedns(['keygen', '--next', '--out', kd, '--name', name])).code, 0);
    const add = await oedns([...common(name, kd), '--add', '--ttl', '1']);
    assert.equal(add.code, 0, add.stderr);
    // The next key is replaced after it was published: the add no longer covers it.
    const again = await oedns(['keygen', '--next', '--force', '--out', kd, '--name', name]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /must be published with --add again/);
    const replaced = again.stdout.trim().split(' IPSECKEY ')[1]!;
    await new Promise((r) => setTimeout(r, 1500));
    const act = await oedns(['key', 'activate', '--key-dir', kd, '--json']);
    assert.equal(act.code, 8, act.stderr);
    assert.equal(JSON.parse(act.stdout).error.code, 'rollover-not-published');
    assert.ok(!published(name).includes(norm(replaced)));
    // Published with --add, it may be activated.
    assert.equal((await oedns([...common(name, kd), '--add', '--ttl', '1'])).code, 0);
    assert.ok(published(name).includes(norm(replaced)));
    await new Promise((r) => setTimeout(r, 1500));
    const act2 = await oedns(['key', 'activate', '--key-dir', kd]);
    assert.equal(act2.code, 0, act2.stderr);
    // Right after the activation the old key must stay published: no new next key, no --add.
    const before = published(name);
    const g = await oedns(['keygen', '--next', '--out', kd, '--name', name]);
    assert.equal(g.code, 2, g.stderr);
    assert.match(g.stderr, /rollover-state: an old key is still kept/);
    writeFileSync(join(kd, 'host.next.key.pem'), privateKeyPemForCharon(generateHostKey('ed25519')), { mode: 0o600 });
    const add2 = await oedns([...common(name, kd), '--add', '--force', '--json']);
    assert.equal(add2.code, 8, add2.stderr);
    assert.equal(JSON.parse(add2.stdout).error.code, 'rollover-state');
    assert.deepEqual(published(name), before, 'the old key is still published');
    assert.ok(existsSync(join(kd, 'host.old.key.pem')));
  });
});

/** Real sockets to the test's named; `skewSec` moves our clock. */
function io(s: SigningNamed, o: { skewSec?: number } = {}): PublishIo {
  const ep = { host: '127.0.0.1', port: s.named.port };
  return {
    resolver: netQuery({ ...ep, timeoutMs: 2000 }),
    send: (e, w) => tcpExchange(e.host, e.port, w, 5000),
    direct: (e) => netQuery({ host: e.host, port: e.port, timeoutMs: 2000, rd: false }),
    now: () => Date.now() / 1000 + (o.skewSec ?? 0),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
