// An engine that changes nothing: it records what it would do (log + `actions`) and keeps the
// installed peers and drop shunts in memory. Used by tests of the parts above the bridge and by
// `--engine dry-run`.
import type { Engine, EngineStatus, InstalledPeer, Peer, ReconcileResult, ShuntSpec } from './engine';
import { silentLogger, type Logger } from '../util/log';
import { peersEqual } from './peer-config';

export interface DryRunAction {
  op: 'install' | 'remove' | 'reconcile' | 'shunt' | 'terminate';
  name: string;
  peer?: Peer;
  /** op 'shunt': the addresses now dropped (empty: shunt ended); op 'terminate': SA ids. */
  addresses?: string[];
  ids?: string[];
}

export class DryRunEngine implements Engine {
  readonly kind = 'dry-run';
  /** Every operation in order, for assertions. */
  readonly actions: DryRunAction[] = [];
  private readonly peers = new Map<string, Peer>();
  private readonly shunts = new Map<string, string[]>();
  /** SA ids per peer, as a test sets them (a dry run has no SAs of its own). */
  readonly sas = new Map<string, string[]>();

  constructor(private readonly log: Logger = silentLogger) {}

  async install(peer: Peer): Promise<void> {
    this.actions.push({ op: 'install', name: peer.name, peer });
    this.log.info({ peer: peer.name, addresses: peer.addresses, auth: peer.auth.kind, level: peer.level }, 'dry-run: would install peer');
    this.peers.set(peer.name, peer);
  }

  async remove(name: string): Promise<void> {
    this.actions.push({ op: 'remove', name });
    this.sas.delete(name);
    if (this.peers.delete(name)) this.log.info({ peer: name }, 'dry-run: would remove peer and distrust its key');
  }

  async setShunt(name: string, addresses: string[]): Promise<void> {
    this.actions.push({ op: 'shunt', name, addresses: [...addresses] });
    if (addresses.length) {
      this.shunts.set(name, [...addresses]);
      this.log.info({ peer: name, addresses }, 'dry-run: would drop all traffic to these addresses');
    } else if (this.shunts.delete(name)) {
      this.log.info({ peer: name }, 'dry-run: would end the drop shunt');
    }
  }

  async saIds(name: string): Promise<string[]> {
    return [...(this.sas.get(name) ?? [])];
  }

  async terminateSas(name: string, ids: string[]): Promise<void> {
    this.actions.push({ op: 'terminate', name, ids: [...ids] });
    this.sas.set(
      name,
      (this.sas.get(name) ?? []).filter((x) => !ids.includes(x)),
    );
  }

  async list(): Promise<InstalledPeer[]> {
    return [
      ...[...this.peers.values()].map((p) => ({
        name: p.name,
        connection: `oe-${p.name}`,
        addresses: [...p.addresses],
        authenticated: p.auth.kind === 'pubkey',
      })),
      ...[...this.shunts].map(([name, addresses]) => ({
        name,
        connection: `oedns-drop-${name}`,
        addresses: [...addresses],
        authenticated: false,
        shunt: true,
      })),
    ];
  }

  async status(): Promise<EngineStatus> {
    return { engine: this.kind, reachable: true, daemon: 'none (dry-run)', peers: this.peers.size };
  }

  async reconcile(desired: Peer[], shunts: ShuntSpec[] = []): Promise<ReconcileResult> {
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
    const wantShunts = new Map(shunts.map((x) => [x.name, x.addresses]));
    for (const name of [...this.shunts.keys()]) if (!wantShunts.has(name)) await this.setShunt(name, []);
    for (const [name, addrs] of wantShunts) {
      if (JSON.stringify(this.shunts.get(name)) !== JSON.stringify(addrs)) await this.setShunt(name, addrs);
    }
    return res;
  }

  /** The peer as last installed, for tests. */
  get(name: string): Peer | undefined {
    return this.peers.get(name);
  }

  /** The addresses of the drop shunt held for `name`, for tests. */
  shuntOf(name: string): string[] | undefined {
    return this.shunts.get(name);
  }

  async close(): Promise<void> {}
}
