// The peer registry: which peers oedns wants the IKE daemon to hold, for whom, until when, and what
// must keep dropping traffic after a `private` peer went. Pure state (time is an argument);
// src/peers/sync.ts carries its changes to an Engine.
//
// Claims merge, never replace. Several owners (serve, autosp, responder) may want the same peer, and
// one owner learns a dual-stack peer's addresses from separate A and AAAA answers. So each owner holds
// one claim per name whose addresses accumulate, each address with its own lifetime and level; the
// engine holds the union of the live addresses of every claim, protected with the best claim's key (an
// authenticated key beats an unauthenticated fallback, then the freshest DNS).
//
// Fail closed after the answer (ARCHITECTURE.md: a peer's protection outlives its DNS answer). A
// program may go on using an address of a `private` name after its TTL ended, after a refresh failed
// or a forged answer made us drop the claim. When such an address leaves the installed set, the
// registry keeps a drop shunt for it until `graceSec` after the end of the last answer that handed it
// out; a new validated claim for the address takes it back.
import type { Peer, PeerAuth, PeerGateway, PeerOwner, PolicyLevel } from './model';
import { addrKey, keyMaterial, peerKey, peerMaterial } from './material';

export { keyMaterial, peerKey, peerMaterial };
import { MinHeap } from '../util/min-heap';

export type UpsertChange = 'added' | 'replaced' | 'refreshed' | 'unchanged';
export type ReleaseChange = 'removed' | 'replaced' | 'unchanged' | 'absent';

/**
 * Default grace for drop shunts: one hour after the last answer carrying the address ran out. Long
 * enough for what commonly outlives a TTL: nscd's default positive cache time for hosts (3600 s, and
 * older glibc ignores DNS TTLs there), HTTP keep-alive pools and programs that resolve once at start
 * and reconnect within the hour; short enough that an address reused by an unrelated name is not
 * blocked for long. Sessions that stay open longer (ssh) need a longer grace: `--shunt-grace-sec`.
 */
export const DEFAULT_SHUNT_GRACE_SEC = 3600;
/** Addresses held in drop shunts at most; beyond it the ones ending soonest go first. */
export const DEFAULT_MAX_SHUNTED = 65_536;
/**
 * Addresses one claim may hold: answers for one name accumulate in its claim (each answer is bounded
 * by PeerSync, MAX_PEER_ADDRESSES), so an owner's claim is bounded too (state file, selectors, shunts).
 */
export const MAX_CLAIM_ADDRESSES = 64;

const LEVEL_RANK: Record<PolicyLevel, number> = { clear: 0, 'private-or-clear': 1, opportunistic: 2, private: 3, block: 4 };

/** The stricter of the levels (block > private > opportunistic > private-or-clear > clear). */
export function strictestLevel(first: PolicyLevel, ...rest: PolicyLevel[]): PolicyLevel {
  let best = first;
  for (const l of rest) if (LEVEL_RANK[l] > LEVEL_RANK[best]) best = l;
  return best;
}

/** Does losing an address at this level leave a drop shunt behind? `private` and stricter. */
export function failsClosed(level: PolicyLevel): boolean {
  return LEVEL_RANK[level] >= LEVEL_RANK.private;
}

interface AddressClaim {
  /** Unix seconds: the end of the lifetime of the last answer that carried it. */
  expiresAt: number;
  level: PolicyLevel;
  /**
   * Until when the address must fail closed because an answer at a failing-closed level (`private`)
   * handed it out: that answer's end plus the grace. A later answer at a weaker level (the same
   * address reached directly instead of through a `private` alias) does not lower it.
   */
  closedUntil?: number;
}

interface Claim {
  owner: PeerOwner;
  auth: PeerAuth;
  gateway: PeerGateway;
  initiate?: boolean;
  addresses: Map<string, AddressClaim>;
  /** Order of the last upsert: the freshest claim wins a tie. */
  seq: number;
}

/** One shunted address as the eviction heap saw it; stale once the entry's until for `a` differs. */
interface HeapShunt {
  key: string;
  a: string;
  until: number;
  /** Set order: of shunts ending together, the older goes first. */
  seq: number;
}

