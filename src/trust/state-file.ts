// The RFC 5011 state file: what the trust anchor tracker knows about each trust point's keys, kept
// across restarts (the 30-day hold-down timers only mean something if they survive a reboot).
// Checked field by field on load: a damaged file is an error that names it, never silently "no keys".
import { existsSync, lstatSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file';
import { DEFAULT_USER, lookupUser } from '../resolver/privileges';
import { ConfigError } from '../util/errors';
import { MAX_TRACKED_KEYS } from './rfc5011';
import type { KeyState, TrackedKey, TrustPointState } from './rfc5011';

const STATES: ReadonlyArray<KeyState> = ['AddPend', 'Valid', 'Missing', 'Revoked', 'Removed'];
/**
 * A root zone has a handful of KSKs; more than MAX_TRACKED_KEYS keys that still count (not Removed)
 * is not a state file we wrote. Removed keys are counted apart: older versions kept every one, so a
 * file may hold many; they are dropped when loaded (boundedTrustPoint), never believed.
 */
const MAX_POINTS = 64;
const MAX_KEYS_IN_FILE = 1024;

function bad(path: string, why: string): never {
  throw new ConfigError(
    'trust-anchor-state',
    `trust anchor state file ${path} is damaged: ${why} (move it away to start again from the configured anchors)`,
  );
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 33;

function checkKey(path: string, k: unknown): TrackedKey {
  if (typeof k !== 'object' || k === null) bad(path, 'a key is not an object');
  const o = k as Record<string, unknown>;
  if (typeof o.rdata !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(o.rdata) || o.rdata.length > 4096) bad(path, 'a key has no valid rdata');
  if (typeof o.tag !== 'number' || !Number.isInteger(o.tag) || o.tag < 0 || o.tag > 65535) bad(path, 'a key has no valid tag');
  if (!STATES.includes(o.state as KeyState)) bad(path, `unknown key state ${JSON.stringify(o.state)}`);
  if (!isTime(o.firstSeen) || !isTime(o.since)) bad(path, 'a key has bad times');
  return { rdata: o.rdata, tag: o.tag, state: o.state as KeyState, firstSeen: o.firstSeen, since: o.since };
}

export function parseTrustState(text: string, path: string): TrustPointState[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    bad(path, 'not JSON');
  }
  const o = v as { version?: unknown; trustPoints?: unknown };
  if (typeof v !== 'object' || v === null || o.version !== 1 || !Array.isArray(o.trustPoints)) bad(path, 'not a version 1 state');
  if (o.trustPoints.length > MAX_POINTS) bad(path, 'too many trust points');
  return o.trustPoints.map((tp: unknown) => {
    const t = tp as Record<string, unknown>;
    if (typeof tp !== 'object' || tp === null || typeof t.zone !== 'string' || !Array.isArray(t.keys))
      bad(path, 'a trust point lacks zone or keys');
    if (t.keys.length > MAX_KEYS_IN_FILE) bad(path, `too many keys for ${t.zone || '.'}`);
    if ((t.lastSuccess !== undefined && !isTime(t.lastSuccess)) || (t.nextRefresh !== undefined && !isTime(t.nextRefresh)))
      bad(path, 'bad refresh times');
    const out: TrustPointState = { zone: t.zone, keys: t.keys.map((k: unknown) => checkKey(path, k)) };
    if (out.keys.filter((k) => k.state !== 'Removed').length > MAX_TRACKED_KEYS) bad(path, `too many keys for ${t.zone || '.'}`);
    if (t.lastSuccess !== undefined) out.lastSuccess = t.lastSuccess;
    if (t.nextRefresh !== undefined) out.nextRefresh = t.nextRefresh;
    return out;
  });
}

type Lstat = (p: string) => Pick<Stats, 'uid' | 'mode' | 'isFile' | 'isDirectory' | 'isSymbolicLink'>;

/** Users whose state we believe: root, us, and the user the service runs as (it writes the file). */
export function stateOwners(serviceUser = DEFAULT_USER, readPasswd = (): string => readFileSync('/etc/passwd', 'utf8')): number[] {
  const out = new Set([0, process.getuid?.() ?? 0]);
  try {
    const u = lookupUser(readPasswd(), serviceUser);
    if (u) out.add(u.uid);
  } catch {
    /* no passwd: root and us */
  }
  return [...out];
}

/**
 * Why the state at `path` must not be believed, or undefined. Its keys are what every answer is
 * validated with: whoever could write the file, or replace it through its directory, could plant a
 * key of their own. So the file (no symlink) and its directory belong to one of `owners` and nobody
 * else may write them; the directories above belong to root or `owners` and, if others may write
 * them, are sticky (the control socket's rule, src/control/server.ts).
 */
export function unsafeStatePath(
  path: string,
  owners: readonly number[],
  lstat: Lstat = lstatSync,
  realpath = realpathSync,
): string | undefined {
  const abs = resolve(path);
  let dir: string;
  try {
    dir = realpath(dirname(abs));
  } catch {
    return undefined; // no directory yet: nothing to read, and it is made when first saved
  }
  const file = join(dir, basename(abs));
  const mode = (m: number): string => (m & 0o7777).toString(8);
  let st;
  try {
    st = lstat(file);
  } catch {
    st = undefined;
  }
  if (st) {
    if (st.isSymbolicLink() || !st.isFile()) return `${file} is not a regular file`;
    if (!owners.includes(st.uid)) return `${file} belongs to uid ${st.uid}, not to root or the oedns user`;
    if (st.mode & 0o022) return `${file} is writable by others (mode ${mode(st.mode)})`;
  }
  const d = lstat(dir);
  if (!owners.includes(d.uid)) return `${dir} belongs to uid ${d.uid}, who could replace ${basename(abs)}`;
  if (d.mode & 0o022) return `${dir} is writable by others (mode ${mode(d.mode)}), who could replace ${basename(abs)}`;
  for (let a = dirname(dir), prev = dir; a !== prev; prev = a, a = dirname(a)) {
    const x = lstat(a);
    if (x.uid !== 0 && !owners.includes(x.uid)) return `${a} belongs to uid ${x.uid}, who could replace ${dir}`;
    if (x.mode & 0o022 && !(x.mode & 0o1000)) return `${a} is writable by others and not sticky`;
  }
  return undefined;
}

/**
 * The state in `path`, or [] when there is no file yet. With `owners`, a file or directory others
 * could write is refused (unsafeStatePath) before it is read.
 */
export function loadTrustState(path: string, owners?: readonly number[]): TrustPointState[] {
  if (owners) {
    const unsafe = unsafeStatePath(path, owners);
    if (unsafe) {
      throw new ConfigError(
        'trust-anchor-state-unsafe',
        `trust anchor state ${path} cannot be trusted: ${unsafe} (its keys decide what validates: chown it and its directory to root or oedns, chmod go-w)`,
      );
    }
  }
  if (!existsSync(path)) return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('trust-anchor-state', `cannot read trust anchor state ${path}: ${(e as Error).message}`);
  }
  return parseTrustState(text, path);
}

/**
 * Written to a new file under a random name (created exclusively, never through a link an attacker
 * planted), mode 0600, then renamed over the old one: a crash leaves the old or the new state.
 */
export function saveTrustState(path: string, points: TrustPointState[]): void {
  // Never write what could not be loaded again (a daemon that saves its own unloadable state would
  // not start next time): the refresher keeps points bounded (boundedTrustPoint) before saving.
  for (const tp of points) {
    if (tp.keys.length > MAX_TRACKED_KEYS) {
      throw new ConfigError(
        'trust-anchor-state',
        `not saving ${path}: ${tp.keys.length} keys for ${tp.zone || '.'}, more than ${MAX_TRACKED_KEYS}`,
      );
    }
  }
  writeFileAtomic(path, `${JSON.stringify({ version: 1, trustPoints: points }, null, 1)}\n`, 0o600);
}
