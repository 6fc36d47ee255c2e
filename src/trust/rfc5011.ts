// RFC 5011, automated updates of DNSSEC trust anchors, as pure logic: a trust point's tracked keys and
// their states, one validated observation of the zone's DNSKEY RRset in, the new state out. No clock
// and no sockets: `nowSec` is an argument, the I/O side (src/trust/refresher.ts) fetches, checks the
// signatures and saves the state file.
//
// States (RFC 5011 §4.1): a new SEP key seen in a DNSKEY set signed by a trusted key waits in AddPend
// for the add hold-down (30 days, §2.4.1) and becomes Valid if it is still there; a Valid key that
// disappears is Missing (still trusted); a key that appears with the REVOKE bit, signing the set
// itself, is Revoked at once (§2.1) and never trusted again; after the remove hold-down it is Removed.
// Only SEP keys (KSKs) are tracked, as Unbound does.
import { DNSKEY_REVOKE, DNSKEY_SEP, DNSKEY_ZONE, keyTag } from '../dnssec/records';

export type KeyState = 'AddPend' | 'Valid' | 'Missing' | 'Revoked' | 'Removed';

export interface TrackedKey {
  /** DNSKEY RDATA as last seen (with the REVOKE bit once revoked), base64. */
  rdata: string;
  /** Key tag of `rdata`. */
  tag: number;
  state: KeyState;
  /** Unix seconds: first seen, and when `state` was entered. */
  firstSeen: number;
  since: number;
}

export interface TrustPointState {
  /** Zone name without the trailing dot; '' is the root. */
  zone: string;
  keys: TrackedKey[];
  /** Unix seconds of the last validated observation and of the next query due. */
  lastSuccess?: number;
  nextRefresh?: number;
}

export interface Observation {
  /** The DNSKEY RRset was validated by a key we trust now (RFC 5011 §2.2 needs that for any change). */
  validated: boolean;
  keys: Array<{ rdata: Uint8Array; selfSigned: boolean }>;
  /** TTL of the DNSKEY RRset as published (RRSIG original TTL). */
  origTtl: number;
  /** Earliest expiration among the RRSIGs over the set (unix seconds). */
  sigExpiresAt: number;
}

export interface Rfc5011Options {
  /** §2.4.1: 30 days, or the DNSKEY TTL if longer. */
  addHoldDownSec: number;
  /** §2.4.2: 30 days. */
  removeHoldDownSec: number;
  /**
   * Keys (keyIdentity) to remember even once Removed: those the configuration still lists, which
   * mergeConfiguredKeys would otherwise take back as Valid. Every other Removed key is forgotten.
   */
  keepRemoved?: (identity: string) => boolean;
}

/**
 * Bounds on a trust point's list, so that it cannot grow with every rollover (the state file refuses
 * more than MAX_TRACKED_KEYS): new keys wait in AddPend at most MAX_PENDING_KEYS at a time (more are
 * seen again at the next refresh, once some have been decided).
 */
export const MAX_PENDING_KEYS = 8;
export const MAX_TRACKED_KEYS = 64;

export const RFC5011_DEFAULTS: Rfc5011Options = { addHoldDownSec: 30 * 86400, removeHoldDownSec: 30 * 86400 };

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** The key without its REVOKE bit: a revoked key is the same key (§2.1), with another key tag. */
export function keyIdentity(rdata: Uint8Array): string {
  if (rdata.length < 4) return b64(rdata);
  const c = new Uint8Array(rdata);
  c[1]! &= ~DNSKEY_REVOKE & 0xff;
  return b64(c);
}

const flagsOf = (rdata: Uint8Array): number => (rdata.length >= 2 ? (rdata[0]! << 8) | rdata[1]! : 0);
const isSep = (rdata: Uint8Array): boolean => (flagsOf(rdata) & (DNSKEY_ZONE | DNSKEY_SEP)) === (DNSKEY_ZONE | DNSKEY_SEP);
const isRevoked = (rdata: Uint8Array): boolean => (flagsOf(rdata) & DNSKEY_REVOKE) !== 0;