interface Entry {
  claims: Map<PeerOwner, Claim>;
  /** Addresses to keep dropping: address → until (Unix seconds). */
  shunt: Map<string, number>;
  /**
   * holding() of what the name last held (keys and gateway), kept while only its shunt is left: a
   * second name of the same host may take the address back from the shunt, another host may not.
   */
  holding?: string;
}

/** An address already shared by this many names is not given to one more (bounds the claim check). */
export const MAX_NAMES_PER_ADDRESS = 64;

export interface UpsertResult {
  change: UpsertChange;
  /** The peer as the engine should now hold it. */
  peer: Peer;
}

export interface ReleaseResult {
  change: ReleaseChange;
  /** The peer the engine should hold now; absent when removed. */
  peer?: Peer;
  /** Addresses that now sit in a drop shunt. */
  shunted?: string[];
}

export interface SweepResult {
  /** Names with no live claim left: remove from the engine. */
  removed: string[];
  /** Peers whose effective content changed because addresses or claims expired: reinstall. */
  replaced: Peer[];
  /** Names whose drop shunt changed (added, shrunk or ended). */
  shunts: string[];
}

export interface Shunt {
  name: string;
  addresses: string[];
  /** Unix seconds when the last of them ends. */
  until: number;
}

export interface RegistryOptions {
  /** Seconds a drop shunt outlives the answer that handed its address out. */
  shuntGraceSec?: number;
  maxShunted?: number;
}

/** What two names must share to hold the same address: the keys and the gateway. */
function holding(p: Pick<Peer, 'auth' | 'gateway'>): string {
  return `${keyMaterial(p)}|${p.gateway.kind === 'address' ? p.gateway.address : ''}`;
}

/** An address of a new claim that another name already holds with other keys (see claimedElsewhere). */
export interface AddressClash {
  address: string;
  /** The name that holds it. */
  heldBy: string;
}

export class PeerRegistry {
  private readonly entries = new Map<string, Entry>();
  /**
   * Address → names whose claims or shunt hold it. Added to on every claim and shunt, removed when
   * the address leaves the name (unindex); claimedElsewhere also drops names it finds no longer holding.
   */
  private readonly byAddress = new Map<string, Set<string>>();
  private seq = 0;
  private shuntedCount = 0;
  /**
   * Every shunt set, soonest end first, for eviction at the bound in O(log n) (sorting all shunts per
   * eviction stalled the event loop for tens of seconds). Entries are not removed when a shunt ends
   * or changes; eviction skips those that no longer match, and the heap is rebuilt when they pile up.
   */
  private readonly shuntHeap = new MinHeap<HeapShunt>((x, y) => x.until < y.until || (x.until === y.until && x.seq < y.seq));
  private heapSeq = 0;
  /** Addresses that left a claim or a shunt (see `changes`). */
  private removals = 0;
  readonly shuntGraceSec: number;
  private readonly maxShunted: number;
  /** Shunted addresses dropped early because of maxShunted (a fail-open event: counted for status). */
  evictedShunts = 0;

  constructor(o: RegistryOptions = {}) {
    this.shuntGraceSec = Math.max(0, o.shuntGraceSec ?? DEFAULT_SHUNT_GRACE_SEC);
    this.maxShunted = Math.max(1, o.maxShunted ?? DEFAULT_MAX_SHUNTED);
  }

