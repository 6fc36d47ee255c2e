// Found by an adversarial review: a program asks A then AAAA (getaddrinfo, happy eyeballs). Each capture decision upserts the
// 'serve' claim with the addresses of its own answer only, so the AAAA answer's claim REPLACES the A
// answer's: the IPv4 address the program already holds is no longer protected (ARCHITECTURE.md: "Claims
// from A and AAAA answers ... are merged, never replaced").
import assert from 'node:assert/strict';
import { generateHostKey } from '../../src/ike-bridge/identity';
import { startNamed } from '../support/named';
import { buildSignedHierarchy } from '../support/zones';
import { ask, attackSkipped, ipseckeyRdata, T, serveDryRun } from './fixture';

describe('capture attacks: A and AAAA claims', function () {
  this.timeout(120_000);
  it('after A then AAAA, the peer still covers the IPv4 address', async function () {
    if (attackSkipped()) this.skip();
    const h = buildSignedHierarchy([
      { name: '.' },
      { name: 'test' },
      {
        name: 'oe.test',
        records: ['bob A 192.0.2.2', 'bob AAAA 2001:db8::2', `bob IPSECKEY ${ipseckeyRdata('bob.oe.test', generateHostKey('ed25519'))}`],
      },
    ]);
    const named = await startNamed({ zones: h.zones });
    const { d, engine, port } = await serveDryRun({
      upstream: `${named.address}:${named.port}`,
      anchorFile: h.anchorFile,
      policy: 'default: private\n',
    });
    try {
      await ask(port, 'bob.oe.test', T.A);
      const afterA = engine.get('bob.oe.test')?.addresses;
      await ask(port, 'bob.oe.test', 28);
      const afterAAAA = engine.get('bob.oe.test')?.addresses;
      console.log(
        `      after A: ${JSON.stringify(afterA)}; after AAAA: ${JSON.stringify(afterAAAA)}; engine: ${engine.actions.map((x) => `${x.op} ${x.name} ${x.peer?.addresses.join(',') ?? ''}`).join(' | ')}`,
      );
      assert.ok(afterAAAA?.includes('192.0.2.2'), '192.0.2.2 lost its protection');
    } finally {
      await d.stop();
      await named.stop();
      h.cleanup();
    }
  });
});
