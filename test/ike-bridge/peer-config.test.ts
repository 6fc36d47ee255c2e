import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { Peer } from '../../src/ike-bridge/engine';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import { buildConn, type ConnOptions, peersEqual, sameKeys } from '../../src/ike-bridge/peer-config';
import { EngineError } from '../../src/util/errors';

const ed = keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey);
const opts: ConnOptions = {
  local: { id: 'a.oe.test', publicKeyPem: 'PEM-A' },
  ikeProposals: ['aes128-sha256-x25519'],
  espProposals: ['aes128-sha256'],
  startAction: 'trap',
};
const peer = (over: Partial<Peer> = {}): Peer => ({
  name: 'b.oe.test',
  addresses: ['192.0.2.2'],
  auth: { kind: 'pubkey', keys: [{ ...ed, precedence: 10 }] },
  gateway: { kind: 'none' },
  level: 'private',
  expiresAt: 0,
  owner: 'serve',
  ...over,
});

describe('peer-config: Peer -> load-conn', () => {
  it('host to host: remote_addrs and remote_ts are the peer, keys bound to its name, tunnel mode', () => {
    const c = buildConn(peer(), opts) as Record<string, any>;
    assert.deepEqual(c.remote_addrs, ['192.0.2.2']);
    assert.deepEqual(c.local, { auth: 'pubkey', id: 'a.oe.test' });
    assert.equal(c.remote.id, 'b.oe.test');
    assert.match(c.remote.pubkeys[0], /^-----BEGIN PUBLIC KEY-----/);
    assert.deepEqual(c.children['oe-b.oe.test'], {
      mode: 'tunnel',
      local_ts: ['dynamic'],
      remote_ts: ['192.0.2.2/32'],
      esp_proposals: ['aes128-sha256'],
      start_action: 'trap',
    });
  });

  it('through an IPSECKEY gateway: IKE to the gateway, the peer addresses as traffic selectors', () => {
    const c = buildConn(
      peer({ addresses: ['198.51.100.7', '2001:db8::7'], gateway: { kind: 'address', address: '192.0.2.9' } }),
      opts,
    ) as Record<string, any>;
    assert.deepEqual(c.remote_addrs, ['192.0.2.9']);
    assert.deepEqual(c.children['oe-b.oe.test'].remote_ts, ['198.51.100.7/32', '2001:db8::7/128']);
  });

  it('clear and block become pass and drop shunts', () => {
    assert.equal((buildConn(peer({ level: 'clear' }), opts) as any).children['oe-b.oe.test'].mode, 'pass');
    assert.equal((buildConn(peer({ level: 'block' }), opts) as any).children['oe-b.oe.test'].mode, 'drop');
  });

  it('refuses a peer whose only key is unusable, and unauthenticated methods strongSwan 5.9.8 lacks', () => {
    assert.throws(
      () => buildConn(peer({ auth: { kind: 'pubkey', keys: [{ algorithm: 4, publicKey: new Uint8Array(5), precedence: 1 }] } }), opts),
      (e: unknown) => e instanceof EngineError && e.code === 'engine-bad-key',
    );
    assert.throws(() => buildConn(peer({ auth: { kind: 'unauthenticated', method: 'null' } }), opts), { code: 'engine-unsupported' });
  });

  it('compares peers by what the daemon holds (not expiry) and keys separately', () => {
    assert.ok(peersEqual(peer(), peer({ expiresAt: 5 })));
    assert.ok(!peersEqual(peer(), peer({ addresses: ['192.0.2.3'] })));
    assert.ok(sameKeys(peer(), peer({ addresses: ['192.0.2.3'] })));
    const other = keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey);
    assert.ok(!sameKeys(peer(), peer({ auth: { kind: 'pubkey', keys: [{ ...other, precedence: 10 }] } })));
  });

  it('compares as the registry does (one peerMaterial): a reordered key set is the same, level and initiate are not', () => {
    const other = { ...keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey), precedence: 10 };
    const two = peer({ auth: { kind: 'pubkey', keys: [{ ...ed, precedence: 10 }, other] } });
    const swapped = peer({ auth: { kind: 'pubkey', keys: [other, { ...ed, precedence: 10 }] } });
    assert.ok(peersEqual(two, swapped));
    assert.ok(sameKeys(two, swapped));
    assert.ok(peersEqual(peer(), peer({ owner: 'autosp' })));
    assert.ok(!peersEqual(peer(), peer({ level: 'opportunistic' })));
    assert.ok(!peersEqual(peer(), peer({ initiate: true })));
    assert.ok(!sameKeys(peer(), two));
  });
});