/** A trust point seeded with keys trusted from configuration (the distribution's root.key). */
export function seedTrustPoint(zone: string, keys: Uint8Array[], nowSec: number): TrustPointState {
  return {
    zone,
    keys: keys
      .filter((k) => isSep(k) && !isRevoked(k))
      .map((k) => ({ rdata: b64(k), tag: keyTag(k), state: 'Valid' as const, firstSeen: nowSec, since: nowSec })),
  };
}

/** DNSKEY RDATA of the keys that anchor the zone now: Valid and Missing ones (§4.1). */
export function trustedKeys(tp: TrustPointState): Uint8Array[] {
  return tp.keys.filter((k) => k.state === 'Valid' || k.state === 'Missing').map((k) => fromB64(k.rdata));
}

/**
 * Configured keys the state does not know yet join as Valid: the distribution's package is a trusted
 * channel of its own. A key the state has revoked stays revoked, whatever the configuration says.
 */
export function mergeConfiguredKeys(tp: TrustPointState, keys: Uint8Array[], nowSec: number): TrustPointState {
  const known = new Set(tp.keys.map((k) => keyIdentity(fromB64(k.rdata))));
  const added = keys
    .filter((k) => isSep(k) && !isRevoked(k) && !known.has(keyIdentity(k)))
    .map((k) => ({ rdata: b64(k), tag: keyTag(k), state: 'Valid' as const, firstSeen: nowSec, since: nowSec }));
  return added.length ? { ...tp, keys: [...tp.keys, ...added] } : tp;
}

/**
 * A trust point cut down to what the state file holds (at load, for files written before these
 * bounds, and before every save): Removed keys that `keepRemoved` does not ask for are forgotten;
 * then, while over MAX_TRACKED_KEYS, the newest AddPend and the oldest Revoked keys go. Trusted
 * keys (Valid, Missing) are never dropped.
 */
export function boundedTrustPoint(tp: TrustPointState, keepRemoved: (identity: string) => boolean = () => false): TrustPointState {
  let keys = tp.keys.filter((k) => k.state !== 'Removed' || keepRemoved(keyIdentity(fromB64(k.rdata))));
  const pending = keys.filter((k) => k.state === 'AddPend').sort((a, b) => a.since - b.since);
  if (pending.length > MAX_PENDING_KEYS) {
    const drop = new Set(pending.slice(MAX_PENDING_KEYS));
    keys = keys.filter((k) => !drop.has(k));
  }
  const spare = [
    ...keys.filter((k) => k.state === 'AddPend').sort((a, b) => b.since - a.since),
    ...keys.filter((k) => k.state === 'Revoked' || k.state === 'Removed').sort((a, b) => a.since - b.since),
  ];
  while (keys.length > MAX_TRACKED_KEYS && spare.length) {
    const k = spare.shift()!;
    keys = keys.filter((x) => x !== k);
  }
  return keys.length === tp.keys.length ? tp : { ...tp, keys };
}

/**
 * §2.3: query at MAX(1 hr, MIN(15 days, ½ original TTL, ½ signature expiration interval)); after a
 * failure retry at MAX(1 hr, MIN(1 day, ⅒ original TTL, ⅒ expiration interval)).
 */
export function refreshInterval(origTtl: number, sigExpiresAt: number, nowSec: number, failed: boolean): number {
  const exp = Math.max(0, sigExpiresAt - nowSec);
  return failed
    ? Math.max(3600, Math.min(86400, Math.floor(origTtl / 10), Math.floor(exp / 10)))
    : Math.max(3600, Math.min(15 * 86400, Math.floor(origTtl / 2), Math.floor(exp / 2)));
}

export interface Transition {
  tag: number;
  from: KeyState | 'Start';
  to: KeyState | 'Start';
}

