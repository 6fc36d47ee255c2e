// After a peer's key changes, IKE SAs authenticated with the old key must end: the key may have been
// rolled because it leaked, and charon keeps an established IKE_SA (rekeying it without a new
// authentication) however its conn's trusted keys change. The engine installs the new key (and, with
// initiate, brings up an SA authenticated with it); this hook then terminates the SAs that existed
// before. strongSwan only: the other engines have no such SA list here.
import { connName } from '../ike-bridge/peer-config';
import { ViciClient } from '../ike-bridge/vici-client';
import { str } from '../ike-bridge/vici-codec';
import { silentLogger, type Logger } from '../util/log';

export interface KeyRolloverHook {
  /** Called before the peer with its new key is installed; returns what `after` needs. */
  before(name: string): Promise<unknown>;
  /** Called once the engine holds the new key. */
  after(name: string, token: unknown): Promise<void>;
  close(): Promise<void>;
}

/** The hook for charon at `socketPath`: snapshot the peer's IKE_SA ids, then terminate exactly those. */
export function strongswanKeyRollover(socketPath: string, log: Logger = silentLogger): KeyRolloverHook {
  const c = new ViciClient({ socketPath, timeoutMs: 5000 });
  return {
    async before(name) {
      const sas = await c.listSas({ ike: connName(name), noblock: true });
      return sas.map((s) => s.uniqueId).filter((id): id is string => id !== undefined);
    },
    async after(name, token) {
      for (const id of token as string[]) {
        const r = await c.terminate({ ike_id: id, timeout: 2000, force: true });
        if (str(r, 'success') !== 'yes') log.warn({ peer: name, ikeId: id, errmsg: str(r, 'errmsg') }, 'autosp: terminating an SA of the old key failed');
        else log.info({ peer: name, ikeId: id }, 'autosp: SA authenticated with the old key terminated');
      }
    },
    close: () => c.close(),
  };
}
