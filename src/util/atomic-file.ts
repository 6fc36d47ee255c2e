// One file written so that no reader ever sees half of it and no link another user planted is written
// through: the key directory (src/publish), the TOFU pin store (src/ike-bridge), the RFC 5011 state
// (src/trust) and autosp's state all write this way, so it lives below all of them.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data` to `path` atomically: a new file under a random name (O_CREAT|O_EXCL|O_NOFOLLOW, so
 * nothing that already exists is written through), then renamed over `path`. With `gid`, the file
 * gets that group before anything is written (and `fileMode` exactly, whatever the umask); with `uid`
 * (root only), that owner.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, fileMode: number, gid?: number, uid?: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, fileMode & 0o700);
  try {
    try {
      if (gid !== undefined || uid !== undefined) fchownSync(fd, uid ?? -1, gid ?? -1);
      fchmodSync(fd, fileMode);
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
