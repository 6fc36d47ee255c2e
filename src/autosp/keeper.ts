// The autosp keeper: the set of names autosp wants, each looked up, installed through PeerSync with
// owner 'autosp', and looked up again before its TTL or signatures run out. Key rollovers and address
// changes arrive as new material on a refresh; records that vanish or turn bogus take the peer out.
// Used by the CLI when no daemon runs, and by `oedns serve` behind its control socket.
import type { Peer } from '../peers/model';
import { failsClosed, peerMaterial, systemClock, type PeerSync, type SyncClock } from '../peers';
import { ikeDaemonGone, OednsError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import type { AutospState } from './state';
import type { PeerResolution, ResolvePeer } from './resolve';

export type PeerResult =
  'installed' | 'updated' | 'unchanged' | 'removed' | 'absent' | 'clear' | 'refused' | 'bogus' | 'failed' | 'engine-error' | 'pending';

/** Results that leave the peer as the user asked: scripts get exit 0 when every peer has one. */
export const OK_RESULTS: readonly PeerResult[] = ['installed', 'updated', 'unchanged', 'removed', 'absent', 'clear'];

export interface PeerReport {
  name: string;
  result: PeerResult;
  reason: string;
  addresses: string[];
  /** Number of IPSECKEY keys installed. */
  keys: number;
  authenticated: boolean;
  level?: string;
  /** Unix seconds when the installed peer lapses unless refreshed. */
  expiresAt?: number;
  /** Unix seconds of the next lookup. */
  refreshAt?: number;
  verdicts?: PeerResolution['verdicts'];
  /** Owners other than autosp that also hold the peer. */
  sharedWith?: string[];
  /** EngineError code, for result 'engine-error'. */
  errorCode?: string;
  /** For result 'engine-error': the IKE daemon was not there at all (autosp then exits 3). */
  engineGone?: boolean;
}

/**
 * An installed peer as autosp reports it (control answers, `autosp list`, the CLI's table and JSON).
 * Not the daemon's PeerStatus (`oedns status`, src/daemon/daemon.ts): that one shows every owner's
 * peers with their owners and the engine's SA states; nor the state file's form (src/autosp/state.ts),
 * which keeps the keys themselves to be read back.
 */
export function peerSummary(p: Peer): Pick<PeerReport, 'addresses' | 'keys' | 'authenticated' | 'level' | 'expiresAt'> {
  const keys = p.auth.kind === 'pubkey' ? p.auth.keys.length : 0;
  return { addresses: [...p.addresses], keys, authenticated: p.auth.kind === 'pubkey', level: p.level, expiresAt: p.expiresAt };
}

export interface KeeperOptions {
  sync: PeerSync;
  resolvePeer: ResolvePeer;
  /** Start IKE when a peer is installed or its key changes. */
  initiate?: boolean;
  clock?: SyncClock;
  log?: Logger;
  /** Lookups in flight at once. */
  concurrency?: number;
  /** Called after each batch of changes (persist the state here). */
  onChange?: () => void;
  /** Back-off bounds for failed lookups, seconds. */
  minRetrySec?: number;
  maxRetrySec?: number;
  /** How often names policy puts at `clear` are looked at again, seconds. */
  clearRecheckSec?: number;
}

interface Entry {
  name: string;
  initiate: boolean;
  /** The peer as we last asked PeerSync to hold it. */
  installed?: Peer;
  last?: PeerReport;
  refreshAt: number;
  failures: number;
  busy?: Promise<PeerReport>;
  /** Initiate on the next install even if the material is unchanged (the SA is known to be down). */
  forceInitiate: boolean;
}

/**
 * What a peer is without its lifetime and the initiate flag: a change here needs an engine call.
 * peerMaterial() with initiate left out, because initiating is the keeper's own choice per install
 * (a key change, an SA known to be down), not something a fresh lookup can change.
 */
export function materialOf(p: Peer): string {
  return peerMaterial({ ...p, initiate: false });
}

/**
 * Seconds until the next lookup of a peer that lives `ttl` seconds: a tenth of the lifetime early
 * (1 s to 60 s), so the new answer is in before the old one lapses, never sooner than 1 s.
 */
export function refreshDelay(ttl: number): number {
  const margin = Math.min(60, Math.max(1, Math.ceil(ttl / 10)));
  return Math.max(1, ttl - margin);
}

/** Run fn over items, `width` at a time. */
export async function inPool<T, R>(items: readonly T[], width: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, width), items.length) }, worker));
  return out;
}

export class AutospKeeper {
  private readonly entries = new Map<string, Entry>();
  private readonly sync: PeerSync;
  private readonly clock: SyncClock;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly minRetry: number;
  private readonly maxRetry: number;
  private readonly clearRecheck: number;
  private timer: unknown = null;
  private running = false;
  private ticking: Promise<void> | null = null;

