// Carries the registry's wishes to an Engine: the edge where time passes and daemons fail. One worker
// per name at a time (install then remove never race), concurrent requests for one name share a single
// engine call, a bounded queue pushes back instead of growing without limit, a timer sweeps expired
// peers and shunts, and reconcile() rebuilds the daemon's state from the registry after either side
// restarted. Two promises are kept here for every owner: upsert() resolves only once the engine holds
// the addresses asked for (checked against what the engine acknowledged, or EngineError), and a key
// that is replaced ends the IKE SAs authenticated with it (the key may have been rolled because it
// leaked; charon would otherwise keep rekeying them without a new authentication), even when the
// first install of the new key fails (the SA ids are kept until one succeeds). A call that failed is
// retried with backoff when what it left behind is unsafe: a removal (the key stays trusted until
// the engine confirms), a shunt, a conn whose keys or addresses changed.
import type { Engine, ReconcileResult } from '../ike-bridge/engine';
import type { Peer, PeerOwner } from './model';
import { EngineError } from '../util/errors';
import { addressText } from '../policy/ip';
import { silentLogger, type Logger } from '../util/log';
import {
  keyMaterial,
  peerKey,
  peerMaterial,
  PeerRegistry,
  type ReleaseResult,
  type Shunt,
  type SweepResult,
  type UpsertResult,
} from './registry';

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
  /** Seconds a drop shunt outlives the answer that handed its address out (registry default 3600). */
  shuntGraceSec?: number;
  /**
   * Addresses no peer may cover, in canonical form (src/daemon/reserved-addresses: this host's own,
   * its default routers, its upstream resolvers): a signed name listing them would pull the traffic
   * oedns and the host need to work into a tunnel to a host that is not that name.
   */
  reserved?: () => ReadonlySet<string>;
  /** First retry of a failed engine call, doubling up to retryMaxMs. Default 1000. */
  retryMs?: number;
  /** Longest wait between retries. Default 60 000. */
  retryMaxMs?: number;
}

/** IKE SAs noted per rolled key at most (SA ids of one peer; charon keeps a handful). */
export const MAX_ROLLED_SAS = 64;

/** More addresses than this in one peer are refused (bounds the claim check and the engine's selectors). */
export const MAX_PEER_ADDRESSES = 64;

export interface SyncStats {
  installs: number;
  removes: number;
  /** Engine calls that set or ended a drop shunt. */
  shuntCalls: number;
  /** IKE SAs ended because the key that authenticated them was replaced. */
  rolledSas: number;
  failures: number;
  /** Requests that joined an engine call already under way or queued. */
  coalesced: number;
  /** Names the engine failed to remove: retried (with backoff) until it confirms. */
  pendingRemovals: number;
  /** Names whose failed engine call waits for a retry (removals included). */
  retrying: number;
  /** IKE SAs of a replaced key still to be ended (the new key's install has not succeeded yet). */
  pendingRolledSas: number;
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

/** What the engine acknowledged holding for one name. */
interface Applied {
  /** peerMaterial() of the peer's conn; undefined: no conn; UNKNOWN after a failure. */
  material?: string;
  /** The peer as installed (for the address check and the key-rollover check). */
  peer?: Peer;
  /** Shunted addresses, sorted and joined; UNKNOWN after a failure. */
  shunt: string;
  /**
   * keyMaterial() of the last conn the engine acknowledged, kept through failures (the engine may
   * still hold it, and its SAs): a key change after a failure still ends the old key's SAs.
   */
  key?: string;
}

const NOTHING: Applied = { shunt: '' };
/** install() failed after the conn was loaded: the initiate (or the peer) failed, not the daemon. */
const INITIATE_FAILED = new Set(['ike-auth-failed', 'ike-initiate-failed', 'ike-child-failed']);
/** An install that failed this way is left to the next lookup rather than retried in the background. */
const NO_RETRY = new Set([...INITIATE_FAILED, 'engine-bad-peer']);
/** Background retries of an install before it is left to the next lookup (removals never give up). */
const MAX_INSTALL_RETRIES = 8;
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
  private readonly reserved?: () => ReadonlySet<string>;
  /** What the engine acknowledged holding, by name. */
  private readonly applied = new Map<string, Applied>();
  private readonly pending = new Map<string, Pending>();
  private readonly queue: string[] = [];
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private reconciling: Promise<ReconcileResult> | null = null;
  private timer: unknown = null;
  private timerDueMs = Infinity;
  private started = false;
  private warnedNoShunts = false;
  private readonly invalidatedListeners = new Set<(name: string, owner: PeerOwner) => void>();
  private readonly counters = { installs: 0, removes: 0, shuntCalls: 0, rolledSas: 0, failures: 0, coalesced: 0 };
  /**
   * A key replaced while the new key's install has not succeeded: the IKE SAs that existed before
   * (authenticated with `oldKey`, the key last acknowledged), to end once it does.
   */
  private readonly rolling = new Map<string, { oldKey: string; ids: Set<string> }>();
  /** Failed names waiting for a retry: attempts so far and when the next is due (ms). */
  private readonly retries = new Map<string, { attempt: number; dueMs: number }>();
  private retryTimer: unknown = null;
  private readonly retryMs: number;
  private readonly retryMaxMs: number;