// Adversarial review of the one peerMaterial: nothing the engine would hold differently may compare
// equal (a reconcile would keep the old conn: a rolled key's SAs alive, a downgrade to unauthenticated
// or an added address never loaded). Each change of a field, alone, against the same base peer.
describe('peer-config: every security-relevant change is a change', () => {
  const k = { ...ed, precedence: 10 };
  const other = { ...keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey), precedence: 10 };
  const changes: [string, Partial<Peer>, boolean][] = [
    // [what, the change, does it change the keys too]
    ['key bytes', { auth: { kind: 'pubkey', keys: [other] } }, true],
    ['a key added', { auth: { kind: 'pubkey', keys: [k, other] } }, true],
    ['algorithm', { auth: { kind: 'pubkey', keys: [{ ...k, algorithm: 2 }] } }, false],
    ['precedence', { auth: { kind: 'pubkey', keys: [{ ...k, precedence: 20 }] } }, false],
    ['downgrade to null auth', { auth: { kind: 'unauthenticated', method: 'null' } }, true],
    ['downgrade to tofu-cert', { auth: { kind: 'unauthenticated', method: 'tofu-cert' } }, true],
    ['gateway', { gateway: { kind: 'address', address: '198.51.100.7' } }, false],
    ['level', { level: 'private-or-clear' }, false],
    ['an address added', { addresses: ['192.0.2.2', '192.0.2.3'] }, false],
    ['an address replaced', { addresses: ['192.0.2.3'] }, false],
    ['name', { name: 'c.oe.test' }, false],
    ['initiate', { initiate: true }, false],
  ];
  for (const [what, change, keys] of changes) {
    it(`${what}: not equal${keys ? ', and not the same keys' : ''}`, () => {
      assert.ok(!peersEqual(peer(), peer(change)), what);
      assert.equal(sameKeys(peer(), peer(change)), !keys, what);
    });
  }

  it('unauthenticated peers differ by method and pin', () => {
    const u = (method: 'null' | 'wellknown-psk' | 'tofu-cert', pin?: string): Peer =>
      peer({ auth: { kind: 'unauthenticated', method, ...(pin ? { pinnedFingerprint: pin } : {}) } });
    const all = [u('null'), u('wellknown-psk'), u('tofu-cert'), u('tofu-cert', 'a'.repeat(64)), u('tofu-cert', 'b'.repeat(64))];
    for (let i = 0; i < all.length; i++) {
      for (let j = 0; j < all.length; j++) {
        assert.equal(peersEqual(all[i]!, all[j]!), i === j, `${i} ${j}`);
        assert.equal(sameKeys(all[i]!, all[j]!), i === j, `${i} ${j}`);
      }
    }
  });

  it('only spelling, order, owner and expiry compare equal', () => {
    const v6 = peer({ addresses: ['2001:DB8::1', '192.0.2.2'] });
    assert.ok(peersEqual(v6, peer({ addresses: ['192.0.2.2', '2001:db8::1'] })));
    assert.ok(peersEqual(peer(), peer({ name: 'B.OE.test', owner: 'autosp', expiresAt: 99 })));
  });
});

describe('peer-config: dual-stack peers', () => {
  it('a peer with IPv4 and IPv6 addresses gets a local traffic selector per family (dynamic covers only the IKE family)', () => {
    const c = buildConn(peer({ addresses: ['192.0.2.2', '2001:db8::2'] }), opts) as Record<string, any>;
    assert.deepEqual(c.children['oe-b.oe.test'].local_ts, ['0.0.0.0/0', '::/0']);
    assert.deepEqual(c.children['oe-b.oe.test'].remote_ts, ['192.0.2.2/32', '2001:db8::2/128']);
  });
});
