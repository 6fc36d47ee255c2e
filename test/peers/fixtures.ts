// Shared test data for the peer registry and sync tests.
import type { Peer } from '../../src/ike-bridge/engine';
import type { SyncClock } from '../../src/peers';

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

/** Lets pending promise callbacks run: `turns` rounds of the event loop. */
export async function settle(turns = 1): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((res) => setImmediate(res));
}

/**
 * A clock the test moves by hand; timers fire only when advanced past them, in order, each followed
 * by `turns` rounds of settling (and once more at the end when `settleAtEnd`).
 */
export class ManualClock implements SyncClock {
  t = T;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private id = 0;
  constructor(
    private readonly turns = 1,
    private readonly settleAtEnd = false,
  ) {}
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): unknown {
    this.timers.set(++this.id, { at: this.t + ms / 1000, fn });
    return this.id;
  }
  clearTimer(h: unknown): void {
    this.timers.delete(h as number);
  }
  async advance(sec: number): Promise<void> {
    const end = this.t + sec;
    for (let guard = 0; guard < 1000; guard++) {
      const due = [...this.timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
      await settle(this.turns);
    }
    this.t = end;
    if (this.settleAtEnd) await settle(this.turns);
  }
}
