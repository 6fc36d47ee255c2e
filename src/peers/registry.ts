// The peer registry: which peers oedns wants the IKE daemon to hold, for whom, and until when. Pure
// state (time is an argument); src/peers/sync.ts carries its changes to an Engine.
//
// Several owners (serve, autosp, responder) may want the same peer. Each holds its own claim with its
// own expiry; the peer stays while any claim does. What gets installed is the best live claim: an
// authenticated key beats an unauthenticated fallback, then the most recent claim (the freshest DNS).
import type { Peer, PeerOwner } from '../ike-bridge/engine';

export type UpsertChange = 'added' | 'replaced' | 'refreshed' | 'unchanged';
export type ReleaseChange = 'removed' | 'replaced' | 'unchanged' | 'absent';

interface Claim {
  peer: Peer;
  seq: number;
  /** peerMaterial(peer), computed once: refreshes are the hot path. */
  material: string;
}

interface Entry {
  claims: Map<PeerOwner, Claim>;
}

export interface UpsertResult {
  change: UpsertChange;
  /** The peer as the engine should now hold it. */
  peer: Peer;
}

export interface ReleaseResult {
  change: ReleaseChange;
  /** The peer the engine should hold now; absent when removed. */
  peer?: Peer;
}

export interface SweepResult {
  /** Names with no live claim left: remove from the engine. */
  removed: string[];
  /** Peers whose effective content changed because one claim expired: reinstall. */
  replaced: Peer[];
}

/** Registry keys: case-insensitive, no trailing dot. */
export function peerKey(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/**
 * What the engine must hold, without the parts that change on every refresh (expiry, owner): two peers
 * with the same material need no engine call.
 */
export function peerMaterial(p: Peer): string {
  const auth = p.auth.kind === 'pubkey'
    ? {
        kind: 'pubkey',
        // Sorted: a server rotates an RRset's order between answers (two keys during a rollover), and
        // a reordered key set is the same key set.
        keys: p.auth.keys.map((k) => [k.algorithm, k.precedence, Buffer.from(k.publicKey).toString('base64')]).sort((x, y) => (String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0)),
      }
    : { kind: p.auth.kind, method: p.auth.method, pin: p.auth.pinnedFingerprint ?? null };
  return JSON.stringify({
    n: peerKey(p.name),
    a: [...p.addresses].sort(),
    auth,
    gw: p.gateway.kind === 'address' ? p.gateway.address : null,
    l: p.level,
    i: p.initiate ?? false,
  });
}

export class PeerRegistry {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;

  get size(): number {
    return this.entries.size;
  }

  /** Record `peer` as wanted by `peer.owner` until `peer.expiresAt`. */
  upsert(peer: Peer, nowSec: number): UpsertResult {
    const key = peerKey(peer.name);
    const stored: Peer = { ...peer, name: key };
    let entry = this.entries.get(key);
    const before = entry ? this.effective(entry, nowSec) : undefined;
    if (!entry) {
      entry = { claims: new Map() };
      this.entries.set(key, entry);
    }
    entry.claims.set(peer.owner, { peer: stored, seq: ++this.seq, material: peerMaterial(stored) });
    const after = this.effective(entry, nowSec)!;
    if (!before) return { change: 'added', peer: after.peer };
    if (before.material !== after.material) return { change: 'replaced', peer: after.peer };
    if (after.peer.expiresAt > before.peer.expiresAt) return { change: 'refreshed', peer: after.peer };
    return { change: 'unchanged', peer: after.peer };
  }

  /** `owner` no longer wants `name`; the peer goes only when nobody does. */
  release(name: string, owner: PeerOwner, nowSec: number): ReleaseResult {
    const key = peerKey(name);
    const entry = this.entries.get(key);
    if (!entry || !entry.claims.has(owner)) return { change: 'absent' };
    const before = this.effective(entry, nowSec)!;
    entry.claims.delete(owner);
    if (entry.claims.size === 0) {
      this.entries.delete(key);
      return { change: 'removed' };
    }
    const after = this.effective(entry, nowSec)!;
    return before.material === after.material
      ? { change: 'unchanged', peer: after.peer }
      : { change: 'replaced', peer: after.peer };
  }

  /** Drop a peer for every owner at once: its key turned bogus, or it must go whoever wanted it. */
  forget(name: string): boolean {
    return this.entries.delete(peerKey(name));
  }

  get(name: string, nowSec?: number): Peer | undefined {
    const entry = this.entries.get(peerKey(name));
    return entry ? this.effective(entry, nowSec ?? -Infinity)?.peer : undefined;
  }

  /** peerMaterial() of what the engine should hold for `name` (as desired() has it), or undefined. */
  material(name: string): string | undefined {
    const entry = this.entries.get(peerKey(name));
    return entry ? this.effective(entry, -Infinity)?.material : undefined;
  }

  owners(name: string): PeerOwner[] {
    return [...(this.entries.get(peerKey(name))?.claims.keys() ?? [])];
  }

  /** Names whose every claim has expired at `nowSec` (due for removal). Does not change anything. */
  expired(nowSec: number): string[] {
    const out: string[] = [];
    for (const [key, e] of this.entries) {
      if ([...e.claims.values()].every((c) => c.peer.expiresAt <= nowSec)) out.push(key);
    }
    return out;
  }

  /** Drop expired claims; report what the engine must remove or reinstall. */
  sweep(nowSec: number): SweepResult {
    const removed: string[] = [];
    const replaced: Peer[] = [];
    for (const [key, e] of this.entries) {
      let anyExpired = false;
      for (const c of e.claims.values()) if (c.peer.expiresAt <= nowSec) anyExpired = true;
      if (!anyExpired) continue;
      const before = this.effective(e, -Infinity)!;
      for (const [owner, c] of e.claims) if (c.peer.expiresAt <= nowSec) e.claims.delete(owner);
      if (e.claims.size === 0) {
        this.entries.delete(key);
        removed.push(key);
        continue;
      }
      const after = this.effective(e, nowSec)!;
      if (before.material !== after.material) replaced.push(after.peer);
    }
    return { removed, replaced };
  }

  /** The earliest claim expiry (Unix seconds), when the next sweep is due; undefined when empty. */
  nextExpiry(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) {
      for (const c of e.claims.values()) if (min === undefined || c.peer.expiresAt < min) min = c.peer.expiresAt;
    }
    return min;
  }

  /** Every peer as the engine should hold it (for Engine.reconcile). */
  desired(): Peer[] {
    return [...this.entries.values()].map((e) => this.effective(e, -Infinity)!.peer);
  }

  /**
   * The peer to install: among live claims (all claims if none is live yet-unswept) prefer an
   * authenticated key, then the latest claim; it lives as long as the longest claim.
   */
  private effective(e: Entry, nowSec: number): { peer: Peer; material: string } | undefined {
    const all = [...e.claims.values()];
    if (all.length === 0) return undefined;
    const live = all.filter((c) => c.peer.expiresAt > nowSec);
    const pool = live.length > 0 ? live : all;
    let best = pool[0];
    for (const c of pool) {
      const ca = c.peer.auth.kind === 'pubkey' ? 1 : 0;
      const ba = best.peer.auth.kind === 'pubkey' ? 1 : 0;
      if (ca > ba || (ca === ba && c.seq > best.seq)) best = c;
    }
    let expiresAt = best.peer.expiresAt;
    for (const c of all) if (c.peer.expiresAt > expiresAt) expiresAt = c.peer.expiresAt;
    return { peer: expiresAt === best.peer.expiresAt ? best.peer : { ...best.peer, expiresAt }, material: best.material };
  }
}
