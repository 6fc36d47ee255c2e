// The one interface the rest of oedns uses to act on an IKE daemon. Engines (strongswan over VICI,
// libreswan over whack, dry-run) implement it; the peer registry above decides *what* must be
// installed and until when, engines only make the daemon hold it.
import type { EventEmitter } from 'node:events';

/** Policy levels, decided per name/zone/address by src/policy. */
export type PolicyLevel = 'private' | 'private-or-clear' | 'opportunistic' | 'clear' | 'block';

/** IPSECKEY algorithm numbers (RFC 4025, RFC 9373): the one table is in the wire codec. */
export { IpseckeyAlgorithm } from '../wire/rdata/ipseckey';

/** A peer public key exactly as validated from an IPSECKEY record. */
export interface PeerKey {
  /** IPSECKEY algorithm field: 2 RSA (RFC 3110 bytes), 3 ECDSA (RFC 6605 x|y), 4 EdDSA (RFC 8080 raw). */
  algorithm: number;
  /** The public key field of the IPSECKEY RDATA, raw. */
  publicKey: Uint8Array;
  /** IPSECKEY precedence: lower is preferred. */
  precedence: number;
}

/** How the peer proves who it is. */
export type PeerAuth =
  /** Keys validated by DNSSEC (status 'secure'): the peer is authenticated. */
  | { kind: 'pubkey'; keys: PeerKey[] }
  /**
   * BTNS fallback: encrypted but NOT authenticated (RFC 5386/5387). Defeats a passive eavesdropper
   * only; an active attacker can sit in the middle. Never reported as authenticated.
   */
  | { kind: 'unauthenticated'; method: 'null' | 'wellknown-psk' | 'tofu-cert'; pinnedFingerprint?: string };

/** Where the IKE/ESP peer is: the host itself, or a security gateway in front of it (IPSECKEY gateway). */
export type PeerGateway = { kind: 'none' } | { kind: 'address'; address: string };

/** Who asked for a peer: lets `serve`, `autosp` and the responder share one engine without fighting. */
export type PeerOwner = 'serve' | 'autosp' | 'responder';

export interface Peer {
  /** FQDN (no trailing dot); also the peer's IKE identity. */
  name: string;
  /** Validated addresses (IPv4/IPv6 literals) whose traffic must be protected. */
  addresses: string[];
  auth: PeerAuth;
  gateway: PeerGateway;
  level: PolicyLevel;
  /** Unix seconds after which the peer must be removed unless refreshed. */
  expiresAt: number;
  owner: PeerOwner;
  /** Start IKE now rather than waiting for traffic (needed with kernel-libipsec: traps start nothing). */
  initiate?: boolean;
}

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
