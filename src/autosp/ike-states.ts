// The IKE and CHILD_SA states of our connections, for `autosp list` (which needs no identity or key):
// straight from charon's list-sas for strongswan; the engine's own list otherwise; none for dry-run.
// The engine for the other kinds is built by the caller (src/autosp may not import src/daemon).
import type { Engine, InstalledPeer } from '../ike-bridge/engine';
import { peerOfConn } from '../ike-bridge/peer-config';
import { ViciClient } from '../ike-bridge/vici-client';

export interface IkeStatesOptions {
  engine?: string;
  vici?: string;
  identity?: string;
}

export async function engineStates(flags: IkeStatesOptions, makeEngine: () => Promise<Engine>): Promise<InstalledPeer[] | undefined> {
  const kind = flags.engine ?? 'strongswan';
  if (kind === 'dry-run') return undefined;
  if (kind === 'strongswan') {
    const c = new ViciClient({
      socketPath: flags.vici ?? '/var/run/charon.vici',
      timeoutMs: 5000,
      connectTimeoutMs: 1000,
      reconnect: false,
    });
    try {
      const [conns, sas] = [await c.getConns(), await c.listSas({ noblock: true })];
      return conns
        .filter((n) => peerOfConn(n) !== undefined)
        .map((conn) => {
          const sa = sas.find((x) => x.name === conn && x.state === 'ESTABLISHED') ?? sas.find((x) => x.name === conn);
          const child = sa?.children.find((ch) => ch.name === conn);
          return {
            name: peerOfConn(conn)!,
            connection: conn,
            addresses: [],
            authenticated: true,
            ikeState: sa?.state,
            childState: child?.state,
          };
        });
    } finally {
      await c.close();
    }
  }
  if (!flags.identity) return undefined;
  const engine = await makeEngine();
  try {
    return await engine.list();
  } finally {
    await engine.close();
  }
}
