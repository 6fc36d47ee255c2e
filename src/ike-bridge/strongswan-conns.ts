// Peers' conns (a layer of the strongSwan engine, see strongswan-base.ts): install one or many (batched
// load-conn, bound to the trust generation, bridged by shunts), remove them (SAs ended, conns
// unloaded, trust unbound), and end a peer's SAs.
import type { Peer } from './engine';
import { EngineError } from '../util/errors';
import { type buildConn, connName, peerPubkeys } from './peer-config';
import { str } from './vici-codec';
import { BATCH, daemonGone, type LoadResult, usesPsk } from './strongswan-base';
import { StrongswanShunts } from './strongswan-shunts';

/** charon's replies for an IKE SA that no longer exists (terminate by ike_id). */
export const SA_GONE = /not found|no IKE_SA|no matching SAs/i;

export abstract class StrongswanConns extends StrongswanShunts {
  async install(peer: Peer): Promise<void> {
    await this.installInner(peer);
  }

  protected async installInner(given: Peer, mayInitiate = true): Promise<void> {
    const peer = this.withPin(given);
    if (peer.auth.kind === 'pubkey') peerPubkeys(peer); // refuses bad keys before touching charon
    const name = connName(peer.name);
    let revoke = false;
    await this.lock.read(async () => {
      try {
        await this.ensureIdentity();
        if (usesPsk(peer)) await this.ensurePsk();
        const { body, serials } = this.prepare(peer);
        const b = this.trust.bind(peer.name, serials);
        // A key trusted again (it came back) must be off the CRL before its conn is used.
        if (b.unrevoke) await this.trust.publish(this.trustVici);
        revoke = b.revoke;
        const bridges = await this.bridge([peer]);
        try {
          await this.use((c) => c.loadConn(name, body));
        } finally {
          await this.unbridge(bridges);
        }
      } catch (e) {
        throw this.wrap(e, `install ${peer.name}`);
      }
      this.peers.set(peer.name, peer);
    });
    if (revoke) await this.publishRevocations();
    await this.dropPskIfUnused();
    if (mayInitiate && peer.level !== 'clear' && peer.level !== 'block' && (peer.initiate ?? this.o.initiate ?? false))
      await this.initiate(peer.name);
  }

  async remove(peerName: string): Promise<void> {
    await this.removeMany([peerName]);
  }

  /** Remove several peers: SAs ended, conns unloaded, then one CRL ends the trust in all their keys. */
  async removeMany(names: string[]): Promise<void> {
    if (names.length === 0) return;
    let revoke = false;
    // Under the lock: a restore of foreign-unloaded conns or a trust rotation must not load a conn
    // between our unbind and our unload (it would come back, vouched for again).
    await this.lock.read(async () => {
      let loaded: Set<string>;
      try {
        loaded = new Set(await this.use((c) => c.getConns()));
      } catch (e) {
        throw this.wrap(e, 'remove');
      }
      for (const n of names) {
        const conn = connName(n);
        const known = this.peers.delete(n);
        if (this.trust.unbind(n)) revoke = true;
        if (!loaded.has(conn) && !known) continue;
        try {
          await this.terminate(conn);
          if (loaded.has(conn)) await this.use((c) => c.unloadConn(conn));
        } catch (e) {
          throw this.wrap(e, `remove ${n}`);
        }
      }
    });
    if (revoke) await this.publishRevocations();
    await this.dropPskIfUnused();
  }

