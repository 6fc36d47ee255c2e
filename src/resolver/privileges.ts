// After the privileged port is bound, a resolver started as root should stop being root: it parses
// untrusted bytes from the network all day. It becomes the dedicated system user `oedns` (created by
// scripts/install.sh), never a shared one such as `nobody`: whatever `oedns` owns, only oedns can
// change. Under systemd the unit starts it as that user directly (packaging/oedns.service), and none
// of this runs.
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../util/errors';

export type DropResult =
  | { dropped: true; user: string; uid: number; gid: number; groups: number[] }
  | { dropped: false; reason: 'not-root' | 'kept-root' | 'no-such-default-user' };

export const DEFAULT_USER = 'oedns';

const readPasswdFile = (): string => readFileSync('/etc/passwd', 'utf8');
const readGroupFile = (): string => {
  try {
    return readFileSync('/etc/group', 'utf8');
  } catch {
    return '';
  }
};

/** uid and gid of `user` from a passwd(5) text, or undefined. */
export function lookupUser(passwd: string, user: string): { uid: number; gid: number } | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/**
 * The groups `user` belongs to: its primary group and every group(5) line that lists it as a member,
 * as initgroups(3) would set them. Membership is how the `oedns` user may use charon's VICI socket.
 */
export function groupsOf(groupText: string, user: string, primaryGid: number): number[] {
  const out = [primaryGid];
  for (const line of groupText.split('\n')) {
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = Number(f[2]);
    if (
      f[3]!
        .split(',')
        .map((m) => m.trim())
        .includes(user) &&
      !out.includes(gid)
    )
      out.push(gid);
  }
  return out;
}

/**
 * Switches to `user` (default `oedns` when it exists) if running as root. `user: 'root'` keeps root.
 * Supplementary groups are set before the gid and uid change, in that order (after setuid the process
 * could no longer change its groups).
 */
export function dropPrivileges(user: string | undefined, readPasswd = readPasswdFile, readGroup = readGroupFile): DropResult {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { dropped: false, reason: 'not-root' };
  if (user === 'root') return { dropped: false, reason: 'kept-root' };
  const name = user ?? DEFAULT_USER;
  const ids = lookupUser(readPasswd(), name);
  if (!ids) {
    if (user === undefined) return { dropped: false, reason: 'no-such-default-user' };
    throw new ConfigError('no-such-user', `--user ${name}: no such user in /etc/passwd`);
  }
  const groups = groupsOf(readGroup(), name, ids.gid);
  process.setgroups?.(groups);
  process.setgid!(ids.gid);
  process.setuid!(ids.uid);
  return { dropped: true, user: name, ...ids, groups };
}

/**
 * Before dropping root: a directory the daemon must keep writing to (autosp's state) is handed to the
 * user it becomes, but only when we create it now. An existing directory is never chowned: with a
 * state file in /etc/oedns, chowning that directory would let the daemon's user replace the host key
 * kept there. Returns a warning when an existing directory is not the user's.
 */
export function handOverDir(
  dir: string,
  user: string | undefined,
  readPasswd = readPasswdFile,
  ops: { getuid?: () => number } = {},
): string | undefined {
  const uid = ops.getuid?.() ?? process.getuid?.();
  if (uid !== 0 || user === 'root') return undefined;
  const name = user ?? DEFAULT_USER;
  const ids = lookupUser(readPasswd(), name);
  if (!ids) return undefined;
  if (!existsSync(dir)) {
    // Only the last component is ours: parents made on the way stay root's (mkdir -p semantics).
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, ids.uid, ids.gid);
    return undefined;
  }
  const st = lstatSync(dir);
  if (st.isDirectory() && st.uid === ids.uid) return undefined;
  return (
    `${dir} belongs to uid ${st.uid}, not to ${name}, the user oedns runs as, and an existing directory is never handed over: ` +
    `autosp commands through this daemon cannot save their state (chown it to ${name} yourself if it holds nothing else, ` +
    `or use an --autosp-state in a directory of its own, e.g. /var/lib/oedns)`
  );
}

/**
 * Could a process with `ids` connect to a Unix socket with status `st`? Connecting needs write
 * permission on the socket (unix(7)); charon makes its VICI socket 0770 for its user and group.
 */
export function canUseSocket(st: { uid: number; gid: number; mode: number }, ids: { uid: number; groups: number[] }): boolean {
  if (ids.uid === 0) return true;
  if (st.uid === ids.uid) return (st.mode & 0o200) !== 0;
  if (ids.groups.includes(st.gid)) return (st.mode & 0o020) !== 0;
  return (st.mode & 0o002) !== 0;
}
