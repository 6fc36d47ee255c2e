// Drop shunts (a layer of the strongSwan engine, see strongswan-base.ts): the shunts a caller asks
// for (a peer that went, whose addresses must stay closed), and the bridges that keep a peer closed
// while charon swaps its conn.
import type { Peer } from './engine';
import { buildShuntConn, connName, peersEqual, shuntConnName } from './peer-config';
import { BATCH, CHILD_UP } from './strongswan-base';
import { StrongswanIdentity } from './strongswan-identity';

export abstract class StrongswanShunts extends StrongswanIdentity {
  /**
   * Drop all traffic to `addresses` for `name` (empty: end the shunt). A changed shunt is loaded under
   * a new conn name before the old one is unloaded, so no address is ever open in between.
   */
  setShunt(peerName: string, addresses: string[]): Promise<void> {
    return this.lock.read(() => this.setShuntLocked(peerName, addresses));
  }

  protected async setShuntLocked(peerName: string, addresses: string[]): Promise<void> {
    const cur = this.shunts.get(peerName);
    const want = [...new Set(addresses)].sort();
    try {
      if (want.length === 0) {
        if (!cur) return;
        await this.use((c) => c.unloadConn(cur.conn)).catch((e: Error) => {
          if (!/not found/.test(e.message)) throw e;
        });
        this.shunts.delete(peerName);
        return;
      }
      if (cur && cur.addresses.join(',') === want.join(',')) return;
      const n = (cur?.n ?? 0) + 1;
      const conn = shuntConnName(peerName, n);
      await this.use((c) => c.loadConn(conn, buildShuntConn(conn, want, this.conn)));
      this.shunts.set(peerName, { conn, n, addresses: want });
      if (cur)
        await this.use((c) => c.unloadConn(cur.conn)).catch((e: Error) =>
          this.log.debug({ conn: cur.conn, err: e.message }, 'unload old shunt'),
        );
    } catch (e) {
      throw this.wrap(e, `drop shunt for ${peerName}`);
    }
  }

  /**
   * charon replaces a conn by uninstalling its trap policies before it installs the new ones
   * (vici_config.c merge_config): a peer with no CHILD_SA up is open for that moment. A drop shunt
   * over the held conn's addresses (a bridge, `oedns-drop-<name>~0`) covers the swap: loaded before,
   * unloaded after. A peer whose CHILD_SA is installed keeps its policies through the swap and gets
   * none (with kernel ESP a drop policy would take precedence over them). `always`: the conn changes
   * even though the peer does not (a new trust generation). Best effort: a bridge that cannot be
   * loaded is logged, the install goes on.
   */
  protected async bridge(next: Peer[], always = false): Promise<string[]> {
    const todo = new Map<string, string[]>();
    for (const p of next) {
      const held = this.peers.get(p.name);
      if (!held || held.level === 'clear' || held.addresses.length === 0) continue;
      if (held.level !== 'block' && this.conn.startAction !== 'trap') continue;
      if (!always && peersEqual(held, p)) continue;
      todo.set(p.name, held.addresses);
    }
    if (todo.size === 0) return [];
    const msg = new Map<string, ReturnType<typeof buildShuntConn>>();
    try {
      const filter = todo.size === 1 ? { ike: connName([...todo.keys()][0]!), noblock: true } : { noblock: true };
      const sas = await this.use((c) => c.listSas(filter));
      const up = new Set<string>();
      for (const sa of sas) for (const ch of sa.children) if (ch.name && CHILD_UP.has(ch.state ?? '')) up.add(ch.name);
      for (const [name, addrs] of todo) {
        if (up.has(connName(name))) continue;
        const conn = shuntConnName(name, 0);
        msg.set(conn, buildShuntConn(conn, addrs, this.conn));
      }
      const names = [...msg.keys()];
      for (let i = 0; i < names.length; i += BATCH) {
        await this.use((c) => c.call('load-conn', new Map(names.slice(i, i + BATCH).map((n) => [n, msg.get(n)!]))));
      }
      return names;
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'strongswan: could not bridge a conn replacement with a drop shunt');
      return [...msg.keys()];
    }
  }

  protected async unbridge(conns: string[]): Promise<void> {
    await this.parallel(conns, (conn) =>
      this.use((c) => c.unloadConn(conn)).then(
        () => undefined,
        (e: Error) => this.log.debug({ conn, err: e.message }, 'unload bridge'),
      ),
    );
  }
}
