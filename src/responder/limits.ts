// Flood bounds for the responder, pure (time is an argument, in milliseconds). Any host can send
// IKE_SA_INIT + IKE_AUTH with any identity it likes, so each unknown initiator must cost us at most a
// bounded amount of DNS work: a token bucket caps lookups per second, a per-name hold-down keeps one
// name from being looked up again soon after (whatever the outcome), and the service bounds its queue.

export class TokenBucket {
  private tokens: number;
  private last: number;

  /** `ratePerSec` tokens per second, at most `burst` saved up; starts full. */
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.last = nowMs;
  }

  take(nowMs: number): boolean {
    const dt = Math.max(0, nowMs - this.last) / 1000;
    this.last = Math.max(this.last, nowMs);
    this.tokens = Math.min(this.burst, this.tokens + dt * this.ratePerSec);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Names seen recently, each until a deadline; at most `max` remembered (the oldest entries go first,
 * so a flood of distinct names cannot grow memory; it only shortens how long each name is held).
 */
export class HoldDown {
  private readonly until = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Is `name` held at `nowMs`? */
  held(name: string, nowMs: number): boolean {
    const t = this.until.get(name);
    if (t === undefined) return false;
    if (t > nowMs) return true;
    this.until.delete(name);
    return false;
  }

  hold(name: string, untilMs: number): void {
    this.until.delete(name); // re-inserted last: Map order is insertion order
    this.until.set(name, untilMs);
    while (this.until.size > this.max) this.until.delete(this.until.keys().next().value as string);
  }

  release(name: string): void {
    this.until.delete(name);
  }

  get size(): number {
    return this.until.size;
  }
}