  constructor(private readonly o: KeeperOptions) {
    this.sync = o.sync;
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? silentLogger;
    this.concurrency = o.concurrency ?? 8;
    this.minRetry = o.minRetrySec ?? 2;
    this.maxRetry = o.maxRetrySec ?? 60;
    this.clearRecheck = o.clearRecheckSec ?? 600;
  }

  private now(): number {
    return this.clock.now();
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Every wanted name with its last result ('pending' before its first lookup). */
  reports(): PeerReport[] {
    return [...this.entries.values()].map((e) => this.current(e));
  }

  /** For the state file: the names and the peers still installed (not lapsed). */
  state(): AutospState {
    const now = this.now();
    const peers: Peer[] = [];
    for (const e of this.entries.values()) if (e.installed && e.installed.expiresAt > now) peers.push(e.installed);
    return { names: this.names(), peers };
  }

  /**
   * Take over names from a state file. A stored key is never trusted as such: every name is looked up
   * and validated again at once (refreshDue() / the timer). Until then the addresses of stored
   * `private` peers that are still alive stay closed (a drop shunt until the grace after their
   * lifetime): programs may still use them, and they must not go out in clear meanwhile.
   */
  adopt(state: AutospState): void {
    const now = this.now();
    const byName = new Map(state.peers.map((p) => [p.name, p]));
    for (const name of state.names) {
      if (this.entries.has(name)) continue;
      const e = this.newEntry(name, this.o.initiate ?? false);
      const p = byName.get(name);
      if (p && p.expiresAt > now && failsClosed(p.level)) {
        this.sync.registry.holdShunt(name, p.addresses, p.expiresAt + this.sync.registry.shuntGraceSec, Math.floor(now));
        e.last = {
          ...this.report(e, 'pending', 'from the state file: held closed until looked up and validated again'),
          addresses: [...p.addresses],
        };
      }
      this.entries.set(name, e);
    }
    this.schedule();
  }

  /** Look `name` up again soon (another owner's answer for it failed validation). */
  revalidate(name: string): boolean {
    const e = this.entries.get(name);
    if (!e) return false;
    e.refreshAt = Math.min(e.refreshAt, this.now());
    this.schedule();
    return true;
  }

  /** Have the next install of these peers start IKE even if nothing changed (their SA is down). */
  markDown(names: Iterable<string>): string[] {
    const marked: string[] = [];
    for (const n of names) {
      const e = this.entries.get(n);
      if (e && e.initiate) {
        e.forceInitiate = true;
        e.refreshAt = Math.min(e.refreshAt, this.now());
        marked.push(n);
      }
    }
    if (marked.length) this.schedule();
    return marked;
  }

  /** Want these names (looked up now, even if already wanted). */
  async add(
    names: readonly string[],
    opts: { initiate?: boolean; progress?: (done: number, total: number) => void } = {},
  ): Promise<PeerReport[]> {
    for (const n of names) {
      const e = this.entries.get(n);
      if (e) {
        if (opts.initiate !== undefined) e.initiate = opts.initiate;
      } else {
        this.entries.set(n, this.newEntry(n, opts.initiate ?? this.o.initiate ?? false));
      }
    }
    let done = 0;
    const out = await inPool(names, this.concurrency, async (n) => {
      const r = await this.refresh(n);
      opts.progress?.(++done, names.length);
      return r;
    });
    this.changed();
    return out;
  }

  /** Stop wanting these names; each leaves the engine unless another owner still holds it. */
  async remove(names: readonly string[]): Promise<PeerReport[]> {
    const out = await inPool(names, this.concurrency, (n) => this.removeOne(n));
    this.changed();
    return out;
  }

  /**
   * Want exactly `names`: the others are removed. All of them are looked up now, or with
   * `refreshExisting: false` only the new ones (the others keep their refresh schedule).
   */
  async setNames(
    names: readonly string[],
    opts: { initiate?: boolean; refreshExisting?: boolean; progress?: (done: number, total: number) => void } = {},
  ): Promise<PeerReport[]> {
    const want = new Set(names);
    const gone = this.names().filter((n) => !want.has(n));
    const removed = await inPool(gone, this.concurrency, (n) => this.removeOne(n));
    const look = opts.refreshExisting === false ? names.filter((n) => !this.entries.has(n)) : names;
    const looked = new Map((await this.add(look, opts)).map((r) => [r.name, r]));
    const kept = names.map((n) => looked.get(n) ?? this.current(this.entries.get(n)!));
    return [...kept, ...removed];
  }

  /** Look up again every name whose time has come (lapsed state entries, retries, refreshes). */
  async refreshDue(): Promise<PeerReport[]> {
    const now = this.now();
    const due = [...this.entries.values()].filter((e) => e.refreshAt <= now && !e.busy).map((e) => e.name);
    if (due.length === 0) return [];
    const out = await inPool(due, this.concurrency, (n) => this.refresh(n));
    this.changed();
    return out;
  }

  /** Keep refreshing on a timer. */
  start(): void {
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
  }

  /** Stop and wait for lookups under way. Installed peers stay installed. */
  async close(): Promise<void> {
    this.stop();
    if (this.ticking) await this.ticking;
    await Promise.allSettled([...this.entries.values()].flatMap((e) => (e.busy ? [e.busy] : [])));
  }

  // ---- internals -------------------------------------------------------------------------------

  private newEntry(name: string, initiate: boolean): Entry {
    return { name, initiate, refreshAt: this.now(), failures: 0, forceInitiate: false };
  }

  private changed(): void {
    this.schedule();
    try {
      this.o.onChange?.();
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'autosp: saving the state failed');
    }
  }

