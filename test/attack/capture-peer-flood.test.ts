// Found by an adversarial review: any signed zone with a wildcard A + IPSECKEY (an attacker's own zone; no path
// position) lets whoever makes this host resolve random labels (a web page's <img> tags) install one
// IKE peer per label. serve's peers are bounded (maxPeers): the least recently used ones go.
import assert from 'node:assert/strict';
import { generateHostKey } from '../../src/ike-bridge/identity';
import { startNamed } from '../support/named';
import { buildSignedHierarchy } from '../support/zones';
import { ask, attackSkipped, ipseckeyRdata, T, serveDryRun } from './fixture';

describe('capture attacks: peers installed per wildcard label', function () {
  this.timeout(300_000);
  it("serve's peers stay within their bound however many labels under a wildcard are looked up", async function () {
    if (attackSkipped()) this.skip();
    const key = ipseckeyRdata('x.evil.test', generateHostKey('ed25519'));
    const h = buildSignedHierarchy([
      { name: '.' },
      { name: 'test' },
      { name: 'evil.test', records: ['* A 198.51.100.7', `* IPSECKEY ${key}`] },
    ]);
    const named = await startNamed({ zones: h.zones });
    const { d, engine, port } = await serveDryRun({
      upstream: `${named.address}:${named.port}`,
      anchorFile: h.anchorFile,
      policy: 'default: private-or-clear\nmax-ttl: 3600\n',
      maxPeers: 50,
    });
    try {
      const n = Number(process.env.N ?? 120);
      const t0 = Date.now();
      for (let i = 0; i < n; i += 20) {
        await Promise.all(
          Array.from({ length: Math.min(20, n - i) }, (_, j) =>
            ask(port, `r${i + j}-${Math.random().toString(36).slice(2, 8)}.evil.test`, T.A),
          ),
        );
      }
      const installs = engine.actions.filter((a) => a.op === 'install').length;
      console.log(`      ${n} lookups in ${Date.now() - t0} ms -> ${installs} engine installs, registry size ${d.sync.registry.size}`);
      assert.ok(d.sync.registry.countOwner('serve') <= 50, `serve holds ${d.sync.registry.countOwner('serve')} peers, bound 50`);
      assert.equal(d.capture.counters.evicted, n - 50, 'each peer beyond the bound pushed out the least recently used one');
    } finally {
      await d.stop();
      await named.stop();
      h.cleanup();
    }
  });
});
