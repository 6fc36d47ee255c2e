// A restart or a crash of `oedns serve` never opens a private address it handed out (review v11 F2).
// Two hosts in network namespaces with a charon each, named serving the signed lab zones, `oedns
// serve` as A's resolver with oe.test at `private`. A program on A resolves bob (TTL 300) and keeps
// using his address while serve stops (or is killed with SIGKILL) and starts again: tcpdump on A's
// veth must see no clear ICMP to bob at any moment (a ping runs right through the restart), the new
// serve must report bob's address as a held drop shunt, and a new lookup must bring ESP back.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DaemonStatus } from '../../src/control/status';
import { type OeLab, oeLabUnavailable, oeLabUp } from '../support/oe-lab';
import { type OednsHost, startOednsOn } from '../support/oe-hosts';
import { watchWire, type Wire } from '../support/lab';

const POLICY = `
default: private-or-clear
rules:
  - { zone: oe.test, level: private }
`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('private addresses stay closed across a restart or crash of oedns serve (lab)', function () {
  this.timeout(300_000);
  let oe: OeLab | undefined;
  let A: OednsHost | undefined;
  let B: OednsHost | undefined;
  let dir: string;
  let policyFile: string;

  const status = async (): Promise<DaemonStatus> => JSON.parse((await A!.cli(['status', '--json'])).stdout) as DaemonStatus;
  const ping = async (count: number, during?: () => Promise<void>): Promise<{ code: number; wire: Wire }> => {
    const args = ['ping', '-4', '-c', String(count), '-i', '0.2', '-W', '1', oe!.lab.b.addr];
    const { wire, result } = await watchWire(oe!.lab, async () => {
      const p = oe!.lab.exec(oe!.lab.a, args, 60_000);
      await during?.();
      return p;
    });
    return { code: result.code, wire };
  };
  const startA = async (): Promise<OednsHost> => startOednsOn(oe!, 'a', { policy: policyFile, initiate: true });

  before(async function () {
    const why = oeLabUnavailable();
    if (why) {
      console.log(`    skipping the restart lab: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'oedns-restart-lab-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, POLICY);
    oe = await oeLabUp({ oeTtl: 300 });
    B = await startOednsOn(oe, 'b', { policy: policyFile });
    A = await startA();
    assert.equal((await oe.lab.exec(oe.lab.b, ['getent', 'ahosts', oe.names.a])).code, 0);
  });

  after(async () => {
    await A?.stop();
    await B?.stop();
    await oe?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const how of ['stop', 'SIGKILL'] as const) {
    it(`${how === 'stop' ? 'a plain restart' : 'kill -9 and a new start'}: bob's address never leaves in clear, the new serve holds it closed, a new lookup reopens it as ESP`, async () => {
      const r = await oe!.lab.exec(oe!.lab.a, ['getent', 'ahosts', oe!.names.b]);
      assert.equal(r.code, 0, r.stderr);
      const before = await ping(3);
      assert.ok(before.wire.esp > 0 && before.wire.clearIcmp === 0, before.wire.text);
      // The program keeps pinging bob's address through the whole stop/start.
      const across = await ping(40, async () => {
        await sleep(1000);
        if (how === 'stop') await A!.stop();
        else {
          A!.proc.kill('SIGKILL');
          await new Promise((res) => (A!.proc.exitCode !== null || A!.proc.signalCode !== null ? res(null) : A!.proc.once('exit', res)));
        }
        A = await startA();
      });
      assert.equal(across.wire.clearIcmp, 0, `clear ICMP to bob across the ${how}:\n${across.wire.text}`);
      const st = await status();
      const held = (st.shunts ?? []).find((s) => s.name === oe!.names.b);
      assert.ok(held?.addresses.includes(oe!.lab.b.addr), JSON.stringify(st.shunts));
      const after = await ping(3);
      assert.equal(after.wire.clearIcmp, 0, after.wire.text);
      assert.notEqual(after.code, 0, 'dropped while only the shunt holds it');
      // The closed-set file is private to serve.
      assert.equal(statSync(join(A!.host.dir, 'serve-closed.json')).mode & 0o077, 0);
      // A new validated answer takes the address back.
      assert.equal((await oe!.lab.exec(oe!.lab.a, ['getent', 'ahosts', oe!.names.b])).code, 0);
      const back = await ping(3);
      assert.ok(back.code === 0 && back.wire.esp > 0 && back.wire.clearIcmp === 0, back.wire.text);
    });
  }
});
