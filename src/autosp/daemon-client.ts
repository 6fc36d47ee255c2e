// The CLI side of src/autosp/service.ts: whether a running `oedns serve` takes autosp's requests on
// its control socket, and one request to it. Kept apart from the CLI so that `autosp watch` can ask
// again later (a daemon that appears or goes away) with the same rules as the first look.
import { ControlError, controlRequest } from '../control/client';
import { defaultControlPath } from '../control/protocol';
import type { InstalledPeer } from '../ike-bridge/engine';
import { ConfigError } from '../util/errors';
import { Unreachable } from './errors';
import type { PeerReport } from './keeper';

/** How long the daemon may take for `n` names (lookups and installs). */
function daemonTimeoutMs(n: number): number {
  return 30_000 + 200 * n;
}

export type Mode = { kind: 'daemon'; path: string } | { kind: 'direct' };

/**
 * Daemon mode when a daemon answers autosp's requests on the control socket; direct mode when none
 * listens there. An explicit --control that does not answer, or a daemon that answers but does not
 * take autosp requests, is an error (exit 3): driving the engine beside a daemon would fight it.
 */
export async function chooseMode(flags: { daemon?: boolean; control?: string }): Promise<Mode> {
  if (flags.daemon === false) return { kind: 'direct' };
  const path = flags.control ?? defaultControlPath();
  try {
    await controlRequest(path, 'peer-list', { owner: 'autosp' }, 5000);
    return { kind: 'daemon', path };
  } catch (e) {
    if (!(e instanceof ControlError)) throw e;
    if (e.code === 'control-unreachable' && flags.control === undefined) return { kind: 'direct' };
    if (e.code === 'control-refused' && e.refusal === 'unknown-command') {
      throw new Unreachable(
        'autosp-daemon',
        `the daemon on ${path} does not take autosp requests (${e.message}); ` + 'stop it or use --no-daemon to drive the engine directly',
      );
    }
    throw new Unreachable('autosp-daemon', e.message);
  }
}

export async function daemonRequest(
  path: string,
  cmd: string,
  args: Record<string, unknown>,
  n: number,
): Promise<{ peers: PeerReport[]; engine?: InstalledPeer[] }> {
  try {
    return (await controlRequest(path, cmd, { owner: 'autosp', ...args }, daemonTimeoutMs(n))) as {
      peers: PeerReport[];
      engine?: InstalledPeer[];
    };
  } catch (e) {
    if (e instanceof ControlError && e.code === 'control-refused') throw new ConfigError('autosp-daemon-refused', e.message);
    if (e instanceof ControlError) throw new Unreachable('autosp-daemon', e.message);
    throw e;
  }
}
