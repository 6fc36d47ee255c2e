// Carries the registry's wishes to an Engine: the edge where time passes and daemons fail. One worker
// per name at a time (install then remove never race), concurrent requests for one name share a single
// engine call, a bounded queue pushes back instead of growing without limit, a timer sweeps expired
// peers, and reconcile() rebuilds the daemon's state from the registry after either side restarted.
import type { Engine, Peer, PeerOwner, ReconcileResult } from '../ike-bridge/engine';
import { EngineError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import { peerKey, peerMaterial, PeerRegistry, type ReleaseResult, type SweepResult, type UpsertResult } from './registry';

/** Time and timers, injectable so tests drive them. */
export interface SyncClock {
  /** Unix time in seconds (may be fractional). */
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: SyncClock = {
  now: () => Date.now() / 1000,
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref(); // the sweep alone must not keep a CLI process alive
    return t;
  },
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PeerSyncOptions {
  engine: Engine;
  registry?: PeerRegistry;
  clock?: SyncClock;
  log?: Logger;
  /** Names waiting for a worker before new requests are refused (ENGINE_QUEUE_FULL). */
  maxQueue?: number;
  /** Engine calls in flight at once. */
  concurrency?: number;
  /** Longest sleep between sweeps, so a jump of the wall clock is noticed. */
  maxSweepDelayMs?: number;
}

export interface SyncStats {
  installs: number;
  removes: number;
  failures: number;
  /** Requests that joined an engine call already under way or queued. */
  coalesced: number;
  queued: number;
  active: number;
}

interface Pending {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** The engine's state for a name after a failed call: unknown, so the next request retries. */
const UNKNOWN = '\u0000unknown';
/** Convergence steps per worker turn; a name still moving after that goes to the back of the queue. */
const MAX_STEPS = 4;
/** Names per engine.installMany() call. */
const MAX_BATCH = 64;

export class PeerSync {
  readonly registry: PeerRegistry;
  private readonly engine: Engine;
  private readonly clock: SyncClock;
  private readonly log: Logger;
  private readonly maxQueue: number;
  private readonly concurrency: number;
  private readonly maxSweepDelayMs: number;
  /** What the engine holds, by name, as peerMaterial(); UNKNOWN after a failure. */
  private readonly applied = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  private readonly queue: string[] = [];
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private reconciling: Promise<ReconcileResult> | null = null;
  private timer: unknown = null;
  private timerDueMs = Infinity;
  private started = false;
  private readonly counters = { installs: 0, removes: 0, failures: 0, coalesced: 0 };

  constructor(opts: PeerSyncOptions) {
    this.engine = opts.engine;
    this.registry = opts.registry ?? new PeerRegistry();
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.maxQueue = opts.maxQueue ?? 1024;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.maxSweepDelayMs = opts.maxSweepDelayMs ?? 60_000;
  }

  private nowSec(): number {
    return Math.floor(this.clock.now());
  }

  /** Want `peer` (for peer.owner); resolves once the engine holds it, rejects with the engine's error. */
  async upsert(peer: Peer): Promise<UpsertResult> {
    const r = this.registry.upsert(peer, this.nowSec());
    this.reschedule(peer.expiresAt);
    await this.ensure(peer.name);
    return r;
  }

  /** `owner` no longer wants `name`; removed from the engine when no other owner does. */
  async release(name: string, owner: PeerOwner): Promise<ReleaseResult> {
    const r = this.registry.release(name, owner, this.nowSec());
    await this.ensure(name);
    return r;
  }

  /** Remove at once for every owner (e.g. its key turned bogus). */
  async forget(name: string): Promise<void> {
    this.registry.forget(name);
    await this.ensure(name);
  }

  /** Drop expired peers from the registry and the engine. */
  async sweep(): Promise<SweepResult> {
    const r = this.registry.sweep(this.nowSec());
    const names = [...r.removed, ...r.replaced.map((p) => p.name)];
    const results = await Promise.allSettled(names.map((n) => this.ensure(n)));
    results.forEach((res, i) => {
      if (res.status === 'rejected') this.log.warn({ peer: names[i], err: String(res.reason) }, 'sweep: engine call failed');
    });
    if (r.removed.length) this.log.info({ peers: r.removed }, 'expired peers removed');
    return r;
  }

  /**
   * Make the engine hold exactly the registry's peers (at start, or when the engine came back).
   * Waits for calls in flight, holds new ones back meanwhile; concurrent calls share one reconcile.
   */
  reconcile(): Promise<ReconcileResult> {
    if (this.reconciling) {
      this.counters.coalesced++;
      return this.reconciling;
    }
    const run = async (): Promise<ReconcileResult> => {
      await this.drain();
      this.registry.sweep(this.nowSec());
      const desired = this.registry.desired();
      let res: ReconcileResult;
      try {
        res = await this.engine.reconcile(desired);
      } catch (e) {
        for (const k of this.applied.keys()) this.applied.set(k, UNKNOWN);
        for (const p of desired) this.applied.set(peerKey(p.name), UNKNOWN);
        this.counters.failures++;
        throw e;
      }
      this.applied.clear();
      const failed = new Set(res.failed.map((f) => peerKey(f.name)));
      for (const p of desired) {
        const k = peerKey(p.name);
        this.applied.set(k, failed.has(k) ? UNKNOWN : peerMaterial(p));
      }
      if (res.failed.length) this.counters.failures += res.failed.length;
      this.log.info({ installed: res.installed.length, removed: res.removed.length, failed: res.failed.length }, 'reconciled');
      return res;
    };
    this.reconciling = run().finally(() => {
      this.reconciling = null;
      this.pump();
      this.reschedule();
    });
    return this.reconciling;
  }

  /**
   * Bring the engine in line with the registry for one name. Joins the call already under way or
   * queued for that name: it re-reads the registry after each engine call, so it covers this request.
   */
  ensure(name: string): Promise<void> {
    const key = peerKey(name);
    const p = this.pending.get(key);
    if (p) {
      this.counters.coalesced++;
      return p.promise;
    }
    if (this.converged(key)) return Promise.resolve();
    if (this.queue.length >= this.maxQueue) {
      this.counters.failures++;
      return Promise.reject(new EngineError('ENGINE_QUEUE_FULL',
        `${this.queue.length} peers already wait for the IKE engine; ${key} not applied now (the registry keeps it for the next reconcile)`));
    }
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    this.pending.set(key, { promise, resolve, reject });
    this.queue.push(key);
    this.pump();
    return promise;
  }

  /** Start the expiry timer. */
  start(): void {
    this.started = true;
    this.reschedule();
  }

  stop(): void {
    this.started = false;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerDueMs = Infinity;
  }

  /** Stop the timer and wait for engine calls under way and queued. */
  async close(): Promise<void> {
    this.stop();
    while (this.pending.size > 0 || this.active > 0 || this.reconciling) {
      await Promise.allSettled([...this.pending.values()].map((p) => p.promise));
      if (this.reconciling) await this.reconciling.catch(() => undefined);
      await this.drain();
    }
  }

  stats(): SyncStats {
    return { ...this.counters, queued: this.queue.length, active: this.active };
  }

  /** Is the engine believed to hold `name` as the registry wants it? */
  isApplied(name: string): boolean {
    return this.converged(peerKey(name));
  }

  private converged(key: string): boolean {
    const want = this.registry.material(key);
    const have = this.applied.get(key);
    return want !== undefined ? have === want : have === undefined;
  }

  private pump(): void {
    while (!this.reconciling && this.active < this.concurrency && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.active++;
      void (batch.length > 1 ? this.workBatch(batch) : this.work(batch[0]!)).finally(() => {
        this.active--;
        if (this.active === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const f of w) f();
        }
        this.pump();
      });
    }
  }

  /**
   * The next queued name, and with it every other queued name that only needs an install, when the
   * engine can take them in one call: many new peers at once (a burst of lookups) then cost the
   * daemon a few round trips instead of one each.
   */
  private takeBatch(): string[] {
    const first = this.queue.shift()!;
    if (!this.engine.installMany || !this.wantsInstall(first)) return [first];
    const batch = [first];
    for (let i = 0; i < this.queue.length && batch.length < MAX_BATCH; ) {
      if (this.wantsInstall(this.queue[i]!)) batch.push(this.queue.splice(i, 1)[0]!);
      else i++;
    }
    return batch;
  }

  private wantsInstall(key: string): boolean {
    return this.registry.get(key) !== undefined && !this.converged(key);
  }

  private async workBatch(keys: string[]): Promise<void> {
    const wants = keys.map((k) => this.registry.get(k)!);
    const failed = new Map<string, unknown>();
    try {
      for (const f of await this.engine.installMany!(wants)) failed.set(peerKey(f.name), new EngineError('ENGINE_INSTALL', f.reason));
    } catch (e) {
      for (const k of keys) failed.set(k, e);
    }
    keys.forEach((key, i) => {
      const p = this.pending.get(key)!;
      const err = failed.get(key);
      if (err !== undefined) {
        this.counters.failures++;
        this.applied.set(key, UNKNOWN);
        this.pending.delete(key);
        this.log.warn({ peer: key, err: err instanceof Error ? err.message : String(err) }, 'engine call failed');
        p.reject(err);
        return;
      }
      this.counters.installs++;
      this.applied.set(key, peerMaterial(wants[i]!));
      // Changed while the batch ran: the single-name worker takes it from here, same waiters.
      if (!this.converged(key)) {
        this.queue.push(key);
        return;
      }
      this.pending.delete(key);
      p.resolve();
    });
  }

  private async work(key: string): Promise<void> {
    const p = this.pending.get(key)!;
    try {
      for (let step = 0; step < MAX_STEPS && !this.converged(key); step++) {
        const want = this.registry.get(key);
        if (want) {
          const material = peerMaterial(want);
          await this.engine.install(want);
          this.counters.installs++;
          this.applied.set(key, material);
        } else {
          await this.engine.remove(key);
          this.counters.removes++;
          this.applied.delete(key);
        }
      }
    } catch (e) {
      this.counters.failures++;
      this.applied.set(key, UNKNOWN);
      this.pending.delete(key);
      this.log.warn({ peer: key, err: e instanceof Error ? e.message : String(e) }, 'engine call failed');
      p.reject(e);
      return;
    }
    this.pending.delete(key);
    p.resolve();
    // Still moving after MAX_STEPS (changed under every call): give other names a turn first.
    if (!this.converged(key)) void this.ensure(key).catch(() => undefined);
  }

  private drain(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((res) => this.idleWaiters.push(res));
  }

  /** `hint`: the expiry just added; when the timer is due before it, nothing to recompute (hot path). */
  private reschedule(hint?: number): void {
    if (!this.started) return;
    if (hint !== undefined && this.timer !== null && this.timerDueMs <= hint * 1000 + 5) return;
    const next = this.registry.nextExpiry();
    if (next === undefined) {
      if (this.timer !== null) this.clock.clearTimer(this.timer);
      this.timer = null;
      this.timerDueMs = Infinity;
      return;
    }
    const nowMs = this.clock.now() * 1000;
    // +5 ms: a timer firing a hair early would otherwise find nothing expired yet.
    const delay = Math.min(Math.max(0, next * 1000 - nowMs + 5), this.maxSweepDelayMs);
    const due = nowMs + delay;
    if (this.timer !== null && this.timerDueMs <= due) return;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timerDueMs = due;
    this.timer = this.clock.setTimer(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = null;
    this.timerDueMs = Infinity;
    this.sweep()
      .catch((e: unknown) => this.log.warn({ err: String(e) }, 'sweep failed'))
      .finally(() => this.reschedule());
  }
}
