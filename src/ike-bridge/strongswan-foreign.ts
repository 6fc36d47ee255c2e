// charon's events and foreign reloads (a layer of the strongSwan engine, see strongswan-base.ts): auth
// failures and CHILD_SA up/down reported on `engine.events`, and what a `swanctl --load-all`, `--clear`
// or reload unloaded of ours noticed (log events, a periodic check) and put back under the write lock.
import type { Peer } from './engine';
import { connName, CONN_PREFIX, peerOfConn, SELF_CONN, SHUNT_PREFIX } from './peer-config';
import type { LogEvent, UpdownEvent } from './vici-client';
import { AUTH_FAILURE, type AuthFailure, type RestoreReport } from './strongswan-base';
import { StrongswanInitiate } from './strongswan-initiate';

export abstract class StrongswanForeign extends StrongswanInitiate {
  /** Start watching charon's events (auth failures, foreign reloads) and the periodic check. install() works without it. */
  async start(): Promise<void> {
    await this.watcher.connect();
    const every = this.o.checkIntervalMs ?? 10_000;
    if (every > 0 && !this.checkTimer) {
      this.checkTimer = setInterval(() => {
        this.checkForeign('timer').catch((e: Error) => this.log.debug({ err: e.message }, 'strongswan: check failed'));
      }, every);
      this.checkTimer.unref();
    }
  }

  /**
   * Has anyone unloaded our conns, shunts or credentials (swanctl --load-all, --clear, a reload)? Two
   * cheap calls (get-conns, get-keys) and a set difference; what is missing goes back. Concurrent calls
   * share one run; a call that arrives during a run makes it look again once it is done (the foreign
   * reload may still be unloading). bench/engine-check.ts measures it.
   */
  checkForeign(trigger: RestoreReport['trigger'] = 'call'): Promise<RestoreReport> {
    if (this.checking) {
      this.checkAgain = true;
      return this.checking;
    }
    const run = async (): Promise<RestoreReport> => {
      const rep = await this.checkOnce(trigger);
      // Bounded: a reload that keeps going after this is caught by the trailing or periodic check.
      for (let i = 0; i < 8 && this.checkAgain && !this.closed; i++) {
        this.checkAgain = false;
        const r = await this.checkOnce(trigger);
        rep.conns += r.conns;
        rep.shunts += r.shunts;
        rep.credentials ||= r.credentials;
      }
      return rep;
    };
    this.checkAgain = false;
    this.checking = run().finally(() => (this.checking = null));
    return this.checking;
  }

  /**
   * One check. Whether anything is missing is looked at without the lock (the periodic check must
   * not hold installs back); putting it back runs under the write lock, which waits for installs and
   * removals under way, holds new ones back, and looks again: it loads what is held at that moment
   * (this.peers, this.shunts), never a snapshot a removal or a newer install has since overtaken.
   */
  protected async checkOnce(trigger: RestoreReport['trigger']): Promise<RestoreReport> {
    const rep: RestoreReport = { conns: 0, shunts: 0, credentials: false, trigger };
    if (this.closed || (!this.identityLoaded && this.peers.size === 0 && this.shunts.size === 0)) return rep;
    if (!(await this.foreignDamage())) return rep;
    const restored: Peer[] = [];
    let repaired = false;
    await this.lock.write(async () => {
      const damage = await this.foreignDamage();
      if (!damage) return;
      repaired = true;
      const { have, credentials } = damage;
      if (credentials) {
        // Our key is gone: someone cleared charon's credentials (clear-creds), and with them our trust
        // root, generation, CRLs and the certificates pinned in our conns. Load it all again.
        this.forgetCredentials();
        rep.credentials = true;
      }
      if (!have.has(SELF_CONN)) this.identityLoaded = false;
      for (const [name, s] of [...this.shunts]) {
        if (have.has(s.conn)) continue;
        this.shunts.delete(name);
        await this.setShuntLocked(name, s.addresses);
        rep.shunts++;
      }
      const missing = [...this.peers.values()].filter((p) => rep.credentials || !have.has(connName(p.name)));
      if (missing.length) {
        const { failed, loaded } = await this.loadManyLocked(missing);
        rep.conns = loaded.length;
        restored.push(...loaded);
        for (const f of failed) this.log.warn({ peer: f.name, err: f.reason }, 'strongswan: could not put a conn back');
      } else {
        await this.ensureIdentity();
      }
    });
    if (!repaired) return rep;
    if (restored.length) {
      // Conns come back without their SAs' help only if we initiate what we initiated before.
      const up = new Set((await this.use((c) => c.listSas({ noblock: true }))).map((s) => s.name));
      for (const p of restored) {
        if (
          !this.peers.has(p.name) ||
          up.has(connName(p.name)) ||
          p.level === 'clear' ||
          p.level === 'block' ||
          !(p.initiate ?? this.o.initiate ?? false)
        )
          continue;
        this.initiate(p.name).catch((e: Error) =>
          this.log.warn({ peer: p.name, err: e.message }, 'strongswan: initiate after restore failed'),
        );
      }
    }
    this.log.warn({ ...rep }, 'strongswan: our conns or credentials had been unloaded by someone else; put back');
    this.events.emit('restored', rep);
    return rep;
  }

