// IKE queries DNS, responder side. An initiator we hold no peer for starts IKE with its FQDN as IDi; the
// IKE daemon refuses it (the catch-all) and tells us who it claimed to be and where it came from. If
// the allow-list permits the name, we look up its A/AAAA and IPSECKEY through the validating resolver,
// and only for a DNSSEC-secure key install it as a peer (owner 'responder') and initiate back, so the
// SA comes up without waiting for the initiator to retry (strongSwan initiators do not retry after
// AUTHENTICATION_FAILED). Every refusal is logged with its reason and nothing is installed.
//
// The identity is an unauthenticated claim anyone can send: each one costs at most a bounded amount of
// work (allow-list before any query, a per-name hold-down, a lookup rate, a bounded queue).
import { ipv4Or6 } from './address';
import { EngineError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import type { PeerSync } from '../peers';
import type { Peer, ResolvePeer } from '../peers/model';
import { type AllowList, checkAllowed, parseAllowList } from './allow-list';
import type { UnknownInitiator } from './events';
import { HoldDown, TokenBucket } from './limits';
import type { ResponderHook } from './strongswan-catchall';

export interface ResponderLimits {
  /** DNS lookups started per second, sustained. Default 5. */
  lookupsPerSec: number;
  /** Lookups that may start at once after a quiet spell. Default 20. */
  burst: number;
  /** Lookups waiting or running before new names are dropped. Default 64. */
  maxQueue: number;
  /** Lookups (and installs) running at once. Default 4. */
  concurrency: number;
  /** After a name was looked up (whatever came of it), it is not looked up again for this long. Default 30 s. */
  holdDownMs: number;
  /** Names remembered for the hold-down. Default 4096. */
  maxHeld: number;
  /** Refusal log lines per second (the counters count them all). Default 10. */
  logsPerSec: number;
}

export const DEFAULT_LIMITS: ResponderLimits = {
  lookupsPerSec: 5,
  burst: 20,
  maxQueue: 64,
  concurrency: 4,
  holdDownMs: 30_000,
  maxHeld: 4096,
  logsPerSec: 10,
};

export type ResponderOutcome =
  /** Secure key and matching address: installed (and initiated back). */
  | 'installed'
  /** Refused before any DNS query. */
  | 'not-a-hostname'
  | 'not-allowed'
  | 'held-down'
  | 'rate-limited'
  | 'queue-full'
  /** The name is already wanted by serve or autosp: theirs to manage. */
  | 'already-held'
  /** Looked up, refused. */
  | 'no-secure-key'
  | 'bogus'
  | 'lookup-failed'
  | 'address-mismatch'
  | 'policy-clear'
  | 'engine-failed';

export interface ResponderResult {
  identity: string;
  address: string;
  outcome: ResponderOutcome;
  reason: string;
  /** The peer installed (outcome 'installed'). */
  peer?: Peer;
}

export interface ResponderServiceOptions {
  hook: ResponderHook;
  /** Entries (`name`, `.zone`, `*.zone`) or a parsed list. Empty: nothing is looked up. */
  allow: readonly string[] | AllowList;
  sync: PeerSync;
  /** createPeerResolver() over the daemon's validating resolver. */
  resolvePeer: ResolvePeer;
  limits?: Partial<ResponderLimits>;
  /** Initiate back after install. Default true (the initiator will not retry on its own). */
  initiate?: boolean;
  /**
   * The IKE daemon came back after a restart (the hook saw it): it has forgotten our key and peers.
   * The daemon passes a reconcile here (the engine may not have noticed yet).
   */
  onDaemonRestart?: () => Promise<void>;
  /** Milliseconds; for the limits. */
  nowMs?: () => number;
  log?: Logger;
}

/** What `oedns serve` (startDaemon) needs to run the responder; it supplies sync and the resolver. */
export interface ResponderOptions {
  hook: ResponderHook;
  allow: readonly string[] | AllowList;
  limits?: Partial<ResponderLimits>;
  initiate?: boolean;
}

export type ResponderCounters = Record<'seen' | ResponderOutcome | 'initiateFailed' | 'lookups', number>;

export class ResponderService {
  readonly counters: ResponderCounters = {
    seen: 0,
    lookups: 0,
    installed: 0,
    initiateFailed: 0,
    'not-a-hostname': 0,
    'not-allowed': 0,
    'held-down': 0,
    'rate-limited': 0,
    'queue-full': 0,
    'already-held': 0,
    'no-secure-key': 0,
    bogus: 0,
    'lookup-failed': 0,
    'address-mismatch': 0,
    'policy-clear': 0,
    'engine-failed': 0,
  };
  private readonly allow: AllowList;
  private readonly limits: ResponderLimits;
  private readonly nowMs: () => number;
  private readonly log: Logger;
  private readonly bucket: TokenBucket;
  private readonly logBucket: TokenBucket;
  private readonly held: HoldDown;
  private readonly waiting: Array<() => void> = [];
  private running = 0;
  private queued = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly onInitiator = (i: UnknownInitiator): void => void this.handle(i);
  private readonly onReady = (again: boolean): void => {
    if (!again || !this.o.onDaemonRestart) return;
    this.o
      .onDaemonRestart()
      .catch((e: Error) => this.log.warn({ err: e.message }, 'responder: re-applying peers after the IKE daemon restarted failed'));
  };

  constructor(private readonly o: ResponderServiceOptions) {
    this.allow = Array.isArray(o.allow) ? parseAllowList(o.allow as string[]) : (o.allow as AllowList);
    this.limits = { ...DEFAULT_LIMITS, ...(o.limits ?? {}) };
    this.nowMs = o.nowMs ?? Date.now;
    this.log = o.log ?? silentLogger;
    this.bucket = new TokenBucket(this.limits.lookupsPerSec, this.limits.burst, this.nowMs());
    this.logBucket = new TokenBucket(this.limits.logsPerSec, this.limits.logsPerSec, this.nowMs());
    this.held = new HoldDown(this.limits.maxHeld);
  }

  /** Listen to the hook and start it (loads the catch-all into charon). */
  async start(): Promise<void> {
    this.o.hook.events.on('initiator', this.onInitiator);
    this.o.hook.events.on('ready', this.onReady);
    await this.o.hook.start();
    const n = this.allow.exact.size + this.allow.zones.length;
    this.log.info(
      { allow: [...this.allow.exact, ...this.allow.zones.map((z) => `.${z}`)] },
      n === 0
        ? 'responder: allow-list empty, no initiator will be looked up'
        : 'responder: looking up unknown initiators on the allow-list',
    );
  }

  /** Lookups waiting or running. */
  get pending(): number {
    return this.queued + this.running;
  }

  /** Decide about one refused initiator; resolves when done (tests await it, the hook does not). */
  handle(i: UnknownInitiator): Promise<ResponderResult> {
    const p = this.decide(i).then((r) => this.finish(r));
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  private async decide(i: UnknownInitiator): Promise<ResponderResult> {
    this.counters.seen++;
    const r = (outcome: ResponderOutcome, reason: string, peer?: Peer): ResponderResult => ({
      identity: i.identity,
      address: i.address,
      outcome,
      reason,
      peer,
    });
    if (this.closed) return r('queue-full', 'responder is stopping');
    const c = checkAllowed(this.allow, i.identity);
    if (!c.allowed) return r(c.reason, c.detail);
    const name = c.name;
    const now = this.nowMs();
    if (this.held.held(name, now)) return r('held-down', `${name} was looked up less than ${this.limits.holdDownMs} ms ago`);
    const owners = this.o.sync.registry.owners(name).filter((x) => x !== 'responder');
    if (owners.length) return r('already-held', `${name} is already a peer (owned by ${owners.join(', ')}): not the responder's to change`);
    if (this.pending >= this.limits.maxQueue) return r('queue-full', `${this.pending} lookups already waiting or running`);
    if (!this.bucket.take(now)) return r('rate-limited', `more than ${this.limits.lookupsPerSec} lookups/s`);
    // Held from now on, so a burst of attempts by the same name makes one lookup.
    this.held.hold(name, now + this.limits.holdDownMs);
    return this.slot(() => this.lookUpAndInstall(i, name, r));
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    // A slot freed by a finishing lookup is handed straight to the next waiter (running stays counted).
    if (this.running >= this.limits.concurrency) await new Promise<void>((res) => this.waiting.push(res));
    else this.running++;
    this.queued--;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private async lookUpAndInstall(
    i: UnknownInitiator,
    name: string,
    r: (o: ResponderOutcome, reason: string, peer?: Peer) => ResponderResult,
  ): Promise<ResponderResult> {
    this.counters.lookups++;
    let res;
    try {
      res = await this.o.resolvePeer(name);
    } catch (e) {
      return r('lookup-failed', e instanceof Error ? e.message : String(e));
    }
    const v = `A ${res.verdicts.a}, AAAA ${res.verdicts.aaaa}, IPSECKEY ${res.verdicts.ipseckey}`;
    switch (res.outcome) {
      case 'bogus':
        return r('bogus', `${res.reason} (${v})`);
      case 'transient':
        return r('lookup-failed', `${res.reason} (${v})`);
      case 'clear':
        return r('policy-clear', `policy puts ${name} at level clear: ${res.reason}`);
      case 'refused':
        return r('no-secure-key', `${res.reason} (${v})`);
      case 'install':
        break;
    }
    const found = res.peer!;
    if (found.auth.kind !== 'pubkey') {
      return r('no-secure-key', `no DNSSEC-secure IPSECKEY for ${name}; the responder never installs an unauthenticated peer (${v})`);
    }
    const from = ipv4Or6(i.address);
    let addresses: string[];
    if (found.gateway.kind === 'address') {
      // IKE comes from the gateway; the protected addresses are the host's, behind it.
      if (ipv4Or6(found.gateway.address) !== from) {
        return r('address-mismatch', `${name} came from ${i.address}, but its IPSECKEY names gateway ${found.gateway.address}`);
      }
      addresses = found.addresses;
    } else {
      if (!from || !found.addresses.some((a) => ipv4Or6(a) === from)) {
        return r(
          'address-mismatch',
          `${name} came from ${i.address}, which is not among its validated addresses (${found.addresses.join(', ') || 'none'})`,
        );
      }
      // Only the address it came from: the exchange showed nothing about its other addresses, and
      // initiating back must go exactly where it came from.
      addresses = [from];
    }
    const peer: Peer = { ...found, name, addresses, owner: 'responder', initiate: this.o.initiate ?? true };
    try {
      await this.o.sync.upsert(peer);
    } catch (e) {
      if (e instanceof EngineError && (e.code === 'ike-auth-failed' || e.code === 'ike-initiate-failed')) {
        // The conn is loaded: the initiator's next attempt is accepted even though ours failed.
        this.counters.initiateFailed++;
        return r('installed', `installed; initiating back failed: ${e.message}`, peer);
      }
      return r('engine-failed', e instanceof Error ? e.message : String(e));
    }
    return r('installed', `DNSSEC-secure IPSECKEY (${v}); installed for ${addresses.join(', ')}`, peer);
  }

  private finish(res: ResponderResult): ResponderResult {
    this.counters[res.outcome]++;
    const fields = { identity: res.identity.slice(0, 255), address: res.address, outcome: res.outcome, reason: res.reason };
    if (res.outcome === 'installed') {
      this.log.info(fields, 'responder: unknown initiator authenticated by DNSSEC; peer installed');
    } else if (this.logBucket.take(this.nowMs())) {
      // Quiet outcomes (a repeat of a name just handled) at debug; refusals at info.
      if (res.outcome === 'held-down') this.log.debug(fields, 'responder: initiator ignored');
      else this.log.info(fields, 'responder: initiator refused, nothing installed');
    }
    return res;
  }

  /** Stop listening, unload the catch-all, and wait for lookups under way. */
  async close(): Promise<void> {
    this.closed = true;
    this.o.hook.events.off('initiator', this.onInitiator);
    this.o.hook.events.off('ready', this.onReady);
    await this.o.hook.close();
    await Promise.allSettled([...this.inflight]);
  }

  get allowList(): AllowList {
    return this.allow;
  }
}

export function createResponder(o: ResponderServiceOptions): ResponderService {
  return new ResponderService(o);
}
