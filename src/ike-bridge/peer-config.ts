// Pure translation of a Peer into charon's load-conn message (swanctl.conf(5) keys), and the
// comparisons reconcile needs. Proposal choice follows what this machine's kernel-libipsec can
// carry: CBC + HMAC for ESP (no GCM), tunnel mode (libipsec has no transport mode).
import type { Peer } from './engine';
import { keyMaterial, peerMaterial } from '../peers/material';
import { EngineError } from '../util/errors';
import { ipseckeyToSpkiPem, KeyError } from './keys';
import type { ViciInput } from './vici-codec';

export const CONN_PREFIX = 'oe-';

export function connName(peer: string): string {
  return `${CONN_PREFIX}${peer}`;
}
export function peerOfConn(conn: string): string | undefined {
  return conn.startsWith(CONN_PREFIX) ? conn.slice(CONN_PREFIX.length) : undefined;
}

/**
 * Does the daemon hold the same for both? Expiry and owner are the registry's business, not the
 * daemon's; a reordered key set is the same key set (src/peers/material.ts).
 */
export function peersEqual(a: Peer, b: Peer): boolean {
  return peerMaterial(a) === peerMaterial(b);
}
/** Same keys (so charon's trust set need not be rebuilt when only addresses or level changed)? */
export function sameKeys(a: Peer, b: Peer): boolean {
  return keyMaterial(a) === keyMaterial(b);
}

/**
 * Does replacing `prev` by `next` leave trust in charon that only a rebuild removes? Only keys and
 * pinned certs join charon's trusted set: a pubkey peer whose keys change, a tofu-cert peer whose pin
 * changes. Pinning a first cert (nothing was trusted before) or a PSK peer leaves nothing stale,
 * which matters when thousands of fallback peers are pinned one by one.
 */
export function leavesStaleTrust(prev: Peer, next: Peer): boolean {
  if (prev.auth.kind === 'pubkey') return !sameKeys(prev, next);
  if (prev.auth.method === 'tofu-cert' && prev.auth.pinnedFingerprint) {
    return !(next.auth.kind === 'unauthenticated' && next.auth.pinnedFingerprint === prev.auth.pinnedFingerprint);
  }
  return false;
}

export interface LocalIdentity {
  /** Our IKE identity (FQDN). */
  id: string;
  /** Our public key as SPKI PEM: binds `id` to the private key loaded with load-key. */
  publicKeyPem: string;
}

export interface ConnOptions {
  local: LocalIdentity;
  /** Our addresses for IKE; default any. */
  localAddrs?: string[];
  ikeProposals: string[];
  espProposals: string[];
  /** start_action for tunnel peers not initiated by us: 'trap' (kernel ESP) or 'none'. */
  startAction: 'trap' | 'none' | 'start';
  /** Identity under which the well-known PSK is loaded (BTNS fallback), if enabled. */
  wellknownPskId?: string;
  /** tofu-cert fallback: our self-signed cert and the pinned cert of a peer (PEM), if enabled. */
  tofu?: { localCertPem: string; pinnedPem(name: string): string | undefined };
  /** IPsec mode for protected peers (default tunnel: kernel-libipsec has no transport mode). */
  mode?: 'tunnel' | 'transport';
  /** Seconds before the IKE SA / a CHILD_SA is rekeyed (swanctl.conf rekey_time); default charon's. */
  ikeRekeySec?: number;
  childRekeySec?: number;
  /**
   * Certificates (DER) that vouch for a peer's keys (given as SPKI PEMs), pinned in its conn instead
   * of raw `pubkeys`, so that the trust can later be revoked (strongswan-trust.ts). Absent: pubkeys.
   */
  vouch?: (peer: Peer, spkiPems: string[]) => Buffer[];
}

function ts(addr: string): string {
  return addr.includes('/') ? addr : addr.includes(':') ? `${addr}/128` : `${addr}/32`;
}

/** Public keys of a peer as charon `pubkeys` PEMs, best precedence first; bad keys refused. */
export function peerPubkeys(peer: Peer): string[] {
  if (peer.auth.kind !== 'pubkey') return [];
  const keys = [...peer.auth.keys].sort((a, b) => a.precedence - b.precedence);
  const pems: string[] = [];
  let lastErr: KeyError | undefined;
  for (const k of keys) {
    try {
      pems.push(ipseckeyToSpkiPem(k.algorithm, k.publicKey));
    } catch (e) {
      if (!(e instanceof KeyError)) throw e;
      lastErr = e;
    }
  }
  if (pems.length === 0) {
    throw new EngineError('engine-bad-key', `peer ${peer.name}: no usable public key${lastErr ? ` (${lastErr.message})` : ''}`, {
      cause: lastErr,
    });
  }
  return pems;
}

