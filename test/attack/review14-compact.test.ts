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
          assert.ok(Math.max(...ttls) <= 60, `query ${i}: served TTLs ${ttls.join(',')} > the peer's 60 s (stats ${JSON.stringify(s.d.server.cache.stats())})`);
        }
        assert.ok(s.engine.get('bob.oe.test'), 'bob installed');
      } finally {
        await s.stop();
      }
    });
  }
});
