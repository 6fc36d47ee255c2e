// Integration: the BTNS fallback between two real charons (test/support/lab.ts) for names that have
// no IPSECKEY. The Peer comes from the policy's decide() (level opportunistic, no key), the engines
// install it: tofu-cert learns each side's self-signed cert on first contact and pins it; ping then
// crosses only as ESP; both engines report the peer as NOT authenticated; a changed cert is refused.
// Then the well-known PSK method between the same hosts.
import assert from 'node:assert/strict';
import { type KeyObject } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCert, pemToDer } from '../../src/ike-bridge/cert';
import { ensureHostCert, TofuCerts } from '../../src/ike-bridge/fallback';
import { generateHostKey } from '../../src/ike-bridge/identity';
import { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { PinStore } from '../../src/ike-bridge/tofu';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { EngineError } from '../../src/util/errors';
import pino from 'pino';
import type { Logger } from '../../src/util/log';
import { silentLogger } from '../../src/util/log';
import { type Lab, labUnavailable, labUp, watchWire } from '../support/lab';
import { fallbackPeer } from '../support/engine-lab';

const now = (): number => Math.floor(Date.now() / 1000);

/** A logger that keeps its error lines (the loud TOFU warnings). */
function capture(): { log: Logger; errors: string[] } {
  const errors: string[] = [];
  const log = pino(
    { level: 'error' },
    {
      write: (line: string) => {
        errors.push(String(JSON.parse(line).msg));
      },
    },
  );
  return { log, errors };
}

async function terminateAll(c: ViciClient): Promise<void> {
  for (const sa of await c.listSas()) if (sa.uniqueId) await c.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
}

describe('fallback lab: unauthenticated IPsec between hosts without IPSECKEY', function () {
  let lab: Lab | undefined;
  const engines: StrongswanEngine[] = [];
  let rawA: ViciClient;
  let rawB: ViciClient;
  let keyA: KeyObject;
  let keyB: KeyObject;
  let pinsA: PinStore;
  let pinsB: PinStore;
  let certB = '';
  const logA = capture();

  const engine = (host: 'a' | 'b', key: KeyObject, tofu?: TofuCerts): StrongswanEngine => {
    const e = new StrongswanEngine({
      socketPath: lab![host].vici,
      identity: { id: `${host}.oe.test`, privateKey: key },
      initiateTimeoutMs: 8000,
      tofu,
    });
    engines.push(e);
    return e;
  };

  before(async function () {
    const why = labUnavailable();
    if (why) {
      console.log(`    skipping the fallback lab: ${why}`);
      this.skip();
    }
    lab = await labUp();
    keyA = generateHostKey('rsa', 2048);
    keyB = generateHostKey('ed25519');
    pinsA = new PinStore(join(lab.dir, 'a', 'pins.json'));
    pinsB = new PinStore(join(lab.dir, 'b', 'pins.json'));
    certB = ensureHostCert(join(lab.dir, 'b', 'host.cert.pem'), keyB, 'b.oe.test', now());
    rawA = new ViciClient({ socketPath: lab.a.vici });
    rawB = new ViciClient({ socketPath: lab.b.vici });
  });

  after(async () => {
    await Promise.all([...engines.map((e) => e.close()), rawA?.close(), rawB?.close()]);
    if (lab && process.env.OEDNS_LAB_KEEP_LOGS)
      for (const h of ['a', 'b']) copyFileSync(join(lab.dir, h, 'charon.log'), join(process.env.OEDNS_LAB_KEEP_LOGS, `fallback-${h}.log`));
    await lab?.down();
  });

  const ping = async (): Promise<number> => (await lab!.exec(lab!.a, ['ping', '-c', '3', '-i', '0.2', '-W', '1', lab!.b.addr])).code;

  async function pingIsEspOnly(): Promise<void> {
    const { wire } = await watchWire(lab!, async () => assert.equal(await ping(), 0, 'ping A -> B failed'));
    assert.equal(wire.clearIcmp, 0, `cleartext ICMP seen on the wire:\n${wire.text}`);
    assert.ok(wire.esp >= 6, `expected >= 6 ESP packets:\n${wire.text}`);
  }

  let A: StrongswanEngine;
  let B: StrongswanEngine;

  it('tofu-cert: first contact learns and pins both certs, the SA comes up, both sides say NOT authenticated', async () => {
    const fpB = parseCert(pemToDer(certB)).fingerprint;
    // A accepts only B's fingerprint (the allow-list); B accepts any key on first use.
    const tofuA = new TofuCerts(
      ensureHostCert(join(lab!.dir, 'a', 'host.cert.pem'), keyA, 'a.oe.test', now()),
      pinsA,
      { anyKey: false, trustedFingerprints: [fpB] },
      logA.log,
    );
    const tofuB = new TofuCerts(certB, pinsB, { anyKey: true, trustedFingerprints: [] }, silentLogger);
    A = engine('a', keyA, tofuA);
    B = engine('b', keyB, tofuB);
    await A.start();
    await B.start();
    const policyA = `default: opportunistic\nfallback: { method: tofu-cert, trusted-fingerprints: ["${fpB}"] }\n`;
    const policyB = 'default: opportunistic\nfallback: { method: tofu-cert, any-key: true }\n';
    await B.install(fallbackPeer(policyB, 'a.oe.test', lab!.a.addr, false));
    await A.install(fallbackPeer(policyA, 'b.oe.test', lab!.b.addr, true));
    assert.equal(pinsA.get('b.oe.test')?.fingerprint, fpB);
    assert.equal(pinsA.get('b.oe.test')?.source, 'trusted-fingerprint');
    assert.equal(pinsB.get('a.oe.test')?.source, 'any-key');
    for (const [e, name] of [
      [A, 'b.oe.test'],
      [B, 'a.oe.test'],
    ] as const) {
      const l = await e.list();
      assert.deepEqual(
        l.map((p) => [p.name, p.authenticated, p.ikeState, p.childState]),
        [[name, false, 'ESTABLISHED', 'INSTALLED']],
      );
    }
    // A fresh engine adopting the conns (as after an oedns restart) must not call them authenticated.
    const adopted = await engine('a', keyA).list();
    assert.deepEqual(
      adopted.map((p) => [p.name, p.authenticated]),
      [['b.oe.test', false]],
    );
  });

  it('tofu-cert: ping crosses the veth only as ESP', pingIsEspOnly);

  it('tofu-cert: a changed certificate for a pinned peer is refused, with a loud warning', async () => {
    await terminateAll(rawA);
    await terminateAll(rawB);
    await B.close();
    // B gets a new key and cert for the same name (a re-installed host, or an attacker).
    const newKey = generateHostKey('rsa', 2048);
    const newCert = ensureHostCert(join(lab!.dir, 'b', 'new.cert.pem'), newKey, 'b.oe.test', now());
    B = engine('b', newKey, new TofuCerts(newCert, pinsB, { anyKey: true, trustedFingerprints: [] }, silentLogger));
    await B.install(fallbackPeer('default: opportunistic\nfallback: { any-key: true }\n', 'a.oe.test', lab!.a.addr, false));
    const before = pinsA.get('b.oe.test')!.fingerprint;
    await assert.rejects(A.initiate('b.oe.test'), (e: unknown) => e instanceof EngineError && e.code === 'ike-auth-failed');
    assert.equal(pinsA.get('b.oe.test')!.fingerprint, before, 'the pin must not move');
    assert.ok(
      logA.errors.some((m) => m.includes('CERTIFICATE OF b.oe.test HAS CHANGED') && m.includes('Refused')),
      `no loud warning: ${logA.errors.join(' | ')}`,
    );
    await B.remove('a.oe.test');
    await A.remove('b.oe.test');
  });

  it('wellknown-psk: the SA comes up between strangers, ESP only, reported NOT authenticated', async () => {
    const pol = 'default: opportunistic\nfallback: { method: wellknown-psk, any-key: true }\n';
    await B.install(fallbackPeer(pol, 'a.oe.test', lab!.a.addr, false));
    await A.install(fallbackPeer(pol, 'b.oe.test', lab!.b.addr, true));
    const l = await A.list();
    assert.deepEqual(
      l.map((p) => [p.name, p.authenticated, p.ikeState, p.childState]),
      [['b.oe.test', false, 'ESTABLISHED', 'INSTALLED']],
    );
    await pingIsEspOnly();
  });
});