  /** Names with a claim or a shunt. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Record that `peer.owner` wants `peer` until `peer.expiresAt`. Its addresses join those the owner
   * already claims (each keeps its own lifetime); its key, gateway and level replace the owner's
   * previous ones. An address in a drop shunt leaves the shunt: it is protected again.
   */
  upsert(peer: Peer, nowSec: number): UpsertResult {
    const key = peerKey(peer.name);
    const fresh = new Set(peer.addresses.map(addrKey));
    let entry = this.entries.get(key);
    const before = entry ? this.effective(key, entry, nowSec) : undefined;
    if (!entry) {
      entry = { claims: new Map(), shunt: new Map() };
      this.entries.set(key, entry);
    }
    let claim = entry.claims.get(peer.owner);
    if (!claim) {
      claim = { owner: peer.owner, auth: peer.auth, gateway: peer.gateway, addresses: new Map(), seq: 0 };
      entry.claims.set(peer.owner, claim);
    }
    // A claim holding a live DNSSEC-authenticated key keeps it against an unauthenticated fallback
    // from the same owner (an alias whose key lookup an attacker stripped must not downgrade the peer);
    // the new addresses still join it. The key goes when its own lifetime ends.
    const keepsKey =
      claim.auth.kind === 'pubkey' && peer.auth.kind !== 'pubkey' && [...claim.addresses.values()].some((c) => c.expiresAt > nowSec);
    if (!keepsKey) {
      claim.auth = peer.auth;
      claim.gateway = peer.gateway;
    }
    claim.initiate = peer.initiate;
    claim.seq = ++this.seq;
    // Expired addresses of this claim go now (not at the next sweep), so they cannot linger in the
    // union just because another family was refreshed.
    for (const [a, c] of claim.addresses) if (c.expiresAt <= nowSec) this.dropAddress(key, entry, claim, a, c, nowSec, true);
    for (const raw of peer.addresses) {
      const a = addrKey(raw);
      this.index(a, key);
      const prev = claim.addresses.get(a);
      const shuntUntil = entry.shunt.get(a);
      const closedUntil = Math.max(
        prev?.closedUntil ?? -Infinity,
        shuntUntil ?? -Infinity,
        failsClosed(peer.level) ? peer.expiresAt + this.shuntGraceSec : -Infinity,
      );
      claim.addresses.set(a, {
        expiresAt: Math.max(peer.expiresAt, prev && prev.expiresAt > nowSec ? prev.expiresAt : -Infinity),
        // The strictest level of the answers still live for it: the latest answer does not get to lower it.
        level: prev ? strictestLevel(prev.level, peer.level) : peer.level,
        ...(closedUntil > nowSec ? { closedUntil } : {}),
      });
      if (shuntUntil !== undefined && entry.shunt.delete(a)) this.shuntedCount--;
    }
    // Bounded per claim too (answers for one name accumulate): the addresses of earlier answers that
    // end soonest leave, into the shunt when they fail closed, as if their TTL had run out.
    if (claim.addresses.size > MAX_CLAIM_ADDRESSES) {
      const older = [...claim.addresses].filter(([a]) => !fresh.has(a)).sort((x, y) => x[1].expiresAt - y[1].expiresAt);
      for (const [a, c] of older.slice(0, claim.addresses.size - MAX_CLAIM_ADDRESSES))
        this.dropAddress(key, entry, claim, a, c, nowSec, true);
    }
    const after = this.effective(key, entry, nowSec)!;
    entry.holding = holding(after.peer);
    if (!before) return { change: 'added', peer: after.peer };
    if (before.material !== after.material) return { change: 'replaced', peer: after.peer };
    if (after.peer.expiresAt > before.peer.expiresAt) return { change: 'refreshed', peer: after.peer };
    return { change: 'unchanged', peer: after.peer };
  }

  /**
   * `owner` no longer wants `name`; the peer goes only when nobody does. With `shunt` (default true)
   * addresses nobody else claims stay behind in a drop shunt when their level fails closed; false for
   * a release that means "clear is fine now" (policy put the name at level clear).
   */
  release(name: string, owner: PeerOwner, nowSec: number, opts: { shunt?: boolean } = {}): ReleaseResult {
    const key = peerKey(name);
    const entry = this.entries.get(key);
    const claim = entry?.claims.get(owner);
    if (!entry || !claim) return { change: 'absent' };
    const before = this.effective(key, entry, nowSec);
    entry.claims.delete(owner);
    const shunted: string[] = [];
    for (const [a, c] of claim.addresses) {
      if (this.dropAddress(key, entry, claim, a, c, nowSec, opts.shunt ?? true)) shunted.push(a);
    }
    const after = this.effective(key, entry, nowSec);
    this.prune(key, entry);
    const extra = shunted.length ? { shunted } : {};
    if (!after) return { change: 'removed', ...extra };
    return before?.material === after.material
      ? { change: 'unchanged', peer: after.peer, ...extra }
      : { change: 'replaced', peer: after.peer, ...extra };
  }

