// What the IKE engine benchmarks (engine-install, engine-check) share: a lab with a real charon (the
// bench stops with exit code 2 when this machine cannot run one), charon's pid for its /proc figures,
// and made-up peers at benchmarking addresses, never contacted (no initiate).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import { type Lab, labUnavailable, labUp } from '../../test/support/lab';
import { benchAddress } from './doc';

/** The lab, or exit 2 with `bench`'s name and the reason there is none. */
export async function engineLabUp(bench: string): Promise<Lab> {
  const why = labUnavailable();
  if (why) {
    console.error(`${bench} bench needs a lab: ${why}`);
    process.exit(2);
  }
  return labUp();
}

/** Host A's charon's pid (it changes with each lab.restart('a')). */
export function charonPid(lab: Lab): number {
  return Number(readFileSync(join(lab.a.dir, 'charon.pid'), 'utf8'));
}

/** Peer i: `p<i>.bench.oe.test` at the i-th address of 198.18.0.0/15, private, held by serve, one key. */
export function benchPeer(i: number, key: { algorithm: number; publicKey: Uint8Array }): Peer {
  return {
    name: `p${i}.bench.oe.test`,
    addresses: [benchAddress(i)],
    auth: { kind: 'pubkey', keys: [{ ...key, precedence: 10 }] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: 0,
    owner: 'serve',
    initiate: false,
  };
}