  private current(e: Entry): PeerReport {
    if (e.last) return { ...e.last, refreshAt: Math.round(e.refreshAt) };
    return {
      name: e.name,
      result: 'pending',
      reason: 'not looked up yet',
      addresses: [],
      keys: 0,
      authenticated: false,
      refreshAt: Math.round(e.refreshAt),
    };
  }

  private report(e: Entry, result: PeerResult, reason: string, peer?: Peer, r?: PeerResolution, err?: unknown): PeerReport {
    const p = peer ?? (e.installed && e.installed.expiresAt > this.now() ? e.installed : undefined);
    const others = this.sync.registry.owners(e.name).filter((o) => o !== 'autosp');
    return {
      name: e.name,
      result,
      reason,
      ...(p ? peerSummary(p) : { addresses: [], keys: 0, authenticated: false, level: r?.level, expiresAt: undefined }),
      verdicts: r?.verdicts,
      ...(others.length ? { sharedWith: others } : {}),
      ...(err instanceof OednsError ? { errorCode: err.code } : {}),
      ...(err !== undefined && ikeDaemonGone(err) ? { engineGone: true } : {}),
    };
  }

  private backoff(e: Entry): number {
    e.failures++;
    return Math.min(this.maxRetry, this.minRetry * 2 ** Math.min(10, e.failures - 1));
  }

  /** Look `name` up and apply the answer; joins a lookup already under way. */
  private refresh(name: string): Promise<PeerReport> {
    const e = this.entries.get(name);
    if (!e)
      return Promise.resolve({
        name,
        result: 'absent',
        reason: `${name} is not an autosp peer`,
        addresses: [],
        keys: 0,
        authenticated: false,
      });
    if (e.busy) return e.busy;
    const run = async (): Promise<PeerReport> => {
      let r: PeerResolution;
      try {
        r = await this.o.resolvePeer(name);
      } catch (err) {
        r = {
          name,
          outcome: 'transient',
          reason: `lookup failed: ${err instanceof Error ? err.message : String(err)}`,
          verdicts: { a: '?', aaaa: '?', ipseckey: '?' },
          at: Math.floor(this.now()),
        };
      }
      if (this.entries.get(name) !== e)
        return { name, result: 'removed', reason: 'removed while being looked up', addresses: [], keys: 0, authenticated: false };
      const rep = await this.apply(e, r);
      e.last = rep;
      return rep;
    };
    e.busy = run().finally(() => {
      e.busy = undefined;
    });
    return e.busy;
  }

  private live(e: Entry): Peer | undefined {
    return e.installed && e.installed.expiresAt > this.now() && this.sync.registry.owners(e.name).includes('autosp')
      ? e.installed
      : undefined;
  }

