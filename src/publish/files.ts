// The files that hold a secret (the TSIG key) are trusted only when no other local user could have
// read or replaced them.
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { ConfigError } from '../util/errors';

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
      throw new ConfigError(code, `${what} ${path} is owned by uid ${st.uid}, not by the user running oedns (uid ${euid()}), who could not keep others from changing it: chown ${euid()} ${path}`);
    }
    if (st.mode & 0o077) {
      throw new ConfigError(code, `${what} ${path} is open to other users (mode ${mode(st)}) and holds a secret: chmod 600 ${path}` +
        `${st.mode & 0o044 ? ', and if others may have read it, make a new secret (tsig-keygen) on the server too' : ''}`);
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
