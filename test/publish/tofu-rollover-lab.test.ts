// `oedns key activate` on a host that also talks BTNS (tofu-cert fallback) to peers without IPSECKEY:
// two real charons in the lab, each engine built by engineFromConfig (as serve and autosp build it, with
// the key watcher). B's key file is replaced the way activation does it (rename over host.key.pem).
// B's tofu-cert conns must then present a certificate of the new key (charon holds only the new
// private key), so both A -> B and B -> A SAs come up again without a restart; A, which pinned B's old
// certificate, sees the change loudly and (any-key) re-pins.
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { engineFromConfig } from '../../src/daemon/engine-config';
import type { Engine } from '../../src/ike-bridge/engine';
import { parseCert, pemToDer } from '../../src/ike-bridge/cert';
import { generateHostKey, writeHostKey } from '../../src/ike-bridge/identity';
import { privateKeyPemForCharon } from '../../src/ike-bridge/keys';
import type { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import type { Logger } from '../../src/util/log';
import { type Lab, labUnavailable, labUp } from '../support/lab';
import { fallbackPeer } from '../support/engine-lab';
import { until } from '../support/wait';

const POLICY = 'default: opportunistic\nfallback: { method: tofu-cert, any-key: true }\n';

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(String(JSON.parse(line).msg)) });
  return { log, lines };
}

const spki = (k: KeyObject): string =>
  (k.type === 'public' ? k : createPublicKey(k)).export({ type: 'spki', format: 'der' }).toString('base64');

describe('key activate with tofu-cert (BTNS) peers: the certificate follows the new key', function () {
  this.timeout(120_000);
  let lab: Lab | undefined;
  const engines: Engine[] = [];
  const logs = { a: capture(), b: capture() };
  let A: Engine;
  let B: Engine;

  before(async function () {
    const why = labUnavailable();
    if (why) {
      console.log(`    skipping: ${why}`);
      this.skip();
    }
    lab = await labUp();
    for (const h of ['a', 'b'] as const) {
      writeHostKey(join(lab.dir, h, 'keys'), generateHostKey('ed25519'));
      const e = await engineFromConfig(
        { kind: 'strongswan', vici: lab[h].vici, identity: `${h}.oe.test`, key: join(lab.dir, h, 'keys', 'host.key.pem'), initiate: false },
        logs[h].log,
        { anyKey: true, trustedFingerprints: [], method: 'tofu-cert' },
      );
      engines.push(e);
    }
    [A, B] = [engines[0]!, engines[1]!];
  });

  after(async () => {
    await Promise.all(engines.map((e) => e.close().catch(() => undefined)));
    await lab?.down();
  });

  async function terminateAll(): Promise<void> {
    for (const h of ['a', 'b'] as const) {
      const c = new ViciClient({ socketPath: lab![h].vici });
      try {
        for (const sa of await c.listSas()) if (sa.uniqueId) await c.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
      } finally {
        await c.close();
      }
    }
  }

  const state = async (e: Engine, peer: string): Promise<unknown[][]> =>
    (await e.list()).filter((p) => p.name === peer).map((p) => [p.authenticated, p.ikeState, p.childState]);
  /**
   * Initiates until the SA is up, at most 5 tries: a tofu-cert first contact (or a changed cert) takes
   * up to three IKE exchanges while each side learns the other's certificate, and the two engines'
   * reloads can cross one more. Without a certificate of the key charon holds, no try can succeed.
   */
  async function bringUp(e: Engine, peer: string): Promise<void> {
    const errors: string[] = [];
    for (let i = 0; i < 5; i++) {
      await (e as StrongswanEngine).initiate(peer).catch((err: Error) => errors.push(err.message));
      await new Promise((r) => setTimeout(r, 300));
      const got = await state(e, peer);
      if (got.length === 1 && got[0]![1] === 'ESTABLISHED' && got[0]![2] === 'INSTALLED') break;
    }
    assert.deepEqual(await state(e, peer), [[false, 'ESTABLISHED', 'INSTALLED']], `no SA with ${peer}: ${errors.join(' | ')}`);
  }

  it('before the roll: first contact pins both certificates and the SA comes up', async () => {
    await B.install(fallbackPeer(POLICY, 'a.oe.test', lab!.a.addr, false));
    await A.install(fallbackPeer(POLICY, 'b.oe.test', lab!.b.addr, false));
    await bringUp(A, 'b.oe.test');
  });

  it('after B activates a new key (renamed over host.key.pem), A -> B and B -> A come up again without a restart', async () => {
    const keys = join(lab!.dir, 'b', 'keys');
    const next = generateHostKey('ed25519');
    writeFileSync(join(keys, 'host.next.key.pem'), privateKeyPemForCharon(next), { mode: 0o600 });
    renameSync(join(keys, 'host.next.key.pem'), join(keys, 'host.key.pem'));
    await until('B signs with the new key', async () => logs.b.lines.some((m) => m.includes('our key changed on disk')), 10_000);
    await terminateAll();
    await bringUp(A, 'b.oe.test');
    assert.ok(
      logs.a.lines.some((m) => m.includes('CERTIFICATE OF b.oe.test HAS CHANGED')),
      "A warns loudly that B's certificate changed",
    );
    await terminateAll();
    await bringUp(B, 'a.oe.test');
    // B's certificate on disk is now one of the new key (a restart presents the same one).
    const cert = parseCert(pemToDer(readFileSync(join(keys, 'host.cert.pem'), 'utf8')));
    assert.equal(spki(cert.publicKey), spki(next));
  });
});
