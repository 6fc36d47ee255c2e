// The replay harness checked on its own: deterministic keys, KeyTrap keys that really collide, a
// runner that fails when an expectation is wrong, and scenario mistakes reported by field.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyTag } from '../../src/dnssec/records';
import { a } from '../dnssec/signer';
import { collidingKeys, seededKey } from './keys';
import { loadScenario } from './scenario';
import { checkOutcome, runScenario } from './run';

const SCENARIOS = join(__dirname, '..', '..', '..', 'test', 'replay', 'scenarios');

describe('replay harness', () => {
  it('derives the same key, and the same Ed25519 signature, from the same seed', () => {
    const k1 = seededKey('example.test', 'ED25519', 256, 'same');
    const k2 = seededKey('example.test', 'ED25519', 256, 'same');
    assert.deepEqual(k1.dnskey.rdata, k2.dnskey.rdata);
    const rrs = [a('www.example.test', '192.0.2.1')];
    assert.deepEqual(k1.sign(rrs).rdata, k2.sign(rrs).rdata);
    assert.notDeepEqual(seededKey('example.test', 'ED25519', 256, 'other').dnskey.rdata, k1.dnskey.rdata);
    assert.equal(seededKey('example.test', 'ECDSAP256SHA256', 257, 'same').alg, 13);
  });

  it('crafts distinct DNSKEYs that all carry the requested key tag', () => {
    const keys = collidingKeys('trap.test', 12345, 20);
    assert.equal(keys.length, 20);
    assert.equal(new Set(keys.map((k) => Buffer.from(k.rdata).toString('hex'))).size, 20);
    for (const k of keys) assert.equal(keyTag(k.rdata), 12345);
  });

  it('fails a scenario whose expected verdict is wrong, and says what the validator said', async () => {
    const s = loadScenario(join(SCENARIOS, 'secure-positive.yaml'));
    const o = await runScenario(s);
    checkOutcome(s, o);
    assert.throws(
      () => checkOutcome({ ...s, expect: { ...s.expect, verdict: ['bogus'] } }, o),
      /expected bogus, got secure[\s\S]*queries: \. DNSKEY/,
    );
    assert.throws(() => checkOutcome({ ...s, expect: { ...s.expect, rcode: 3 } }, o), /rcode/);
    assert.throws(() => checkOutcome({ ...s, expect: { ...s.expect, absent: ['192.0.2.1'] } }, o), /is in the validated data/);
  });

  it('checks result.rrsets (once the validator returns them) by role, security, owner, type, TTL and RDATA', async () => {
    const s = loadScenario(join(SCENARIOS, 'ttl-capped-by-signature-expiry.yaml'));
    const o = await runScenario(s);
    const rec = { name: 'www.example.test', type: 1, class: 1, ttl: 600, rdata: Uint8Array.of(192, 0, 2, 1) };
    const good = { name: 'www.example.test', type: 1, records: [rec], ttl: 600, security: 'secure', role: 'answer' };
    const withSets = (sets: unknown[]): typeof o => ({ ...o, result: { ...o.result, ttl: 600, rrsets: sets } as typeof o.result });
    checkOutcome(s, withSets([good]));
    assert.throws(
      () => checkOutcome(s, withSets([{ ...good, ttl: 3600, records: [{ ...rec, ttl: 3600 }] }])),
      /no validated RRset matches/,
    );
    assert.throws(() => checkOutcome(s, withSets([{ ...good, security: 'insecure' }])), /no validated RRset matches/);
    assert.throws(
      () => checkOutcome(s, withSets([{ ...good, records: [{ ...rec, rdata: Uint8Array.of(203, 0, 113, 66) }] }])),
      /no validated RRset matches/,
    );
    assert.throws(
      () => checkOutcome(s, withSets([good, { ...good, name: 'evil.attacker.test', role: 'cname' }])),
      /beyond the expected ones/,
    );
    assert.throws(() => checkOutcome(s, withSets([])), /no validated RRset matches/);
  });

  it('counts signature verifications', async () => {
    const o = await runScenario(loadScenario(join(SCENARIOS, 'secure-positive.yaml')));
    // At least the root, test and example.test key sets, two DS RRsets and the answer.
    assert.ok(o.verifications >= 6, `${o.verifications} verifications`);
    assert.equal((await runScenario(loadScenario(join(SCENARIOS, 'secure-positive.yaml')))).verifications, o.verifications);
  });

  it('reports a mistake in a scenario file by file and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oedns-replay-'));
    try {
      const f = join(dir, 'bad.yaml');
      writeFileSync(
        f,
        'behaviour: x\nnow: 2024-06-01T00:00:00Z\nzones: { .: { denial: nsec5 } }\nquery: x.test A\nexpect: { verdict: secure }\n',
      );
      assert.throws(() => loadScenario(f), /bad\.yaml: zones\.\.\.denial: expected nsec or nsec3/);
      writeFileSync(f, 'behaviour: x\nnow: 2024-06-01T00:00:00Z\nzones: { .: {} }\nquery: x.test A\nexpect: { verdict: fine }\n');
      assert.throws(() => loadScenario(f), /expect\.verdict/);
      writeFileSync(
        f,
        'behaviour: x\nnow: 2024-06-01T00:00:00Z\nzones: { .: {} }\nquery: x.test A\nupstream: [{ do: [{ explode: {} }] }]\nexpect: { verdict: secure }\n',
      );
      assert.throws(() => loadScenario(f), /unknown field 'explode'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