  private async apply(e: Entry, r: PeerResolution): Promise<PeerReport> {
    const now = this.now();
    const prev = this.live(e);
    switch (r.outcome) {
      case 'install': {
        const fresh = r.peer!;
        const same = prev !== undefined && materialOf(prev) === materialOf(fresh);
        // Same material: keep the flag it was installed with, so a refresh costs no engine call.
        const initiate = same && !e.forceInitiate ? (prev.initiate ?? false) : e.initiate;
        const peer: Peer = { ...fresh, owner: 'autosp', initiate };
        e.installed = peer;
        e.refreshAt = now + refreshDelay(r.ttl ?? Math.max(1, peer.expiresAt - now));
        // A key change ends the SAs of the old key in PeerSync, for every owner alike.
        try {
          await this.sync.upsert(peer);
        } catch (err) {
          e.refreshAt = now + this.backoff(e);
          const msg = err instanceof Error ? err.message : String(err);
          this.log.warn({ peer: e.name, err: msg }, 'autosp: the engine did not take the peer');
          return this.report(e, 'engine-error', `the IKE engine did not take ${e.name}: ${msg}`, peer, r, err);
        }
        e.failures = 0;
        e.forceInitiate = false;
        const result: PeerResult = !prev ? 'installed' : same ? 'unchanged' : 'updated';
        if (result !== 'unchanged') this.log.info({ peer: e.name, result, addresses: peer.addresses, expiresAt: peer.expiresAt }, r.reason);
        return this.report(e, result, r.reason, peer, r);
      }
      case 'clear': {
        // Policy says clear for this name now: nothing to keep closed either.
        await this.drop(e, 'clear');
        e.failures = 0;
        e.refreshAt = now + this.clearRecheck;
        return this.report(e, 'clear', r.reason, undefined, r);
      }
      case 'transient': {
        // DNS is unreachable or unsure: an installed peer lives out its lifetime (PeerSync sweeps it
        // then), and we ask again sooner than that.
        const wait = this.backoff(e);
        e.refreshAt = prev ? Math.min(now + wait, Math.max(now + 1, prev.expiresAt - 1)) : now + wait;
        const keep = prev ? `; the installed peer is kept until it lapses in ${Math.max(0, Math.round(prev.expiresAt - now))} s` : '';
        this.log.warn({ peer: e.name, reason: r.reason }, 'autosp: lookup failed, will retry');
        return this.report(e, 'failed', r.reason + keep, undefined, r);
      }
      case 'bogus':
      case 'refused': {
        // Bogus: our claim is invalidated (others keep theirs); refused: released. Either way what
        // must fail closed stays behind as a drop shunt.
        const how = r.outcome === 'bogus' ? 'invalidate' : 'release';
        try {
          await this.drop(e, how);
        } catch (err) {
          e.refreshAt = now + this.backoff(e);
          return this.report(
            e,
            'engine-error',
            `${r.reason}; removing it failed: ${err instanceof Error ? err.message : String(err)}`,
            undefined,
            r,
            err,
          );
        }
        e.refreshAt = now + this.backoff(e);
        if (prev) this.log.warn({ peer: e.name, reason: r.reason }, 'autosp: peer removed');
        return this.report(e, r.outcome, r.reason + (prev ? ' (the installed peer was removed)' : ''), undefined, r);
      }
    }
  }

  /**
   * Take our claim away; other owners' claims always stay. 'invalidate' (bogus) and 'release' leave a
   * drop shunt for what fails closed; 'clear' leaves nothing.
   */
  private async drop(e: Entry, how: 'release' | 'invalidate' | 'clear'): Promise<void> {
    const had = e.installed !== undefined || this.sync.registry.owners(e.name).includes('autosp');
    e.installed = undefined;
    if (!had) return;
    if (how === 'invalidate') await this.sync.invalidate(e.name, 'autosp');
    else await this.sync.release(e.name, 'autosp', { shunt: how !== 'clear' });
  }

  private async removeOne(name: string): Promise<PeerReport> {
    const e = this.entries.get(name);
    const claimed = this.sync.registry.owners(name).includes('autosp');
    if (!e && !claimed)
      return { name, result: 'absent', reason: `${name} was not an autosp peer`, addresses: [], keys: 0, authenticated: false };
    this.entries.delete(name);
    const entry = e ?? this.newEntry(name, false);
    try {
      const r = await this.sync.release(name, 'autosp');
      const others = this.sync.registry.owners(name);
      const reason = others.length
        ? `released; still held for ${others.join(', ')}`
        : r.change === 'absent'
          ? 'was not installed'
          : 'removed from the engine';
      return { ...this.report(entry, 'removed', reason), addresses: [], keys: 0, authenticated: false, expiresAt: undefined };
    } catch (err) {
      return this.report(
        entry,
        'engine-error',
        `removing ${name} failed: ${err instanceof Error ? err.message : String(err)}`,
        undefined,
        undefined,
        err,
      );
    }
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    let next = Infinity;
    for (const e of this.entries.values()) if (!e.busy && e.refreshAt < next) next = e.refreshAt;
    if (!Number.isFinite(next)) return;
    // Capped so that a jump of the wall clock is noticed within a minute.
    const delayMs = Math.min(60_000, Math.max(0, (next - this.now()) * 1000));
    this.timer = this.clock.setTimer(() => this.tick(), delayMs);
  }

  private tick(): void {
    this.timer = null;
    if (!this.running || this.ticking) return;
    this.ticking = this.refreshDue()
      .then(
        () => undefined,
        (e: unknown) => this.log.warn({ err: String(e) }, 'autosp: refresh failed'),
      )
      .finally(() => {
        this.ticking = null;
        this.schedule();
      });
  }
}
