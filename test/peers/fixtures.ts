// Shared test data for the peer registry and sync tests.
import type { Peer } from '../../src/ike-bridge/engine';

export const T = 1_700_000_000;

/** An authenticated peer expiring at T+300, owned by serve; override what a test is about. */
export function peer(over: Partial<Peer> = {}): Peer {
  return {
    name: 'peer.example',
    addresses: ['192.0.2.10'],
    auth: { kind: 'pubkey', keys: [{ algorithm: 4, precedence: 10, publicKey: new Uint8Array(32).fill(1) }] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: T + 300,
    owner: 'serve',
    ...over,
  };
}
