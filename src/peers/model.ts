// The peer model: what oedns wants an IKE daemon to hold for one name (key or fallback, addresses,
// gateway, level, lifetime, owner) and what a lookup of a name concluded. Policy builds it, capture,
// autosp and the responder ask for it, the registry and the engines hold it; so it sits below all of
// them, in a file that imports nothing (src/peers/keys.ts beside it converts its keys, material.ts
// turns a peer into the string two peers are compared by). Types only.

/** Policy levels, decided per name/zone/address by src/policy. */
export type PolicyLevel = 'private' | 'private-or-clear' | 'opportunistic' | 'clear' | 'block';

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

/** What one validated lookup of a peer's A, AAAA and IPSECKEY concluded (autosp, the responder). */
export type ResolveOutcome =
  /** A peer to install (authenticated key, or the policy's unauthenticated fallback). */
  | 'install'
  /** Policy puts the name at level clear: nothing to install, and nothing wrong. */
  | 'clear'
  /** Not installable: no key, unsigned key, no address, refused by policy. */
  | 'refused'
  /** Some answer is bogus. */
  | 'bogus'
  /** DNS could not be asked or answers could not be validated (try again soon). */
  | 'transient';

export interface PeerResolution {
  name: string;
  outcome: ResolveOutcome;
  /** Set when outcome is 'install'; owner 'autosp', initiate unset (the keeper decides). */
  peer?: Peer;
  /** Seconds the peer may live (outcome 'install'). */
  ttl?: number;
  level?: string;
  /** One line for people: why this outcome. */
  reason: string;
  verdicts: { a: string; aaaa: string; ipseckey: string };
  /** Unix seconds the lookup was judged at. */
  at: number;
}

/** Looks a peer up and judges it (src/autosp/resolve.ts's createPeerResolver makes one). */
export type ResolvePeer = (name: string) => Promise<PeerResolution>;
