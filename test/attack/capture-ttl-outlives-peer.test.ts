// Found by an adversarial review: the address a program gets carries its own TTL (3600 s here) while the peer installed for
// it lives min(address TTL, key TTL, RRSIG expiry, max-ttl) (5 s here: the IPSECKEY's TTL). When the
// peer expires the sweep removes it from the engine; the program still holds the address for an hour
// and its traffic then leaves without IPsec (level private!). Nothing clamps the served TTL to the
// peer's lifetime, and no drop shunt is kept (ARCHITECTURE.md rule 2).
import assert from 'node:assert/strict';
import { generateHostKey } from '../../src/ike-bridge/identity';
import { startNamed } from '../support/named';
import { buildSignedHierarchy } from '../support/zones';
import { ask, attackSkipped, ipseckeyRdata, T, serveDryRun } from './fixture';

describe('capture attacks: served TTL vs peer lifetime', function () {
  this.timeout(120_000);
  for (const v of [
    { keyTtl: 5, maxTtl: '3600' },
    { keyTtl: 3600, maxTtl: '5s' },
  ])
    it(`the answer's TTL is no longer than the peer's life (address TTL 3600, IPSECKEY TTL ${v.keyTtl}, max-ttl ${v.maxTtl})`, async function () {
      if (attackSkipped()) this.skip();
      const h = buildSignedHierarchy([
        { name: '.' },
        { name: 'test' },
        {
          name: 'oe.test',
          records: ['bob 3600 A 192.0.2.2', `bob ${v.keyTtl} IPSECKEY ${ipseckeyRdata('bob.oe.test', generateHostKey('ed25519'))}`],
        },
      ]);
      const named = await startNamed({ zones: h.zones });
      const { d, engine, port } = await serveDryRun({
        upstream: `${named.address}:${named.port}`,
        anchorFile: h.anchorFile,
        policy: `default: private\nmax-ttl: ${v.maxTtl}\n`,
      });
      try {
        const a = await ask(port, 'bob.oe.test', T.A);
        const ttl = a.msg!.answers.find((r) => r.type === T.A)!.ttl;
        const p = engine.get('bob.oe.test');
        console.log(
          `      answer: rcode ${a.msg!.rcode} AD=${a.msg!.ad} A TTL ${ttl}; peer installed: ${!!p}, expires in ${p ? p.expiresAt - Math.floor(Date.now() / 1000) : '-'} s`,
        );
        await new Promise((r) => setTimeout(r, 8000));
        console.log(
          `      8 s later: peer in engine: ${!!engine.get('bob.oe.test')}; engine actions: ${engine.actions.map((x) => `${x.op} ${x.name}`).join(', ')}; the program may use the address for ${ttl - 8} s more`,
        );
        assert.ok(ttl <= 5 || engine.get('bob.oe.test'), 'the address outlives its protection');
      } finally {
        await d.stop();
        await named.stop();
        h.cleanup();
      }
    });
});