  protected async terminate(conn: string): Promise<void> {
    const sas = await this.use((c) => c.listSas({ ike: conn, noblock: true }));
    for (const sa of sas) {
      if (!sa.uniqueId) continue;
      // force: do not wait for the peer's DELETE answer (it may be gone).
      const r = await this.use((c) => c.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true }));
      if (str(r, 'success') !== 'yes') this.log.warn({ conn, errmsg: str(r, 'errmsg') }, 'terminate did not confirm');
    }
  }

  async saIds(peerName: string): Promise<string[]> {
    try {
      const sas = await this.use((c) => c.listSas({ ike: connName(peerName), noblock: true }));
      return sas.map((s) => s.uniqueId).filter((id): id is string => id !== undefined);
    } catch (e) {
      throw this.wrap(e, `list SAs of ${peerName}`);
    }
  }

  async terminateSas(peerName: string, ids: string[]): Promise<void> {
    // Each id on its own: one that is gone (rekeyed, deleted by the peer) must not keep the others,
    // which may be SAs authenticated with a rolled key, alive.
    const failed: string[] = [];
    for (const id of ids) {
      try {
        const r = await this.use((c) => c.terminate({ ike_id: id, timeout: 2000, force: true }));
        // An SA that is gone already is what we wanted (charon: "no matching SAs to terminate found").
        if (str(r, 'success') !== 'yes' && !SA_GONE.test(str(r, 'errmsg') ?? '')) failed.push(`${id}: ${str(r, 'errmsg') ?? 'failed'}`);
      } catch (e) {
        failed.push(`${id}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (failed.length) throw new EngineError('engine-vici', `terminate IKE SAs of ${peerName}: ${failed.join('; ')}`);
  }

  /**
   * Install many peers quickly: load-conn takes several conns in one message (charon parses every
   * top-level section), so peers go in batches; a batch that fails is retried peer by peer so each
   * failure is attributed. One CRL at the end if keys of held peers changed; then initiates.
   */
  async installMany(peers: Peer[]): Promise<{ name: string; reason: string }[]> {
    const { failed, loaded, revoke } = await this.loadMany(peers);
    if (revoke) await this.publishRevocations();
    for (const p of loaded) {
      if (p.level === 'clear' || p.level === 'block' || !(p.initiate ?? this.o.initiate ?? false)) continue;
      try {
        await this.initiate(p.name);
      } catch (e) {
        failed.push({ name: p.name, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    return failed;
  }

  protected loadMany(peers: Peer[]): Promise<LoadResult> {
    return this.lock.read(() => this.loadManyLocked(peers));
  }

  /** loadMany's work, for a caller that holds the lock (as reader or writer). */
  protected async loadManyLocked(peers: Peer[], opts: { always?: boolean } = {}): Promise<LoadResult> {
    const failed: { name: string; reason: string }[] = [];
    const loaded: Peer[] = [];
    let revoke = false;
    const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));
    await (async () => {
      try {
        await this.ensureIdentity();
        if (peers.some((p) => usesPsk(p))) await this.ensurePsk();
      } catch (e) {
        for (const p of peers) failed.push({ name: p.name, reason: reason(e) });
        return;
      }
      const ready: { peer: Peer; body: ReturnType<typeof buildConn> }[] = [];
      let unrevoke = false;
      for (const given of peers) {
        const peer = this.withPin(given);
        try {
          const { body, serials } = this.prepare(peer);
          const b = this.trust.bind(peer.name, serials);
          unrevoke ||= b.unrevoke;
          revoke ||= b.revoke;
          ready.push({ peer, body });
        } catch (e) {
          failed.push({ name: peer.name, reason: reason(e) });
        }
      }
      if (unrevoke) {
        try {
          await this.trust.publish(this.trustVici);
        } catch (e) {
          for (const r of ready) failed.push({ name: r.peer.name, reason: reason(e) });
          return;
        }
      }
      const done = (peer: Peer): void => {
        this.peers.set(peer.name, peer);
        loaded.push(peer);
      };
      const batches: (typeof ready)[] = [];
      for (let i = 0; i < ready.length; i += BATCH) batches.push(ready.slice(i, i + BATCH));
      const bridges = await this.bridge(
        ready.map((r) => r.peer),
        opts.always,
      );
      try {
        await this.parallel(
          batches,
          async (batch) => {
            const msg = new Map(batch.map((r) => [connName(r.peer.name), r.body]));
            try {
              await this.use((c) => c.call('load-conn', msg));
              batch.forEach((r) => done(r.peer));
              return;
            } catch (e) {
              if (daemonGone(e)) throw e;
            }
            for (const r of batch) {
              try {
                await this.use((c) => c.loadConn(connName(r.peer.name), r.body));
                done(r.peer);
              } catch (e) {
                if (daemonGone(e)) throw e;
                failed.push({ name: r.peer.name, reason: reason(e) });
              }
            }
          },
          (batch, e) => {
            for (const r of batch) if (!loaded.includes(r.peer)) failed.push({ name: r.peer.name, reason: reason(e) });
          },
        );
      } finally {
        await this.unbridge(bridges);
      }
    })();
    return { failed, loaded, revoke };
  }

  // strongswan-initiate.ts and strongswan-revocation.ts.
  abstract initiate(peerName: string): Promise<void>;
  protected abstract publishRevocations(): Promise<void>;
}