/**
 * One refresh of a trust point. An observation that was not validated by a trusted key changes
 * nothing but the retry time (an attacker's unsigned or wrongly signed set moves no state).
 */
export function applyObservation(
  tp: TrustPointState,
  obs: Observation,
  nowSec: number,
  opts: Rfc5011Options = RFC5011_DEFAULTS,
): { state: TrustPointState; transitions: Transition[] } {
  if (!obs.validated) {
    return {
      state: { ...tp, nextRefresh: nowSec + refreshInterval(obs.origTtl || 3600, obs.sigExpiresAt || nowSec, nowSec, true) },
      transitions: [],
    };
  }
  const transitions: Transition[] = [];
  const addHold = Math.max(opts.addHoldDownSec, obs.origTtl);
  const seen = new Map<string, { rdata: Uint8Array; selfSigned: boolean }>();
  for (const k of obs.keys) if (isSep(k.rdata)) seen.set(keyIdentity(k.rdata), k);
  const keys: TrackedKey[] = [];
  const move = (k: TrackedKey, to: KeyState, rdata?: Uint8Array): TrackedKey => {
    transitions.push({ tag: k.tag, from: k.state, to });
    const r = rdata ?? fromB64(k.rdata);
    return { ...k, rdata: b64(r), tag: keyTag(r), state: to, since: nowSec };
  };
  for (const k of tp.keys) {
    const id = keyIdentity(fromB64(k.rdata));
    const now = seen.get(id);
    seen.delete(id);
    // §2.1: a revocation counts only when the revoked key signed the set itself.
    if (now && isRevoked(now.rdata) && now.selfSigned && k.state !== 'Revoked' && k.state !== 'Removed') {
      keys.push(move(k, 'Revoked', now.rdata));
      continue;
    }
    switch (k.state) {
      case 'AddPend':
        if (!now || isRevoked(now.rdata)) transitions.push({ tag: k.tag, from: 'AddPend', to: 'Start' });
        else if (nowSec - k.since >= addHold) keys.push(move(k, 'Valid'));
        else keys.push(k);
        break;
      case 'Valid':
        keys.push(now ? k : move(k, 'Missing'));
        break;
      case 'Missing':
        keys.push(now && !isRevoked(now.rdata) ? move(k, 'Valid') : k);
        break;
      case 'Revoked':
        if (!now && nowSec - k.since >= opts.removeHoldDownSec) {
          // §4.1: Removed is as good as Start; only a key the configuration lists is remembered.
          const removed = move(k, 'Removed');
          if (opts.keepRemoved?.(id)) keys.push(removed);
        } else keys.push(k);
        break;
      case 'Removed':
        // Equivalent to Start (§4.1): a key that comes back unrevoked waits out a new hold-down.
        if (now && !isRevoked(now.rdata)) keys.push(move(k, 'AddPend', now.rdata));
        else if (opts.keepRemoved?.(id)) keys.push(k);
        break;
    }
  }
  // Keys not tracked yet: Start → AddPend. A revoked key we never trusted is of no interest.
  let pending = keys.filter((k) => k.state === 'AddPend').length;
  for (const k of seen.values()) {
    if (isRevoked(k.rdata)) continue;
    if (pending >= MAX_PENDING_KEYS || keys.length >= MAX_TRACKED_KEYS) continue;
    pending++;
    const t: TrackedKey = { rdata: b64(k.rdata), tag: keyTag(k.rdata), state: 'AddPend', firstSeen: nowSec, since: nowSec };
    transitions.push({ tag: t.tag, from: 'Start', to: 'AddPend' });
    keys.push(t);
  }
  return {
    state: {
      zone: tp.zone,
      keys,
      lastSuccess: nowSec,
      nextRefresh: nowSec + refreshInterval(obs.origTtl, obs.sigExpiresAt, nowSec, false),
    },
    transitions,
  };
}
