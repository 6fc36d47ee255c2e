// The real neighbours together: IPSECKEY RDATA through the wire codec, verdicts from src/dnssec,
// decide(), the registry and PeerSync, against the dry-run engine. Checks the structural types of
// src/policy still fit what the neighbours produce (this file stops compiling if they drift).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import { bogus, SECURE, type Verdict } from '../../src/dnssec/verdict';
import { decodeIpseckey, encodeIpseckey, type Ipseckey } from '../../src/wire/rdata';
import { RRType } from '../../src/wire/types';
import { decide, parsePolicy, type IpseckeyLike } from '../../src/policy';
import { PeerSync, type SyncClock } from '../../src/peers';

const T = 1_700_000_000;
const clock: SyncClock = { now: () => T, setTimer: () => 0, clearTimer: () => undefined };

function wireKey(over: Partial<Ipseckey>): IpseckeyLike {
  const k = generateKeyPairSync('ed25519').publicKey;
  const rec: Ipseckey = {
    precedence: 10,
    gatewayType: 0,
    algorithm: 4,
    gateway: null,
    publicKey: keyObjectToIpseckey(k).publicKey,
    ...over,
  };
  const decoded: Ipseckey = decodeIpseckey(encodeIpseckey(rec));
  return decoded; // an Ipseckey must be an IpseckeyLike
}

describe('capture flow: wire → decide → registry → dry-run engine', () => {
  const policy = parsePolicy('default: private\ngateways: [example]\nrules:\n  - { zone: open.example, level: private-or-clear }\n');
  let engine: DryRunEngine;
  let sync: PeerSync;
  beforeEach(() => {
    engine = new DryRunEngine();
    sync = new PeerSync({ engine, clock });
  });
  afterEach(() => sync.close());

  it('installs a secure key decoded from wire form, with its gateway, once for concurrent queries', async () => {
    const keys = [
      wireKey({ gatewayType: 1, gateway: '198.51.100.1' }),
      wireKey({ precedence: 20, gatewayType: 1, gateway: '198.51.100.1' }),
    ];
    const secure: Verdict = SECURE;
    const d = decide(
      {
        name: 'host.example.',
        qtype: RRType.AAAA,
        addresses: ['2001:db8::10'],
        addressVerdict: secure,
        addressTtl: 300,
        keys,
        keyVerdict: secure,
        keyTtl: 600,
        sigExpiry: T + 100,
      },
      policy,
      T,
    );
    assert.equal(d.action, 'install', d.reason);
    if (d.action !== 'install') return;
    assert.equal(d.ttl, 100);
    await Promise.all([sync.upsert(d.peer), sync.upsert(d.peer), sync.upsert(d.peer)]);
    assert.deepEqual(
      engine.actions.map((a) => `${a.op} ${a.name}`),
      ['install host.example'],
    );
    const held = engine.get('host.example');
    assert.deepEqual(held?.gateway, { kind: 'address', address: '198.51.100.1' });
    assert.equal(held?.auth.kind === 'pubkey' && held.auth.keys.length, 2);
    assert.equal(held?.expiresAt, T + 100);
  });

  it('a key that turns bogus is removed at once and nothing new is installed', async () => {
    const keys = [wireKey({})];
    const base = {
      name: 'host.example',
      qtype: RRType.A,
      addresses: ['192.0.2.10'],
      addressVerdict: SECURE,
      addressTtl: 300,
      keys,
      keyTtl: 300,
    };
    const first = decide({ ...base, keyVerdict: SECURE }, policy, T);
    assert.equal(first.action, 'install');
    if (first.action === 'install') await sync.upsert(first.peer);
    const turned = decide({ ...base, keyVerdict: bogus('sig-invalid', 6, 'no key verifies the RRSIG') }, policy, T);
    assert.equal(turned.action, 'refuse');
    assert.equal(turned.action === 'refuse' && turned.ede, 6);
    await sync.invalidate('host.example', 'serve');
    assert.equal(engine.get('host.example'), undefined);
    // Level private: a drop shunt covers the address before the conn goes.
    assert.deepEqual(
      engine.actions.map((a) => a.op),
      ['install', 'shunt', 'remove'],
    );
    assert.deepEqual(engine.shuntOf('host.example'), ['192.0.2.10']);
  });

  it('reconcile after a restart of the engine puts back exactly the registry', async () => {
    const d = decide(
      {
        name: 'a.open.example',
        qtype: RRType.A,
        addresses: ['192.0.2.20'],
        addressVerdict: SECURE,
        addressTtl: 300,
        keys: [wireKey({})],
        keyVerdict: SECURE,
        keyTtl: 300,
      },
      policy,
      T,
    );
    assert.equal(d.action, 'install');
    if (d.action === 'install') await sync.upsert(d.peer);
    const fresh = new DryRunEngine(); // the daemon came back empty
    const again = new PeerSync({ engine: fresh, clock, registry: sync.registry });
    const res = await again.reconcile();
    assert.deepEqual(res.installed, ['a.open.example']);
    assert.equal(fresh.get('a.open.example')?.level, 'private-or-clear');
    await again.close();
  });
});
