// Capture mode against the real parts: two hosts in network namespaces, one charon each, named
// serving the signed lab zones, and `oedns serve` as each host's resolver (127.0.0.1:53 inside the
// host). Programs (ping, getent) look names up the normal way. Proves that the first packet to a
// DNSSEC-secure name is ESP, that `private` names without a secure key get no address, that a bogus
// key reaches nothing, that an oedns restart and TTL expiry leave no stale policy, that a key rolled
// in the zone is the one used next, and that a restarted charon gets its policies back.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHostKey, ipseckeyLine } from '../../src/ike-bridge/identity';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import type { DaemonStatus } from '../../src/control/status';
import { hostRecords, type OeLab, oeLabUnavailable, oeLabUp } from '../support/oe-lab';
import { type OednsHost, startOednsOn } from '../support/oe-hosts';
import { watchWire, type Wire } from '../support/lab';
import { until } from '../support/wait';

const POLICY = `
default: private-or-clear
rules:
  - { zone: plain.test, level: private }
`;

function keyRdata(name: string): string {
  return ipseckeyLine(name, generateHostKey('ed25519')).split(/\s+/).slice(3).join(' ');
}

describe('capture mode in the two-host lab (real named, real charons, oedns as the resolver)', function () {
  this.timeout(180_000);
  let oe: OeLab | undefined;
  let A: OednsHost | undefined;
  let B: OednsHost | undefined;
  let vici: ViciClient | undefined;
  let dir: string;
  let policyFile: string;

  const status = async (h: OednsHost): Promise<DaemonStatus> => JSON.parse((await h.cli(['status', '--json'])).stdout) as DaemonStatus;
  const conns = (): Promise<string[]> => vici!.getConns();
  const pingFromA = async (name: string): Promise<{ code: number; wire: Wire }> => {
    const { wire, result } = await watchWire(oe!.lab, () =>
      oe!.lab.exec(oe!.lab.a, ['ping', '-c', '3', '-i', '0.2', '-W', '2', name], 30_000),
    );
    return { code: result.code, wire };
  };

  before(async function () {
    const why = oeLabUnavailable();
    if (why) {
      console.log(`    skipping the capture lab: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'oedns-capture-lab-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, POLICY);
    oe = await oeLabUp({
      oeTtl: 300,
      extraZones: [
        { name: 'plain.test', signer: 'unsigned', records: [`carol A 192.0.2.2`, `carol IPSECKEY ${keyRdata('carol.plain.test')}`] },
        {
          name: 'bad.test',
          records: [`dave A 192.0.2.2`, `dave IPSECKEY ${keyRdata('dave.bad.test')}`],
          tamper: [{ action: 'corrupt-rrsig', name: 'dave.bad.test', type: 'IPSECKEY' }],
        },
      ],
    });
    B = await startOednsOn(oe, 'b', { policy: policyFile });
    A = await startOednsOn(oe, 'a', { policy: policyFile, initiate: true });
    vici = new ViciClient({ socketPath: oe.lab.a.vici });
    // B learns A the same way: a program on B looks A up.
    const r = await oe.lab.exec(oe.lab.b, ['getent', 'hosts', oe.names.a]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await vici?.close();
    await A?.stop();
    await B?.stop();
    await oe?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a ping by name to a DNSSEC-secure peer is ESP from its first packet', async () => {
    const { code, wire } = await pingFromA(oe!.names.b);
    assert.equal(code, 0, wire.text);
    assert.ok(wire.esp >= 6, wire.text);
    assert.equal(wire.clearIcmp, 0, `clear ICMP on the wire:\n${wire.text}`);
    const s = await status(A!);
    const bob = s.peers.find((p) => p.name === oe!.names.b);
    assert.ok(bob, JSON.stringify(s));
    assert.deepEqual([bob.authenticated, bob.keySource, bob.ikeState, bob.childState], [true, 'dnssec-secure', 'ESTABLISHED', 'INSTALLED']);
  });

  it('an unsigned name under `private` gives the program no address and installs nothing', async () => {
    const r = await oe!.lab.exec(oe!.lab.a, ['getent', 'hosts', 'carol.plain.test']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.trim(), '');
    const d = await oe!.lab.exec(oe!.lab.a, ['dig', '+tries=1', '@127.0.0.1', 'carol.plain.test', 'A']);
    assert.match(d.stdout, /status: SERVFAIL/);
    assert.match(d.stdout, /EDE: .*unsigned/);
    assert.ok(!(await conns()).includes('oe-carol.plain.test'));
  });

  it('a bogus IPSECKEY gives SERVFAIL and nothing reaches charon', async () => {
    const d = await oe!.lab.exec(oe!.lab.a, ['dig', '+tries=1', '@127.0.0.1', 'dave.bad.test', 'A']);
    assert.match(d.stdout, /status: SERVFAIL/);
    assert.match(d.stdout, /EDE: 6/);
    assert.ok(!(await conns()).includes('oe-dave.bad.test'));
    assert.ok(!(await status(A!)).peers.some((p) => p.name === 'dave.bad.test'));
  });

  it('after charon restarts, the daemon puts the policy back', async () => {
    await oe!.lab.restart('a');
    await until('oe-bob.oe.test back in the restarted charon', async () =>
      (await conns().catch((): string[] => [])).includes(`oe-${oe!.names.b}`),
    );
    const { code, wire } = await pingFromA(oe!.lab.b.addr);
    assert.equal(code, 0, wire.text);
    assert.equal(wire.clearIcmp, 0, wire.text);
  });

  it('a restarted oedns leaves no stale policy, and a peer is removed when its TTL ends', async () => {
    // Short TTLs from now on; restart oedns on A so nothing is cached.
    await oe!.setOeRecords(hostRecords(oe!.names, oe!.keys, { a: oe!.lab.a.addr, b: oe!.lab.b.addr }, 4));
    await A!.stop();
    A = await startOednsOn(oe!, 'a', { policy: policyFile, initiate: true });
    assert.ok(!(await conns()).includes(`oe-${oe!.names.b}`), 'reconcile at start removed the old policy');
    assert.equal((await pingFromA(oe!.names.b)).code, 0);
    assert.ok((await conns()).includes(`oe-${oe!.names.b}`));
    await until('bob removed after its 4 s TTL', async () => !(await conns()).includes(`oe-${oe!.names.b}`), 15_000);
  });

  it('a key rolled in the zone is the key used next', async () => {
    // Bob rolls his key: the zone publishes the new one, bob's charon signs with it.
    const k2 = oe!.keygen(oe!.names.b, 'b/keys2');
    await oe!.setOeRecords(hostRecords(oe!.names, { a: oe!.keys.a, b: k2 }, { a: oe!.lab.a.addr, b: oe!.lab.b.addr }, 4));
    await B!.stop();
    B = await startOednsOn(oe!, 'b', { policy: policyFile, key: k2.privateKeyFile });
    await oe!.lab.exec(oe!.lab.b, ['getent', 'hosts', oe!.names.a]);
    // Bob's charon must hold only the new private key, or it may go on signing with the old one.
    const viciB = new ViciClient({ socketPath: oe!.lab.b.vici });
    try {
      assert.equal((await viciB.getKeys()).length, 1);
    } finally {
      await viciB.close();
    }
    // Resolvers may serve the old key until its TTL (4 s) runs out: wait until A's oedns serves the new one.
    const k2Head = k2.rdata.split(/\s+/)[4]!.slice(0, 24);
    await until(
      "A serves bob's new IPSECKEY",
      async () => {
        const r = await oe!.lab.exec(oe!.lab.a, ['dig', '+short', '+tries=1', '@127.0.0.1', oe!.names.b, 'IPSECKEY']);
        return r.stdout.replace(/\s/g, '').includes(k2Head);
      },
      10_000,
    );
    // A can only authenticate bob now if it installed the new key from DNS.
    const { code, wire } = await pingFromA(oe!.names.b);
    assert.equal(code, 0, `${wire.text}\n${A!.log().slice(-3000)}`);
    assert.ok(wire.esp > 0 && wire.clearIcmp === 0, wire.text);
  });
});
