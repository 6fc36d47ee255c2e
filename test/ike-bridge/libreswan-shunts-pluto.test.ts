// Integration: the Libreswan engine's drop shunts against a real pluto 4.10 (scripts/pluto-lab.sh, on
// host A of the two-host lab; B keeps its charon and answers pings). What a shunt must do is read
// from the kernel (`ip xfrm policy` in A's namespace) and from the wire (tcpdump on A's veth): this
// kernel has XFRM policies but no ESP, and a block policy needs no ESP, so "dropped, not sent in
// clear" is checked on real packets. Every whack call of a shunt change is bracketed by a look at
// the kernel's policies, to show that no address is open at any step. Skips only where the lab
// cannot run or Libreswan cannot be fetched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import { type CommandRunner, LibreswanEngine, whackRunner } from '../../src/ike-bridge/libreswan';
import { PeerSync } from '../../src/peers';
import { type Lab, labUp, watchWire } from '../support/lab';
import { type OednsKey, oednsKeygen, type PlutoHost, plutoOn, plutoUnavailable } from '../support/pluto-lab';

function peer(name: string, addresses: string[], key: OednsKey, over: Partial<Peer> = {}): Peer {
  return {
    name,
    addresses,
    auth: { kind: 'pubkey', keys: [{ algorithm: key.alg, publicKey: key.key, precedence: 10 }] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: 0,
    owner: 'serve',
    ...over,
  };
}

/** Outbound XFRM policies in A's namespace: destination (as `ip` prints it, with prefix) → block or not, and priority. */
type OutPolicy = { src: string; block: boolean; priority: number };
function outPolicies(text: string): Map<string, OutPolicy[]> {
  const m = new Map<string, OutPolicy[]>();
  for (const x of text.matchAll(/^src (\S+) dst (\S+) \n\tdir out (action block )?priority (\d+)/gm)) {
    const l = m.get(x[2]!) ?? [];
    l.push({ src: x[1]!, block: !!x[3], priority: Number(x[4]) });
    m.set(x[2]!, l);
  }
  return m;
}
const blocked = (p: Map<string, OutPolicy[]>, dst: string): boolean =>
  !!p.get(dst)?.some((x) => x.block && /^(0\.0\.0\.0|::)\/0$/.test(x.src));

function nsRouteSource(ns: string) {
  return (dest: string): Promise<string | undefined> =>
    new Promise((res) => {
      execFile('ip', ['-n', ns, '-j', 'route', 'get', dest], (err, stdout) =>
        res(err ? undefined : (JSON.parse(String(stdout)) as { prefsrc?: string }[])[0]?.prefsrc),
      );
    });
}

describe('libreswan engine drop shunts against a real pluto (pluto on A)', function () {
  let lab: Lab | undefined;
  let pluto: PlutoHost | undefined;
  let A: LibreswanEngine;
  let kb: OednsKey;
  /** Every whack argv the engine ran, and the kernel's outbound policies just before and just after it. */
  let trace: { argv: string[]; before: Map<string, OutPolicy[]>; after: Map<string, OutPolicy[]> }[] = [];
  let tracing = false;

  const policies = async (): Promise<Map<string, OutPolicy[]>> => outPolicies((await lab!.exec(lab!.a, ['ip', 'xfrm', 'policy'])).stdout);
  const ping = async (addr: string): Promise<number> =>
    (await lab!.exec(lab!.a, ['ping', addr.includes(':') ? '-6' : '-4', '-c', '2', '-i', '0.2', '-W', '1', addr], 10_000)).code;

  before(async function () {
    this.timeout(240_000);
    const why = plutoUnavailable();
    if (why) {
      console.log(`    skipping the pluto shunt lab: ${why}`);
      this.skip();
    }
    lab = await labUp();
    pluto = await plutoOn(lab, 'a');
    const ka = oednsKeygen(join(lab.dir, 'a', 'keys'), 'a.oe.test');
    kb = oednsKeygen(join(lab.dir, 'b', 'keys'), 'b.oe.test');
    pluto.importKey(ka.pemFile);
    const inner = whackRunner(pluto.whack);
    const run: CommandRunner = async (argv, t) => {
      if (!tracing) return inner(argv, t);
      const before = await policies();
      const r = await inner(argv, t);
      trace.push({ argv, before, after: await policies() });
      return r;
    };
    A = new LibreswanEngine({
      localId: 'a.oe.test',
      localKey: ka.pem,
      run,
      ctlsocket: pluto.ctlsocket,
      routeSource: nsRouteSource(pluto.ns),
    });
  });

  after(async () => {
    await A?.close();
    await pluto?.stop();
    await lab?.down();
  });

  it('control: without a shunt, pings to B leave A in clear and are answered', async () => {
    const v4 = await watchWire(lab!, () => ping(lab!.b.addr));
    const v6 = await watchWire(lab!, () => ping(lab!.b.addr6));
    assert.deepEqual([v4.result, v6.result], [0, 0]);
    assert.ok(v4.wire.clearIcmp >= 2 && v6.wire.clearIcmp >= 2, v4.wire.text + v6.wire.text);
  });

  it('setShunt: a block policy for each address (IPv4 and IPv6) from all our addresses; pings are dropped, none leaves in clear', async () => {
    await A.setShunt('b.oe.test', [lab!.b.addr, lab!.b.addr6]);
    const p = await policies();
    assert.ok(blocked(p, `${lab!.b.addr}/32`), 'IPv4 block policy');
    assert.ok(blocked(p, `${lab!.b.addr6}/128`), 'IPv6 block policy');
    assert.match(
      (await pluto!.run(['--status'])).stdout,
      /"oedns-drop-b\.oe\.test@192\.0\.2\.2":\s+policy: IKEv2\+AUTH_NEVER\+TUNNEL\+DROP\+NEVER_NEGOTIATE/,
    );
    for (const addr of [lab!.b.addr, lab!.b.addr6]) {
      const w = await watchWire(lab!, () => ping(addr));
      assert.notEqual(w.result, 0, `ping ${addr} got through`);
      assert.equal(w.wire.clearIcmp, 0, `clear ICMP to ${addr}:\n${w.wire.text}`);
    }
    assert.deepEqual(await A.list(), [
      {
        name: 'b.oe.test',
        connection: 'oedns-drop-b.oe.test@192.0.2.2',
        addresses: ['192.0.2.2', '2001:db8:0:2::2'],
        authenticated: false,
        shunt: true,
      },
    ]);
    // A new oedns process (its engine knows nothing yet) sees the shunt in pluto: serve's leftovers keep it.
    const fresh = new LibreswanEngine({ localId: 'a.oe.test', whack: pluto!.whack, ctlsocket: pluto!.ctlsocket });
    assert.deepEqual(
      (await fresh.list()).map((p) => [p.name, p.addresses, p.shunt]),
      [['b.oe.test', ['192.0.2.2', '2001:db8:0:2::2'], true]],
    );
  });

  it('a changed shunt: at every whack call the kept address is blocked, the new one before any old one goes', async () => {
    trace = [];
    tracing = true;
    try {
      await A.setShunt('b.oe.test', [lab!.b.addr6, '192.0.2.9']);
    } finally {
      tracing = false;
    }
    const kept = `${lab!.b.addr6}/128`;
    assert.ok(trace.length >= 3, trace.map((t) => t.argv.join(' ')).join('\n'));
    for (const t of trace) assert.ok(blocked(t.before, kept) && blocked(t.after, kept), `${kept} open around: ${t.argv.join(' ')}`);
    const firstDelete = trace.findIndex((t) => t.argv.includes('--delete'));
    assert.ok(firstDelete > 0, 'the old address went');
    assert.ok(blocked(trace[firstDelete]!.before, '192.0.2.9/32'), 'the new address was blocked before the old one went');
    assert.ok(blocked(trace[firstDelete]!.before, `${lab!.b.addr}/32`), 'the leaving address stayed blocked until its own delete');
    const p = await policies();
    assert.ok(blocked(p, '192.0.2.9/32') && blocked(p, kept));
    assert.equal(p.has(`${lab!.b.addr}/32`), false, 'the address that left is no longer blocked');
    assert.equal(await ping(lab!.b.addr), 0, 'and reachable again');
  });

  it("a shunt and the peer's conn for the same address are routed together; the conn wins while there, the shunt drops once it goes", async () => {
    await A.setShunt('b.oe.test', []);
    await A.install(peer('b.oe.test', [lab!.b.addr], kb));
    await A.setShunt('b.oe.test', [lab!.b.addr]); // PeerSync: the shunt grows before the conn goes
    let p = await policies();
    const both = p.get(`${lab!.b.addr}/32`)!;
    const conn = both.find((x) => x.src === `${lab!.a.addr}/32`)!;
    const shunt = both.find((x) => x.block)!;
    assert.ok(conn && !conn.block && shunt, JSON.stringify(both));
    assert.ok(conn.priority < shunt.priority, "the peer conn's policy is the more specific: it takes precedence");
    await A.remove('b.oe.test');
    p = await policies();
    assert.deepEqual(
      p.get(`${lab!.b.addr}/32`)!.map((x) => x.block),
      [true],
      'only the shunt is left',
    );
    const w = await watchWire(lab!, () => ping(lab!.b.addr));
    assert.notEqual(w.result, 0);
    assert.equal(w.wire.clearIcmp, 0, w.wire.text);
  });

  it('gateway peers: the shunt takes the gateway as next hop; a peer back through another gateway takes the address over', async () => {
    // 198.51.100.7 is reached only through a gateway (A has no route to it), as an IPSECKEY gateway's inner address.
    const via = (gw: string): Peer => peer('g.oe.test', ['198.51.100.7'], kb, { gateway: { kind: 'address', address: gw } });
    await A.install(via(lab!.b.addr));
    await A.setShunt('g.oe.test', ['198.51.100.7']);
    let status = (await pluto!.run(['--status'])).stdout;
    assert.match(
      status,
      /"oedns-drop-g\.oe\.test@198\.51\.100\.7": 0\.0\.0\.0\/0===192\.0\.2\.1[^\n]*---192\.0\.2\.2\.\.\.198\.51\.100\.7/,
    );
    await A.remove('g.oe.test');
    assert.deepEqual(
      (await policies()).get('198.51.100.7/32')!.map((x) => x.block),
      [true],
    );
    // Back through 192.0.2.3: pluto refuses to route it beside a shunt routed through 192.0.2.2.
    await A.install(via('192.0.2.3'));
    status = (await pluto!.run(['--status'])).stdout;
    assert.match(status, /"oe-g\.oe\.test": [^\n]*\.\.\.192\.0\.2\.3\[[^\n]*===198\.51\.100\.7\/32; (prospective erouted|routed)/);
    assert.match(status, /"oedns-drop-g\.oe\.test@198\.51\.100\.7": [^\n]*---192\.0\.2\.3\.\.\.198\.51\.100\.7[^\n]*; prospective erouted/);
    const p = (await policies()).get('198.51.100.7/32')!;
    assert.deepEqual(p.map((x) => x.block).sort(), [false, true]);
    await A.remove('g.oe.test');
    await A.setShunt('g.oe.test', []);
    assert.equal((await policies()).has('198.51.100.7/32'), false);
  });

  it('setShunt(name, []) takes every drop policy of the shunt out', async () => {
    await A.setShunt('b.oe.test', [lab!.b.addr, lab!.b.addr6]);
    await A.setShunt('b.oe.test', []);
    const p = await policies();
    for (const d of [`${lab!.b.addr}/32`, `${lab!.b.addr6}/128`, '192.0.2.9/32', '198.51.100.7/32']) assert.equal(p.has(d), false, d);
    assert.doesNotMatch((await pluto!.run(['--status'])).stdout, /oedns-drop-/);
    assert.deepEqual(await A.list(), []);
    assert.equal(await ping(lab!.b.addr6), 0);
  });

  it('PeerSync fails closed with this engine: a private peer whose answer turns out forged leaves a shunt, not a gap', async () => {
    const sync = new PeerSync({ engine: A });
    try {
      const b = peer('b.oe.test', [lab!.b.addr, lab!.b.addr6], kb, { expiresAt: Math.floor(Date.now() / 1000) + 3600 });
      await sync.upsert(b);
      assert.deepEqual(
        (await A.list()).map((p) => [p.name, p.shunt ?? false]),
        [['b.oe.test', false]],
      );
      trace = [];
      tracing = true;
      try {
        await sync.invalidate('b.oe.test', 'serve');
      } finally {
        tracing = false;
      }
      // The shunt was in the kernel before the peer's conns went.
      const del = trace.findIndex((t) => t.argv.includes('--delete') && t.argv.some((a) => a.startsWith('oe-b.oe.test')));
      assert.ok(del > 0, trace.map((t) => t.argv.join(' ')).join('\n'));
      assert.ok(blocked(trace[del]!.before, `${lab!.b.addr}/32`) && blocked(trace[del]!.before, `${lab!.b.addr6}/128`));
      assert.deepEqual(
        (await A.list()).map((p) => [p.name, p.addresses, p.shunt]),
        [['b.oe.test', ['192.0.2.2', '2001:db8:0:2::2'], true]],
      );
      for (const addr of [lab!.b.addr, lab!.b.addr6]) {
        const w = await watchWire(lab!, () => ping(addr));
        assert.notEqual(w.result, 0);
        assert.equal(w.wire.clearIcmp, 0, `clear ICMP to ${addr} after the peer went:\n${w.wire.text}`);
      }
      assert.equal(await sync.clearShunt('b.oe.test'), true);
      assert.deepEqual(await A.list(), []);
      assert.equal(await ping(lab!.b.addr), 0, 'an operator ended the shunt');
    } finally {
      await sync.close();
    }
  });

  it('after pluto restarts, reconcile() puts the shunt back first and deletes a stray one; a second reconcile changes nothing', async () => {
    await A.setShunt('b.oe.test', [lab!.b.addr, lab!.b.addr6]);
    await pluto!.restart();
    assert.equal(blocked(await policies(), `${lab!.b.addr}/32`), false, 'a restarted pluto forgot the shunt');
    const stray = [
      '--name',
      'oedns-drop-gone.oe.test@192.0.2.77',
      '--ikev2',
      '--drop',
      '--auth-never',
      '--host',
      '192.0.2.1',
      '--client',
      '0.0.0.0/0',
      '--updown',
      '%disabled',
      '--to',
      '--host',
      '192.0.2.77',
      '--client',
      '192.0.2.77/32',
    ];
    assert.equal((await pluto!.run(stray)).code, 0);
    assert.equal((await pluto!.run(['--route', '--name', 'oedns-drop-gone.oe.test@192.0.2.77'])).code, 0);
    assert.ok(blocked(await policies(), '192.0.2.77/32'));
    const r = await A.reconcile([], [{ name: 'b.oe.test', addresses: [lab!.b.addr, lab!.b.addr6] }]);
    assert.deepEqual(r.failed, []);
    const p = await policies();
    assert.ok(blocked(p, `${lab!.b.addr}/32`) && blocked(p, `${lab!.b.addr6}/128`));
    assert.equal(p.has('192.0.2.77/32'), false, 'the stray shunt is gone');
    for (const addr of [lab!.b.addr, lab!.b.addr6]) {
      const w = await watchWire(lab!, () => ping(addr));
      assert.equal(w.wire.clearIcmp, 0, w.wire.text);
    }
    trace = [];
    tracing = true;
    try {
      await A.reconcile([], [{ name: 'b.oe.test', addresses: [lab!.b.addr6, lab!.b.addr] }]);
    } finally {
      tracing = false;
    }
    assert.deepEqual(
      trace.map((t) => t.argv.filter((a) => a.startsWith('--') && a !== '--ctlsocket')),
      [['--status']],
    );
    await A.setShunt('b.oe.test', []);
  });
});
