// strongSwan engine: one VICI connection per peer named `oe-<name>`, our identity and key loaded
// once with load-key. It touches only what it loaded itself: our private key (unloaded by its id),
// the well-known PSK (by its id), our trust root and generations, the CRLs that revoke them
// (strongswan-trust.ts), our conns and drop shunts. It never runs clear-creds and never unloads a
// key it did not load. Peer keys are pinned as certificates of our own CA rather than raw pubkeys:
// charon cannot forget a raw pubkey except by clear-creds (the stale-trust pitfall in
// strongswan-oe-modes.md), but it stops trusting a certificate as soon as our CRL lists it.
// A `swanctl --load-all` or `systemctl reload` unloads every conn it does not know (ours included),
// a `--clear` also our credentials: the engine notices (VICI log events, and a cheap periodic check
// of get-conns + get-keys) and puts its state back, under a lock that keeps removals and newer installs
// from being undone by it. A conn replaced while no CHILD_SA is up is bridged by a drop shunt (charon
// uninstalls the old trap before installing the new). Traps start no IKE with kernel-libipsec, so the
// engine can initiate itself (blocking `initiate`, whose control-log explains a failure).
//
// The engine is built in layers, one job each (strongswan-base.ts explains how): identity, shunts,
// conns, revocation, initiate, foreign (events and foreign reloads), reconcile; this file adds what
// reports on charon (list, status) and close.
import type { Engine, EngineStatus, InstalledPeer } from './engine';
import { CONN_PREFIX, peerOfConn, peerOfShunt, SHUNT_PREFIX } from './peer-config';
import { list, section, str } from './vici-codec';
import { StrongswanReconcile } from './strongswan-reconcile';

export { type AuthFailure, type RestoreReport, type StrongswanEngineOptions, WELLKNOWN_PSK_ID } from './strongswan-base';

export class StrongswanEngine extends StrongswanReconcile implements Engine {
  async list(): Promise<InstalledPeer[]> {
    try {
      const conns = await this.use((c) => c.listConns());
      const sas = await this.use((c) => c.listSas({ noblock: true }));
      const out: InstalledPeer[] = [];
      for (const ev of conns) {
        for (const [cname, v] of ev) {
          if (!(v instanceof Map)) continue;
          const shuntOf = peerOfShunt(cname);
          if (shuntOf) {
            const child = section(section(v, 'children'), cname);
            out.push({
              name: shuntOf,
              connection: cname,
              addresses: list(child, 'remote-ts').map(bare),
              authenticated: false,
              shunt: true,
            });
            continue;
          }
          const peerName = peerOfConn(cname);
          if (!peerName) continue;
          const child = section(section(v, 'children'), cname);
          const addresses = list(child, 'remote-ts').map(bare);
          const remote = section(v, 'remote-1');
          const known = this.peers.get(peerName);
          // A conn we do not hold (e.g. after a restart) counts as authenticated only if it is a raw
          // public-key or certificate conn of ours: tofu-cert conns carry our self-signed cert in local-1.
          const authenticated = known
            ? known.auth.kind === 'pubkey'
            : /public key/.test(str(remote, 'class') ?? '') && list(section(v, 'local-1'), 'certs').length === 0;
          const sa = sas.find((s) => s.name === cname && s.state === 'ESTABLISHED') ?? sas.find((s) => s.name === cname);
          const ch = sa?.children.find((c) => c.name === cname);
          out.push({ name: peerName, connection: cname, addresses, authenticated, ikeState: sa?.state, childState: ch?.state });
        }
      }
      return out;
    } catch (e) {
      throw this.wrap(e, 'list');
    }
  }

  async status(): Promise<EngineStatus> {
    try {
      const v = await this.use((c) => c.version());
      const conns = await this.use((c) => c.getConns());
      const stats = await this.use((c) => c.stats());
      const ikesas = str(section(stats, 'ikesas'), 'total');
      const shunts = conns.filter((n) => n.startsWith(SHUNT_PREFIX)).length;
      return {
        engine: this.kind,
        reachable: true,
        daemon: `${str(v, 'daemon') ?? 'charon'} ${str(v, 'version') ?? ''}`.trim(),
        peers: conns.filter((n) => n.startsWith(CONN_PREFIX)).length,
        detail: `IKE SAs: ${ikesas ?? '?'}; drop shunts: ${shunts}; uptime ${str(section(stats, 'uptime'), 'running') ?? '?'}`,
      };
    } catch (e) {
      return { engine: this.kind, reachable: false, peers: this.peers.size, detail: e instanceof Error ? e.message : String(e) };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of [this.purgeTimer, this.soonTimer]) if (t) clearTimeout(t);
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.purgeTimer = this.soonTimer = this.checkTimer = undefined;
    await this.checking?.catch(() => undefined);
    await Promise.all([...this.pool, this.watcher, this.initiator, this.certClient].map((c) => c.close()));
  }
}

function bare(ts: string): string {
  return ts.replace(/\/(32|128)$/, '');
}
