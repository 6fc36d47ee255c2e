// Integration: two real charons (scripts/lab.sh), keys from `oedns keygen`, the strongswan engine
// on both hosts. Proves that what the engine installs carries ESP, that removal ends trust in the
// key, that reconcile() restores a restarted daemon, and that a wrong key is reported.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import { hostKeyPaths } from '../../src/ike-bridge/identity';
import { type AuthFailure, StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import type { ViciInput } from '../../src/ike-bridge/vici-codec';
import { EngineError } from '../../src/util/errors';
import { type Lab, labUnavailable, labUp, watchWire } from '../support/lab';
import { until } from '../support/wait';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');

/** Run `oedns keygen` and parse the IPSECKEY line it prints: the key a peer would find in DNS. */
function keygen(dir: string, name: string, type: string): { pem: string; alg: number; key: Buffer } {
  const out = execFileSync(process.execPath, [OEDNS, 'keygen', '--type', type, '--bits', '2048', '--out', dir, '--name', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const f = out.trim().split(/\s+/);
  assert.deepEqual(f.slice(0, 3), [`${name}.`, 'IN', 'IPSECKEY']);
  return { pem: readFileSync(hostKeyPaths(dir).privateKey, 'utf8'), alg: Number(f[5]), key: Buffer.from(f[7]!, 'base64') };
}

function peer(name: string, addr: string, k: { alg: number; key: Buffer }, initiate: boolean): Peer {
  return {
    name,
    addresses: [addr],
    auth: { kind: 'pubkey', keys: [{ algorithm: k.alg, publicKey: k.key, precedence: 10 }] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: 0,
    owner: 'serve',
    initiate,
  };
}

describe('ike-bridge lab: two charons in network namespaces', function () {
  let lab: Lab | undefined;
  let A: StrongswanEngine;
  let B: StrongswanEngine;
  let rawA: ViciClient;
  let rawB: ViciClient;
  let ka: ReturnType<typeof keygen>;
  let kb: ReturnType<typeof keygen>;
  let wrong: ReturnType<typeof keygen>;
  const failuresA: AuthFailure[] = [];

  before(async function () {
    const why = labUnavailable();
    if (why) {
      console.log(`    skipping the IPsec lab: ${why}`);
      this.skip();
    }
    lab = await labUp();
    ka = keygen(join(lab.dir, 'a', 'keys'), 'a.oe.test', 'rsa');
    kb = keygen(join(lab.dir, 'b', 'keys'), 'b.oe.test', 'ed25519');
    wrong = keygen(join(lab.dir, 'wrong'), 'b.oe.test', 'ecdsa-p256');
    A = new StrongswanEngine({
      socketPath: lab.a.vici,
      identity: { id: 'a.oe.test', privateKey: createPrivateKey(ka.pem) },
      initiateTimeoutMs: 8000,
    });
    B = new StrongswanEngine({
      socketPath: lab.b.vici,
      identity: { id: 'b.oe.test', privateKey: createPrivateKey(kb.pem) },
      initiateTimeoutMs: 8000,
    });
    A.events.on('auth-failed', (f: AuthFailure) => failuresA.push(f));
    await A.start();
    await B.start();
    rawA = new ViciClient({ socketPath: lab.a.vici });
    rawB = new ViciClient({ socketPath: lab.b.vici });
  });

  after(async () => {
    await Promise.all([A?.close(), B?.close(), rawA?.close(), rawB?.close()]);
    await lab?.down();
  });

  const ping = async (): Promise<number> => (await lab!.exec(lab!.a, ['ping', '-c', '3', '-i', '0.2', '-W', '1', lab!.b.addr])).code;

  it('installs each host on the other; the CHILD_SA comes up when A initiates', async () => {
    await B.install(peer('a.oe.test', lab!.a.addr, ka, false));
    await A.install(peer('b.oe.test', lab!.b.addr, kb, true));
    const listed = await A.list();
    assert.equal(listed.length, 1);
    assert.deepEqual(
      {
        name: listed[0]!.name,
        conn: listed[0]!.connection,
        addrs: listed[0]!.addresses,
        auth: listed[0]!.authenticated,
        ike: listed[0]!.ikeState,
        child: listed[0]!.childState,
      },
      { name: 'b.oe.test', conn: 'oe-b.oe.test', addrs: ['192.0.2.2'], auth: true, ike: 'ESTABLISHED', child: 'INSTALLED' },
    );
    const st = await B.status();
    assert.deepEqual([st.reachable, st.daemon, st.peers], [true, 'charon 5.9.8', 1]);
  });

  it('a ping from A to B succeeds and crosses the veth only as ESP', async () => {
    const { wire } = await watchWire(lab!, async () => assert.equal(await ping(), 0, 'ping A -> B failed'));
    assert.equal(wire.clearIcmp, 0, `cleartext ICMP seen on the wire:\n${wire.text}`);
    assert.ok(wire.esp >= 6, `expected >= 6 ESP packets (3 requests, 3 replies):\n${wire.text}`);
  });

  it('remove() tears the SAs down and charon no longer trusts the removed key', async () => {
    await B.remove('a.oe.test');
    assert.equal((await rawB.listSas()).length, 0, 'B still holds an SA');
    await until('A sees the IKE_SA deleted', async () => (await rawA.listSas()).length === 0);
    // A catch-all with no keys of its own accepts whoever charon trusts: with the pitfall left in
    // place it would accept A with the stale key (see the control below).
    await rawB.loadConn('probe', probeConn(kb));
    await assert.rejects(A.initiate('b.oe.test'), (e: unknown) => e instanceof EngineError && e.code === 'ike-auth-failed');
    await rawB.unloadConn('probe');
    await terminateAll(rawA);
    await terminateAll(rawB);
  });

  it('control: unload-conn without the trust rebuild leaves the key trusted (the pitfall)', async () => {
    await B.install(peer('a.oe.test', lab!.a.addr, ka, false));
    await A.initiate('b.oe.test');
    await terminateAll(rawA);
    await terminateAll(rawB);
    await rawB.unloadConn('oe-a.oe.test');
    await rawB.loadConn('probe', probeConn(kb));
    await A.initiate('b.oe.test'); // accepted through 'probe' with A's stale key
    await rawB.unloadConn('probe');
    await terminateAll(rawA);
    await terminateAll(rawB);
    await B.remove('a.oe.test');
  });

  it("after B's charon restarts, reconcile() puts A back and traffic flows again", async () => {
    await B.install(peer('a.oe.test', lab!.a.addr, ka, false));
    await lab!.restart('b');
    const r = await B.reconcile([peer('a.oe.test', lab!.a.addr, ka, false)]);
    // The engine's own check for foreign reloads (checkForeign) may have put A back first; either way
    // A is back after reconcile, nothing failed and nothing was removed.
    assert.deepEqual([[...r.installed, ...r.unchanged], r.removed, r.failed], [['a.oe.test'], [], []]);
    assert.deepEqual(
      (await rawB.getConns()).filter((n) => n.startsWith('oe-')),
      ['oe-a.oe.test'],
    );
    await A.initiate('b.oe.test');
    assert.equal(await ping(), 0);
    // A second reconcile with the same set changes nothing.
    const again = await B.reconcile([peer('a.oe.test', lab!.a.addr, ka, false)]);
    assert.deepEqual([again.installed, again.unchanged], [[], ['a.oe.test']]);
  });

  it('a wrong key for B makes IKE authentication fail, and the engine reports it', async () => {
    await A.remove('b.oe.test');
    failuresA.length = 0;
    await assert.rejects(A.install(peer('b.oe.test', lab!.b.addr, wrong, true)), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, 'ike-auth-failed');
      return true;
    });
    assert.ok(
      failuresA.some((f) => f.name === 'b.oe.test' && f.reason === 'ike-auth-failed'),
      JSON.stringify(failuresA),
    );
    const held = await A.list();
    assert.deepEqual(
      held.map((p) => [p.name, p.childState]),
      [['b.oe.test', undefined]],
      'no CHILD_SA may exist with the wrong key',
    );
  });
});

function probeConn(own: { pem: string }): ViciInput {
  const pub = createPrivateKey(own.pem);
  return {
    version: 2,
    remote_addrs: ['%any'],
    proposals: ['aes128-sha256-x25519'],
    local: { auth: 'pubkey', id: 'b.oe.test', pubkeys: [createPublicKey(pub).export({ type: 'spki', format: 'pem' }).toString()] },
    remote: { auth: 'pubkey', id: '%any' },
    children: { probe: { mode: 'tunnel', local_ts: ['dynamic'], remote_ts: ['dynamic'], esp_proposals: ['aes128-sha256'] } },
  };
}

async function terminateAll(c: ViciClient): Promise<void> {
  for (const sa of await c.listSas()) {
    if (sa.uniqueId) await c.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
  }
}
