// A peer's key set is a set: the order in which DNS returned its IPSECKEY records (servers rotate
// RRsets) must not look like a key change, or every refresh during a rollover re-installs the peer.
import assert from 'node:assert/strict';
import { peerMaterial } from '../../src/peers';
import { peer } from './fixtures';

describe('peer material', () => {
  it('is the same for the same keys in another order, and differs when a key differs', () => {
    const k1 = { algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(1) };
    const k2 = { algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(2) };
    const k3 = { algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(3) };
    const m = (keys: (typeof k1)[]): string => peerMaterial(peer({ auth: { kind: 'pubkey', keys } }));
    assert.equal(m([k1, k2]), m([k2, k1]));
    assert.notEqual(m([k1, k2]), m([k1, k3]));
  });
});
