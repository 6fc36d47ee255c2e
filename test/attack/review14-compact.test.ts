// Review 14 (adversarial review of the compact cache tier): PoCs against a real named behind the
// hostile upstream. Each case states the property it checks; a failure is a finding.
import assert from 'node:assert/strict';
import { ask, serveDryRun, T, worldSuite, type AttackWorld, type Serve } from './fixture';

function start(w: AttackWorld, hot: number, policy = 'default: private\nmax-ttl: 60\n'): Promise<Serve> {
  return serveDryRun({ upstream: w.proxy.endpoint, anchorFile: w.anchorFile, policy, serve: { cacheHot: hot, cacheSize: 1000 } });
}

worldSuite('review14: compact tier against capture', (world) => {
  for (const hot of [1, 10_000]) {
    it(`a private peer's address is never served with a TTL beyond the peer's life (max-ttl 60), cacheHot ${hot}`, async () => {
      const s = await start(world(), hot);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await ask(s.port, 'bob.oe.test', T.A);
          assert.equal(r.msg?.rcode, 0);
          const ttls = (r.msg?.answers ?? []).filter((x) => x.type === T.A).map((x) => x.ttl);
          assert.ok(ttls.length > 0);
          // The peer lives 60 s (max-ttl); an address kept longer by the program outlives its policy.
          assert.ok(
            Math.max(...ttls) <= 60,
            `query ${i}: served TTLs ${ttls.join(',')} > the peer's 60 s (stats ${JSON.stringify(s.d.server.cache.stats())})`,
          );
        }
        assert.ok(s.engine.get('bob.oe.test'), 'bob installed');
      } finally {
        await s.stop();
      }
    });
  }

  // Availability, not integrity: with the upstream gone silent (outage, or an attacker on the path
  // dropping one name), a DO client's question for a name held as bytes waits for the whole upstream
  // timeout before it gets the held answer, every time: a failed refetch leaves the answer sigless.
  // Before the compact tier the held answer went out at once. Now a failed refetch is not tried again
  // for REFETCH_BACKOFF_MS.
  it('a DO client gets a held answer without waiting for a silent upstream each time (review 14: it waited 2 s each time)', async () => {
    const s = await start(world(), 2, 'default: private-or-clear\nmax-ttl: 600\n');
    try {
      assert.equal((await ask(s.port, 'bob.oe.test', T.A)).msg?.rcode, 0);
      for (const n of ['carol.oe.test', 'probe.clean.test']) assert.equal((await ask(s.port, n, T.A)).msg?.rcode, 0);
      world().proxy.attack = async (x) => (x.query.questions[0]?.name.toLowerCase().startsWith('bob.') ? null : x.forward());
      const ms: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await ask(s.port, 'bob.oe.test', T.A);
        assert.equal(r.msg?.rcode, 0, 'the held answer');
        ms.push(r.ms);
      }
      assert.ok(Math.max(...ms.slice(1)) < 500, `DO queries for a held name took ${ms.join(', ')} ms with the upstream silent`);
    } finally {
      await s.stop();
    }
  });
});
