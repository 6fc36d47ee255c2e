// The documented rollover, end to end in the two-host lab: B (bob.oe.test) publishes its key into a
// zone that named signs itself, with `oedns publish` and a TSIG key allowed only for its own name.
// A runs `autosp watch --initiate` for B; B runs `autosp watch` (holding its own key). Then B rolls:
// keygen --next, publish --add, key activate (B's running autosp switches keys without a restart),
// publish --withdraw-old. A must hold an authenticated SA with B at every moment, end on an SA made
// after the old key was withdrawn (which only the new key can authenticate), and pass ESP both ways.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { type Lab, labUnavailable, labUp, watchWire } from '../support/lab';
import { autospSpawn, until } from '../autosp/helpers';
import { type SigningNamed, signingNamedUnavailable, startSigningNamed } from './signing-named';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');
const TTL = 3;

function oedns(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [OEDNS, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The ids charon may give an Ed25519 key: SHA-1 of the raw key, or of the SubjectPublicKeyInfo. */
function keyIds(pemFile: string): string[] {
  const spki = createPublicKey(readFileSync(pemFile)).export({ type: 'spki', format: 'der' });
  return [
    createHash('sha1')
      .update(spki.subarray(spki.length - 32))
      .digest('hex'),
    createHash('sha1').update(spki).digest('hex'),
  ];
}
const clean = (id: string): string => id.replace(/[^0-9a-f]/gi, '').toLowerCase();

describe("rollover lab: B rolls its key with oedns publish; A's autosp keeps an authenticated SA", function () {
  this.timeout(240_000);
  let lab: Lab | undefined;
  let s: SigningNamed | undefined;
  let rawA: ViciClient;
  let rawB: ViciClient;
  const procs: ChildProcess[] = [];
  const logs = { a: '', b: '' };
  const names = { a: 'alice.oe.test', b: 'bob.oe.test' };

  before(async function () {
    const why = labUnavailable() ?? signingNamedUnavailable();
    if (why) {
      console.log(`    skipping the rollover lab: ${why}`);
      this.skip();
    }
    lab = await labUp();
    for (const h of ['a', 'b'] as const) {
      const r = await oedns(['keygen', '--type', 'ed25519', '--out', join(lab.dir, h, 'keys'), '--name', names[h], '--force']);
      assert.equal(r.code, 0, r.stderr);
      if (h === 'a') writeFileSync(join(lab.dir, 'a-record'), r.stdout.trim().split(' IPSECKEY ')[1]!);
    }
    s = await startSigningNamed(
      [
        {
          name: 'oe.test',
          // B's key may change only B's own IPSECKEY.
          grants: [`grant bob-key name ${names.b}. IPSECKEY;`],
          records: [
            `alice ${TTL} IN A ${lab.a.addr}`,
            `alice ${TTL} IN IPSECKEY ${readFileSync(join(lab.dir, 'a-record'), 'utf8')}`,
            `bob ${TTL} IN A ${lab.b.addr}`,
          ],
        },
      ],
      { 'bob-key': 'hmac-sha256' },
    );
    rawA = new ViciClient({ socketPath: lab.a.vici });
    rawB = new ViciClient({ socketPath: lab.b.vici });
  });

  after(async () => {
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGKILL');
        await new Promise((r) => p.once('close', r));
      }
    }
    await Promise.all([rawA?.close(), rawB?.close()]);
    await s?.stop();
    await lab?.down();
  });

  const bKeys = (): string => join(lab!.dir, 'b', 'keys');
  const publishB = (...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    oedns([
      'publish',
      '--name',
      names.b,
      '--key-dir',
      bKeys(),
      '--tsig-key',
      s!.keyFiles['bob-key']!,
      '--server',
      s!.named.endpoint,
      '--resolver',
      s!.named.endpoint,
      '--trust-anchor',
      s!.anchorFile,
      '--ttl',
      String(TTL),
      '--wait',
      '30',
      '--check-servers',
      s!.named.endpoint,
      ...extra,
    ]);
  const watch = (h: 'a' | 'b', peer: string, initiate: boolean): ChildProcess => {
    const peers = join(lab!.dir, h, 'peers.txt');
    writeFileSync(peers, `${peer}\n`);
    const p = autospSpawn([
      'watch',
      '--peers',
      peers,
      ...(initiate ? ['--initiate'] : []),
      '--engine',
      'strongswan',
      '--vici',
      lab![h].vici,
      '--identity',
      names[h],
      '--key',
      join(lab!.dir, h, 'keys', 'host.key.pem'),
      '--server',
      s!.named.endpoint,
      '--trust-anchor',
      s!.anchorFile,
      '--state',
      join(lab!.dir, h, 'autosp.json'),
      '--no-daemon',
    ]);
    p.stderr!.on('data', (d) => (logs[h] = (logs[h] + String(d)).slice(-20_000)));
    procs.push(p);
    return p;
  };
  const conn = `oe-${names.b}`;
  const upSas = async (): Promise<string[]> =>
    (await rawA.listSas())
      .filter((x) => x.name === conn && x.state === 'ESTABLISHED' && x.children.some((c) => c.state === 'INSTALLED'))
      .map((x) => x.uniqueId ?? '?');
  const why = (e: unknown): never => assert.fail(`${String(e)}\n--- A ---\n${logs.a.slice(-3000)}\n--- B ---\n${logs.b.slice(-3000)}`);
  const bKeyIds = async (): Promise<string[]> => (await rawB.getKeys()).map(clean);

  it("publish puts B's key in the signed zone; A's autosp brings up an authenticated SA", async () => {
    const p = await publishB('--json');
    assert.equal(p.code, 0, p.stderr);
    assert.equal(JSON.parse(p.stdout).verification.verdict, 'secure');
    watch('b', names.a, false);
    watch('a', names.b, true);
    await until('A has an SA with B', async () => (await upSas()).length > 0, 30_000).catch(why);
  });

  it('keygen --next, publish --add, key activate, publish --withdraw-old: the SA never lapses and ends on the new key', async () => {
    let gaps = 0;
    let samples = 0;
    let sampling = true;
    let phase = 'start';
    const gapAt: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        samples++;
        if ((await upSas().catch(() => [])).length === 0) {
          gaps++;
          gapAt.push(
            `${phase}@${new Date().toISOString().slice(17, 23)}: ${JSON.stringify((await rawA.listSas().catch(() => [])).map((x) => [x.uniqueId, x.state, x.children.map((c) => c.state)]))}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const oldIds = keyIds(join(bKeys(), 'host.pub.pem'));
    assert.ok(
      (await bKeyIds()).some((id) => oldIds.includes(id)),
      'B signs with its first key',
    );

    const g = await oedns(['keygen', '--next', '--out', bKeys(), '--name', names.b]);
    assert.equal(g.code, 0, g.stderr);
    const newIds = keyIds(join(bKeys(), 'host.next.pub.pem'));
    phase = 'add';
    const add = await publishB('--add');
    assert.equal(add.code, 0, add.stderr);
    // A learns both keys on its next refresh (a TTL of 3 s).
    await until('A installed both keys', () => /"result":"updated"/.test(logs.a), 20_000).catch(why);

    await new Promise((r) => setTimeout(r, TTL * 1000 + 300));
    phase = 'activate';
    const act = await oedns(['key', 'activate', '--key-dir', bKeys()]);
    assert.equal(act.code, 0, act.stderr);
    // B's running autosp sees the renamed file and makes charon sign with the new key alone.
    await until(
      "B's charon holds only the new key",
      async () => {
        const ids = await bKeyIds();
        return ids.some((id) => newIds.includes(id)) && !ids.some((id) => oldIds.includes(id));
      },
      20_000,
    ).catch(why);
    await until("B's autosp says it switched", () => /our key changed on disk/.test(logs.b), 10_000).catch(why);

    await new Promise((r) => setTimeout(r, TTL * 1000 + 300));
    const before = new Set(await upSas());
    phase = 'withdraw';
    const w = await publishB('--withdraw-old');
    assert.equal(w.code, 0, w.stderr);
    // A sees the old key gone: it brings up an SA that only the new key can authenticate, then ends the old ones.
    await until('a new SA after the withdrawal', async () => (await upSas()).some((id) => !before.has(id)), 30_000).catch(why);
    await until('the SAs of the old key are gone', async () => !(await upSas()).some((id) => before.has(id)), 15_000).catch(why);
    sampling = false;
    await sampler;
    assert.ok(samples > 20, `sampled ${samples} times`);
    assert.equal(
      gaps,
      0,
      `A had no authenticated SA with B in ${gaps} of ${samples} samples:\n${gapAt.join('\n')}\n--- A ---\n${logs.a.slice(-6000)}`,
    );

    const l = lab!;
    const { wire } = await watchWire(l, async () => {
      const ab = await l.exec(l.a, ['ping', '-c', '2', '-i', '0.2', '-W', '1', l.b.addr]);
      const ba = await l.exec(l.b, ['ping', '-c', '2', '-i', '0.2', '-W', '1', l.a.addr]);
      assert.equal(ab.code, 0, ab.stdout);
      assert.equal(ba.code, 0, ba.stdout);
    });
    assert.equal(wire.clearIcmp, 0, wire.text);
    assert.ok(wire.esp >= 8, wire.text);
  });
});
