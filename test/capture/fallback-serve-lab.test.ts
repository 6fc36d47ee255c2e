// The BTNS fallback through `oedns serve`, as a user runs it: two lab hosts whose names are signed but
// publish no IPSECKEY, policy `opportunistic` with the fallback allowed (any-key: TOFU certificates).
// A ping by name still crosses only as ESP, and `oedns status` says the peer is encrypted but NOT
// authenticated.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DaemonStatus } from '../../src/control/status';
import { type OeLab, oeLabUnavailable, oeLabUp } from '../support/oe-lab';
import { type OednsHost, startOednsOn } from '../support/oe-hosts';
import { watchWire } from '../support/lab';

const POLICY = `
default: private-or-clear
fallback: { method: tofu-cert, any-key: true }
rules:
  - { zone: fb.test, level: opportunistic }
`;

describe('BTNS fallback through oedns serve (two-host lab)', function () {
  this.timeout(120_000);
  let oe: OeLab | undefined;
  let A: OednsHost | undefined;
  let B: OednsHost | undefined;
  let dir = '';

  before(async function () {
    const why = oeLabUnavailable();
    if (why) {
      console.log(`    skipping the fallback lab: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'oedns-fallback-'));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY);
    oe = await oeLabUp({ extraZones: [{ name: 'fb.test', records: ['alice A 192.0.2.1', 'bob A 192.0.2.2'] }] });
    B = await startOednsOn(oe, 'b', { policy, extraArgs: ['--identity', 'bob.fb.test'] });
    A = await startOednsOn(oe, 'a', { policy, initiate: true, extraArgs: ['--identity', 'alice.fb.test'] });
    const r = await oe.lab.exec(oe.lab.b, ['getent', 'hosts', 'alice.fb.test']);
    assert.equal(r.code, 0, B.log().slice(-2000));
  });

  after(async () => {
    await A?.stop();
    await B?.stop();
    await oe?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a name without IPSECKEY is still reached only through ESP', async () => {
    const { wire, result: ping } = await watchWire(oe!.lab, () =>
      oe!.lab.exec(oe!.lab.a, ['ping', '-c', '3', '-i', '0.2', '-W', '2', 'bob.fb.test'], 30_000),
    );
    assert.equal(ping.code, 0, `${wire.text}\n${A!.log().slice(-3000)}`);
    assert.ok(wire.esp >= 6, wire.text);
    assert.equal(wire.clearIcmp, 0, wire.text);
  });

  it('oedns status reports the peer as encrypted but not authenticated', async () => {
    const s = JSON.parse((await A!.cli(['status', '--json'])).stdout) as DaemonStatus;
    const bob = s.peers.find((p) => p.name === 'bob.fb.test');
    assert.ok(bob, JSON.stringify(s.peers));
    assert.deepEqual([bob.authenticated, bob.keySource, bob.level], [false, 'unauthenticated', 'opportunistic']);
    assert.equal(bob.childState, 'INSTALLED');
    assert.match((await A!.cli(['status'])).stdout, /bob\.fb\.test .*NO: encrypted, not authenticated/);
  });
});