  constructor(opts: PeerSyncOptions) {
    this.engine = opts.engine;
    this.registry = opts.registry ?? new PeerRegistry({ shuntGraceSec: opts.shuntGraceSec });
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.maxQueue = opts.maxQueue ?? 1024;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.maxSweepDelayMs = opts.maxSweepDelayMs ?? 60_000;
    this.reserved = opts.reserved;
    this.retryMs = Math.max(1, opts.retryMs ?? 1000);
    this.retryMaxMs = Math.max(this.retryMs, opts.retryMaxMs ?? 60_000);
  }

  /** Which of `addresses` this host reserves (its own, its routers, its upstreams): no peer and no shunt may cover them. */
  reservedAmong(addresses: readonly string[]): string[] {
    if (!this.reserved) return [];
    const set = this.reserved();
    return addresses.filter((a) => set.has(addressText(a)));
  }

  private nowSec(): number {
    return Math.floor(this.clock.now());
  }

  /**
   * Want `peer` (for peer.owner); its addresses join what the owner already claims. Resolves once the
   * engine holds a conn that protects every address of `peer` (with an authenticated key if `peer`
   * has one), rejects with the engine's error, or EngineError ENGINE_NOT_CONVERGED if the engine did
   * not get there within its steps (the registry keeps the claim; the next request retries).
   */
  async upsert(peer: Peer): Promise<UpsertResult> {
    if (peer.addresses.length > MAX_PEER_ADDRESSES) {
      this.counters.failures++;
      throw new EngineError(
        'too-many-addresses',
        `${peerKey(peer.name)} lists ${peer.addresses.length} addresses; a peer may cover at most ${MAX_PEER_ADDRESSES}`,
      );
    }
    const reserved = this.reservedAmong(peer.addresses);
    if (reserved.length > 0) {
      this.counters.failures++;
      throw new EngineError(
        'address-reserved',
        `${peerKey(peer.name)} lists ${reserved.join(', ')}: this host's own address, a default router or an upstream resolver, which no peer may cover`,
      );
    }
    const clash = this.registry.claimedElsewhere(peer, this.nowSec());
    if (clash.length > 0) {
      this.counters.failures++;
      const what = clash.map((c) => `${c.address} (held by ${c.heldBy})`).join(', ');
      throw new EngineError(
        'address-claimed',
        `${peerKey(peer.name)} lists addresses another peer already holds with other keys: ${what}; its claim is refused, the first holder keeps them`,
      );
    }
    const r = this.registry.upsert(peer, this.nowSec());
    this.reschedule(peer.expiresAt);
    await this.ensure(peer.name);
    if (!this.holds(peer.name, peer.addresses, peer.auth.kind === 'pubkey')) {
      this.counters.failures++;
      throw new EngineError(
        'ENGINE_NOT_CONVERGED',
        `the IKE engine does not hold ${peerKey(peer.name)} for ${peer.addresses.join(', ')} after ${MAX_STEPS} steps (it changed under every call); not released`,
      );
    }
    return r;
  }

