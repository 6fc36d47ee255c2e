// Reconcile (a layer of the strongSwan engine, see strongswan-base.ts): make charon hold exactly the
// desired peers and shunts, whatever it holds now (it or oedns may have restarted).
import type { Peer, ReconcileResult, ShuntSpec } from './engine';
import { connName, CONN_PREFIX, peerOfConn, peerOfShunt, peersEqual, SHUNT_PREFIX } from './peer-config';
import { StrongswanForeign } from './strongswan-foreign';

export abstract class StrongswanReconcile extends StrongswanForeign {
  async reconcile(desired: Peer[], shunts: ShuntSpec[] = []): Promise<ReconcileResult> {
    const res: ReconcileResult = { installed: [], removed: [], unchanged: [], failed: [] };
    let all: string[];
    try {
      // Whatever charon holds now is the truth (it may have restarted, or we may have).
      all = await this.use((c) => c.getConns());
    } catch (e) {
      throw this.wrap(e, 'reconcile');
    }
    const loaded = new Set(all.filter((n) => n.startsWith(CONN_PREFIX)));
    const want = new Map(desired.map((p) => [connName(p.name), p]));
    const stale = [...loaded].filter((c) => !want.has(c)).map((c) => peerOfConn(c)!);
    for (const n of [...this.peers.keys()]) if (!want.has(connName(n)) && !stale.includes(n)) this.peers.delete(n);
    const todo: Peer[] = [];
    for (const p of desired) {
      const known = this.peers.get(p.name);
      if (loaded.has(connName(p.name)) && known && peersEqual(known, p) && this.identityLoaded) res.unchanged.push(p.name);
      else todo.push(p);
    }
    // Shunts first: a peer that went while oedns was down must not be open until the end of this run.
    await this.reconcileShunts(all, shunts, res);
    // Load without initiating, so the removals' CRL does not race fresh initiates.
    const { failed, loaded: done, revoke } = await this.loadMany(todo);
    res.failed.push(...failed);
    res.installed.push(...done.map((p) => p.name));
    if (stale.length) {
      try {
        await this.removeMany(stale);
        res.removed.push(...stale);
      } catch (e) {
        for (const n of stale) res.failed.push({ name: n, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    if (revoke)
      await this.publishRevocations().catch((e: Error) => this.log.warn({ err: e.message }, 'reconcile: publishing revocations failed'));
    const installed = new Set(res.installed);
    for (const p of todo) {
      if (!installed.has(p.name)) continue;
      if (p.level === 'clear' || p.level === 'block' || !(p.initiate ?? this.o.initiate ?? false)) continue;
      try {
        await this.initiate(p.name);
      } catch (e) {
        res.failed.push({ name: p.name, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    return res;
  }

  protected async reconcileShunts(all: string[], shunts: ShuntSpec[], res: ReconcileResult): Promise<void> {
    const want = new Map(shunts.map((x) => [x.name, [...x.addresses].sort()]));
    const present = new Set(all.filter((n) => n.startsWith(SHUNT_PREFIX)));
    // Forget what charon no longer has (restart, foreign reload): setShunt then loads it afresh.
    for (const [name, s] of [...this.shunts]) if (!present.has(s.conn)) this.shunts.delete(name);
    for (const [name, addrs] of want) {
      try {
        await this.setShunt(name, addrs);
      } catch (e) {
        res.failed.push({ name, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    const keep = new Set([...this.shunts.values()].map((s) => s.conn));
    for (const conn of present) {
      if (keep.has(conn)) continue;
      await this.use((c) => c.unloadConn(conn)).catch((e: Error) => this.log.debug({ conn, err: e.message }, 'unload stale shunt'));
      const n = peerOfShunt(conn);
      if (n && !want.has(n)) this.shunts.delete(n);
    }
  }
}
