// Lets a running `oedns serve` or `autosp watch` follow `oedns key activate` without a restart: it
// watches the directory of our private key file (activation renames the next key over it, which a
// watch on the file itself would lose) and hands each really new key to the engine. A file that
// cannot be read or parsed, or that another user could have put there (a link, someone else's file,
// writable by others: see readKeyFile), leaves the engine signing with the key it has, and says so.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { silentLogger, type Logger } from '../util/log';
import { readKeyFile, UnsafeKeyFile } from './files';

export interface KeyWatch {
  close(): void;
}

const fingerprint = (k: KeyObject): string => createPublicKey(k).export({ type: 'spki', format: 'der' }).toString('base64');

/**
 * Calls `onKey` (one call at a time) with the private key in `file` whenever it changes to another
 * key. `initial` is the key the caller loaded at start.
 */
export function watchKeyFile(
  file: string,
  initial: KeyObject,
  onKey: (k: KeyObject) => Promise<void>,
  log: Logger = silentLogger,
  debounceMs = 200,
): KeyWatch {
  let current = fingerprint(initial);
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  const look = (): void => {
    timer = undefined;
    let key: KeyObject;
    try {
      key = createPrivateKey(readKeyFile(file));
    } catch (e) {
      if (e instanceof UnsafeKeyFile) {
        log.error({ key: file, reason: e.reason }, 'our key file changed but is not safe to use; still signing with the previous key');
        return;
      }
      // Mid-rename or removed: the next event (or none) decides; the engine keeps its key meanwhile.
      log.warn({ key: file, err: (e as Error).message }, 'our key file changed but cannot be read; still signing with the previous key');
      return;
    }
    const fp = fingerprint(key);
    if (fp === current) return;
    current = fp;
    chain = chain
      .then(() => onKey(key))
      .then(
        () => log.info({ key: file }, 'our key changed on disk: the IKE daemon now signs with the new key'),
        (e: Error) =>
          log.error(
            { key: file, err: e.message },
            'loading our new key into the IKE daemon failed; it will be tried again on the next change',
          ),
      );
  };
  let w: FSWatcher | undefined;
  try {
    w = watch(dirname(file), { persistent: false }, (_ev, name) => {
      if (name !== null && name !== basename(file)) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(look, debounceMs);
    });
    w.on('error', (e) => log.warn({ key: file, err: e.message }, 'cannot watch our key file any more; restart to pick up a new key'));
  } catch (e) {
    log.warn({ key: file, err: (e as Error).message }, 'cannot watch our key file; a new key needs a restart');
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      w?.close();
    },
  };
}
