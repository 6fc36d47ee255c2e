// The one interface the rest of oedns uses to act on an IKE daemon. Engines (strongswan over VICI,
// libreswan over whack, dry-run) implement it; the peer registry above decides *what* must be
// installed and until when, engines only make the daemon hold it.
import type { EventEmitter } from 'node:events';
import type { Peer } from '../peers/model';

/** IPSECKEY algorithm numbers (RFC 4025, RFC 9373): the one table is in the wire codec. */
export { IpseckeyAlgorithm } from '../wire/rdata/ipseckey';

// The peer model lives in src/peers/model.ts (policy, capture, autosp and the responder read it
// without going through the engines); re-exported here, where engines and their callers look.
export type { Peer, PeerAuth, PeerGateway, PeerKey, PeerOwner, PolicyLevel } from '../peers/model';

/** What the engine reports about one peer it holds. */
export interface InstalledPeer {
  name: string;
  /** Engine-side connection name, e.g. `oe-<name>`. */
  connection: string;
  addresses: string[];
  authenticated: boolean;
  /** IKE SA state as the daemon reports it (e.g. ESTABLISHED, CONNECTING), if any. */
  ikeState?: string;
  /** CHILD SA state (e.g. INSTALLED), if any. */
  childState?: string;
  /** A drop shunt (no IKE, packets to `addresses` dropped), not a peer's conn. */
  shunt?: boolean;
}

/**
 * Addresses whose traffic the daemon must drop, without any IKE: what stays of a `private` peer
 * after its conn went (expiry, a forged answer, a release), so that a program still holding the
 * address cannot send in clear. Held apart from the peer's conn: both may exist for one name.
 */
export interface ShuntSpec {
  name: string;
  addresses: string[];
}

export interface EngineStatus {
  engine: string;
  reachable: boolean;
  /** Daemon name and version, when reachable. */
  daemon?: string;
  peers: number;
  detail?: string;
}

export interface ReconcileResult {
  installed: string[];
  removed: string[];
  unchanged: string[];
  failed: { name: string; reason: string }[];
}

export interface Engine {
  readonly kind: string;
  /** Install or replace the policy and key for one peer; replacing must leave no gap in protection. */
  install(peer: Peer): Promise<void>;
  /**
   * Optional: install several peers in as few daemon round trips as it allows. Per-peer failures come
   * back by name; a throw means none is known to be installed.
   */
  installMany?(peers: Peer[]): Promise<{ name: string; reason: string }[]>;
  /** Remove a peer: its policy, SAs and the trust in its key. Removing an unknown peer is not an error. */
  remove(name: string): Promise<void>;
  list(): Promise<InstalledPeer[]>;
  status(): Promise<EngineStatus>;
  /**
   * Optional: make the drop shunt of `name` cover exactly `addresses` (empty: no shunt). Must not
   * leave a gap: the new shunt is in place before the old one goes. An engine without it cannot fail
   * closed after a `private` peer is removed (PeerSync logs that once).
   */
  setShunt?(name: string, addresses: string[]): Promise<void>;
  /** Optional: ids of the IKE SAs the daemon holds for `name` now. */
  saIds?(name: string): Promise<string[]>;
  /** Optional: end these IKE SAs of `name` (PeerSync: those authenticated with a key that was replaced). */
  terminateSas?(name: string, ids: string[]): Promise<void>;
  /**
   * Make the daemon hold exactly `desired` (peers this engine owns) and `shunts`, e.g. after either
   * side restarted. Engines without shunts ignore the second argument.
   */
  reconcile(desired: Peer[], shunts?: ShuntSpec[]): Promise<ReconcileResult>;
  close(): Promise<void>;
  /**
   * Optional: what the engine notices on its own. 'reconnected': the IKE daemon came back (restart,
   * crash) and holds nothing of ours any more; the daemon then reconciles every peer.
   */
  readonly events?: EventEmitter;
}
