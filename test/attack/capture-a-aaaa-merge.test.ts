// Found by an adversarial review: a program asks A then AAAA (getaddrinfo, happy eyeballs). Each capture decision upserts the
// 'serve' claim with the addresses of its own answer only, so the AAAA answer's claim REPLACES the A
// answer's: the IPv4 address the program already holds is no longer protected (ARCHITECTURE.md: "Claims
// from A and AAAA answers ... are merged, never replaced").
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { generateHostKey } from '../../src/ike-bridge/identity';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { startDaemon } from '../../src/daemon/daemon';
import { resolveServeConfig } from '../../src/config/serve';
import { parsePolicy } from '../../src/policy';
import { freePort } from '../support/ports';
import { startNamed } from '../support/named';
import { buildSignedHierarchy } from '../support/zones';
import { ask, attackSkipped, ipseckeyRdata, T } from './fixture';
import { reservedOnly } from '../support/reserved';

describe('capture attacks: A and AAAA claims', function () {
  this.timeout(120_000);
  it('after A then AAAA, the peer still covers the IPv4 address', async function () {
    if (attackSkipped()) this.skip();
    const h = buildSignedHierarchy([
      { name: '.' }, { name: 'test' },
      { name: 'oe.test', records: ['bob A 192.0.2.2', 'bob AAAA 2001:db8::2', `bob IPSECKEY ${ipseckeyRdata('bob.oe.test', generateHostKey('ed25519'))}`] },
    ]);
    const named = await startNamed({ zones: h.zones });
    const port = await freePort();
    const engine = new DryRunEngine();
    const d = await startDaemon({
      reservedAddresses: reservedOnly(),
      serve: resolveServeConfig({}, { listen: [`127.0.0.1:${port}`], upstream: [`${named.address}:${named.port}`] }),
      engine, policy: parsePolicy('default: private\n', 'yaml'),
      anchors: parseTrustAnchors(readFileSync(h.anchorFile, 'utf8')), controlPath: null,
    });
    try {
      await ask(port, 'bob.oe.test', T.A);
      const afterA = engine.get('bob.oe.test')?.addresses;
      await ask(port, 'bob.oe.test', 28);
      const afterAAAA = engine.get('bob.oe.test')?.addresses;
      console.log(`      after A: ${JSON.stringify(afterA)}; after AAAA: ${JSON.stringify(afterAAAA)}; engine: ${engine.actions.map((x) => `${x.op} ${x.name} ${x.peer?.addresses.join(',') ?? ''}`).join(' | ')}`);
      assert.ok(afterAAAA?.includes('192.0.2.2'), '192.0.2.2 lost its protection');
    } finally {
      await d.stop();
      await named.stop();
      h.cleanup();
    }
  });
});
