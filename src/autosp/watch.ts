// The run loop of `autosp watch`: keep the file's peers installed and fresh until SIGTERM/SIGINT (or
// the caller's abort signal). Re-reads the file when it changes and on SIGHUP. Without a daemon it
// runs the keeper itself and hands over to `oedns serve` as soon as one answers on the control
// socket; with a daemon it sends the names there, and drives the engine itself if the daemon goes
// away. Steps run one at a time. Reading the file, opening the direct session and printing are the
// caller's (the CLI's), passed in as functions.
import { unwatchFile, watchFile } from 'node:fs';
import { controlRequest } from '../control/client';
import { defaultControlPath } from '../control/protocol';
import type { Logger } from '../util/log';
import { type Mode, daemonRequest } from './daemon-client';
import type { Direct } from './direct';
import { Unreachable } from './errors';
import type { PeerReport } from './keeper';

export interface WatchOptions {
  /** The peers file, watched for changes. */
  file: string;
  /** Its names as first read. */
  names: string[];
  /** As chooseMode found it. */
  mode: Mode;
  /** Read the peers file again; throws for a file that is not a usable list. */
  readNames(): string[];
  /** The direct session (src/autosp/direct.ts), opened when no daemon takes the peers. */
  openDirect(): Promise<Direct>;
  /** The outcome of one step, for the user. */
  report(mode: Mode['kind'], peers: PeerReport[]): void;
  /** Progress of the first lookup of every name, when it is made here. */
  firstProgress?: (done: number, total: number) => void;
  /** false: never look for a daemon (--no-daemon). */
  daemon?: boolean;
  /** An explicit control socket: it must answer (no falling back to direct mode). */
  control?: string;
  initiate?: boolean;
  /** Seconds between looks at the control socket. */
  probeEverySec: number;
  signal?: AbortSignal;
}

/** Resolves once stopped by a signal or the abort signal; rejects with the first sync's error. */
export async function watchPeers(o: WatchOptions, log: Logger): Promise<void> {
  const file = o.file;
  let names = o.names;
  let mode = o.mode;
  let direct: Direct | undefined;
  let stopping = false;
  let busy: Promise<void> = Promise.resolve();
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const serial = (fn: () => Promise<void>): Promise<void> => {
    busy = busy.then(fn).catch((e: unknown) => {
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'autosp watch: step failed');
    });
    return busy;
  };
  const report = (peers: PeerReport[]): void => {
    o.report(mode.kind, peers);
  };

  const apply = async (first: boolean): Promise<void> => {
    if (mode.kind === 'daemon') {
      try {
        const r = await daemonRequest(
          mode.path,
          'peer-sync',
          { names, refresh: first, ...(o.initiate !== undefined ? { initiate: o.initiate } : {}) },
          names.length,
        );
        report(r.peers);
        return;
      } catch (e) {
        if (!(e instanceof Unreachable) || o.control !== undefined) throw e;
        log.warn({ err: e.message }, 'autosp watch: the daemon is gone; driving the engine directly');
        mode = { kind: 'direct' };
      }
    }
    if (!direct) {
      direct = await o.openDirect();
      direct.keeper.start();
      direct.sync.start();
    }
    report(await direct.keeper.setNames(names, { refreshExisting: first, progress: first ? o.firstProgress : undefined }));
  };

  const reload = (why: string): void => {
    void serial(async () => {
      let next: string[];
      try {
        next = o.readNames();
      } catch (e) {
        // A broken edit must not drop every peer: keep the last good list.
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'autosp watch: peers file not reloaded; keeping the previous list');
        return;
      }
      log.info({ why, peers: next.length }, 'autosp watch: peers file reloaded');
      names = next;
      await apply(false);
    });
  };

  // Direct mode: hand over to a daemon that appears. Daemon mode: notice a daemon that went away
  // (drive the engine directly) or came back without our names (send them again).
  const probe = (): void => {
    if (stopping || o.daemon === false) return;
    void serial(async () => {
      if (stopping) return;
      if (mode.kind === 'daemon') {
        let held: PeerReport[];
        try {
          held = (await daemonRequest(mode.path, 'peer-list', {}, 0)).peers;
        } catch (e) {
          if (!(e instanceof Unreachable)) throw e;
          await apply(false); // switches to direct mode (or fails when --control was given)
          return;
        }
        const have = new Set(held.map((p) => p.name));
        if (held.length !== names.length || names.some((n) => !have.has(n))) {
          log.info({ control: mode.path }, 'autosp watch: the daemon does not hold our names; sending them again');
          await apply(false);
        }
        return;
      }
      const path = o.control ?? defaultControlPath();
      try {
        await controlRequest(path, 'peer-list', { owner: 'autosp' }, 2000);
      } catch {
        return;
      }
      log.info({ control: path }, 'autosp watch: a daemon answers; handing the peers over');
      mode = { kind: 'daemon', path };
      try {
        await apply(false);
      } catch (e) {
        log.warn({ err: e instanceof Error ? e.message : String(e) }, 'autosp watch: handover failed; staying direct');
        mode = { kind: 'direct' };
        return;
      }
      const d = direct;
      direct = undefined;
      await d?.close({ persist: false });
    });
  };

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'autosp watch: stopping (installed peers stay)');
    unwatchFile(file);
    clearInterval(probeTimer);
    void busy.then(async () => {
      await direct?.close().catch((e: unknown) => log.error({ err: String(e) }, 'autosp watch: close failed'));
      resolveDone();
    });
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  const onHup = (): void => reload('SIGHUP');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  o.signal?.addEventListener('abort', () => stop('abort'));
  const probeTimer = setInterval(probe, o.probeEverySec * 1000);
  try {
    // The first sync's errors end the command with their own exit status (2 for a busy lock, 3 for
    // an unreachable engine); later steps only log theirs.
    const first = apply(true);
    busy = first.catch(() => undefined);
    await first;
    if (!stopping) {
      // Polling the path (not inotify on the inode) also sees editors that replace the file.
      watchFile(file, { interval: 1000 }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) reload('file changed');
      });
    }
    return await done;
  } catch (e) {
    stopping = true;
    await direct?.close().catch(() => undefined);
    throw e;
  } finally {
    unwatchFile(file);
    clearInterval(probeTimer);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }
}
