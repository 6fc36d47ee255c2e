// The autosp state file: which names autosp wants and the peers it last installed for them. Written
// by whoever runs autosp's keeper (the CLI when no daemon runs, or `oedns serve`), read back by the
// next CLI run and by `oedns serve` at start. Written atomically (temp file + rename), mode 0600: it
// lists who this host talks to. Read back as untrusted input: every field is checked, expiries are
// capped at the max TTL, and a stored key is never installed as such: the names are looked up and
// validated again, and until then the stored addresses are only held closed (drop shunts).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { writeFileAtomic } from '../publish/files';
import { dirname } from 'node:path';
import type { Peer, PeerAuth } from '../peers/model';
import { ipseckeyToKeyObject } from '../peers/keys';
import { DEFAULT_MAX_TTL, formatAddress, LEVELS, parseAddress } from '../policy';
import { ConfigError } from '../util/errors';
import { MAX_PEER_ADDRESSES } from '../peers/sync';
import { MAX_PEERS, peerNameProblem } from './peers-file';

export const DEFAULT_STATE_PATH = '/var/lib/oedns/autosp.json';

export interface AutospState {
  /** Names autosp wants, whether or not they are installed right now. */
  names: string[];
  /** Peers as last installed (owner autosp). */
  peers: Peer[];
}

interface StoredKey {
  algorithm: number;
  precedence: number;
  publicKey: string;
}

interface StoredPeer extends Omit<Peer, 'auth'> {
  auth: { kind: 'pubkey'; keys: StoredKey[] } | Exclude<PeerAuth, { kind: 'pubkey' }>;
}

interface StoredState {
  version: 1;
  updatedAt: number;
  names: string[];
  peers: StoredPeer[];
}

/**
 * The peer as the state file holds it: every field, keys in base64, so that it can be read back
 * (parsed and checked by loadAutospState). Not peerMaterial() (a one-way comparison key) nor
 * peerSummary() (what a report shows).
 */
function store(p: Peer): StoredPeer {
  const auth =
    p.auth.kind === 'pubkey'
      ? {
          kind: 'pubkey' as const,
          keys: p.auth.keys.map((k) => ({
            algorithm: k.algorithm,
            precedence: k.precedence,
            publicKey: Buffer.from(k.publicKey).toString('base64'),
          })),
        }
      : p.auth;
  return { ...p, auth };
}

/** At most this many addresses and keys per peer: more is not a peer we wrote. */
const MAX_ADDRESSES = MAX_PEER_ADDRESSES;
const MAX_KEYS = 16;
/**
 * The file is read whole and parsed at start: bounded, so a planted or runaway file cannot take the
 * daemon's memory or minutes of its start. autosp's MAX_PEERS names with a few addresses and one
 * RSA key each write about 70 MB (indented JSON); twice that is not a file we wrote.
 */
export const MAX_STATE_BYTES = 128 * 1024 * 1024;
const METHODS = ['null', 'wellknown-psk', 'tofu-cert'];

/**
 * One stored peer, checked field by field as untrusted input (the file is a trust store: whoever can
 * write it could otherwise plant a key): the name, every address, every key (it must decode as the
 * algorithm says), the level, the gateway. Throws ConfigError saying what is wrong.
 */
