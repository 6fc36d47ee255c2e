// An engine that changes nothing: it records what it would do (log + `actions`) and keeps the
// installed peers in memory. Used by tests of the parts above the bridge and by `--engine dry-run`.
import type { Engine, EngineStatus, InstalledPeer, Peer, ReconcileResult } from './engine';
import { silentLogger, type Logger } from '../util/log';
import { peersEqual } from './peer-config';

export interface DryRunAction {
  op: 'install' | 'remove' | 'reconcile';
  name: string;
  peer?: Peer;
}

export class DryRunEngine implements Engine {
  readonly kind = 'dry-run';
  /** Every operation in order, for assertions. */
  readonly actions: DryRunAction[] = [];
  private readonly peers = new Map<string, Peer>();

  constructor(private readonly log: Logger = silentLogger) {}

  async install(peer: Peer): Promise<void> {
    this.actions.push({ op: 'install', name: peer.name, peer });
    this.log.info({ peer: peer.name, addresses: peer.addresses, auth: peer.auth.kind, level: peer.level }, 'dry-run: would install peer');
    this.peers.set(peer.name, peer);
  }

  async remove(name: string): Promise<void> {
    this.actions.push({ op: 'remove', name });
    if (this.peers.delete(name)) this.log.info({ peer: name }, 'dry-run: would remove peer and distrust its key');
  }

  async list(): Promise<InstalledPeer[]> {
    return [...this.peers.values()].map((p) => ({
      name: p.name,
      connection: `oe-${p.name}`,
      addresses: [...p.addresses],
      authenticated: p.auth.kind === 'pubkey',
    }));
  }

  async status(): Promise<EngineStatus> {
    return { engine: this.kind, reachable: true, daemon: 'none (dry-run)', peers: this.peers.size };
  }

  async reconcile(desired: Peer[]): Promise<ReconcileResult> {
    const res: ReconcileResult = { installed: [], removed: [], unchanged: [], failed: [] };
    const want = new Map(desired.map((p) => [p.name, p]));
    for (const name of [...this.peers.keys()]) {
      if (!want.has(name)) {
        await this.remove(name);
        res.removed.push(name);
      }
    }
    for (const p of desired) {
      const have = this.peers.get(p.name);
      if (have && peersEqual(have, p)) {
        res.unchanged.push(p.name);
      } else {
        await this.install(p);
        res.installed.push(p.name);
      }
    }
    return res;
  }

  /** The peer as last installed, for tests. */
  get(name: string): Peer | undefined {
    return this.peers.get(name);
  }

  async close(): Promise<void> {}
}
