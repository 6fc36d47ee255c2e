// The autosp state file: which names autosp wants and the peers it last installed for them. Written
// by whoever runs autosp's keeper (the CLI when no daemon runs, or `oedns serve`), read back by the
// next CLI run and by `oedns serve` at start so that its reconcile keeps these peers instead of
// deleting them. Written atomically (temp file + rename), mode 0600: it lists who this host talks to.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Peer, PeerAuth } from '../ike-bridge/engine';
import { ConfigError } from '../util/errors';
import { peerNameProblem } from './peers-file';

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

function store(p: Peer): StoredPeer {
  const auth = p.auth.kind === 'pubkey'
    ? { kind: 'pubkey' as const, keys: p.auth.keys.map((k) => ({ algorithm: k.algorithm, precedence: k.precedence, publicKey: Buffer.from(k.publicKey).toString('base64') })) }
    : p.auth;
  return { ...p, auth };
}

function restore(s: StoredPeer, where: string): Peer {
  if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || peerNameProblem(s.name)) {
    throw new ConfigError('autosp-state', `${where}: a peer without a usable name`);
  }
  if (!Array.isArray(s.addresses) || !s.addresses.every((a) => typeof a === 'string') || typeof s.expiresAt !== 'number') {
    throw new ConfigError('autosp-state', `${where}: peer ${s.name} is malformed`);
  }
  if (!s.auth || (s.auth.kind === 'pubkey' && !Array.isArray(s.auth.keys))) {
    throw new ConfigError('autosp-state', `${where}: peer ${s.name} has no usable auth`);
  }
  const auth: PeerAuth = s.auth.kind === 'pubkey'
    ? { kind: 'pubkey', keys: s.auth.keys.map((k) => ({ algorithm: k.algorithm, precedence: k.precedence, publicKey: new Uint8Array(Buffer.from(k.publicKey, 'base64')) })) }
    : s.auth;
  return {
    name: s.name,
    addresses: [...s.addresses],
    auth,
    gateway: s.gateway?.kind === 'address' ? { kind: 'address', address: s.gateway.address } : { kind: 'none' },
    level: s.level,
    expiresAt: s.expiresAt,
    owner: 'autosp',
    initiate: s.initiate ?? false,
  };
}

/** The state at `path`; an absent file is an empty state. ConfigError when unreadable or malformed. */
export function readAutospState(path: string): AutospState {
  if (!existsSync(path)) return { names: [], peers: [] };
  let v: StoredState;
  try {
    v = JSON.parse(readFileSync(path, 'utf8')) as StoredState;
  } catch (e) {
    throw new ConfigError('autosp-state', `cannot read autosp state ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || v.version !== 1 || !Array.isArray(v.names) || !Array.isArray(v.peers)) {
    throw new ConfigError('autosp-state', `${path} is not an autosp state file (version 1)`);
  }
  const names = v.names.filter((n): n is string => typeof n === 'string' && peerNameProblem(n) === null);
  return { names, peers: v.peers.map((p) => restore(p, path)) };
}

/**
 * For `oedns serve` at start: the autosp peers still alive at `nowSec`, owner 'autosp', initiate
 * off, to upsert into its registry before its first reconcile. A missing file gives none.
 */
export function loadAutospState(path: string, nowSec = Date.now() / 1000): Peer[] {
  // Not initiated again at reconcile: they were when first installed (see AutospService.bringUp).
  return readAutospState(path).peers.filter((p) => p.expiresAt > nowSec).map((p) => ({ ...p, initiate: false }));
}

export function writeAutospState(path: string, s: AutospState, nowSec = Date.now() / 1000): void {
  const body: StoredState = { version: 1, updatedAt: Math.floor(nowSec), names: [...s.names], peers: s.peers.map(store) };
  // mkdir -p fails with EACCES on an existing directory whose parent this user cannot write (a daemon
  // that dropped root, writing into the directory handed to it): only create what is missing.
  if (!existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(body, null, 1) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
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
        throw new ConfigError('autosp-busy', `another autosp (pid ${pid}) is managing peers with ${path}; ` +
          'while `autosp watch` runs, change its peers file instead');
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
