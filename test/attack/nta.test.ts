// Found by an adversarial review: a negative trust anchor (RFC 7646) must set aside the names under it
// and nothing else. It was checked on the question name only, and the whole answer was then taken as
// insecure, CNAME targets included: with an NTA on stale.test (its signatures really have expired), an
// attacker on the upstream path answered `x.stale.test A` with `CNAME bob.oe.test` and a forged
// `bob.oe.test A`; the forged address was served, and under an opportunistic policy with an
// unauthenticated fallback, bob.oe.test's peer was installed at the attacker's address.
//
// Here: names under the NTA are still answered (insecure, no AD), a CNAME from them to a signed name
// outside it is validated like any other name (the forged target is bogus, the genuine one passes), and
// once the NTA ends its names are validated again, cached answers or not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Message } from '../../src/wire/types';
import { asks, passThrough } from '../support/hostile-upstream';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { type RunningDaemon, startDaemon } from '../../src/daemon/daemon';
import { resolveServeConfig } from '../../src/config/serve';
import { parsePolicy } from '../../src/policy';
import { Rcode } from '../../src/wire/types';
import { freePort } from '../support/ports';
import { ask, attackSkipped, type AttackWorld, EVIL, lines, rrOf, startAttackWorld, T } from './fixture';
import { reservedOnly } from '../support/reserved';

// Opportunistic with an unauthenticated fallback: the policy under which an insecure address alone
// becomes a peer, so a forged address that passed as insecure would be installed.
const POLICY = 'default: opportunistic\nmax-ttl: 600\nfallback: { method: tofu-cert, any-key: true }\n';

/** `x.stale.test CNAME bob.oe.test` followed by the given records for bob.oe.test. */
function cnameToBob(m: Message, bobRecords: Message['answers']): Message {
  return {
    ...m,
    rcode: Rcode.NOERROR,
    answers: [rrOf('x.stale.test. 86400 IN CNAME bob.oe.test.'), ...bobRecords],
    authorities: [],
    additionals: [],
  };
}

describe('attack: a negative trust anchor covers its names, not the CNAME targets outside it', function () {
  this.timeout(120_000);
  let w: AttackWorld;
  let d: RunningDaemon | undefined;
  let engine: DryRunEngine;
  let port: number;
  before(async function () {
    if (attackSkipped()) this.skip();
    w = await startAttackWorld();
  });
  beforeEach(async function () {
    if (!w) this.skip();
    port = await freePort();
    engine = new DryRunEngine();
    d = await startDaemon({
      reservedAddresses: reservedOnly(),
      serve: resolveServeConfig({}, { listen: [`127.0.0.1:${port}`], upstream: [w.proxy.endpoint] }),
      engine,
      policy: parsePolicy(POLICY, 'yaml'),
      anchors: parseTrustAnchors(readFileSync(w.anchorFile, 'utf8')),
      controlPath: null,
    });
  });
  afterEach(async () => {
    if (w) w.proxy.attack = passThrough;
    await d?.stop();
    d = undefined;
  });
  after(async () => w?.stop());

  const nowSec = (): number => Math.floor(Date.now() / 1000);

  it('answers a name under the NTA (expired signatures) as insecure, and validates it again once the NTA ends', async () => {
    const before = await ask(port, 'bob.stale.test', T.A);
    assert.equal(before.msg?.rcode, Rcode.SERVFAIL, 'stale.test is broken: without an NTA it is bogus');
    d!.ntas.add('stale.test', nowSec(), 3);
    d!.flush('stale.test');
    const under = await ask(port, 'bob.stale.test', T.A);
    assert.equal(under.msg?.rcode, Rcode.NOERROR);
    assert.equal(under.msg?.ad, false);
    assert.deepEqual(
      under.msg.answers.filter((r) => r.type === T.A).map((r) => [...r.rdata].join('.')),
      ['192.0.2.70'],
    );
    assert.ok(
      under.msg.answers.every((r) => r.ttl <= 3),
      `answers under a 3 s NTA carry TTLs ${under.msg.answers.map((r) => r.ttl)}`,
    );
    await new Promise((r) => setTimeout(r, 3500));
    const after = await ask(port, 'bob.stale.test', T.A);
    assert.equal(after.msg?.rcode, Rcode.SERVFAIL, 'the NTA has ended: the cached insecure answer must not be served again');
  });

  it('validates a CNAME target outside the NTA: a forged address for bob.oe.test is bogus, served to nobody, installed nowhere', async () => {
    await ask(port, 'bob.oe.test', T.A);
    d!.ntas.add('stale.test', nowSec(), 600);
    d!.flush('stale.test');
    w.proxy.attack = async (x) => {
      const m = await x.forward();
      return asks(x, 'x.stale.test', T.A) ? cnameToBob(m, [rrOf(`bob.oe.test. 86400 IN A ${EVIL.address}`)]) : m;
    };
    const a = await ask(port, 'x.stale.test', T.A);
    assert.equal(a.msg?.rcode, Rcode.SERVFAIL, `rcode ${a.msg?.rcode}: ${a.msg ? lines(a.msg).join(' | ') : 'no answer'}`);
    assert.deepEqual(
      lines(a.msg).filter((l) => l.includes(EVIL.address)),
      [],
    );
    const installs = engine.actions.filter((x) => x.op === 'install' && x.peer?.addresses.includes(EVIL.address));
    assert.deepEqual(
      installs.map((x) => `${x.name}@${x.peer!.addresses.join(',')}`),
      [],
      "a peer was installed at the attacker's address",
    );
    assert.ok(!engine.get('bob.oe.test')?.addresses.includes(EVIL.address));
  });

  it('still answers a CNAME from a name under the NTA to the genuine, signed bob.oe.test (insecure as a whole: no AD)', async () => {
    d!.ntas.add('stale.test', nowSec(), 600);
    w.proxy.attack = async (x) => {
      const m = await x.forward();
      if (!asks(x, 'x.stale.test', T.A)) return m;
      const bob = await x.ask('bob.oe.test', T.A);
      return cnameToBob(m, bob.answers);
    };
    const a = await ask(port, 'x.stale.test', T.A);
    assert.equal(a.msg?.rcode, Rcode.NOERROR, a.msg ? lines(a.msg).join(' | ') : 'no answer');
    assert.equal(a.msg?.ad, false);
    assert.deepEqual(
      a.msg.answers.filter((r) => r.type === T.A).map((r) => [r.name.toLowerCase(), [...r.rdata].join('.')]),
      [['bob.oe.test', '192.0.2.2']],
    );
  });
});