/** The body of `load-conn { oe-<name> = {...} }` for one peer. */
export function buildConn(peer: Peer, o: ConnOptions): ViciInput {
  if (peer.addresses.length === 0) throw new EngineError('engine-bad-peer', `peer ${peer.name} has no addresses`);
  const name = connName(peer.name);
  const remoteAddrs = peer.gateway.kind === 'address' ? [peer.gateway.address] : peer.addresses;
  let local: ViciInput;
  let remote: ViciInput;
  let sendCert: string | undefined;
  if (peer.auth.kind === 'pubkey') {
    // No local pubkeys here: our key is bound to our id once, by selfConn(). Every pubkey in a conn
    // costs charon a scan of its whole trusted set (5.9.8 mem_cred dedupe), so one per peer is enough.
    local = { auth: 'pubkey', id: o.local.id };
    const pems = peerPubkeys(peer);
    remote = o.vouch ? { auth: 'pubkey', id: peer.name, certs: o.vouch(peer, pems) } : { auth: 'pubkey', id: peer.name, pubkeys: pems };
  } else if (peer.auth.method === 'wellknown-psk' && o.wellknownPskId) {
    // BTNS: encrypted, not authenticated (defeats only a passive eavesdropper).
    local = { auth: 'psk', id: o.local.id };
    remote = { auth: 'psk', id: '%any' };
  } else if (peer.auth.method === 'tofu-cert' && o.tofu) {
    // BTNS with continuity: self-signed CA:FALSE certs, the peer's pinned after first use
    // (docs/fallback.md). Unpinned, the first IKE_AUTH fails and charon caches the cert it got.
    const pinned = o.tofu.pinnedPem(peer.name);
    local = { auth: 'pubkey', id: o.local.id, certs: [o.tofu.localCertPem] };
    remote = { auth: 'pubkey', id: peer.name, certs: pinned ? [pinned] : undefined };
    sendCert = 'always';
  } else if (peer.auth.method === 'null') {
    throw new EngineError(
      'engine-unsupported',
      `peer ${peer.name}: NULL authentication (RFC 7619) is not supported by strongSwan 5.9 ` +
        '(charon rejects auth = null); use fallback.method tofu-cert or wellknown-psk',
    );
  } else {
    throw new EngineError(
      'engine-unsupported',
      `peer ${peer.name}: unauthenticated method '${peer.auth.method}' is not enabled in this engine`,
    );
  }
  let mode: string = o.mode ?? 'tunnel';
  let startAction: string = o.startAction;
  // `dynamic` is our IKE address, of one family only: a dual-stack peer's other family would pair
  // with nothing, get no policy (not even a trap) and leave in clear. With both families, each gets
  // its wildcard; the responder narrows it to the address it knows for us.
  const families = new Set(peer.addresses.map((a) => (a.includes(':') ? 6 : 4)));
  const localTs = families.size > 1 ? ['0.0.0.0/0', '::/0'] : ['dynamic'];
  if (peer.level === 'clear') {
    mode = 'pass';
    startAction = 'trap';
  }
  if (peer.level === 'block') {
    mode = 'drop';
    startAction = 'trap';
  }
  return {
    version: 2,
    local_addrs: o.localAddrs,
    remote_addrs: remoteAddrs,
    proposals: o.ikeProposals,
    mobike: 'no',
    keyingtries: 1,
    ...(o.ikeRekeySec ? { rekey_time: `${o.ikeRekeySec}s` } : {}),
    ...(sendCert ? { send_cert: sendCert } : {}),
    local,
    remote,
    children: {
      [name]: {
        mode,
        local_ts: localTs,
        remote_ts: peer.addresses.map(ts),
        esp_proposals: o.espProposals,
        start_action: startAction,
        ...(o.childRekeySec ? { rekey_time: `${o.childRekeySec}s` } : {}),
      },
    },
  };
}

export const SELF_CONN = 'oedns-self';

/**
 * A conn that only binds our public key to our identity in charon's trusted set (so charon finds
 * the private key for `local.id`). It can never be selected: its only remote address is the limited
 * broadcast address, and it has no CHILD_SA.
 */
export function selfConn(o: ConnOptions): ViciInput {
  return {
    version: 2,
    remote_addrs: ['255.255.255.255'],
    proposals: o.ikeProposals,
    local: { auth: 'pubkey', id: o.local.id, pubkeys: [o.local.publicKeyPem] },
    remote: { auth: 'pubkey', id: 'oedns-self.invalid' },
  };
}

/** Drop shunts are conns of their own, `oedns-drop-<peer>~<n>`: a new one goes in before the old one goes. */
export const SHUNT_PREFIX = 'oedns-drop-';

export function shuntConnName(peer: string, n: number): string {
  return `${SHUNT_PREFIX}${peer}~${n}`;
}
export function peerOfShunt(conn: string): string | undefined {
  if (!conn.startsWith(SHUNT_PREFIX)) return undefined;
  const rest = conn.slice(SHUNT_PREFIX.length);
  const i = rest.lastIndexOf('~');
  return i > 0 ? rest.slice(0, i) : undefined;
}

/**
 * A conn that only drops: one CHILD_SA with `mode = drop` installed at load (start_action trap makes
 * charon install shunt policies for pass/drop children), covering all our addresses towards
 * `addresses`. Its IKE side can never be selected (remote address 255.255.255.255, like selfConn).
 * Seen in the lab with kernel-libipsec: the shunt's route sends the packets into the TUN device, where
 * no IPsec policy matches and they are dropped; with kernel ESP it is an XFRM block policy, which
 * takes precedence over IPsec policies for the same selectors.
 */
export function buildShuntConn(conn: string, addresses: string[], o: ConnOptions): ViciInput {
  if (addresses.length === 0) throw new EngineError('engine-bad-peer', `shunt ${conn} has no addresses`);
  return {
    version: 2,
    remote_addrs: ['255.255.255.255'],
    proposals: o.ikeProposals,
    local: { auth: 'pubkey', id: o.local.id },
    remote: { auth: 'pubkey', id: 'oedns-drop.invalid' },
    children: {
      [conn]: {
        mode: 'drop',
        start_action: 'trap',
        local_ts: ['0.0.0.0/0', '::/0'],
        remote_ts: addresses.map(ts),
      },
    },
  };
}
