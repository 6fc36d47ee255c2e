// IKE queries DNS, end to end in the two-host lab (test/support/oe-lab.ts). Bob runs `oedns serve` with
// the responder; alice (a strongswan engine holding bob, found in DNS beforehand) initiates. Bob has
// never heard of alice: his catch-all refuses her, oedns looks alice.oe.test up in the signed zone,
// installs her key and initiates back, and the SA comes up; ping then crosses only as ESP. With an
// allow-list that does not name alice, nothing is looked up and nothing is installed at bob.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Peer, PeerKey } from '../../src/ike-bridge/engine';
import { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { type UpdownEvent, ViciClient } from '../../src/ike-bridge/vici-client';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { charonKeyType, ipseckeyToSpkiPem, privateKeyPemForCharon } from '../../src/ike-bridge/keys';
import { SELF_CONN, selfConn } from '../../src/ike-bridge/peer-config';
import type { UnknownInitiator } from '../../src/responder/events';
import { CATCHALL_CONN, DEFAULT_IKE_PROPOSALS, StrongswanCatchAll } from '../../src/responder/strongswan-catchall';
import { EngineError } from '../../src/util/errors';
import { type HostKey, type OeLab, oeLabUnavailable, oeLabUp } from '../support/oe-lab';
import { watchWire } from '../support/lab';
import { type OednsHost, startOednsOn } from '../support/oe-hosts';
import { until } from '../support/wait';

/** The key as bob's IPSECKEY record publishes it (`10 0 2 . <base64>`). */
function keyOf(h: HostKey): PeerKey {
  const f = h.rdata.split(/\s+/);
  return { precedence: Number(f[0]), algorithm: Number(f[2]), publicKey: Buffer.from(f[4]!, 'base64') };
}

describe('responder lab: IKE queries DNS at bob (strongswan, DNSSEC)', function () {
  this.timeout(60_000);
  let oe: OeLab | undefined;
  let alice: StrongswanEngine | undefined;
  let rawA: ViciClient;
  let rawB: ViciClient;
  let bob: OednsHost | undefined;
  let bobPeer: Peer;

  before(async function () {
    const why = process.env.OEDNS_SKIP_INTEGRATION === '1' ? 'OEDNS_SKIP_INTEGRATION=1' : oeLabUnavailable();
    if (why) {
      console.log(`    skipping the responder lab: ${why}`);
      this.skip();
    }
    oe = await oeLabUp();
    rawA = new ViciClient({ socketPath: oe.lab.a.vici, events: ['ike-updown'] });
    rawB = new ViciClient({ socketPath: oe.lab.b.vici });
    await rawA.connect();
    alice = new StrongswanEngine({
      socketPath: oe.lab.a.vici,
      identity: { id: oe.names.a, privateKey: readFileSync(oe.keys.a.privateKeyFile, 'utf8') },
      trap: false,
    });
    bobPeer = {
      name: oe.names.b,
      addresses: [oe.lab.b.addr],
      auth: { kind: 'pubkey', keys: [keyOf(oe.keys.b)] },
      gateway: { kind: 'none' },
      level: 'private',
      expiresAt: 0,
      owner: 'autosp',
      initiate: false,
    };
  });

  afterEach(async () => {
    await bob?.stop();
    bob = undefined;
    await alice?.remove(oe!.names.b).catch(() => undefined);
  });

  after(async () => {
    await alice?.close();
    await Promise.all([rawA?.close(), rawB?.close()]);
    await oe?.down();
  });

  /** Alice installs bob and initiates once; returns when her initiate has answered (it fails: bob refuses). */
  async function aliceKnocks(): Promise<{ t0: number; refused: boolean }> {
    await alice!.install(bobPeer);
    const t0 = Date.now();
    let refused = false;
    try {
      await alice!.initiate(oe!.names.b);
    } catch (e) {
      assert.ok(e instanceof EngineError && e.code === 'ike-auth-failed', String(e));
      refused = true;
    }
    return { t0, refused };
  }

  async function espAliceToBob(): Promise<void> {
    const lab = oe!.lab;
    const { wire } = await watchWire(lab, async () => {
      const ab = await lab.exec(lab.a, ['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.b.addr]);
      assert.equal(ab.code, 0, `ping alice -> bob failed: ${ab.stdout}`);
    });
    assert.equal(wire.clearIcmp, 0, `cleartext ICMP on the wire:\n${wire.text}`);
    assert.ok(wire.esp >= 4, `expected >= 4 ESP packets (2 pings, request + reply):\n${wire.text}`);
  }

  it('the catch-all refuses alice even while charon still trusts her key (stale from an unloaded conn, and after clear-creds)', async () => {
    const hook = new StrongswanCatchAll({ socketPath: oe!.lab.b.vici, localId: oe!.names.b });
    const seen: UnknownInitiator[] = [];
    hook.events.on('initiator', (i: UnknownInitiator) => seen.push(i));
    try {
      await hook.start();
      // Bob can sign (his key loaded and bound to his id, as his engine does), so nothing but the
      // catch-all's own check can refuse alice.
      const bobKey = createPrivateKey(readFileSync(oe!.keys.b.privateKeyFile, 'utf8'));
      await rawB.loadKey(charonKeyType(bobKey), privateKeyPemForCharon(bobKey));
      const self = {
        local: { id: oe!.names.b, publicKeyPem: createPublicKey(bobKey).export({ type: 'spki', format: 'pem' }).toString() },
        ikeProposals: DEFAULT_IKE_PROPOSALS,
        espProposals: ['aes128-sha256'],
        startAction: 'none' as const,
      };
      await rawB.loadConn(SELF_CONN, selfConn(self));
      // The pitfall: a conn's pubkeys stay trusted (bound to its remote id) after unload-conn.
      const k = keyOf(oe!.keys.a);
      await rawB.loadConn('stale', {
        version: 2,
        remote_addrs: ['198.51.100.1'],
        proposals: DEFAULT_IKE_PROPOSALS,
        local: { auth: 'pubkey', id: oe!.names.b },
        remote: { auth: 'pubkey', id: oe!.names.a, pubkeys: [ipseckeyToSpkiPem(k.algorithm, k.publicKey)] },
      });
      await rawB.unloadConn('stale');
      assert.ok((await aliceKnocks()).refused, 'refused although bob trusts her key');
      await until('the hook reported alice', async () => seen.length === 1);
      assert.deepEqual([seen[0]!.identity, seen[0]!.address], [oe!.names.a, oe!.lab.a.addr]);
      // clear-creds (what the engine does on a removal) drops the dummy key from the trusted set too.
      await rawB.clearCreds();
      await rawB.loadKey(charonKeyType(bobKey), privateKeyPemForCharon(bobKey));
      await rawB.loadConn(SELF_CONN, selfConn(self));
      await alice!.remove(oe!.names.b);
      assert.ok((await aliceKnocks()).refused, 'refused after clear-creds');
      await until('the hook reported alice again', async () => seen.length === 2);
      assert.deepEqual(
        (await rawB.listSas()).filter((s) => s.state === 'ESTABLISHED'),
        [],
      );
    } finally {
      await hook.close();
      await rawB.unloadConn(SELF_CONN).catch(() => undefined);
      await rawB.clearCreds().catch(() => undefined);
    }
    assert.ok(!(await rawB.getConns()).includes(CATCHALL_CONN), 'close() unloads the catch-all');
  });

  it('alice on the allow-list: bob looks her up, installs her key and initiates back; ESP crosses', async () => {
    bob = await startOednsOn(oe!, 'b', { extraArgs: ['--responder-allow', oe!.names.a] });
    assert.ok((await rawB.getConns()).includes(CATCHALL_CONN), 'bob loaded the catch-all');
    let upAt = 0;
    const onUp = (e: UpdownEvent): void => {
      if (e.up && !upAt && e.sas.some((s) => s.name === `oe-${oe!.names.b}`)) upAt = Date.now();
    };
    rawA.on('ike-updown', onUp);
    try {
      const { t0, refused } = await aliceKnocks();
      assert.ok(refused, 'the first contact is refused by bob (he did not know alice yet)');
      await until('the SA bob initiated back is up at alice', async () => upAt > 0);
      console.log(`    first contact: alice's initiate -> SA up at alice in ${upAt - t0} ms (DNS lookup and validation included)`);
    } finally {
      rawA.off('ike-updown', onUp);
    }
    const conns = await rawB.getConns();
    assert.ok(conns.includes(`oe-${oe!.names.a}`), `bob installed alice: ${conns.join(', ')}`);
    const sa = (await rawB.listSas()).find((s) => s.name === `oe-${oe!.names.a}` && s.state === 'ESTABLISHED');
    assert.ok(sa, 'bob holds an established SA with alice');
    assert.equal(sa.remoteId, oe!.names.a);
    const st = await bob.cli(['status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout) as {
      peers: Array<{ name: string; owners: string[]; addresses: string[]; authenticated: boolean }>;
      counters: Record<string, number>;
    };
    assert.deepEqual(
      status.peers.map((p) => [p.name, p.owners, p.addresses, p.authenticated]),
      [[oe!.names.a, ['responder'], [oe!.lab.a.addr], true]],
    );
    assert.equal(status.counters['responder: installed'], 1);
    await espAliceToBob();
  });

  it("bob's charon restarts: the catch-all is loaded again and a first contact still works", async () => {
    bob = await startOednsOn(oe!, 'b', { extraArgs: ['--responder-allow', oe!.names.a] });
    await oe!.lab.restart('b');
    await until(
      'the catch-all is back in the new charon',
      async () => (await rawB.getConns().catch((): string[] => [])).includes(CATCHALL_CONN),
      15_000,
    );
    const { refused } = await aliceKnocks();
    assert.ok(refused);
    await until('bob initiated back to alice', async () =>
      (await rawA.listSas()).some((s) => s.name === `oe-${oe!.names.b}` && s.state === 'ESTABLISHED'),
    ).catch((e) => assert.fail(`${e}\n${bob!.log().slice(-3000)}`));
  });

  it('alice not on the allow-list: refused, nothing looked up, nothing installed at bob', async () => {
    bob = await startOednsOn(oe!, 'b', { extraArgs: ['--responder-allow', '.elsewhere.test'] });
    await notAllowed(bob).catch((e: Error) => assert.fail(`${e.stack}\n--- bob's log ---\n${bob!.log().slice(-4000)}`));
  });

  async function notAllowed(host: OednsHost): Promise<void> {
    // The previous test's peer is gone: bob's daemon started from an empty registry and reconciled.
    assert.deepEqual(
      (await rawB.getConns()).filter((c) => c.startsWith('oe-')),
      [],
    );
    const { refused } = await aliceKnocks();
    assert.ok(refused);
    await until('bob logged the refusal', async () => /"outcome":"not-allowed"/.test(host.log()));
    assert.match(host.log(), /alice\.oe\.test is not on the responder allow-list/);
    // Give a wrongly started lookup time to show up before looking for its effects.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      (await rawB.getConns()).filter((c) => c.startsWith('oe-')),
      [],
    );
    assert.deepEqual(
      (await rawB.listSas()).filter((s) => s.state === 'ESTABLISHED'),
      [],
    );
    const status = JSON.parse((await host.cli(['status', '--json'])).stdout) as { peers: unknown[]; counters: Record<string, number> };
    assert.deepEqual(status.peers, []);
    assert.equal(status.counters['responder: not-allowed'], 1);
    assert.equal(status.counters['responder: lookups'], 0);
  }
});
