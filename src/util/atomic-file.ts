// One file written so that no reader ever sees half of it and no link another user planted is written
// through: the key directory (src/publish), the TOFU pin store (src/ike-bridge), the RFC 5011 state
// (src/trust) and autosp's state all write this way, so it lives below all of them. And its twin for
// reading a file another user may have replaced: never through a link, never blocking on a FIFO.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  writeSync,
} from 'node:fs';
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

/**
 * Reads `path` if it is a regular file of at most `maxBytes`: opened with O_NOFOLLOW (a link fails
 * with ELOOP) and O_NONBLOCK (a FIFO planted there cannot hang the reader), checked on the open
 * descriptor. Errors from open (ENOENT, ELOOP, EACCES...) are thrown as they are; what is open but not
 * to be read comes back as `not-regular` or `too-large`, for the caller to say so in its own terms.
 */
export function readRegularFile(
  path: string,
  maxBytes = Infinity,
): { kind: 'file'; data: Buffer; stat: Stats } | { kind: 'not-regular' | 'too-large'; stat: Stats } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { kind: 'not-regular', stat };
    if (stat.size > maxBytes) return { kind: 'too-large', stat };
    return { kind: 'file', data: readFileSync(fd), stat };
  } finally {
    closeSync(fd);
  }
}
