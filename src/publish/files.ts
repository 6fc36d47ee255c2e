// The files that hold a secret or decide which key we sign with (the TSIG key, the key directory with
// our private keys and rollover.json) are trusted only when no other local user could have read or
// replaced them. Writes never follow a link another user planted: new files are created under a
// random name with O_EXCL|O_NOFOLLOW and renamed into place (a rename replaces a link, not its target).
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { ConfigError } from '../util/errors';

/** Kept here too for the files that read it from publish (it lives in src/util: several folders write state). */
import { readRegularFile } from '../util/atomic-file';
export { writeFileAtomic } from '../util/atomic-file';

export const euid = (): number => process.geteuid?.() ?? 0;

const mode = (st: Stats): string => `0${(st.mode & 0o777).toString(8)}`;

/**
 * Reads a file that holds a secret (the TSIG key): it must be a regular file owned by the effective
 * user with no group or other permission bits. ConfigError `code` otherwise, saying what to run
 * (`unreadableCode` when it cannot be opened).
 */
export function readSecretFile(path: string, what: string, code: string, unreadableCode = code): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (e) {
    throw new ConfigError(unreadableCode, `cannot read ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(code, `${what} ${path} is not a regular file`);
    if (st.uid !== euid()) {
      throw new ConfigError(
        code,
        `${what} ${path} is owned by uid ${st.uid}, not by the user running oedns (uid ${euid()}), who could not keep others from changing it: chown ${euid()} ${path}`,
      );
    }
    if (st.mode & 0o077) {
      throw new ConfigError(
        code,
        `${what} ${path} is open to other users (mode ${mode(st)}) and holds a secret: chmod 600 ${path}` +
          `${st.mode & 0o044 ? ', and if others may have read it, make a new secret (tsig-keygen) on the server too' : ''}`,
      );
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The key directory must be ours and writable by nobody else: whoever can write there can replace the
 * key we sign with, or plant links we would write through. A directory that does not exist yet passes
 * (it is created 0700).
 */
export function checkKeyDir(dir: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError('key-dir-unsafe', `cannot inspect key directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  if (!st.isDirectory()) throw new ConfigError('key-dir-unsafe', `${dir} is not a directory`);
  if (st.uid !== euid()) {
    throw new ConfigError(
      'key-dir-unsafe',
      `key directory ${dir} is owned by uid ${st.uid}, not by the user running oedns (uid ${euid()}): chown ${euid()} ${dir}`,
    );
  }
  if (st.mode & 0o022) {
    throw new ConfigError(
      'key-dir-unsafe',
      `key directory ${dir} is writable by other users (mode ${mode(st)}), who could replace our keys: chmod go-w ${dir} (0700 is best)`,
    );
  }
}

/** Why one of our key files is not to be trusted, or `undefined`: see readKeyFile. */
function keyFileProblem(st: Stats): string | undefined {
  if (!st.isFile()) return 'it is not a regular file';
  if (st.uid !== euid() && st.uid !== 0) return `it is owned by uid ${st.uid}, neither us (uid ${euid()}) nor root`;
  if (st.mode & 0o027) return `other users may change or read it (mode ${mode(st)}; keygen writes 0600)`;
  return undefined;
}

/** A key file we will not load; `reason` says why. */
export class UnsafeKeyFile extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/**
 * Reads one of our private key files without following a link. Throws UnsafeKeyFile when it is a
 * link, not a regular file, owned by someone other than us or root, writable by group or others, or
 * readable by others (group read is allowed: a daemon that dropped root may read its key through its
 * group); ENOENT and other errors from open as they are.
 */
export function readKeyFile(path: string): Buffer {
  let r: ReturnType<typeof readRegularFile>;
  try {
    r = readRegularFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafeKeyFile(path, 'it is a symbolic link');
    throw e;
  }
  const why = keyFileProblem(r.stat);
  if (why || r.kind !== 'file') throw new UnsafeKeyFile(path, why ?? 'it is not a regular file');
  return r.data;
}
