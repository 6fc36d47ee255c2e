// Stale trust across oedns restarts, against two real charons (review v11 F7). B's engine vouches for
// A's key; that oedns dies without removing it (crash, kill -9), and a new one starts on the same
// charon and wants nothing yet. A catch-all conn on B (remote %any, no pinned key or CA) stands for
// any foreign conn. A must be refused: after a plain restart (the root CRL retires the old
// generation), after a clock step back (the CRL number goes on from the one charon holds), and when
// the new process has another seed (it cannot revoke the old root: charon's credentials are cleared).
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import type { CharonTrust } from '../../src/ike-bridge/strongswan-trust';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { type Lab, labUnavailable, labUp } from '../support/lab';
import { labPeer } from '../support/engine-lab';

describe('trust left by an earlier oedns ends at the next start, whatever the clock or seed (lab)', function () {
  this.timeout(240_000);
  let lab: Lab | undefined;
  let A: StrongswanEngine | undefined;
  let rawB: ViciClient | undefined;
  const ka = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const kb = generateKeyPairSync('ed25519').privateKey;
  const probe = (): Parameters<ViciClient['loadConn']>[1] => ({
    version: 2,
    remote_addrs: ['%any'],
    proposals: ['aes128-sha256-x25519'],
    local: { auth: 'pubkey', id: 'b.oe.test', pubkeys: [createPublicKey(kb).export({ type: 'spki', format: 'pem' }).toString()] },
    remote: { auth: 'pubkey', id: '%any' },
    children: { probe: { mode: 'tunnel', local_ts: ['dynamic'], remote_ts: ['dynamic'], esp_proposals: ['aes128-sha256'] } },
  });

  before(async function () {
    if (labUnavailable()) return this.skip();
    lab = await labUp();
    rawB = new ViciClient({ socketPath: lab.b.vici });
    A = new StrongswanEngine({
      socketPath: lab.a.vici,
      identity: { id: 'a.oe.test', privateKey: ka },
      initiateTimeoutMs: 5000,
      checkIntervalMs: 0,
    });
    await A.start();
  });
  after(async () => {
    await A?.close();
    await rawB?.close();
    await lab?.down();
  });

  for (const mode of ['restart', 'clockback', 'newseed'] as const) {
    it(`${mode}: A, whose key nobody vouches for any more, is refused by a foreign catch-all conn`, async () => {
      await lab!.restart('b'); // a fresh charon per case
      await A!.remove('b.oe.test').catch(() => undefined);
      await A!.install(labPeer('b.oe.test', lab!.b.addr, kb));
      const seed = randomBytes(32);
      const B1 = new StrongswanEngine({
        socketPath: lab!.b.vici,
        identity: { id: 'b.oe.test', privateKey: kb },
        checkIntervalMs: 0,
        trustSeed: seed,
      });
      await B1.start();
      // Started while the clock was ~1000 s ahead: its CRL numbers are higher than the next process's clock gives.
      if (mode === 'clockback') (B1 as unknown as { trust: CharonTrust }).trust.crlNo += 10n ** 12n;
      await B1.install(labPeer('a.oe.test', lab!.a.addr, ka));
      await A!.initiate('b.oe.test'); // B vouches for A's key: accepted
      for (const sa of await rawB!.listSas()) await rawB!.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
      await B1.close(); // gone without removing a.oe.test
      const B2 = new StrongswanEngine({
        socketPath: lab!.b.vici,
        identity: { id: 'b.oe.test', privateKey: kb },
        checkIntervalMs: 0,
        trustSeed: mode === 'newseed' ? randomBytes(32) : seed,
      });
      try {
        await B2.start();
        await B2.reconcile([], []);
        await rawB!.loadConn('probe', probe());
        await assert.rejects(A!.initiate('b.oe.test'), (e: unknown) => (e as { code?: string }).code === 'ike-auth-failed');
      } finally {
        for (const sa of await rawB!.listSas())
          await rawB!.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true }).catch(() => undefined);
        await rawB!.unloadConn('probe').catch(() => undefined);
        await B2.close();
      }
    });
  }
});