function restore(s: StoredPeer, where: string): Peer {
  const bad = (what: string): never => {
    throw new ConfigError('autosp-state', `${where}: ${typeof s?.name === 'string' ? `peer ${s.name.slice(0, 80)}` : 'a peer'} ${what}`);
  };
  if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || peerNameProblem(s.name)) bad('has no usable name');
  if (!Array.isArray(s.addresses) || s.addresses.length === 0 || s.addresses.length > MAX_ADDRESSES) bad('has no usable address list');
  const addresses: string[] = [];
  for (const a of s.addresses as unknown[]) {
    const parsed = typeof a === 'string' ? parseAddress(a) : null;
    if (!parsed) bad(`has a bad address ${JSON.stringify(a)?.slice(0, 60)}`);
    addresses.push(formatAddress(parsed!.bytes));
  }
  if (typeof s.expiresAt !== 'number' || !Number.isFinite(s.expiresAt)) bad('has no expiry');
  if (!LEVELS.includes(s.level)) bad(`has an unknown level ${JSON.stringify(s.level)}`);
  if (s.initiate !== undefined && typeof s.initiate !== 'boolean') bad('has a non-boolean initiate');
  let auth: PeerAuth;
  const a = s.auth as StoredPeer['auth'] | undefined;
  if (a?.kind === 'pubkey') {
    if (!Array.isArray(a.keys) || a.keys.length === 0 || a.keys.length > MAX_KEYS) bad('has no usable keys');
    const keys = a.keys.map((k) => {
      if (
        typeof k !== 'object' ||
        k === null ||
        !Number.isInteger(k.algorithm) ||
        !Number.isInteger(k.precedence) ||
        k.precedence < 0 ||
        k.precedence > 255 ||
        typeof k.publicKey !== 'string' ||
        !/^[A-Za-z0-9+/]+={0,2}$/.test(k.publicKey)
      ) {
        return bad('has a malformed key');
      }
      const publicKey = new Uint8Array(Buffer.from(k.publicKey, 'base64'));
      try {
        ipseckeyToKeyObject(k.algorithm, publicKey);
      } catch (e) {
        return bad(`has a key that does not decode (${(e as Error).message})`);
      }
      return { algorithm: k.algorithm, precedence: k.precedence, publicKey };
    });
    auth = { kind: 'pubkey', keys };
  } else if (a?.kind === 'unauthenticated' && METHODS.includes(a.method)) {
    if (a.pinnedFingerprint !== undefined && !(typeof a.pinnedFingerprint === 'string' && /^[0-9a-f]{64}$/.test(a.pinnedFingerprint)))
      bad('has a malformed pin');
    auth = { kind: 'unauthenticated', method: a.method, ...(a.pinnedFingerprint ? { pinnedFingerprint: a.pinnedFingerprint } : {}) };
  } else {
    return bad('has no usable auth');
  }
  let gateway: Peer['gateway'] = { kind: 'none' };
  if (s.gateway !== undefined && s.gateway?.kind !== 'none') {
    const g = s.gateway?.kind === 'address' && typeof s.gateway.address === 'string' ? parseAddress(s.gateway.address) : null;
    if (!g) bad('has a bad gateway');
    gateway = { kind: 'address', address: formatAddress(g!.bytes) };
  }
  return {
    name: s.name.toLowerCase().replace(/\.$/, ''),
    addresses,
    auth,
    gateway,
    level: s.level,
    expiresAt: s.expiresAt,
    owner: 'autosp',
    initiate: s.initiate ?? false,
  };
}

export interface ReadStateOptions {
  /** Unix seconds: with maxTtl, no stored expiry may lie further ahead than nowSec + maxTtl. */
  nowSec?: number;
  /** The longest lifetime a peer may have (policy max-ttl); default DEFAULT_MAX_TTL. */
  maxTtl?: number;
  /** Largest file read (default MAX_STATE_BYTES). */
  maxBytes?: number;
}

/**
 * The state at `path`; an absent file is an empty state. ConfigError when unreadable or not a state
 * file. Peers whose fields do not check out are left out and listed in `rejected` (the caller logs
 * them); expiries are capped at now + maxTtl (a file cannot make a key live longer than DNS could).
 */
