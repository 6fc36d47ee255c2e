// autosp end to end in the two-host lab (test/support/oe-lab.ts): each host finds the other by name in
// a DNSSEC-signed zone, validates its IPSECKEY itself and installs it into its own charon. Proves ESP
// both ways, removal through the peers file, and a key rollover followed by `autosp watch`.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { hostRecords, type OeLab, oeLabUnavailable, oeLabUp } from '../support/oe-lab';
import { watchWire } from '../support/lab';
import { autosp, autospSpawn, until } from './helpers';

const TTL = 3;

describe('autosp lab: two hosts find each other by name (strongswan, DNSSEC)', function () {
  let oe: OeLab | undefined;
  let rawA: ViciClient;
  let rawB: ViciClient;
  let watch: ChildProcess | undefined;
  let watchErr = '';
  const st = { a: '', b: '' };
  const peersA = (): string => join(oe!.lab.dir, 'a', 'peers.txt');

  before(async function () {
    const why = oeLabUnavailable();
    if (why) {
      console.log(`    skipping the autosp lab: ${why}`);
      this.skip();
    }
    oe = await oeLabUp({ oeTtl: TTL });
    rawA = new ViciClient({ socketPath: oe.lab.a.vici });
    rawB = new ViciClient({ socketPath: oe.lab.b.vici });
    st.a = join(oe.lab.dir, 'a', 'autosp.json');
    st.b = join(oe.lab.dir, 'b', 'autosp.json');
  });

  after(async () => {
    if (watch && watch.exitCode === null) {
      watch.kill('SIGKILL');
      await new Promise((r) => watch!.once('close', r));
    }
    await Promise.all([rawA?.close(), rawB?.close()]);
    await oe?.down();
  });

  const flags = (h: 'a' | 'b', keyFile?: string): string[] => [
    '--engine',
    'strongswan',
    '--vici',
    oe!.lab[h].vici,
    '--identity',
    oe!.names[h],
    '--key',
    keyFile ?? oe!.keys[h].privateKeyFile,
    '--server',
    oe!.named.endpoint,
    '--trust-anchor',
    oe!.anchorFile,
    '--state',
    st[h],
    '--no-daemon',
  ];
  const childUp = async (c: ViciClient, conn: string): Promise<boolean> =>
    (await c.listSas()).some((s) => s.name === conn && s.state === 'ESTABLISHED');

  /** Pings both ways while tcpdump watches A's veth: replies must come back, and only as ESP. */
  async function espBothWays(): Promise<void> {
    const lab = oe!.lab;
    const { wire } = await watchWire(lab, async () => {
      const ab = await lab.exec(lab.a, ['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.b.addr]);
      const ba = await lab.exec(lab.b, ['ping', '-c', '2', '-i', '0.2', '-W', '1', lab.a.addr]);
      assert.equal(ab.code, 0, `ping A -> B failed: ${ab.stdout}`);
      assert.equal(ba.code, 0, `ping B -> A failed: ${ba.stdout}`);
    });
    assert.equal(wire.clearIcmp, 0, `cleartext ICMP on the wire:\n${wire.text}`);
    assert.ok(wire.esp >= 8, `expected >= 8 ESP packets (2 pings each way, request + reply):\n${wire.text}`);
  }

  it('autosp on both hosts (A initiates): authenticated ESP both ways', async () => {
    const b = await autosp(['add', oe!.names.a, ...flags('b')]);
    assert.equal(b.code, 0, `B: ${b.stdout}${b.stderr}`);
    writeFileSync(peersA(), `# A talks to\n${oe!.names.b}\n`);
    const a = await autosp(['sync', '--peers', peersA(), '--initiate', '--json', ...flags('a')]);
    assert.equal(a.code, 0, `A: ${a.stdout}${a.stderr}`);
    const out = JSON.parse(a.stdout) as { peers: Array<{ name: string; result: string; addresses: string[]; authenticated: boolean }> };
    assert.deepEqual(
      out.peers.map((p) => [p.name, p.result, p.addresses, p.authenticated]),
      [[oe!.names.b, 'installed', [oe!.lab.b.addr], true]],
    );
    assert.ok(await childUp(rawA, `oe-${oe!.names.b}`), 'A initiated: the SA must be up');

    const l = await autosp(['list', '--json', ...flags('a')]);
    assert.equal(l.code, 0, l.stderr);
    const listed = JSON.parse(l.stdout) as { engine: Array<{ name: string; ikeState?: string; childState?: string }> };
    assert.deepEqual(
      listed.engine.map((p) => [p.name, p.ikeState, p.childState]),
      [[oe!.names.b, 'ESTABLISHED', 'INSTALLED']],
    );

    await espBothWays();
  });

  it('a peer taken out of the file: autosp sync removes its policy and SAs', async () => {
    writeFileSync(peersA(), '# nobody for now\n');
    const r = await autosp(['sync', '--peers', peersA(), '--json', ...flags('a')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { peers: Array<{ result: string }> }).peers.map((p) => p.result),
      ['removed'],
    );
    assert.deepEqual(
      (await rawA.getConns()).filter((c) => c.startsWith('oe-')),
      [],
    );
    await until('the IKE_SA is gone on A', async () => (await rawA.listSas()).length === 0, 10_000);
  });

  it('a key rolled in the zone: watch installs the new key, the SA is established again and the old one ends', async () => {
    writeFileSync(peersA(), `${oe!.names.b}\n`);
    watch = autospSpawn(['watch', '--peers', peersA(), '--initiate', ...flags('a')]);
    watch.stderr!.on('data', (d) => (watchErr += String(d)));
    const exited = new Promise<number | null>((r) => watch!.once('close', (code) => r(code)));
    const conn = `oe-${oe!.names.b}`;
    const why = (e: unknown): never => assert.fail(`${String(e)}\n--- watch stderr ---\n${watchErr.slice(-4000)}`);
    await until('SA up under watch', () => childUp(rawA, conn), 20_000).catch(why);
    const before = new Set((await rawA.listSas()).map((s) => s.uniqueId));

    // B gets a new key first, then the zone publishes it. B's IKE daemon is restarted with it (as a
    // host changing its key would): charon keeps every private key it was ever given, so a running
    // one could still sign with the old key.
    const newKey = oe!.keygen(oe!.names.b, 'b/keys2');
    await oe!.lab.restart('b');
    const b = await autosp(['add', oe!.names.a, ...flags('b', newKey.privateKeyFile)]);
    assert.equal(b.code, 0, `B: ${b.stdout}${b.stderr}`);
    await oe!.setOeRecords(hostRecords(oe!.names, { a: oe!.keys.a, b: newKey }, { a: oe!.lab.a.addr, b: oe!.lab.b.addr }, TTL));

    await until(
      'a new IKE_SA authenticated with the new key',
      async () => (await rawA.listSas()).some((s) => s.name === conn && s.state === 'ESTABLISHED' && !before.has(s.uniqueId)),
      30_000,
    ).catch(why);
    assert.match(watchErr, /"result":"updated"/);
    // The SA authenticated with the old key does not outlive the key.
    await until("the old key's IKE_SA is gone", async () => !(await rawA.listSas()).some((s) => before.has(s.uniqueId)), 10_000).catch(why);
    await espBothWays();

    watch.kill('SIGTERM');
    assert.equal(await exited, 0, watchErr.slice(-2000));
  });
});