  /** What of ours charon lacks now: undefined if nothing. */
  protected async foreignDamage(): Promise<{ have: Set<string>; credentials: boolean } | undefined> {
    const [conns, keys] = await Promise.all([this.use((c) => c.getConns()), this.use((c) => c.getKeys())]);
    const have = new Set(conns);
    const credentials = this.identityLoaded && this.currentKeyId !== undefined && !keys.includes(this.currentKeyId);
    if (credentials) return { have, credentials };
    for (const p of this.peers.keys()) if (!have.has(connName(p))) return { have, credentials };
    for (const s of this.shunts.values()) if (!have.has(s.conn)) return { have, credentials };
    if (this.identityLoaded && !have.has(SELF_CONN)) return { have, credentials };
    return undefined;
  }

  /**
   * A foreign config change was seen: check at once (the conn that was just unloaded is gone from
   * get-conns by the time its log line reaches us), and once more a little later for what that
   * reload unloads without a log line (conns with no trap, e.g. oedns-self).
   */
  protected checkSoon(): void {
    if (this.closed) return;
    this.checkForeign('event').catch((e: Error) => this.log.debug({ err: e.message }, 'strongswan: check failed'));
    if (this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.checkForeign('event').catch((e: Error) => this.log.debug({ err: e.message }, 'strongswan: check failed'));
    }, 300);
    this.soonTimer.unref();
  }

  // ---- events ----------------------------------------------------------------------------------

  protected emitAuthFailure(f: AuthFailure, key: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    if (this.reported.size > 10_000) this.reported.clear(); // bounded memory; a rare duplicate is harmless
    this.log.warn({ peer: f.name, detail: f.detail }, 'IKE authentication failed');
    this.events.emit('auth-failed', f);
  }

  /** As responder, a tofu-cert peer's first attempts fail here too: learn its cert from them. */
  protected learnAfterFailure(peer: string): void {
    const held = this.peers.get(peer);
    if (!this.o.tofu || !held || held.auth.kind !== 'unauthenticated' || held.auth.method !== 'tofu-cert') return;
    this.learnCerts().catch((err) => this.events.emit('error', err));
  }

  protected onLog(e: LogEvent): void {
    const cfg = FOREIGN_CONFIG.exec(e.msg);
    if (cfg) {
      const conn = cfg[1] ?? cfg[2] ?? '';
      // Our own loads log too; a conn of ours being uninstalled that we still hold, or any other
      // conn being loaded, may be a foreign reload under way.
      const ours = conn.startsWith(CONN_PREFIX) || conn.startsWith(SHUNT_PREFIX) || conn === SELF_CONN;
      if (!ours || (cfg[2] !== undefined && this.holdsConn(conn))) this.checkSoon();
      return;
    }
    if (!e.ikeName || !AUTH_FAILURE.test(e.msg)) return;
    const peer = peerOfConn(e.ikeName);
    if (!peer) return;
    this.learnAfterFailure(peer);
    this.emitAuthFailure({ name: peer, connection: e.ikeName, reason: 'ike-auth-failed', detail: e.msg }, `sa:${e.ikeUniqueId ?? e.msg}`);
  }

  protected holdsConn(conn: string): boolean {
    const p = peerOfConn(conn);
    if (p !== undefined) return this.peers.has(p);
    return [...this.shunts.values()].some((s) => s.conn === conn);
  }

  protected onIkeUpdown(e: UpdownEvent): void {
    if (e.up) return;
    for (const sa of e.sas) {
      // A responder's failed IKE_AUTH raises ike-updown (no `up`) while still CONNECTING.
      if (sa.state !== 'CONNECTING') continue;
      const own = peerOfConn(sa.name);
      // Failures on conns that are not ours (the responder's catch-all refuses every stranger by
      // design) are not this engine's to report.
      if (!own && sa.name !== '(unnamed)') continue;
      if (own) this.learnAfterFailure(own);
      const peer = own ?? sa.remoteId ?? sa.name;
      this.emitAuthFailure(
        {
          name: peer,
          connection: sa.name,
          reason: 'ike-auth-failed',
          detail: `IKE_SA ${sa.name} failed while connecting (remote ${sa.remoteId ?? '?'} at ${sa.remoteHost ?? '?'})`,
        },
        `sa:${sa.uniqueId ?? sa.name}`,
      );
    }
  }

  protected onChildUpdown(e: UpdownEvent): void {
    for (const sa of e.sas) {
      const peer = peerOfConn(sa.name);
      if (peer) this.events.emit(e.up ? 'child-up' : 'child-down', { name: peer, connection: sa.name });
    }
  }
}

/** charon's config log lines (level 1): a conn loaded by anyone, or a trap/shunt conn being unloaded. */
const FOREIGN_CONFIG = /^(?:added|replaced|updated) vici connection: (.+)$|^uninstalling '(.+)'$/;