  /**
   * `owner` no longer wants `name`; removed from the engine when no other owner does. Addresses of a
   * `private` claim stay in a drop shunt for the grace period, unless `shunt: false` (the name's
   * level became clear: clear text is what policy wants now).
   */
  async release(name: string, owner: PeerOwner, opts: { shunt?: boolean } = {}): Promise<ReleaseResult> {
    const r = this.registry.release(name, owner, this.nowSec(), opts);
    this.reschedule();
    await this.ensure(name);
    return r;
  }

  /**
   * `owner`'s answer for `name` failed validation (bogus): its claim goes, other owners' claims stay,
   * and whatever of it must fail closed stays behind as a drop shunt.
   */
  async invalidate(name: string, owner: PeerOwner): Promise<ReleaseResult> {
    const r = this.registry.invalidate(name, owner, this.nowSec());
    this.reschedule();
    await this.ensure(name);
    if (r.change !== 'absent') this.log.warn({ peer: peerKey(name), owner, shunted: r.shunted ?? [] }, 'claim invalidated');
    for (const f of this.invalidatedListeners) {
      try {
        f(peerKey(name), owner);
      } catch (e) {
        this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'invalidation listener failed');
      }
    }
    return r;
  }

  /**
   * Be told when an owner's claim is invalidated (another owner holding the same name may want to
   * look it up again now rather than at its next refresh). Returns the unsubscribe function.
   */
  onInvalidated(f: (name: string, owner: PeerOwner) => void): () => void {
    this.invalidatedListeners.add(f);
    return () => this.invalidatedListeners.delete(f);
  }

  /** Remove at once for every owner (shunting what must fail closed). */
  async forget(name: string): Promise<void> {
    this.registry.forget(name, this.nowSec());
    this.reschedule();
    await this.ensure(name);
  }

  /** End the drop shunt of `name` now (an operator's decision). */
  async clearShunt(name: string): Promise<boolean> {
    const had = this.registry.clearShunt(name);
    if (had) this.log.info({ peer: peerKey(name) }, 'drop shunt ended by the operator');
    await this.ensure(name);
    return had;
  }

  /** Drop expired addresses, peers and shunts from the registry and the engine. */
  async sweep(): Promise<SweepResult> {
    const r = this.registry.sweep(this.nowSec());
    const names = [...new Set([...r.removed, ...r.replaced.map((p) => p.name), ...r.shunts])];
    const results = await Promise.allSettled(names.map((n) => this.ensure(n)));
    results.forEach((res, i) => {
      if (res.status === 'rejected') this.log.warn({ peer: names[i], err: String(res.reason) }, 'sweep: engine call failed');
    });
    if (r.removed.length) this.log.info({ peers: r.removed }, 'expired peers removed');
    return r;
  }

  /** Drop shunts now in force. */
  shunts(): Shunt[] {
    return this.registry.shunts(this.nowSec());
  }

  /**
   * Make the engine hold exactly the registry's peers and shunts (at start, or when the engine came
   * back). Waits for calls in flight, holds new ones back meanwhile; concurrent calls share one reconcile.
   */
  reconcile(): Promise<ReconcileResult> {
    if (this.reconciling) {
      this.counters.coalesced++;
      return this.reconciling;
    }
    const run = async (): Promise<ReconcileResult> => {
      await this.drain();
      const now = this.nowSec();
      this.registry.sweep(now);
      const desired = this.registry.desired(now);
      const shunts = this.registry.shunts(now);
      let res: ReconcileResult;
      try {
        res = await this.engine.reconcile(desired, shunts);
      } catch (e) {
        const names = new Set([...this.applied.keys(), ...desired.map((p) => peerKey(p.name)), ...shunts.map((x) => x.name)]);
        for (const k of names) this.applied.set(k, { material: UNKNOWN, shunt: this.unknownShunt(), key: this.applied.get(k)?.key });
        this.counters.failures++;
        throw e;
      }
      const keys = new Map([...this.applied].map(([k, a]) => [k, a.key]));
      this.applied.clear();
      const failed = new Set(res.failed.map((f) => peerKey(f.name)));
      const wanted = new Map(desired.map((p) => [peerKey(p.name), p]));
      // Pending rolls: removed names' SAs went with them; installed ones end theirs now; failed ones wait.
      for (const k of [...this.rolling.keys()]) {
        const p = wanted.get(k);
        if (!p) this.rolling.delete(k);
        else if (!failed.has(k)) await this.settleRoll(k, p);
      }
      for (const k of [...this.retries.keys()]) if (!failed.has(k)) this.retries.delete(k);
      const noShunts = !this.engine.setShunt;
      for (const x of shunts) this.applied.set(x.name, { shunt: noShunts ? '' : failed.has(x.name) ? UNKNOWN : x.addresses.join(',') });
      for (const p of desired) {
        const k = peerKey(p.name);
        const prev = this.applied.get(k) ?? NOTHING;
        this.applied.set(
          k,
          failed.has(k)
            ? { material: UNKNOWN, shunt: this.unknownShunt(), key: keys.get(k) }
            : { ...prev, material: peerMaterial(p), peer: p, key: keyMaterial(p) },
        );
      }
      // A removal that failed here left the peer in the engine: unknown, and retried like any removal.
      for (const f of res.failed) {
        const k = peerKey(f.name);
        if (wanted.has(k)) continue;
        this.applied.set(k, { ...(this.applied.get(k) ?? NOTHING), material: UNKNOWN, key: keys.get(k) });
        this.scheduleRetry(k, new EngineError('ENGINE_REMOVE', f.reason));
      }
      if (res.failed.length) this.counters.failures += res.failed.length;
      this.log.info(
        { installed: res.installed.length, removed: res.removed.length, failed: res.failed.length, shunts: shunts.length },
        'reconciled',
      );
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
      return Promise.reject(
        new EngineError(
          'ENGINE_QUEUE_FULL',
          `${this.queue.length} peers already wait for the IKE engine; ${key} not applied now (the registry keeps it for the next reconcile)`,
        ),
      );
    }
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.pending.set(key, { promise, resolve, reject });
    this.queue.push(key);
    this.pump();
    return promise;
  }

  /** Start the expiry timer. */
  start(): void {
    this.started = true;
    this.reschedule();
    this.armRetry();
  }

  stop(): void {
    this.started = false;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerDueMs = Infinity;
    if (this.retryTimer !== null) this.clock.clearTimer(this.retryTimer);
    this.retryTimer = null;
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
    let pendingRemovals = 0;
    for (const k of this.retries.keys()) if (!this.registry.get(k, this.nowSec())) pendingRemovals++;
    let pendingRolledSas = 0;
    for (const r of this.rolling.values()) pendingRolledSas += r.ids.size;
    return {
      ...this.counters,
      queued: this.queue.length,
      active: this.active,
      pendingRemovals,
      retrying: this.retries.size,
      pendingRolledSas,
    };
  }

  /** Names whose failed engine call waits for a retry, with the attempts so far (for `oedns status`). */
  pendingRetries(): { name: string; attempts: number; removal: boolean }[] {
    const now = this.nowSec();
    return [...this.retries].map(([name, r]) => ({ name, attempts: r.attempt, removal: !this.registry.get(name, now) }));
  }

  /** Is the engine believed to hold `name` (conn and shunt) as the registry wants it now? */
  isApplied(name: string): boolean {
    return this.converged(peerKey(name));
  }

  /**
   * Does the engine hold a conn for `name` that protects every one of `addresses` (no drop shunt on
   * them), authenticated if `authenticated`? What the engine acknowledged, not what was asked for:
   * the check before an answer is released.
   */
  holds(name: string, addresses: readonly string[], authenticated = false): boolean {
    const a = this.applied.get(peerKey(name));
    if (!a?.peer || a.material === UNKNOWN) return false;
    if (authenticated && a.peer.auth.kind !== 'pubkey') return false;
    if (a.shunt === UNKNOWN) return false;
    // A cache hit asks this for every answer: compare in place, no sets built (peers hold a few addresses).
    const shunted = a.shunt ? a.shunt.split(',') : [];
    for (const x of addresses) {
      const k = x.trim().toLowerCase();
      if (!a.peer.addresses.some((h) => h === k || h.toLowerCase() === k) || shunted.includes(k)) return false;
    }
    return true;
  }

  // ---- internals -------------------------------------------------------------------------------

  private want(key: string): { peer?: Peer; material?: string; shunt: string } {
    const now = this.nowSec();
    const peer = this.registry.get(key, now);
    const shunt = this.engine.setShunt ? this.registry.shunt(key, now).join(',') : '';
    return { peer, material: peer ? peerMaterial(peer) : undefined, shunt };
  }

  /** The shunt state after a failure: unknown, unless the engine has no shunts at all. */
  private unknownShunt(): string {
    return this.engine.setShunt ? UNKNOWN : '';
  }

  private converged(key: string): boolean {
    const w = this.want(key);
    const have = this.applied.get(key) ?? NOTHING;
    return have.material === w.material && have.shunt === w.shunt;
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
    if (!this.engine.installMany || !this.wantsPlainInstall(first)) return [first];
    const batch = [first];
    for (let i = 0; i < this.queue.length && batch.length < MAX_BATCH;) {
      if (this.wantsPlainInstall(this.queue[i]!)) batch.push(this.queue.splice(i, 1)[0]!);
      else i++;
    }
    return batch;
  }

  /** Only the conn differs, and no key is being replaced (that needs the SA snapshot of work()). */
  private wantsPlainInstall(key: string): boolean {
    const w = this.want(key);
    const have = this.applied.get(key) ?? NOTHING;
    if (!w.peer || have.material === w.material || have.shunt !== w.shunt) return false;
    // A key change (also one after a failure) goes through work(), which ends the old key's SAs.
    return !this.rolling.has(key) && (have.key === undefined || have.key === keyMaterial(w.peer));
  }

  private async workBatch(keys: string[]): Promise<void> {
    const wants = keys.map((k) => this.registry.get(k, this.nowSec())!);
    const failed = new Map<string, unknown>();
    try {
      for (const f of await this.engine.installMany!(wants)) failed.set(peerKey(f.name), new EngineError('ENGINE_INSTALL', f.reason));
    } catch (e) {
      for (const k of keys) failed.set(k, e);
    }
    keys.forEach((key, i) => {
      const p = this.pending.get(key)!;
      const err = failed.get(key);
      const prev = this.applied.get(key) ?? NOTHING;
      if (err !== undefined) {
        this.counters.failures++;
        this.applied.set(key, { ...prev, material: UNKNOWN, peer: undefined });
        this.scheduleRetry(key, err);
        this.pending.delete(key);
        this.log.warn({ peer: key, err: err instanceof Error ? err.message : String(err) }, 'engine call failed');
        p.reject(err);
        return;
      }
      this.counters.installs++;
      this.applied.set(key, { ...prev, material: peerMaterial(wants[i]!), peer: wants[i]!, key: keyMaterial(wants[i]!) });
      this.retries.delete(key);
      // Changed while the batch ran: the single-name worker takes it from here, same waiters.
      if (!this.converged(key)) {
        this.queue.push(key);
        return;
      }
      this.pending.delete(key);
      p.resolve();
    });
  }

  /**
   * One name to convergence, in an order that never leaves an address open: a growing shunt goes in
   * before the conn shrinks or goes, the conn comes (back) before the shunt shrinks; and a replaced
   * key's IKE SAs end once the new key is installed.
   */
  private async work(key: string): Promise<void> {
    const p = this.pending.get(key)!;
    try {
      for (let step = 0; step < MAX_STEPS && !this.converged(key); step++) {
        const w = this.want(key);
        let have = this.applied.get(key) ?? NOTHING;
        const setShunt = this.engine.setShunt?.bind(this.engine);
        if (!setShunt) {
          if (!this.warnedNoShunts && this.registry.shunt(key, this.nowSec()).length) {
            this.warnedNoShunts = true;
            this.log.warn(
              { engine: this.engine.kind },
              'this IKE engine cannot hold drop shunts: traffic to removed private peers is not blocked',
            );
          }
          have = { ...have, shunt: '' };
        }
        // 1. The shunt grows first (addresses leaving the conn are dropped before they leave it).
        const haveShunt = have.shunt === UNKNOWN ? null : new Set(have.shunt ? have.shunt.split(',') : []);
        const wantShunt = w.shunt ? w.shunt.split(',') : [];
        if (setShunt && wantShunt.some((a) => !haveShunt?.has(a))) {
          const union = [...new Set([...(haveShunt ?? []), ...wantShunt])].sort();
          await setShunt(key, union);
          this.counters.shuntCalls++;
          this.applied.set(key, { ...have, shunt: union.join(',') });
          continue;
        }
        // 2. The conn.
        if (have.material !== w.material) {
          if (w.peer) {
            await this.noteRoll(key, have, w.peer);
            try {
              await this.engine.install(w.peer);
            } catch (e) {
              // The conn with the new key is loaded, only its initiate failed: the old key is no
              // longer trusted for new SAs, and its SAs must not outlive that either.
              if (e instanceof EngineError && INITIATE_FAILED.has(e.code)) {
                await this.settleRoll(key, w.peer);
                this.applied.set(key, { ...have, material: UNKNOWN, key: keyMaterial(w.peer) });
              }
              throw e;
            }
            this.counters.installs++;
            this.applied.set(key, { ...have, material: w.material, peer: w.peer, key: keyMaterial(w.peer) });
            await this.settleRoll(key, w.peer);
          } else {
            await this.engine.remove(key);
            this.counters.removes++;
            this.rolling.delete(key); // remove() ended every SA of the name
            this.applied.set(key, { shunt: have.shunt });
          }
          continue;
        }
        // 3. The shunt shrinks or ends (the conn protects those addresses now, or their grace is over).
        if (setShunt && have.shunt !== w.shunt) {
          await setShunt(key, wantShunt);
          this.counters.shuntCalls++;
          this.applied.set(key, { ...have, shunt: w.shunt });
        }
      }
    } catch (e) {
      this.counters.failures++;
      this.applied.set(key, { material: UNKNOWN, shunt: this.unknownShunt(), key: this.applied.get(key)?.key });
      this.pending.delete(key);
      this.log.warn({ peer: key, err: e instanceof Error ? e.message : String(e) }, 'engine call failed');
      this.scheduleRetry(key, e);
      p.reject(e);
      return;
    }
    this.retries.delete(key);
    const applied = this.applied.get(key);
    if (applied && applied.material === undefined && applied.shunt === '') this.applied.delete(key);
    this.pending.delete(key);
    // Waiters check for themselves what the engine holds (upsert: holds()); a name still moving after
    // MAX_STEPS (changed under every call) gets another turn after the other names.
    p.resolve();
    if (!this.converged(key)) void this.ensure(key).catch(() => undefined);
  }

  /**
   * Before installing `next` for `key`: if its key differs from the one last acknowledged (or from
   * the one a pending roll started from), note the IKE SAs that exist now, to end once the new key is
   * in. A retry after a failed install adds the SAs listed then (an IKE rekey gives an SA a new id;
   * one the new key set up meanwhile is ended once too, which costs a new exchange, nothing more).
   * DNS going back to the old key cancels the roll: those SAs are authenticated with it.
   */
  private async noteRoll(key: string, have: Applied, next: Peer): Promise<void> {
    if (!this.engine.saIds || !this.engine.terminateSas) return;
    const nextKey = keyMaterial(next);
    let roll = this.rolling.get(key);
    if (roll && roll.oldKey === nextKey) {
      this.rolling.delete(key);
      return;
    }
    if (!roll) {
      if (have.key === undefined || have.key === nextKey) return;
      roll = { oldKey: have.key, ids: new Set() };
      this.rolling.set(key, roll);
    }
    // Bounded: a peer that rekeys or reconnects while its installs keep failing must not grow it.
    for (const id of await this.engine.saIds(key).catch(() => [] as string[])) if (roll.ids.size < MAX_ROLLED_SAS) roll.ids.add(id);
  }

  /**
   * `installed` (with its key) is in the engine: end the SAs a pending roll noted. If ending them
   * fails, they stay noted for the next install of this name.
   */
  private async settleRoll(key: string, installed: Peer): Promise<void> {
    const roll = this.rolling.get(key);
    if (!roll) return;
    if (roll.oldKey === keyMaterial(installed)) {
      this.rolling.delete(key);
      return;
    }
    const ids = [...roll.ids];
    if (ids.length === 0 || !this.engine.terminateSas) {
      this.rolling.delete(key);
      return;
    }
    try {
      await this.engine.terminateSas(key, ids);
      this.rolling.delete(key);
      this.counters.rolledSas += ids.length;
      this.log.info({ peer: key, ikeSas: ids }, 'key replaced: IKE SAs authenticated with the old key ended');
    } catch (e) {
      this.log.warn(
        { peer: key, err: e instanceof Error ? e.message : String(e) },
        "key replaced, but ending the old key's IKE SAs failed (kept for the next install)",
      );
    }
  }

  /**
   * A call for `key` failed. Retry it later (1 s doubling to retryMaxMs) when what the failure left
   * is unsafe or stale: a removal never gives up (the removed key stays trusted until the engine
   * confirms); a shunt or an install is retried up to MAX_INSTALL_RETRIES times, except an install
   * whose initiate failed (the conn is in; the next lookup initiates again) or whose peer is refused.
   */
  private scheduleRetry(key: string, e: unknown): void {
    const w = this.want(key);
    const removal = !w.peer;
    const prev = this.retries.get(key);
    const attempt = (prev?.attempt ?? 0) + 1;
    if (!removal) {
      const code = e instanceof EngineError ? e.code : '';
      if (NO_RETRY.has(code) || attempt > MAX_INSTALL_RETRIES) {
        this.retries.delete(key);
        return;
      }
    }
    // Bounded like the queue: names beyond it wait for the next request or reconcile.
    if (!prev && this.retries.size >= this.maxQueue) {
      this.log.warn({ peer: key }, 'too many failed engine calls waiting for a retry; this one waits for the next request');
      return;
    }
    const delay = Math.min(this.retryMaxMs, this.retryMs * 2 ** Math.min(attempt - 1, 30));
    this.retries.set(key, { attempt, dueMs: this.clock.now() * 1000 + delay });
    this.log.info({ peer: key, attempt, inMs: delay, removal }, 'engine call will be retried');
    this.armRetry();
  }

  private armRetry(): void {
    if (this.retryTimer !== null) this.clock.clearTimer(this.retryTimer);
    this.retryTimer = null;
    if (this.retries.size === 0) return;
    let next = Infinity;
    for (const r of this.retries.values()) next = Math.min(next, r.dueMs);
    if (next === Infinity) return;
    this.retryTimer = this.clock.setTimer(() => this.onRetry(), Math.max(0, next - this.clock.now() * 1000));
  }

  private onRetry(): void {
    this.retryTimer = null;
    const nowMs = this.clock.now() * 1000;
    for (const [key, r] of this.retries) {
      if (r.dueMs > nowMs) continue;
      r.dueMs = Infinity; // in flight; a failure schedules the next attempt
      if (this.converged(key)) {
        this.retries.delete(key);
        continue;
      }
      void this.ensure(key).catch(() => undefined);
    }
    this.armRetry();
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
