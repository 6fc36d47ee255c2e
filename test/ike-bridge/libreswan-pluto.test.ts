// Integration: the Libreswan engine against a real pluto (Debian 12's libreswan 4.10, unpacked beside
// strongSwan by scripts/pluto-lab.sh) on host A of the two-host lab, and the strongSwan engine's
// charon on host B. Keys come from `oedns keygen` as their IPSECKEY records would publish them.
// This kernel has XFRM but no ESP: IKE completes and authenticates in both directions, charon (with
// kernel-libipsec) installs its CHILD_SA, and pluto's ESP SA is refused by the kernel
// ("netlink response for Add SA esp...: Protocol not supported"). Everything up to that install is
// checked here; traffic is not. Skips only where the lab cannot run or Libreswan cannot be fetched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import { ckaidOf, LibreswanEngine } from '../../src/ike-bridge/libreswan';
import { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { EngineError } from '../../src/util/errors';
import { type Lab, labUp } from '../support/lab';
import { type OednsKey, oednsKeygen, type PlutoHost, plutoOn, plutoUnavailable } from '../support/pluto-lab';
import { until } from '../support/wait';
import { leftoverShunts } from '../../src/daemon/leftovers';
import { defaultPolicy } from '../../src/policy';

type Key = OednsKey;
const keygen = oednsKeygen;

function peer(name: string, addr: string, keys: Key[], over: Partial<Peer> = {}): Peer {
  return {
    name,
    addresses: [addr],
    auth: { kind: 'pubkey', keys: keys.map((k, i) => ({ algorithm: k.alg, publicKey: k.key, precedence: 10 * (i + 1) })) },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: 0,
    owner: 'serve',
    ...over,
  };
}

/** pluto names an RSA key by the first 9 characters of its base64 (RFC 3110) form. */
const keyid = (k: Key): string => k.key.toString('base64').slice(0, 9);

/** The keyids pluto holds for an id, from `whack --listpubkeys`. */
async function heldKeys(pluto: PlutoHost, id: string): Promise<string[]> {
  const lines = (await pluto.run(['--listpubkeys'])).stdout.split('\n');
  const out: string[] = [];
  lines.forEach((l, i) => {
    const m = /RSA Key (\S+)/.exec(l);
    if (m && lines[i + 1]?.includes(`ID_FQDN '${id}'`)) out.push(m[1]!);
  });
  return out.sort();
}

/** Our address toward `dest` as seen inside a namespace (what the engine asks `ip route get` for). */
function nsRouteSource(ns: string) {
  return (dest: string): Promise<string | undefined> =>
    new Promise((res) => {
      execFile('ip', ['-n', ns, '-j', 'route', 'get', dest], (err, stdout) =>
        res(err ? undefined : (JSON.parse(String(stdout)) as { prefsrc?: string }[])[0]?.prefsrc),
      );
    });
}

const count = (text: string, re: RegExp): number => text.match(new RegExp(re.source, 'g'))?.length ?? 0;
const RESPONDER_OK =
  /responder established IKE SA; authenticated peer '2048-bit PKCS#1 1\.5 RSA with SHA2_256' digital signature using preloaded certificate '@b\.oe\.test'/;
const ESP_REFUSED = /netlink response for Add SA esp\.[0-9a-f]+@192\.0\.2\.2: Protocol not supported \(errno 93\)/;

describe('libreswan engine against a real pluto (pluto on A, charon on B)', function () {
  let lab: Lab | undefined;
  let pluto: PlutoHost | undefined;
  let plutoB: PlutoHost | undefined;
  let A: LibreswanEngine;
  let B: StrongswanEngine | undefined;
  let rawB: ViciClient | undefined;
  let ka: Key;
  let kb: Key;
  let kb2: Key;
  let wrong: Key;
  let ckaid: string;

  /** (Re)start charon B with `key` as its identity, through a fresh strongswan engine. */
  async function charonB(key: Key, restart = true): Promise<StrongswanEngine> {
    await Promise.all([B?.close(), rawB?.close()]);
    if (restart) await lab!.restart('b');
    B = new StrongswanEngine({
      socketPath: lab!.b.vici,
      identity: { id: 'b.oe.test', privateKey: createPrivateKey(key.pem) },
      initiateTimeoutMs: 8000,
    });
    await B.start();
    rawB = new ViciClient({ socketPath: lab!.b.vici });
    await B.install(peer('a.oe.test', lab!.a.addr, [ka]));
    return B;
  }
  async function terminateB(): Promise<void> {
    for (const sa of await rawB!.listSas()) if (sa.uniqueId) await rawB!.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
  }

  before(async function () {
    this.timeout(240_000); // the first run fetches Libreswan (apt-get download)
    const why = plutoUnavailable();
    if (why) {
      console.log(`    skipping the pluto lab: ${why}`);
      this.skip();
    }
    lab = await labUp();
    pluto = await plutoOn(lab, 'a');
    ka = keygen(join(lab.dir, 'a', 'keys'), 'a.oe.test');
    kb = keygen(join(lab.dir, 'b', 'keys'), 'b.oe.test');
    kb2 = keygen(join(lab.dir, 'b', 'keys2'), 'b.oe.test');
    wrong = keygen(join(lab.dir, 'wrong'), 'b.oe.test');
    ckaid = pluto.importKey(ka.pemFile);
    A = new LibreswanEngine({
      localId: 'a.oe.test',
      localKey: ka.pem,
      whack: pluto.whack,
      ctlsocket: pluto.ctlsocket,
      routeSource: nsRouteSource(pluto.ns),
      initiateTimeoutMs: 8000,
    });
    await charonB(kb, false);
  });

  // Each test starts with no SA between the two, also after one that failed halfway (an IKE SA left up
  // would let the next test's exchange ride on it).
  afterEach(async () => {
    if (rawB) await terminateB();
  });

  after(async () => {
    await Promise.all([A?.close(), B?.close(), rawB?.close()]);
    await pluto?.stop();
    await plutoB?.stop();
    await lab?.down();
  });

  it('reaches the private pluto; the CKAID the engine derives from our key is the one NSS gives', async () => {
    const s = await A.status();
    assert.deepEqual([s.engine, s.reachable, s.daemon], ['libreswan', true, `Libreswan ${pluto!.version}`]);
    assert.match(pluto!.version, /^\d+\.\d+/);
    assert.equal(ckaidOf(createPrivateKey(ka.pem)), ckaid);
  });

  it('install: pluto holds the key under the id, the conn between both ids, routed into the kernel', async () => {
    await A.install(peer('b.oe.test', lab!.b.addr, [kb]));
    assert.deepEqual(await heldKeys(pluto!, '@b.oe.test'), [keyid(kb)]);
    const status = (await pluto!.run(['--status'])).stdout;
    assert.match(
      status,
      /"oe-b\.oe\.test": 192\.0\.2\.1\[@a\.oe\.test[^\]]*\]\.\.\.192\.0\.2\.2\[@b\.oe\.test[^\]]*\]; (prospective erouted|routed)/,
    );
    assert.match(status, /"oe-b\.oe\.test":\s+policy: IKEv2\+RSASIG\+RSASIG_v1_5\+ENCRYPT\+TUNNEL\+PFS\+ESN_NO\+ESN_YES/);
    assert.ok(pluto!.log().includes(`loaded private key matching left CKAID ${ckaid}`), 'pluto found our key by the CKAID');
    const policies = (await lab!.exec(lab!.a, ['ip', 'xfrm', 'policy'])).stdout;
    assert.match(policies, /src 192\.0\.2\.1\/32 dst 192\.0\.2\.2\/32 \n\tdir out[^\n]*\n\ttmpl [^\n]*\n\t\tproto esp/);
    assert.deepEqual(await A.list(), [
      {
        name: 'b.oe.test',
        connection: 'oe-b.oe.test',
        addresses: ['192.0.2.2'],
        authenticated: true,
        ikeState: undefined,
        childState: undefined,
      },
    ]);
  });

  it("charon initiates: IKE SA authenticated both ways with the published keys; pluto's kernel refuses the ESP SA", async () => {
    const before = count(pluto!.log(), RESPONDER_OK);
    // pluto answers the Child SA it could not install with TS_UNACCEPTABLE; charon keeps the IKE SA.
    await assert.rejects(B!.initiate('a.oe.test'), (e: unknown) => e instanceof EngineError && e.code === 'ike-initiate-failed');
    const log = pluto!.log();
    assert.equal(count(log, RESPONDER_OK), before + 1, 'pluto authenticated charon with the key from the IPSECKEY');
    assert.match(log, ESP_REFUSED);
    const held = await A.list();
    assert.deepEqual(
      held.map((p) => [p.name, p.ikeState, p.childState]),
      [['b.oe.test', 'ESTABLISHED', undefined]],
    );
    const sas = await rawB!.listSas();
    assert.deepEqual(
      sas.map((s) => [s.name, s.state, s.remoteId]),
      [['oe-a.oe.test', 'ESTABLISHED', 'a.oe.test']],
      'charon authenticated pluto too',
    );
    await terminateB();
    await until('pluto drops the IKE SA charon deleted', async () => (await A.list())[0]!.ikeState === undefined);
  });

  it("pluto initiates (engine.initiate): charon installs its CHILD_SA with pluto's proposal; pluto's ESP SA is refused: ike-child-failed", async () => {
    await assert.rejects(A.initiate('b.oe.test'), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, 'ike-child-failed');
      assert.match(e.message, /Add SA esp\.[0-9a-f]+@192\.0\.2\.2: Protocol not supported/);
      return true;
    });
    assert.match(
      pluto!.log(),
      /initiator established IKE SA; authenticated peer '2048-bit PKCS#1 1\.5 RSA with SHA2_256' digital signature using preloaded certificate '@b\.oe\.test'/,
    );
    // charon heard nothing of pluto's failure (pluto deletes "NOT sending notification"): its side is up.
    // pluto may try once more before the engine's --terminate reaches it, so charon can hold a second
    // Child SA of the same conn; each one is pluto's proposal installed.
    const children = (await rawB!.listSas()).flatMap((s) => s.children.map((c) => [s.name, c.name, c.state]));
    assert.ok(children.length >= 1 && children.length <= 2, `charon holds ${children.length} Child SAs`);
    for (const c of children) assert.deepEqual(c, ['oe-a.oe.test', 'oe-a.oe.test', 'INSTALLED']);
  });

  it('a wrong key is refused in both directions (ike-auth-failed)', async () => {
    await assert.rejects(A.install(peer('b.oe.test', lab!.b.addr, [wrong], { initiate: true })), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, 'ike-auth-failed');
      assert.match(e.message, /authentication failed: .* for '@b\.oe\.test'/);
      return true;
    });
    assert.deepEqual(await heldKeys(pluto!, '@b.oe.test'), [keyid(wrong)]);
    // charon initiating: pluto, holding the wrong key for b, refuses its signature.
    await assert.rejects(B!.initiate('a.oe.test'), (e: unknown) => e instanceof EngineError && e.code === 'ike-auth-failed');
    assert.deepEqual(
      (await A.list()).map((p) => [p.ikeState, p.childState]),
      [[undefined, undefined]],
    );
    await terminateB();
  });

  it('key rollover: both keys during the overlap, then only the new one; the retired key is refused', async () => {
    await A.install(peer('b.oe.test', lab!.b.addr, [kb, kb2]));
    assert.deepEqual(await heldKeys(pluto!, '@b.oe.test'), [keyid(kb), keyid(kb2)].sort());
    await charonB(kb2); // B now signs with its new key
    let n = count(pluto!.log(), RESPONDER_OK);
    await assert.rejects(B!.initiate('a.oe.test'), { code: 'ike-initiate-failed' }); // ESP, as above
    assert.equal(count(pluto!.log(), RESPONDER_OK), n + 1, 'the new key authenticates during the overlap');
    await terminateB();
    await A.install(peer('b.oe.test', lab!.b.addr, [kb2]));
    assert.deepEqual(await heldKeys(pluto!, '@b.oe.test'), [keyid(kb2)]);
    n = count(pluto!.log(), RESPONDER_OK);
    await assert.rejects(B!.initiate('a.oe.test'), { code: 'ike-initiate-failed' });
    assert.equal(count(pluto!.log(), RESPONDER_OK), n + 1, 'the new key alone authenticates');
    await charonB(kb); // B back on the retired key
    await assert.rejects(B!.initiate('a.oe.test'), { code: 'ike-auth-failed' });
    await terminateB();
  });

  it('remove: conn and policies gone, and pluto no longer trusts the key (a probe conn for the id refuses it)', async () => {
    await A.install(peer('b.oe.test', lab!.b.addr, [kb]));
    await A.remove('b.oe.test');
    assert.doesNotMatch((await pluto!.run(['--status'])).stdout, /"oe-b\.oe\.test"/);
    assert.doesNotMatch((await lab!.exec(lab!.a, ['ip', 'xfrm', 'policy'])).stdout, /192\.0\.2\.2/);
    const left = await heldKeys(pluto!, '@b.oe.test');
    assert.equal(left.length, 1);
    assert.notEqual(left[0], keyid(kb), 'only the throwaway key is left for the id');
    assert.deepEqual(await A.list(), []);
    const probe = [
      '--name',
      'probe',
      '--ikev2',
      '--encrypt',
      '--tunnel',
      '--pfs',
      '--esn',
      '--no-esn',
      '--rsasig',
      '--host',
      '192.0.2.1',
      '--id',
      '@a.oe.test',
      '--ckaid',
      ckaid,
      '--to',
      '--host',
      '192.0.2.2',
      '--id',
      '@b.oe.test',
    ];
    assert.equal((await pluto!.run(probe)).code, 0);
    await assert.rejects(B!.initiate('a.oe.test'), { code: 'ike-auth-failed' });
    const tried = [...pluto!.log().matchAll(/authentication failed: .* for '@b\.oe\.test' tried preloaded: \*(\S+)/g)].at(-1)?.[1];
    assert.equal(tried, left[0], 'pluto tried the throwaway key, the only one left');
    await terminateB();
  });

  it('control: whack --keyid @id alone (the documented delete) leaves the key trusted in pluto 4.10', async () => {
    assert.equal((await pluto!.run(['--keyid', '@b.oe.test', '--pubkeyrsa', `0s${kb.key.toString('base64')}`])).code, 0);
    assert.equal((await pluto!.run(['--keyid', '@b.oe.test'])).code, 0);
    assert.deepEqual(await heldKeys(pluto!, '@b.oe.test'), [keyid(kb)], 'still there');
    const n = count(pluto!.log(), RESPONDER_OK);
    await assert.rejects(B!.initiate('a.oe.test'), { code: 'ike-initiate-failed' }); // authenticated; only ESP fails
    assert.equal(count(pluto!.log(), RESPONDER_OK), n + 1, 'the probe conn accepted the stale key');
    await terminateB();
    await pluto!.run(['--delete', '--name', 'probe']);
    await A.remove('b.oe.test');
  });

  it('after pluto restarts, reconcile() puts the peer back and removes a stray oe- conn; a second reconcile changes nothing', async () => {
    await A.install(peer('b.oe.test', lab!.b.addr, [kb]));
    await pluto!.restart();
    assert.doesNotMatch((await pluto!.run(['--status'])).stdout, /"oe-b\.oe\.test"/, 'a restarted pluto forgot the conn');
    const stray = [
      '--name',
      'oe-stray.oe.test',
      '--ikev2',
      '--pass',
      '--auth-never',
      '--host',
      '192.0.2.1',
      '--id',
      '@a.oe.test',
      '--to',
      '--host',
      '192.0.2.7',
      '--id',
      '@stray.oe.test',
    ];
    assert.equal((await pluto!.run(stray)).code, 0);
    const r = await A.reconcile([peer('b.oe.test', lab!.b.addr, [kb])]);
    assert.deepEqual([r.installed, r.removed, r.failed], [['b.oe.test'], ['stray.oe.test'], []]);
    const status = (await pluto!.run(['--status'])).stdout;
    assert.match(status, /"oe-b\.oe\.test": 192\.0\.2\.1/);
    assert.doesNotMatch(status, /"oe-stray\.oe\.test"/);
    assert.deepEqual(await heldKeys(pluto!, '@b.oe.test'), [keyid(kb)]);
    const n = count(pluto!.log(), RESPONDER_OK);
    await assert.rejects(B!.initiate('a.oe.test'), { code: 'ike-initiate-failed' });
    assert.equal(count(pluto!.log(), RESPONDER_OK), n + 1, 'the reconciled key authenticates charon again');
    await terminateB();
    const again = await A.reconcile([peer('b.oe.test', lab!.b.addr, [kb])]);
    assert.deepEqual([again.installed, again.unchanged, again.removed], [[], ['b.oe.test'], []]);
  });

  it('clear and block levels become pass and drop policies in the kernel, and go with remove()', async () => {
    await A.install(peer('c.oe.test', '192.0.2.7', [kb], { level: 'clear' }));
    await A.install(peer('d.oe.test', '192.0.2.8', [kb], { level: 'block' }));
    const pol = (await lab!.exec(lab!.a, ['ip', 'xfrm', 'policy'])).stdout;
    assert.match(
      pol,
      /src 192\.0\.2\.1\/32 dst 192\.0\.2\.7\/32 \n\tdir out priority \d+ ptype main \n/,
      'pass: a policy without template',
    );
    assert.match(pol, /src 192\.0\.2\.1\/32 dst 192\.0\.2\.8\/32 \n\tdir out action block/);
    await A.remove('c.oe.test');
    await A.remove('d.oe.test');
    assert.doesNotMatch((await lab!.exec(lab!.a, ['ip', 'xfrm', 'policy'])).stdout, /192\.0\.2\.[78]/);
  });

  it('a gateway peer: whack takes the two-client conn and pluto routes the inner address to the gateway', async () => {
    await A.install(peer('g.oe.test', '198.51.100.7', [kb2], { gateway: { kind: 'address', address: '192.0.2.2' } }));
    const status = (await pluto!.run(['--status'])).stdout;
    assert.match(
      status,
      /"oe-g\.oe\.test": 192\.0\.2\.1\[@a\.oe\.test[^\]]*\]\.\.\.192\.0\.2\.2\[@g\.oe\.test[^\]]*\]===198\.51\.100\.7\/32/,
    );
    assert.match((await lab!.exec(lab!.a, ['ip', 'xfrm', 'policy'])).stdout, /src 192\.0\.2\.1\/32 dst 198\.51\.100\.7\/32/);
    await A.remove('g.oe.test');
  });

  it('a fresh engine (oedns restarted) lists the peer conns pluto still holds, with the addresses each protects', async () => {
    await A.install(peer('b.oe.test', lab!.b.addr, [kb]));
    await A.install(peer('g.oe.test', '198.51.100.7', [kb2], { gateway: { kind: 'address', address: '192.0.2.2' } }));
    await A.install({
      ...peer('two.oe.test', '192.0.2.7', []),
      addresses: ['192.0.2.7', '192.0.2.8'],
      auth: { kind: 'unauthenticated', method: 'null' },
    });
    await A.setShunt('gone.oe.test', ['192.0.2.9']);
    try {
      const fresh = new LibreswanEngine({
        localId: 'a.oe.test',
        localKey: ka.pem,
        whack: pluto!.whack,
        ctlsocket: pluto!.ctlsocket,
        routeSource: nsRouteSource(pluto!.ns),
      });
      const listed = await fresh.list();
      assert.deepEqual(
        listed.map((p) => [p.name, p.addresses, p.authenticated, p.shunt ?? false]).sort(),
        [
          ['b.oe.test', ['192.0.2.2'], true, false],
          ['g.oe.test', ['198.51.100.7'], true, false],
          ['gone.oe.test', ['192.0.2.9'], false, true],
          ['two.oe.test', ['192.0.2.7', '192.0.2.8'], false, false],
        ],
        (await pluto!.run(['--status'])).stdout,
      );
      // What serve does with them at start: a private policy keeps each address closed.
      const held = leftoverShunts(listed, [], { ...defaultPolicy(), default: 'private' }, 1000, 3600);
      assert.deepEqual(held.map((h) => [h.name, h.addresses]).sort(), [
        ['b.oe.test', ['192.0.2.2']],
        ['g.oe.test', ['198.51.100.7']],
        ['gone.oe.test', ['192.0.2.9']],
        ['two.oe.test', ['192.0.2.7', '192.0.2.8']],
      ]);
    } finally {
      await A.setShunt('gone.oe.test', []);
      for (const n of ['b.oe.test', 'g.oe.test', 'two.oe.test']) await A.remove(n);
    }
  });

  it("NULL authentication (RFC 7619): the engine's --auth-null against a pluto configured with authby=null, both ways", async () => {
    // Host B becomes a second pluto, its conn written in ipsec.conf as a user would (addconn reads it).
    await Promise.all([B?.close(), rawB?.close()]);
    B = undefined;
    rawB = undefined;
    mkdirSync(join(lab!.dir, 'b', 'pluto'), { recursive: true });
    writeFileSync(
      join(lab!.dir, 'b', 'pluto', 'ipsec.conf'),
      [
        'config setup',
        '\tplutodebug=none',
        '',
        'conn oe-null-a',
        '\tikev2=insist',
        '\tauthby=null',
        '\tleft=192.0.2.2',
        '\tleftid=%null',
        '\tright=192.0.2.1',
        '\trightid=%null',
        '\ttype=tunnel',
        '\tauto=add',
        '',
      ].join('\n'),
    );
    plutoB = await plutoOn(lab!, 'b');
    assert.match((await plutoB.run(['--status'])).stdout, /"oe-null-a":\s+policy: IKEv2\+AUTH_NULL\+ENCRYPT\+TUNNEL/);
    const btns = peer('b.oe.test', lab!.b.addr, [], { auth: { kind: 'unauthenticated', method: 'null' }, level: 'opportunistic' });
    await A.install(btns);
    // B (ipsec.conf) initiates: pluto A, holding the engine's conn, answers with NULL auth.
    const out = (await plutoB.run(['--initiate', '--name', 'oe-null-a'], 20_000)).stdout;
    assert.match(out, /initiator established IKE SA; authenticated peer using authby=null/);
    assert.match(pluto!.log(), /"oe-b\.oe\.test" #\d+: responder established IKE SA; authenticated peer using authby=null/);
    assert.deepEqual(
      (await A.list()).map((p) => [p.name, p.authenticated, p.ikeState]),
      [['b.oe.test', false, 'ESTABLISHED']],
    );
    await plutoB.run(['--terminate', '--name', 'oe-null-a']);
    await until('pluto A drops the NULL IKE SA', async () => (await A.list())[0]!.ikeState === undefined);
    // A (engine) initiates: IKE with NULL auth comes up, the Child SA fails at a kernel without ESP.
    await assert.rejects(A.initiate('b.oe.test'), (e: unknown) => e instanceof EngineError && e.code === 'ike-child-failed');
    assert.match(pluto!.log(), /"oe-b\.oe\.test" #\d+: initiator established IKE SA; authenticated peer using authby=null/);
    await A.remove('b.oe.test');
  });
});
