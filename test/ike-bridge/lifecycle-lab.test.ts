// Integration: the strongswan engine's lifecycle against two real charons (scripts/lab.sh). Proves
// that a drop shunt stops packets with kernel-libipsec (tcpdump on the veth), that a key rollover
// ends the IKE SA of the old key, that the engine leaves credentials it did not load alone (a
// swanctl-managed VPN with its own key, certificate and PSK on the same charon), and that after
// `swanctl --load-all` / `--load-creds --clear` our peers are back within a stated bound.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelfSignedCert } from '../../src/ike-bridge/cert';
import type { Peer } from '../../src/ike-bridge/engine';
import { privateKeyPemForCharon } from '../../src/ike-bridge/keys';
import { type RestoreReport, StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { list } from '../../src/ike-bridge/vici-codec';
import { PeerSync } from '../../src/peers';
import { type Lab, type LabHost, labUnavailable, labUp, watchWire } from '../support/lab';
import { until } from '../support/wait';
import { enginePairUp, labPeer, swanctl } from '../support/engine-lab';

/**
 * A VPN someone manages with swanctl on host A, unrelated to oedns: its own private key, a
 * certificate, a PSK and a conn towards 198.51.100.1 (TEST-NET-2: no packet is ever sent there).
 */
function writeForeignVpn(host: LabHost): void {
  const d = join(host.dir, 'swanctl');
  for (const sub of ['private', 'x509']) mkdirSync(join(d, sub), { recursive: true });
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  writeFileSync(join(d, 'private', 'corp.pem'), privateKeyPemForCharon(key));
  writeFileSync(
    join(d, 'x509', 'corp.pem'),
    createSelfSignedCert('me.corp.test', key, { now: Math.floor(Date.now() / 1000), serial: randomBytes(12) }),
  );
  writeFileSync(
    join(d, 'swanctl.conf'),
    [
      'connections {',
      '  corp {',
      '    remote_addrs = 198.51.100.1',
      '    local {',
      '      auth = pubkey',
      '      certs = corp.pem',
      '    }',
      '    remote {',
      '      auth = psk',
      '      id = vpn.corp.test',
      '    }',
      '    children {',
      '      corp {',
      '        remote_ts = 198.51.100.0/24',
      '      }',
      '    }',
      '  }',
      '}',
      'secrets {',
      '  ike-corp {',
      '    id = vpn.corp.test',
      '    secret = "corp secret"',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
}

describe('strongswan engine lifecycle in the lab: shunts, rollover, foreign credentials and reloads', function () {
  this.timeout(120_000);
  let lab: Lab | undefined;
  let A: StrongswanEngine;
  let B: StrongswanEngine;
  let rawA: ViciClient;
  let certsA: ViciClient;
  let ka: KeyObject;
  let kb: KeyObject;
  const seedB = randomBytes(32);
  const peerB = (over: Partial<Peer> = {}): Peer => labPeer('b.oe.test', lab!.b.addr, kb, true, over);

  before(async function () {
    const why = labUnavailable();
    if (why) {
      console.log(`    skipping the engine lifecycle lab: ${why}`);
      this.skip();
    }
    lab = await labUp();
    // A checks for foreign reloads every second here (default 10 s), so the periodic path is tested too.
    ({ A, B, ka, kb } = await enginePairUp(
      lab,
      { initiateTimeoutMs: 8000, checkIntervalMs: 1000 },
      { initiateTimeoutMs: 8000, trustSeed: seedB },
    ));
    rawA = new ViciClient({ socketPath: lab.a.vici });
    certsA = new ViciClient({ socketPath: lab.a.vici, binary: true });
  });

  after(async () => {
    await Promise.all([A?.close(), B?.close(), rawA?.close(), certsA?.close()]);
    await lab?.down();
  });

  const ping = async (): Promise<{ code: number; esp: number; clear: number; text: string }> => {
    const { wire, result } = await watchWire(lab!, () => lab!.exec(lab!.a, ['ping', '-c', '3', '-i', '0.2', '-W', '1', lab!.b.addr]));
    return { code: result.code, esp: wire.esp, clear: wire.clearIcmp, text: wire.text };
  };
  const ourConns = async (): Promise<string[]> => (await rawA.getConns()).filter((c) => c.startsWith('oe-') || c.startsWith('oedns-'));

  it('a drop shunt stops every packet to the address (kernel-libipsec), and ends cleanly', async () => {
    await A.install(peerB());
    let p = await ping();
    assert.equal(p.code, 0, p.text);
    assert.ok(p.esp >= 6 && p.clear === 0, p.text);
    // What PeerSync does when a private peer goes: the shunt first, then the conn.
    await A.setShunt('b.oe.test', [lab!.b.addr]);
    await A.remove('b.oe.test');
    p = await ping();
    assert.notEqual(p.code, 0, 'the ping must not get through');
    assert.equal(p.clear, 0, `clear ICMP left the host:\n${p.text}`);
    assert.equal(p.esp, 0, p.text);
    const listed = await A.list();
    assert.deepEqual(
      listed.map((x) => [x.name, x.shunt, x.addresses]),
      [['b.oe.test', true, [lab!.b.addr]]],
    );
    // The next lookup: the conn comes back, then the shunt goes; traffic is ESP again.
    await A.install(peerB());
    await A.setShunt('b.oe.test', []);
    p = await ping();
    assert.equal(p.code, 0, p.text);
    assert.ok(p.esp >= 6 && p.clear === 0, p.text);
    assert.deepEqual((await ourConns()).sort(), ['oe-b.oe.test', 'oedns-self']);
  });

  it('control: without a shunt, the same ping leaves the host in clear', async () => {
    await A.remove('b.oe.test');
    const p = await ping();
    assert.ok(p.clear > 0, 'expected clear ICMP with no policy at all');
    await A.install(peerB());
  });

  it('a key rollover through PeerSync ends the IKE SA authenticated with the old key', async () => {
    const sync = new PeerSync({ engine: A });
    try {
      await sync.upsert(peerB());
      const before = (await rawA.listSas()).filter((s) => s.name === 'oe-b.oe.test' && s.state === 'ESTABLISHED').map((s) => s.uniqueId);
      assert.equal(before.length, 1, 'one SA with the old key');
      // Bob rolls his key: his charon signs with the new one, DNS publishes it, A learns it.
      const kb2 = generateKeyPairSync('ed25519').privateKey;
      await B.close();
      // Same trust seed (kept next to the host key across the rollover): the new B can retire what the old one vouched for.
      B = new StrongswanEngine({
        socketPath: lab!.b.vici,
        identity: { id: 'b.oe.test', privateKey: kb2 },
        initiateTimeoutMs: 8000,
        trustSeed: seedB,
      });
      await B.start();
      await B.install(labPeer('a.oe.test', lab!.a.addr, ka, false));
      const rawB = new ViciClient({ socketPath: lab!.b.vici });
      try {
        // Bob's charon holds only his new key: the old one was his own identity's, so it went.
        assert.equal((await rawB.getKeys()).length, 1);
      } finally {
        await rawB.close();
      }
      kb = kb2;
      await sync.upsert(peerB());
      assert.equal(sync.stats().rolledSas, 1);
      const after = (await rawA.listSas()).filter((s) => s.name === 'oe-b.oe.test');
      assert.ok(
        after.every((s) => !before.includes(s.uniqueId)),
        `the old SA ${before[0]} is still there`,
      );
      assert.equal(after.filter((s) => s.state === 'ESTABLISHED').length, 1, 'a new SA, authenticated with the new key');
      const p = await ping();
      assert.equal(p.code, 0, p.text);
      assert.equal(p.clear, 0, p.text);
    } finally {
      await sync.close();
    }
  });

  it('`swanctl --load-all` of an unrelated VPN: its credentials stay intact through our installs and removals, and our peers are back within 1 s', async () => {
    writeForeignVpn(lab!.a);
    const restored: RestoreReport[] = [];
    A.events.on('restored', (r: RestoreReport) => restored.push(r));
    const t0 = Date.now();
    const r = await swanctl(lab!.a, ['--load-all']);
    assert.equal(r.code, 0, r.out);
    // swanctl unloaded every conn it does not know, ours included.
    await until(
      'our conns are back',
      async () => (await ourConns()).includes('oe-b.oe.test') && (await ourConns()).includes('oedns-self'),
      5000,
      20,
    );
    const back = Date.now() - t0;
    assert.ok(back < 1000, `took ${back} ms`);
    // Noticed through charon's log ("added vici connection: corp"), not by waiting for the timer.
    await until('the restore is reported', () => restored.length > 0, 2000, 20);
    assert.equal(restored[0]!.trigger, 'event', JSON.stringify(restored));
    const foreign = async (): Promise<{ keys: number; shared: string[]; certs: string[]; conn: boolean }> => ({
      keys: (await rawA.getKeys()).length,
      shared: list(await rawA.request('get-shared'), 'keys'),
      certs: (await certsA.listCerts({ type: 'X509' }))
        .map((e) => new X509Certificate(e.get('data') as Buffer).subject)
        .filter((s) => s.includes('corp')),
      conn: (await rawA.getConns()).includes('corp'),
    });
    const start = await foreign();
    assert.equal(start.keys, 2, "our key and the VPN's");
    assert.ok(start.shared.includes('ike-corp'), JSON.stringify(start.shared));
    assert.equal(start.certs.length, 1);
    assert.ok(start.conn);
    // Install, remove (which ends the trust in a key), key change, identity reload: nothing of the VPN's goes.
    await A.install(labPeer('c.oe.test', '192.0.2.77', generateKeyPairSync('ed25519').privateKey, false));
    await A.install(labPeer('c.oe.test', '192.0.2.77', generateKeyPairSync('ed25519').privateKey, false));
    await A.remove('c.oe.test');
    assert.deepEqual(await foreign(), start);
    let p = await ping();
    assert.equal(p.code, 0, p.text);
    assert.equal(p.clear, 0, p.text);
    // A second load-all (the VPN's admin reloads again): same story.
    await swanctl(lab!.a, ['--load-all']);
    await until('our conns are back again', async () => (await ourConns()).includes('oe-b.oe.test'), 5000, 20);
    assert.deepEqual(await foreign(), start);
    p = await ping();
    assert.equal(p.code, 0, p.text);
  });

  it('a conn of ours unloaded without any log line is back within the check interval (1 s here)', async () => {
    await rawA.unloadConn('oe-b.oe.test');
    const t0 = Date.now();
    await until('oe-b.oe.test is back', async () => (await ourConns()).includes('oe-b.oe.test'), 5000, 50);
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
  });

  it('`swanctl --load-creds --clear` (clear-creds by someone else): our key and trust come back and traffic is ESP again', async () => {
    const r = await swanctl(lab!.a, ['--load-creds', '--clear']);
    assert.equal(r.code, 0, r.out);
    await until('A restored its credentials', async () => (await rawA.getKeys()).length === 2, 5000, 50);
    // A new IKE_SA must authenticate B again: that needs our trust back, not just the old SA.
    for (const sa of await rawA.listSas()) if (sa.uniqueId) await rawA.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
    await A.initiate('b.oe.test');
    const p = await ping();
    assert.equal(p.code, 0, p.text);
    assert.ok(p.esp >= 6 && p.clear === 0, p.text);
  });

  it('our removal still ends the trust in the removed key after all this (no clear-creds needed)', async () => {
    // B drops A: a catch-all without keys of its own would accept whoever charon still trusts.
    await B.remove('a.oe.test');
    const rawB = new ViciClient({ socketPath: lab!.b.vici });
    try {
      await rawB.loadConn('probe', {
        version: 2,
        remote_addrs: ['%any'],
        proposals: ['aes128-sha256-x25519'],
        local: { auth: 'pubkey', id: 'b.oe.test' },
        remote: { auth: 'pubkey', id: '%any' },
        children: { probe: { mode: 'tunnel', local_ts: ['dynamic'], remote_ts: ['dynamic'], esp_proposals: ['aes128-sha256'] } },
      });
      for (const sa of await rawA.listSas()) if (sa.uniqueId) await rawA.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
      await assert.rejects(A.initiate('b.oe.test'), (e: Error & { code?: string }) => e.code === 'ike-auth-failed');
      await rawB.unloadConn('probe');
    } finally {
      await rawB.close();
    }
  });
});
