// The cache's compact tier (answers kept as bytes, without their RRSIGs, once they leave the decoded
// LRU) against the upstream path's attacker. A name held there must come back exactly as validated,
// and the one new way to reach the upstream for it (a DO client: its reply needs the RRSIGs, so the
// answer is fetched again) must not let a forged answer spoil it, take away its peer or reach a client.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/message';
import type { Message, RR } from '../../src/wire/types';
import { formatRR } from '../../src/wire/presentation';
import { asks, mapSections } from '../support/hostile-upstream';
import { ask, EVIL, isEvil, rrOf, serveDryRun, T, worldSuite, type AttackWorld, type Serve } from './fixture';

/** A stub without DO that asks for AD (RFC 6840 §5.7): what most programs' resolvers send. */
function askPlain(port: number, name: string, type: number): Promise<Message> {
  const q = { ...makeQuery(name, type, { rd: true, do: false, udpSize: 1232 }), ad: true };
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => (s.close(), reject(new Error(`no answer for ${name}`))), 8000);
    s.on('message', (buf) => {
      const m = decodeMessage(new Uint8Array(buf));
      if (m.id !== q.id) return;
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(encodeMessage(q), port, '127.0.0.1');
  });
}

const addresses = (m: Message | undefined): string[] =>
  (m?.answers ?? []).filter((r) => r.type === T.A).map((r) => formatRR(r).split(/\s+/).pop()!);
const sigs = (m: Message | undefined): RR[] => (m?.answers ?? []).filter((r) => r.type === T.RRSIG);

function start(w: AttackWorld): Promise<Serve> {
  // Two decoded entries: every other answer lives as bytes.
  return serveDryRun({
    upstream: w.proxy.endpoint,
    anchorFile: w.anchorFile,
    policy: 'default: private-or-clear\nmax-ttl: 600\n',
    serve: { cacheHot: 2, cacheSize: 1000 },
  });
}

/** Other names, so that bob's answers leave the two decoded places for the compact tier. */
async function pushOut(s: Serve): Promise<void> {
  const before = s.d.server.cache.stats().demoted;
  for (const n of ['carol.oe.test', 'probe.clean.test']) assert.equal((await ask(s.port, n, T.A)).msg?.rcode, 0, n);
  assert.ok(s.d.server.cache.stats().demoted > before, 'answers went to the compact tier');
}

worldSuite('cache attacks: answers held as bytes', (world) => {
  it('a name held as bytes comes back as validated: the genuine address with AD, RRSIGs for a DO client (fetched again), none for others', async () => {
    const s = await start(world());
    try {
      const first = await ask(s.port, 'bob.oe.test', T.A);
      assert.deepEqual([first.msg?.rcode, first.msg?.ad, addresses(first.msg)], [0, true, ['192.0.2.2']]);
      assert.equal(sigs(first.msg).length, 1);
      await pushOut(s);
      const promoted = s.d.server.cache.stats().promoted;
      const plain = await askPlain(s.port, 'bob.oe.test', T.A);
      assert.deepEqual([plain.rcode, plain.ad, addresses(plain), sigs(plain).length], [0, true, ['192.0.2.2'], 0]);
      assert.ok(s.d.server.cache.stats().promoted > promoted, 'answered from the compact tier');
      assert.ok(plain.answers[0]!.ttl <= first.msg!.answers[0]!.ttl, 'TTLs aged, never raised');
      await pushOut(s);
      const again = await ask(s.port, 'bob.oe.test', T.A);
      assert.deepEqual([again.msg?.rcode, again.msg?.ad, addresses(again.msg), sigs(again.msg).length], [0, true, ['192.0.2.2'], 1]);
      const bob = s.engine.get('bob.oe.test');
      assert.ok(bob && bob.auth.kind === 'pubkey', 'bob still installed with his key');
    } finally {
      await s.stop();
    }
  });

  it('a DO client cannot be used to swap a held answer for a forged one: the address, the key and the peer stay genuine', async () => {
    const s = await start(world());
    try {
      assert.equal((await ask(s.port, 'bob.oe.test', T.A)).msg?.rcode, 0);
      const genuine = s.engine.get('bob.oe.test');
      assert.ok(genuine && genuine.auth.kind === 'pubkey');
      await pushOut(s);
      let forged = 0;
      // From now on the path answers for bob with the attacker's address and key, signatures stripped
      // (anything else about bob is as bogus: the attacker has no key of oe.test).
      world().proxy.attack = async (x) => {
        if (!asks(x, 'bob.oe.test')) return x.forward();
        forged++;
        const m = await x.forward();
        return mapSections(m, (rrs) =>
          rrs
            .filter((r) => r.type !== T.RRSIG)
            .map((r) =>
              r.type === T.A
                ? rrOf(`bob.oe.test. 300 IN A ${EVIL.address}`)
                : r.type === T.IPSECKEY
                  ? rrOf(
                      `bob.oe.test. 300 IN IPSECKEY 10 0 2 . ${EVIL.ipsec.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64')}`,
                    )
                  : r,
            ),
        );
      };
      for (const type of [T.A, T.IPSECKEY]) {
        const r = await ask(s.port, 'bob.oe.test', type);
        const lines = (r.msg?.answers ?? []).map(formatRR);
        assert.deepEqual(lines.filter(isEvil), [], `forged data reached a DO client: ${lines.join(' | ')}`);
        assert.equal(r.msg?.rcode, 0, "the held answer is served, not the forged one's SERVFAIL");
      }
      assert.ok(forged > 0, 'the DO client did make oedns ask the upstream again');
      const plain = await askPlain(s.port, 'bob.oe.test', T.A);
      assert.deepEqual([plain.ad, addresses(plain)], [true, ['192.0.2.2']]);
      const bob = s.engine.get('bob.oe.test');
      assert.ok(bob && bob.auth.kind === 'pubkey', "bob's peer was removed by a forged answer");
      assert.deepEqual(
        bob.auth.keys.map((k) => Buffer.from(k.publicKey).toString('hex')),
        (genuine.auth as { keys: { publicKey: Uint8Array }[] }).keys.map((k) => Buffer.from(k.publicKey).toString('hex')),
      );
      assert.deepEqual(bob.addresses, ['192.0.2.2']);
    } finally {
      await s.stop();
    }
  });
});