  /**
   * A validation failure for `owner` (its answer turned bogus): its claim goes like a release, with
   * the shunt; other owners' claims stay (they validated their own answers and re-validate on their
   * own schedule).
   */
  invalidate(name: string, owner: PeerOwner, nowSec: number): ReleaseResult {
    return this.release(name, owner, nowSec, { shunt: true });
  }

  /** Drop a peer for every owner at once (it must go whoever wanted it); shunts as release() does. */
  forget(name: string, nowSec = -Infinity): boolean {
    const entry = this.entries.get(peerKey(name));
    if (!entry || entry.claims.size === 0) return false;
    for (const owner of [...entry.claims.keys()]) this.release(name, owner, nowSec);
    return true;
  }

  /**
   * Keep `addresses` of `name` dropped until `until` without any claim: what a restarted daemon knows
   * from a state file before it has looked the name up and validated it again (it trusts no stored
   * key, but programs may still use the addresses). Addresses a live claim protects are not shunted.
   */
  holdShunt(name: string, addresses: readonly string[], until: number, nowSec: number): string[] {
    if (until <= nowSec) return [];
    const key = peerKey(name);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { claims: new Map(), shunt: new Map() };
      this.entries.set(key, entry);
    }
    const live = new Set(this.effective(key, entry, nowSec)?.peer.addresses ?? []);
    const held: string[] = [];
    for (const raw of addresses) {
      const a = addrKey(raw);
      if (live.has(a)) continue;
      this.setShunt(key, entry, a, until);
      this.index(a, key);
      held.push(a);
    }
    if (this.shuntedCount > this.maxShunted) this.evict(key);
    this.prune(key, entry);
    return held;
  }

  /** End the drop shunt of `name` now (an operator's decision). */
  clearShunt(name: string): boolean {
    const key = peerKey(name);
    const entry = this.entries.get(key);
    if (!entry || entry.shunt.size === 0) return false;
    this.shuntedCount -= entry.shunt.size;
    const gone = [...entry.shunt.keys()];
    entry.shunt.clear();
    for (const a of gone) this.unindex(key, a);
    this.prune(key, entry);
    return true;
  }

  get(name: string, nowSec?: number): Peer | undefined {
    const key = peerKey(name);
    const entry = this.entries.get(key);
    return entry ? this.effective(key, entry, nowSec ?? -Infinity)?.peer : undefined;
  }

  /** peerMaterial() of what the engine should hold for `name` (as desired() has it), or undefined. */
  material(name: string, nowSec?: number): string | undefined {
    const key = peerKey(name);
    const entry = this.entries.get(key);
    return entry ? this.effective(key, entry, nowSec ?? -Infinity)?.material : undefined;
  }

  /**
   * Addresses of `peer` that another name already holds, by a live claim or a drop shunt, with other
   * keys or another gateway. Any signed name can list any address, so without this check one name
   * could take another's addresses (and their traffic) for its own conn; the first holder keeps them.
   * Names that hold an address with the same keys and gateway (a host under two names) share it.
   */
  claimedElsewhere(peer: Peer, nowSec: number): AddressClash[] {
    const self = peerKey(peer.name);
    const mine = holding(peer);
    const out: AddressClash[] = [];
    for (const raw of peer.addresses) {
      const a = addrKey(raw);
      const names = this.byAddress.get(a);
      if (!names) continue;
      if (!names.has(self) && names.size >= MAX_NAMES_PER_ADDRESS) {
        out.push({ address: a, heldBy: `${names.size} other names (at most ${MAX_NAMES_PER_ADDRESS} share an address)` });
        continue;
      }
      for (const other of [...names]) {
        if (other === self) continue;
        const e = this.entries.get(other);
        if (!e || !this.holdsAddress(e, a, nowSec)) {
          names.delete(other);
          continue;
        }
        if (e.holding !== mine) out.push({ address: a, heldBy: other });
      }
      if (names.size === 0) this.byAddress.delete(a);
    }
    return out;
  }

  /**
   * Does the entry hold `a` at `nowSec`: a live claim, a live shunt, or a claim that ran out but is not
   * swept yet and will leave a shunt (it must not look free in between).
   */
  private holdsAddress(e: Entry, a: string, nowSec: number): boolean {
    if ((e.shunt.get(a) ?? -Infinity) > nowSec) return true;
    for (const c of e.claims.values()) {
      const ac = c.addresses.get(a);
      if (!ac) continue;
      if (ac.expiresAt > nowSec) return true;
      const closedUntil = Math.max(ac.closedUntil ?? -Infinity, failsClosed(ac.level) ? ac.expiresAt + this.shuntGraceSec : -Infinity);
      if (closedUntil > nowSec) return true;
    }
    return false;
  }

  private index(address: string, key: string): void {
    let names = this.byAddress.get(address);
    if (!names) {
      names = new Set();
      this.byAddress.set(address, names);
    }
    names.add(key);
  }

  /** `address` left `key`'s claims or shunt: out of the index unless the name still has it elsewhere. */
  private unindex(key: string, address: string): void {
    this.removals++;
    const e = this.entries.get(key);
    if (e && (e.shunt.has(address) || [...e.claims.values()].some((c) => c.addresses.has(address)))) return;
    const names = this.byAddress.get(address);
    if (!names) return;
    names.delete(key);
    if (names.size === 0) this.byAddress.delete(address);
  }

  /** Addresses in the ownership index (for tests and status: it must shrink when names go). */
  get indexedAddresses(): number {
    return this.byAddress.size;
  }

  /** How many names `owner` has a claim on. */
  countOwner(owner: PeerOwner): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.claims.has(owner)) n++;
    return n;
  }

  /** The name whose claim by `owner` was refreshed longest ago (the one to let go first). */
  oldestClaim(owner: PeerOwner): string | undefined {
    let best: { key: string; seq: number } | undefined;
    for (const [key, e] of this.entries) {
      const c = e.claims.get(owner);
      if (c && (!best || c.seq < best.seq)) best = { key, seq: c.seq };
    }
    return best?.key;
  }

  owners(name: string): PeerOwner[] {
    return [...(this.entries.get(peerKey(name))?.claims.keys() ?? [])];
  }

  /** Addresses of `name` the engine should keep dropping at `nowSec` (none that the peer itself protects). */
  shunt(name: string, nowSec?: number): string[] {
    const key = peerKey(name);
    const entry = this.entries.get(key);
    if (!entry || entry.shunt.size === 0) return [];
    const t = nowSec ?? -Infinity;
    const live = new Set(this.effective(key, entry, t)?.peer.addresses ?? []);
    return [...entry.shunt]
      .filter(([a, until]) => until > t && !live.has(a))
      .map(([a]) => a)
      .sort();
  }

  /** Every drop shunt, for status and reconcile. */
  shunts(nowSec?: number): Shunt[] {
    const out: Shunt[] = [];
    for (const [key, e] of this.entries) {
      const addresses = this.shunt(key, nowSec);
      if (addresses.length === 0) continue;
      let until = -Infinity;
      for (const a of addresses) until = Math.max(until, e.shunt.get(a)!);
      out.push({ name: key, addresses, until });
    }
    return out;
  }

  /**
   * What must stay closed if every claim went now: per name, the addresses of live claims at a
   * failing-closed level (until the grace after their answer), those a private answer handed out
   * (closedUntil), and the drop shunts. Written to disk by serve so that a restart keeps them closed.
   */
  closedSet(nowSec: number): Shunt[] {
    const out: Shunt[] = [];
    for (const [key, e] of this.entries) {
      const until = new Map<string, number>();
      const put = (a: string, u: number): void => {
        if (u > nowSec && u > (until.get(a) ?? -Infinity)) until.set(a, u);
      };
      for (const c of e.claims.values()) {
        for (const [a, ac] of c.addresses) {
          if (failsClosed(ac.level)) put(a, Math.max(ac.expiresAt, nowSec) + this.shuntGraceSec);
          if (ac.closedUntil !== undefined) put(a, ac.closedUntil);
        }
      }
      for (const [a, u] of e.shunt) put(a, u);
      if (until.size === 0) continue;
      out.push({ name: key, addresses: [...until.keys()].sort(), until: Math.max(...until.values()) });
    }
    return out;
  }

  /**
   * Changes to claims and shunts so far (a writer compares it to know whether to write). Removals
   * count too: a shunt the operator ended, or one evicted, must leave the stored closed set, or the
   * next start would hold it again.
   */
  get changes(): number {
    return this.seq + this.heapSeq + this.removals;
  }

  /** Names whose every claim has expired at `nowSec` (due for removal). Does not change anything. */
  expired(nowSec: number): string[] {
    const out: string[] = [];
    for (const [key, e] of this.entries) {
      if (e.claims.size > 0 && this.effective(key, e, nowSec) === undefined) out.push(key);
    }
    return out;
  }

  /** Drop expired addresses, claims and shunts; report what the engine must remove, reinstall or re-shunt. */
  sweep(nowSec: number): SweepResult {
    const removed: string[] = [];
    const replaced: Peer[] = [];
    const shunts: string[] = [];
    for (const [key, e] of [...this.entries]) {
      let due = false;
      for (const c of e.claims.values()) for (const a of c.addresses.values()) if (a.expiresAt <= nowSec) due = true;
      let shuntDue = false;
      for (const until of e.shunt.values()) if (until <= nowSec) shuntDue = true;
      if (!due && !shuntDue) continue;
      const before = this.effective(key, e, -Infinity);
      const shuntBefore = this.shunt(key, -Infinity).join(',');
      for (const [a, until] of [...e.shunt]) {
        if (until > nowSec) continue;
        e.shunt.delete(a);
        this.shuntedCount--;
        this.unindex(key, a);
      }
      for (const [owner, c] of [...e.claims]) {
        for (const [a, ac] of [...c.addresses]) if (ac.expiresAt <= nowSec) this.dropAddress(key, e, c, a, ac, nowSec, true);
        if (c.addresses.size === 0) e.claims.delete(owner);
      }
      const after = this.effective(key, e, nowSec);
      if (before && !after) removed.push(key);
      else if (after && before?.material !== after.material) replaced.push(after.peer);
      if (this.shunt(key, nowSec).join(',') !== shuntBefore) shunts.push(key);
      this.prune(key, e);
    }
    return { removed, replaced, shunts };
  }

  /** The earliest address or shunt expiry (Unix seconds), when the next sweep is due; undefined when empty. */
  nextExpiry(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) {
      for (const c of e.claims.values())
        for (const a of c.addresses.values()) if (min === undefined || a.expiresAt < min) min = a.expiresAt;
      for (const until of e.shunt.values()) if (min === undefined || until < min) min = until;
    }
    return min;
  }

  /** Every peer as the engine should hold it (for Engine.reconcile). */
  desired(nowSec?: number): Peer[] {
    const out: Peer[] = [];
    for (const [key, e] of this.entries) {
      const eff = this.effective(key, e, nowSec ?? -Infinity);
      if (eff) out.push(eff.peer);
    }
    return out;
  }

  /** Names with a claim or a shunt. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  // ---- internals -------------------------------------------------------------------------------

  /**
   * `a` leaves `claim`. If no other live claim of the entry holds it and its level fails closed, it
   * goes into the shunt until the grace after the end of its last answer. True when shunted.
   */
  private dropAddress(key: string, entry: Entry, claim: Claim, a: string, ac: AddressClaim, nowSec: number, shunt: boolean): boolean {
    claim.addresses.delete(a);
    const shunted = this.shuntAfterDrop(key, entry, claim, a, ac, nowSec, shunt);
    if (!shunted) this.unindex(key, a);
    return shunted;
  }

  private shuntAfterDrop(key: string, entry: Entry, claim: Claim, a: string, ac: AddressClaim, nowSec: number, shunt: boolean): boolean {
    const closed = failsClosed(ac.level) || (ac.closedUntil !== undefined && ac.closedUntil > nowSec);
    if (!shunt || !closed) return false;
    for (const other of entry.claims.values()) {
      if (other === claim) continue;
      const o = other.addresses.get(a);
      if (o && o.expiresAt > nowSec) return false; // still protected by another claim
    }
    // The last answer handed the address out for its TTL, ending at expiresAt; the grace runs from
    // then (or from now, if the claim goes before its TTL ended: a bogus refresh, a release).
    const until = Math.max(
      failsClosed(ac.level) ? Math.max(ac.expiresAt, nowSec) + this.shuntGraceSec : -Infinity,
      ac.closedUntil ?? -Infinity,
    );
    if (until <= nowSec) return false;
    this.setShunt(key, entry, a, until);
    this.index(a, key);
    if (this.shuntedCount > this.maxShunted) this.evict(key);
    return true;
  }

  /** Shunt `a` of `key` until at least `until`; the heap learns the new end. */
  private setShunt(key: string, entry: Entry, a: string, until: number): void {
    const prev = entry.shunt.get(a);
    if (prev === undefined) this.shuntedCount++;
    else if (prev >= until) return;
    entry.shunt.set(a, until);
    this.shuntHeap.push({ key, a, until, seq: ++this.heapSeq });
    // Stale heap entries (shunts that ended, were taken back or extended) are dropped in one O(n)
    // rebuild once they outnumber the live ones: amortised O(1) per shunt set.
    if (this.shuntHeap.size > 2 * this.shuntedCount + 1024) {
      const live = new Map<string, HeapShunt>();
      for (const h of this.shuntHeap.drain()) {
        if (this.entries.get(h.key)?.shunt.get(h.a) === h.until) live.set(`${h.key} ${h.a}`, h);
      }
      this.shuntHeap.reset([...live.values()]);
    }
  }

  /**
   * Over the bound: end the shunts that would end soonest (never the last one of `keep`, the name
   * being shunted now). O(log n) per evicted address.
   */
  private evict(keep: string): void {
    const skipped: HeapShunt[] = [];
    while (this.shuntedCount > this.maxShunted) {
      const s = this.shuntHeap.pop();
      if (s === undefined) break;
      const e = this.entries.get(s.key);
      if (!e || e.shunt.get(s.a) !== s.until) continue; // stale
      if (s.key === keep && e.shunt.size === 1) {
        skipped.push(s);
        continue;
      }
      e.shunt.delete(s.a);
      this.shuntedCount--;
      this.evictedShunts++;
      this.unindex(s.key, s.a);
      if (s.key !== keep) this.prune(s.key, e);
    }
    for (const s of skipped) this.shuntHeap.push(s);
  }

  private prune(key: string, entry: Entry): void {
    for (const [owner, c] of entry.claims) if (c.addresses.size === 0) entry.claims.delete(owner);
    if (entry.claims.size === 0 && entry.shunt.size === 0) this.entries.delete(key);
  }

  /**
   * The peer to install at `nowSec`: the union of the live addresses of every claim (all addresses if
   * none is live yet-unswept), the key of the best live claim (authenticated first, then the latest),
   * the strictest level among them; it lives as long as its longest-lived address.
   */
  private effective(key: string, e: Entry, nowSec: number): { peer: Peer; material: string } | undefined {
    const claims = [...e.claims.values()].filter((c) => c.addresses.size > 0);
    if (claims.length === 0) return undefined;
    const live = claims.filter((c) => [...c.addresses.values()].some((a) => a.expiresAt > nowSec));
    if (live.length === 0) return undefined;
    let best = live[0]!;
    for (const c of live) {
      const ca = c.auth.kind === 'pubkey' ? 1 : 0;
      const ba = best.auth.kind === 'pubkey' ? 1 : 0;
      if (ca > ba || (ca === ba && c.seq > best.seq)) best = c;
    }
    const addresses = new Set<string>();
    let level: PolicyLevel | undefined;
    let expiresAt = -Infinity;
    for (const c of live) {
      for (const [a, ac] of c.addresses) {
        if (ac.expiresAt <= nowSec) continue;
        addresses.add(a);
        level = level === undefined ? ac.level : strictestLevel(level, ac.level);
        expiresAt = Math.max(expiresAt, ac.expiresAt);
      }
    }
    const peer: Peer = {
      name: key,
      addresses: [...addresses].sort(),
      auth: best.auth,
      gateway: best.gateway,
      level: level!,
      expiresAt,
      owner: best.owner,
      ...(best.initiate !== undefined ? { initiate: best.initiate } : {}),
    };
    return { peer, material: peerMaterial(peer) };
  }
}