export function readAutospState(path: string, o: ReadStateOptions = {}): AutospState & { rejected: string[] } {
  if (!existsSync(path)) return { names: [], peers: [], rejected: [] };
  let v: StoredState;
  try {
    const size = statSync(path).size;
    const max = o.maxBytes ?? MAX_STATE_BYTES;
    if (size > max) throw new Error(`${size} bytes, more than the ${max} a state file may have`);
    v = JSON.parse(readFileSync(path, 'utf8')) as StoredState;
  } catch (e) {
    throw new ConfigError('autosp-state', `cannot read autosp state ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || v.version !== 1 || !Array.isArray(v.names) || !Array.isArray(v.peers)) {
    throw new ConfigError('autosp-state', `${path} is not an autosp state file (version 1)`);
  }
  if (v.names.length > MAX_PEERS || v.peers.length > MAX_PEERS) {
    throw new ConfigError(
      'autosp-state',
      `${path}: ${v.names.length} names and ${v.peers.length} peers, more than the ${MAX_PEERS} autosp keeps`,
    );
  }
  const wanted = new Set(
    v.names.filter((n): n is string => typeof n === 'string' && peerNameProblem(n) === null).map((n) => n.toLowerCase().replace(/\.$/, '')),
  );
  const names = [...wanted];
  // One stored peer per name: a second one for the same name is not something we wrote.
  const seen = new Set<string>();
  const cap = (o.nowSec ?? Date.now() / 1000) + (o.maxTtl ?? DEFAULT_MAX_TTL);
  const peers: Peer[] = [];
  const rejected: string[] = [];
  for (const raw of v.peers) {
    try {
      const p = restore(raw, path);
      // A peer is only ever kept for a name autosp wants.
      if (!wanted.has(p.name)) throw new ConfigError('autosp-state', `${path}: peer ${p.name} is not among the names`);
      if (seen.has(p.name)) throw new ConfigError('autosp-state', `${path}: peer ${p.name} is stored twice`);
      seen.add(p.name);
      peers.push({ ...p, expiresAt: Math.min(p.expiresAt, cap) });
    } catch (e) {
      rejected.push((e as Error).message);
    }
  }
  return { names, peers, rejected };
}

/**
 * The autosp peers of the state file still alive at `nowSec` (expiry capped at nowSec + maxTtl),
 * owner 'autosp', initiate off. What a restarted daemon may do with them before looking them up
 * again: keep their addresses closed (a drop shunt); never trust their keys (the keeper re-validates).
 */
export function loadAutospState(path: string, nowSec = Date.now() / 1000, maxTtl = DEFAULT_MAX_TTL): Peer[] {
  return readAutospState(path, { nowSec, maxTtl })
    .peers.filter((p) => p.expiresAt > nowSec)
    .map((p) => ({ ...p, initiate: false }));
}

export function writeAutospState(path: string, s: AutospState, nowSec = Date.now() / 1000): void {
  const body: StoredState = { version: 1, updatedAt: Math.floor(nowSec), names: [...s.names], peers: s.peers.map(store) };
  // mkdir -p fails with EACCES on an existing directory whose parent this user cannot write (a daemon
  // that dropped root, writing into the directory handed to it): only create what is missing.
  if (!existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // A random name created exclusively (never through a link planted at a name we would pick), 0600.
  writeFileAtomic(path, JSON.stringify(body, null, 1) + '\n', 0o600);
}

/** Writes of the state file, coalesced: see stateWriter(). */
export interface StateWriter {
  /** Something changed: the file is written soon (at most one write pending). */
  schedule(): void;
  /** Write now if anything changed since the last write (at close, after an operator's request). */
  flush(): void;
}

/**
 * The keeper reports every single change (a name added, a peer refreshed) and the file holds every
 * peer, so writing it per change costs O(n) per change and O(n²) for n names added one by one (the
 * review measured minutes of writes at 20,000 names). Changes are coalesced: the write happens after
 * a gap of `factor` times the last write's duration (at least minGapMs, at most maxGapMs), so writing
 * takes at most about 1/factor of the time whatever the size. What a crash loses in that gap is also
 * held closed by the conns the IKE daemon still has (src/daemon/leftovers.ts).
 */
export function stateWriter(write: () => void, o: { minGapMs?: number; maxGapMs?: number; factor?: number } = {}): StateWriter {
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  let lastMs = 0;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!dirty) return;
    dirty = false;
    const t = process.hrtime.bigint();
    write();
    lastMs = Number(process.hrtime.bigint() - t) / 1e6;
  };
  return {
    schedule() {
      dirty = true;
      if (timer) return;
      const gap = Math.min(o.maxGapMs ?? 5000, Math.max(o.minGapMs ?? 50, (o.factor ?? 20) * lastMs));
      timer = setTimeout(() => {
        try {
          flush();
        } catch {
          /* the next change or the close writes again (and reports the error there) */
          dirty = true;
        }
      }, gap);
      timer.unref();
    },
    flush,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Only one autosp process may drive the engine directly at a time (two would undo each other's
 * trust rebuilds). The lock is `<state>.lock` holding the pid; a lock left by a dead process is
 * taken over. Returns the release function; ConfigError code 'autosp-busy' when held.
 */
export function lockState(path: string): () => void {
  const lock = `${path}.lock`;
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError('autosp-state', `cannot create ${lock}: ${(e as Error).message}`);
      }
      let pid = NaN;
      try {
        pid = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        /* vanished meanwhile: retry */
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ConfigError(
          'autosp-busy',
          `another autosp (pid ${pid}) is managing peers with ${path}; ` + 'while `autosp watch` runs, change its peers file instead',
        );
      }
      try {
        unlinkSync(lock);
      } catch {
        /* someone else took it over */
      }
    }
  }
  throw new ConfigError('autosp-busy', `cannot take ${lock}`);
}
