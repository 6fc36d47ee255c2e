// After the privileged port is bound, a resolver started as root should stop being root: it parses
// untrusted bytes from the network all day.
import { chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError } from '../util/errors';

export type DropResult =
  | { dropped: true; user: string; uid: number; gid: number }
  | { dropped: false; reason: 'not-root' | 'kept-root' | 'no-such-default-user' };

export const DEFAULT_USER = 'nobody';

/** uid and gid of `user` from a passwd(5) text, or undefined. */
export function lookupUser(passwd: string, user: string): { uid: number; gid: number } | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/**
 * Switches to `user` (default 'nobody' when it exists) if running as root. `user: 'root'` keeps root.
 * Supplementary groups are cleared before the gid and uid change, in that order (after setuid the
 * process could no longer change its groups).
 */
export function dropPrivileges(user: string | undefined, readPasswd = (): string => readFileSync('/etc/passwd', 'utf8')): DropResult {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { dropped: false, reason: 'not-root' };
  if (user === 'root') return { dropped: false, reason: 'kept-root' };
  const name = user ?? DEFAULT_USER;
  const ids = lookupUser(readPasswd(), name);
  if (!ids) {
    if (user === undefined) return { dropped: false, reason: 'no-such-default-user' };
    throw new ConfigError('no-such-user', `--user ${name}: no such user in /etc/passwd`);
  }
  process.setgroups?.([ids.gid]);
  process.setgid!(ids.gid);
  process.setuid!(ids.uid);
  return { dropped: true, user: name, ...ids };
}

/**
 * Before dropping root: a directory the daemon must keep writing to (autosp's state) is handed to the
 * user it becomes. Only a directory we create now, or one dedicated to oedns (named `oedns`), is
 * chowned: a --autosp-state in /etc must not give /etc away. Returns a warning when the directory
 * stays unwritable for that user.
 */
export function handOverDir(
  dir: string, user: string | undefined, readPasswd = (): string => readFileSync('/etc/passwd', 'utf8'),
): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || user === 'root') return undefined;
  const name = user ?? DEFAULT_USER;
  const ids = lookupUser(readPasswd(), name);
  if (!ids) return undefined;
  const existed = existsSync(dir);
  if (!existed) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (st.uid === ids.uid) return undefined;
  if (!existed || basename(dir) === 'oedns') {
    chownSync(dir, ids.uid, ids.gid);
    return undefined;
  }
  return `${dir} is not writable by ${name}, the user oedns runs as: autosp commands through this daemon cannot save their state (use --user root, or an --autosp-state in a directory of its own)`;
}
