// strongSwan engine: one VICI connection per peer named `oe-<name>`, our identity and key loaded
// once with load-key. Pitfall this file is shaped around (../shared notes, seen on 5.9.8): the
// `pubkeys` of a conn join charon's global trusted set bound to the remote id and stay there after
// unload-conn. So whenever a key stops being wanted (remove, key change), we clear-creds and reload
// our key and every remaining peer's conn. Traps start no IKE with kernel-libipsec, so the engine
// can initiate itself (blocking `initiate`, whose control-log explains a failure).
import { EventEmitter } from 'node:events';
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import type { Engine, EngineStatus, InstalledPeer, Peer, ReconcileResult } from './engine';
import { EngineError, ViciError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import { charonKeyType, privateKeyPemForCharon } from './keys';
import { buildConn, ConnOptions, connName, CONN_PREFIX, leavesStaleTrust, peerOfConn, peersEqual, SELF_CONN, selfConn } from './peer-config';
import { LogEvent, UpdownEvent, ViciClient } from './vici-client';
import { WELLKNOWN_PSK, type TofuCerts } from './fallback';
import { list, section, str, ViciSection } from './vici-codec';

export interface StrongswanEngineOptions {
  /** charon's VICI socket path. */
  socketPath: string;
  /** Our IKE identity (FQDN) and private key (PEM text or KeyObject). */
  identity: { id: string; privateKey: string | KeyObject };
  localAddrs?: string[];
  /** Default: aes128-sha256-x25519, aes256-sha256-modp2048 (both seen working here). */
  ikeProposals?: string[];
  /** Default aes128-sha256: kernel-libipsec here has no GCM. */
  espProposals?: string[];
  /** IPsec mode and rekey times (src/config/serve.ts IpsecSettings); default tunnel and charon's times. */
  mode?: 'tunnel' | 'transport';
  ikeRekeySec?: number;
  childRekeySec?: number;
  /** Initiate peers whose `initiate` is unset. Default false. */
  initiate?: boolean;
  /** How long an initiate may take before install() fails. Default 10 s. */
  initiateTimeoutMs?: number;
  /** Install trap policies for peers we do not initiate (useless with kernel-libipsec). Default true. */
  trap?: boolean;
  /**
   * VICI connections used for configuration. Default 1: charon 5.9.8 was seen to crash (SIGSEGV in
   * the vici plugin) under concurrent load-conn from several connections; see docs/ike-bridge.md.
   */
  connections?: number;
  /**
   * Well-known PSK for the BTNS fallback (peers with auth 'unauthenticated' / 'wellknown-psk').
   * Default: fallback.ts WELLKNOWN_PSK (public by design); loaded only once such a peer exists.
   */
  wellknownPsk?: string;
  /** tofu-cert fallback (src/ike-bridge/fallback.ts); without it such peers are refused. */
  tofu?: TofuCerts;
  /** Initiate attempts for a tofu-cert peer whose cert is not pinned yet (each learns). Default 4. */
  tofuAttempts?: number;
  timeoutMs?: number;
  logger?: Logger;
  /**
   * 0 (default): remove() returns once charon no longer trusts the key (clear-creds + reload of all
   * remaining conns: costly with thousands of peers). > 0: remove() unloads and terminates at once and
   * the trust purge runs at most this many ms later, batched with other removals. Meanwhile the old
   * key stays in charon's trusted set, but no oe-* conn accepts it (each pins its own keys).
   */
  purgeDelayMs?: number;
}

/** Reported on `engine.events`. */
export interface AuthFailure {
  /** Peer name (from the conn name), or the remote identity for conns not ours. */
  name: string;
  connection: string;
  reason: 'ike-auth-failed';
  detail: string;
}

const AUTH_FAILURE = /AUTHENTICATION_FAILED|no trusted \S+ public key found|signature validation failed|constraint check failed|peer authentication failed|MAC mismatched|authentication of '.*' .*failed|non-matching authentication/;

export const WELLKNOWN_PSK_ID = 'oe-wellknown';

/** Conns per load-conn message: ~1 KiB each with an RSA-3072 key, far below VICI's 512 KiB frame. */
const BATCH = 100;
const GONE = new Set(['vici-connect', 'vici-disconnected', 'vici-closed']);
function daemonGone(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof ViciError && GONE.has(c.code)) return true;
  }
  return false;
}

/** Readers (installs) run together; a writer (trust rebuild) runs alone. */
class RwLock {
  private readers = 0;
  private writer: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  async read<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await this.writer;
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      if (this.readers === 0 && this.drained) this.drained();
    }
  }
  async write<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await this.writer;
    let release!: () => void;
    this.writer = new Promise<void>((r) => (release = r));
    try {
      if (this.readers > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = null;
      return await fn();
    } finally {
      this.writer = null;
      release();
    }
  }
}

export class StrongswanEngine implements Engine {
  readonly kind = 'strongswan';
  /** 'auth-failed' (AuthFailure), 'child-up' / 'child-down' ({name, connection}), 'error'. */
  readonly events = new EventEmitter();
  private readonly pool: ViciClient[];
  private readonly pending: number[];
  private readonly watcher: ViciClient;
  private readonly initiator: ViciClient;
  private readonly peers = new Map<string, Peer>();
  private readonly lock = new RwLock();
  private readonly conn: ConnOptions;
  private privateKey: KeyObject;
  private readonly log: Logger;
  private identityLoaded = false;
  private pskLoaded = false;
  private learning: Promise<void> | null = null;
  /** list-certs carries DER: this client decodes values as Buffers. Only made with `tofu`. */
  private readonly certClient: ViciClient | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly reported = new Set<string>();

  constructor(private readonly o: StrongswanEngineOptions) {
    this.log = o.logger ?? silentLogger;
    this.privateKey = typeof o.identity.privateKey === 'string' ? createPrivateKey(o.identity.privateKey) : o.identity.privateKey;
    this.conn = {
      local: { id: o.identity.id, publicKeyPem: createPublicKey(this.privateKey).export({ type: 'spki', format: 'pem' }).toString() },
      localAddrs: o.localAddrs,
      ikeProposals: o.ikeProposals ?? ['aes128-sha256-x25519', 'aes256-sha256-modp2048'],
      espProposals: o.espProposals ?? ['aes128-sha256'],
      startAction: o.trap === false ? 'none' : 'trap',
      mode: o.mode,
      ikeRekeySec: o.ikeRekeySec,
      childRekeySec: o.childRekeySec,
      wellknownPskId: WELLKNOWN_PSK_ID,
      tofu: o.tofu,
    };
    const mk = (events?: string[]): ViciClient => {
      const c = new ViciClient({ socketPath: o.socketPath, timeoutMs: o.timeoutMs ?? 10_000, events });
      // A reconnect of a command connection may mean charon restarted and forgot our key. The event
      // watcher reconnects by itself, possibly after the command connections already reloaded it.
      if (!events) c.on('reconnect', () => (this.identityLoaded = this.pskLoaded = false));
      return c;
    };
    this.pool = Array.from({ length: Math.max(1, o.connections ?? 1) }, () => mk());
    this.pending = this.pool.map(() => 0);
    this.initiator = mk();
    this.watcher = mk(['ike-updown', 'child-updown', 'log']);
    if (o.tofu) this.certClient = new ViciClient({ socketPath: o.socketPath, timeoutMs: o.timeoutMs ?? 10_000, binary: true });
    this.watcher.on('log', (e: LogEvent) => this.onLog(e));
    // charon restarted (the watcher reconnects by itself): whoever owns the peers must re-apply them.
    this.watcher.on('reconnect', () => this.events.emit('reconnected'));
    this.watcher.on('ike-updown', (e: UpdownEvent) => this.onIkeUpdown(e));
    this.watcher.on('child-updown', (e: UpdownEvent) => this.onChildUpdown(e));
    this.events.on('error', () => undefined);
  }

  /** Start watching charon's events (auth failures). install() works without it. */
  async start(): Promise<void> {
    await this.watcher.connect();
  }

  private async use<T>(fn: (c: ViciClient) => Promise<T>): Promise<T> {
    let i = 0;
    for (let j = 1; j < this.pool.length; j++) if (this.pending[j] < this.pending[i]) i = j;
    this.pending[i]++;
    try {
      return await fn(this.pool[i]);
    } finally {
      this.pending[i]--;
    }
  }

  private async ensureIdentity(): Promise<void> {
    // A command connection notices a charon restart (and clears identityLoaded) only when it next
    // talks to charon: connect first, so the check below sees a restart that has not been noticed yet.
    await this.use((c) => c.connect());
    if (this.identityLoaded) return;
    const loaded = await this.use((c) => c.loadKey(charonKeyType(this.privateKey), privateKeyPemForCharon(this.privateKey)));
    // A host that rolled its key still has the old private key in charon (loaded by an earlier
    // process), and charon may keep signing with it for our identity: peers that follow DNS then
    // reject us. This host has one identity, so every other private key goes.
    const ours = str(loaded, 'id');
    if (ours) {
      for (const id of await this.use((c) => c.getKeys())) {
        if (id !== ours) await this.use((c) => c.unloadKey(id)).catch((e: Error) => this.log.warn({ key: id, err: e.message }, 'could not unload an old private key'));
      }
    }
    await this.use((c) => c.loadConn(SELF_CONN, selfConn(this.conn)));
    this.identityLoaded = true;
    this.pskLoaded = false;
    if ([...this.peers.values()].some(usesPsk)) await this.ensurePsk();
  }

  /**
   * Sign with another private key from now on (`oedns key activate`): charon forgets the old one and
   * every conn is reloaded with the new public key. Established SAs are not touched.
   */
  async setIdentityKey(privateKey: KeyObject): Promise<void> {
    this.privateKey = privateKey;
    this.conn.local = { ...this.conn.local, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
    await this.rebuildTrust();
  }

  /** The well-known PSK goes into charon only once a peer needs it (it matches any identity). */
  private async ensurePsk(): Promise<void> {
    if (this.pskLoaded) return;
    await this.use((c) => c.loadShared({ id: WELLKNOWN_PSK_ID, type: 'IKE', data: this.o.wellknownPsk ?? WELLKNOWN_PSK, owners: [] }));
    this.pskLoaded = true;
  }

  /** The peer as held: a tofu-cert peer carries its pinned fingerprint (so a re-pin rebuilds trust). */
  private withPin(peer: Peer): Peer {
    if (peer.auth.kind !== 'unauthenticated' || peer.auth.method !== 'tofu-cert' || !this.o.tofu) return peer;
    const fp = this.o.tofu.pin(peer.name)?.fingerprint;
    return { ...peer, auth: { ...peer.auth, pinnedFingerprint: fp } };
  }

  private wrap(e: unknown, what: string, code = 'engine-vici'): EngineError {
    if (e instanceof EngineError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    return new EngineError(code, `${what}: ${msg}`, { cause: e });
  }

  async install(peer: Peer): Promise<void> {
    await this.installInner(peer, true);
  }

  private async installInner(given: Peer, rebuild: boolean, mayInitiate = true): Promise<void> {
    const peer = this.withPin(given);
    const body = buildConn(peer, this.conn); // refuses bad keys before touching charon
    const name = connName(peer.name);
    const prev = this.peers.get(peer.name);
    await this.lock.read(async () => {
      try {
        await this.ensureIdentity();
        if (usesPsk(peer)) await this.ensurePsk();
        await this.use((c) => c.loadConn(name, body));
      } catch (e) {
        throw this.wrap(e, `install ${peer.name}`);
      }
      this.peers.set(peer.name, peer);
    });
    if (rebuild && prev && leavesStaleTrust(prev, peer)) await this.rebuildTrust();
    if (mayInitiate && peer.level !== 'clear' && peer.level !== 'block' && (peer.initiate ?? this.o.initiate ?? false)) await this.initiate(peer.name);
  }

  /**
   * Bring the peer's CHILD_SA up now; EngineError ike-auth-failed / ike-initiate-failed if not.
   * A tofu-cert peer takes up to three exchanges on first contact (seen on 5.9.8): each side learns
   * the other's cert from a failed IKE_AUTH, so after an auth failure we learn, reload and retry.
   */
  async initiate(peerName: string): Promise<void> {
    const held = this.peers.get(peerName);
    if (!this.o.tofu || !held || held.auth.kind !== 'unauthenticated' || held.auth.method !== 'tofu-cert') return this.initiateOnce(peerName);
    const attempts = Math.max(1, this.o.tofuAttempts ?? 4);
    for (let i = 1; ; i++) {
      try {
        return await this.initiateOnce(peerName);
      } catch (e) {
        if (i >= attempts || !(e instanceof EngineError) || e.code !== 'ike-auth-failed') throw e;
        await this.learnCerts();
        // The peer learns ours from the same failure, on its own schedule: give it a moment.
        await new Promise((r) => setTimeout(r, 150 * i));
      }
    }
  }

  /**
   * Learn certs from charon's cache for every tofu-cert peer we hold (learning flushes the cache, so
   * one pass serves all of them), and reload the conns whose pin changed. Concurrent calls share
   * one pass.
   */
  learnCerts(): Promise<void> {
    if (this.learning) return this.learning;
    const p = (async () => {
      const tofu = this.o.tofu;
      if (!tofu) return;
      const held = [...this.peers.values()].filter((x) => x.auth.kind === 'unauthenticated' && x.auth.method === 'tofu-cert');
      const res = await tofu.learn(this.certClient!, held.map((x) => x.name));
      for (const x of held) if (res.pinned.includes(x.name.toLowerCase())) await this.installInner(x, true, false);
    })().finally(() => (this.learning = null));
    this.learning = p;
    return p;
  }

  private async initiateOnce(peerName: string): Promise<void> {
    const name = connName(peerName);
    const t = this.o.initiateTimeoutMs ?? 10_000;
    let r: { reply: ViciSection; log: string[] };
    try {
      r = await this.initiator.initiate({ child: name, ike: name, timeout: t, loglevel: 1 }, { timeoutMs: t + 5000 });
    } catch (e) {
      throw this.wrap(e, `initiate ${peerName}`, 'ike-initiate-failed');
    }
    if (str(r.reply, 'success') === 'yes') return;
    const why = r.log.filter((l) => AUTH_FAILURE.test(l));
    const detail = `${str(r.reply, 'errmsg') ?? 'failed'}${why.length ? `: ${why.join('; ')}` : r.log.length ? `: ${r.log.slice(-3).join('; ')}` : ''}`;
    if (why.length) {
      this.emitAuthFailure({ name: peerName, connection: name, reason: 'ike-auth-failed', detail }, `initiate:${name}:${Date.now()}`);
      throw new EngineError('ike-auth-failed', `IKE authentication with ${peerName} failed: ${detail}`);
    }
    throw new EngineError('ike-initiate-failed', `initiate ${peerName}: ${detail}`);
  }

  async remove(peerName: string): Promise<void> {
    await this.removeMany([peerName]);
  }

  /** Remove several peers with one trust rebuild. */
  async removeMany(names: string[]): Promise<void> {
    if (names.length === 0) return;
    let loaded: Set<string>;
    try {
      loaded = new Set(await this.use((c) => c.getConns()));
    } catch (e) {
      throw this.wrap(e, 'remove');
    }
    let touched = false;
    for (const n of names) {
      const conn = connName(n);
      const known = this.peers.delete(n);
      if (!loaded.has(conn) && !known) continue;
      touched = true;
      try {
        await this.terminate(conn);
        if (loaded.has(conn)) await this.use((c) => c.unloadConn(conn));
      } catch (e) {
        throw this.wrap(e, `remove ${n}`);
      }
    }
    if (!touched) return;
    if ((this.o.purgeDelayMs ?? 0) <= 0) {
      await this.rebuildTrust();
    } else if (!this.purgeTimer) {
      this.purgeTimer = setTimeout(() => {
        this.purgeTimer = undefined;
        this.rebuildTrust().catch((e) => this.events.emit('error', e));
      }, this.o.purgeDelayMs);
    }
  }

  /** Run a pending batched trust purge now (e.g. before shutdown or in tests). */
  async flushPurge(): Promise<void> {
    if (!this.purgeTimer) return;
    clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    await this.rebuildTrust();
  }

  private async terminate(conn: string): Promise<void> {
    const sas = await this.use((c) => c.listSas({ ike: conn, noblock: true }));
    for (const sa of sas) {
      if (!sa.uniqueId) continue;
      // force: do not wait for the peer's DELETE answer (it may be gone).
      const r = await this.use((c) => c.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true }));
      if (str(r, 'success') !== 'yes') this.log.warn({ conn, errmsg: str(r, 'errmsg') }, 'terminate did not confirm');
    }
  }

  /**
   * Make charon trust exactly the keys of the conns we hold: clear-creds drops every VICI credential
   * (stale peer keys, but also our private key and the keys of live conns), so reload those.
   * Established SAs are not affected; an authentication racing this may fail and be retried.
   */
  private async rebuildTrust(): Promise<void> {
    await this.lock.write(async () => {
      try {
        await this.use((c) => c.clearCreds());
        this.identityLoaded = false;
        await this.ensureIdentity();
        const peers = [...this.peers.values()];
        await this.parallel(peers, (p) => this.use((c) => c.loadConn(connName(p.name), buildConn(p, this.conn))).then(() => undefined));
      } catch (e) {
        throw this.wrap(e, 'rebuild trusted keys');
      }
    });
  }

  /**
   * Run fn over items with as many in flight as there are pool connections (x2 to keep them busy).
   * If charon is gone, the rest fail at once with the same reason instead of each waiting for it.
   */
  private async parallel<T>(items: T[], fn: (x: T) => Promise<void>, failed?: (x: T, e: unknown) => void): Promise<void> {
    let next = 0;
    let gone: unknown;
    const width = this.pool.length * 2;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const x = items[next++];
        if (gone !== undefined) {
          if (!failed) throw gone;
          failed(x, gone);
          continue;
        }
        try {
          await fn(x);
        } catch (e) {
          if (daemonGone(e)) gone = e;
          if (!failed) throw e;
          failed(x, e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  }

  /**
   * Install many peers quickly: load-conn takes several conns in one message (charon parses every
   * top-level section), so peers go in batches; a batch that fails is retried peer by peer so each
   * failure is attributed. One trust rebuild at the end if keys of held peers changed; then initiates.
   */
  async installMany(peers: Peer[]): Promise<{ name: string; reason: string }[]> {
    const { failed, loaded, keyChanged } = await this.loadMany(peers);
    if (keyChanged) await this.rebuildTrust();
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

  private async loadMany(peers: Peer[]): Promise<{ failed: { name: string; reason: string }[]; loaded: Peer[]; keyChanged: boolean }> {
    const failed: { name: string; reason: string }[] = [];
    const loaded: Peer[] = [];
    let keyChanged = false;
    const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));
    const ready: { peer: Peer; body: ReturnType<typeof buildConn> }[] = [];
    for (const given of peers) {
      const peer = this.withPin(given);
      try {
        ready.push({ peer, body: buildConn(peer, this.conn) });
      } catch (e) {
        failed.push({ name: peer.name, reason: reason(e) });
      }
    }
    const done = (peer: Peer): void => {
      const prev = this.peers.get(peer.name);
      if (prev && leavesStaleTrust(prev, peer)) keyChanged = true;
      this.peers.set(peer.name, peer);
      loaded.push(peer);
    };
    const batches: (typeof ready)[] = [];
    for (let i = 0; i < ready.length; i += BATCH) batches.push(ready.slice(i, i + BATCH));
    await this.lock.read(async () => {
      try {
        await this.ensureIdentity();
        if (ready.some((r) => usesPsk(r.peer))) await this.ensurePsk();
      } catch (e) {
        for (const r of ready) failed.push({ name: r.peer.name, reason: reason(e) });
        batches.length = 0;
      }
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
    });
    return { failed, loaded, keyChanged };
  }

  async list(): Promise<InstalledPeer[]> {
    try {
      const conns = await this.use((c) => c.listConns());
      const sas = await this.use((c) => c.listSas({ noblock: true }));
      const out: InstalledPeer[] = [];
      for (const ev of conns) {
        for (const [cname, v] of ev) {
          const peerName = peerOfConn(cname);
          if (!peerName || !(v instanceof Map)) continue;
          const child = section(section(v, 'children'), cname);
          const addresses = list(child, 'remote-ts').map((t) => t.replace(/\/(32|128)$/, ''));
          const remote = section(v, 'remote-1');
          const known = this.peers.get(peerName);
          // A conn we do not hold (e.g. after a restart) counts as authenticated only if it is a raw
          // public-key conn: tofu-cert conns carry our self-signed cert in local-1, psk ones say so.
          const authenticated = known
            ? known.auth.kind === 'pubkey'
            : (str(remote, 'class') ?? '').includes('public key') && list(section(v, 'local-1'), 'certs').length === 0;
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
      return {
        engine: this.kind,
        reachable: true,
        daemon: `${str(v, 'daemon') ?? 'charon'} ${str(v, 'version') ?? ''}`.trim(),
        peers: conns.filter((n) => n.startsWith(CONN_PREFIX)).length,
        detail: `IKE SAs: ${ikesas ?? '?'}; uptime ${str(section(stats, 'uptime'), 'running') ?? '?'}`,
      };
    } catch (e) {
      return { engine: this.kind, reachable: false, peers: this.peers.size, detail: e instanceof Error ? e.message : String(e) };
    }
  }

  async reconcile(desired: Peer[]): Promise<ReconcileResult> {
    const res: ReconcileResult = { installed: [], removed: [], unchanged: [], failed: [] };
    let loaded: Set<string>;
    try {
      // Whatever charon holds now is the truth (it may have restarted, or we may have).
      loaded = new Set((await this.use((c) => c.getConns())).filter((n) => n.startsWith(CONN_PREFIX)));
    } catch (e) {
      throw this.wrap(e, 'reconcile');
    }
    const want = new Map(desired.map((p) => [connName(p.name), p]));
    const stale = [...loaded].filter((c) => !want.has(c)).map((c) => peerOfConn(c)!);
    for (const n of [...this.peers.keys()]) if (!want.has(connName(n)) && !stale.includes(n)) this.peers.delete(n);
    const todo: Peer[] = [];
    for (const p of desired) {
      const known = this.peers.get(p.name);
      if (loaded.has(connName(p.name)) && known && peersEqual(known, p) && this.identityLoaded) res.unchanged.push(p.name);
      else todo.push(p);
    }
    // Load first without initiating, so a removal's rebuild does not race fresh initiates.
    const { failed, loaded: done, keyChanged } = await this.loadMany(todo);
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
    if (keyChanged && !(stale.length && (this.o.purgeDelayMs ?? 0) <= 0)) await this.rebuildTrust();
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

  async close(): Promise<void> {
    if (this.purgeTimer) clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    await Promise.all([...this.pool, this.watcher, this.initiator, ...(this.certClient ? [this.certClient] : [])].map((c) => c.close()));
  }

  // ---- events ----------------------------------------------------------------------------------

  private emitAuthFailure(f: AuthFailure, key: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    if (this.reported.size > 10_000) this.reported.clear(); // bounded memory; a rare duplicate is harmless
    this.log.warn({ peer: f.name, detail: f.detail }, 'IKE authentication failed');
    this.events.emit('auth-failed', f);
  }

  /** As responder, a tofu-cert peer's first attempts fail here too: learn its cert from them. */
  private learnAfterFailure(peer: string): void {
    const held = this.peers.get(peer);
    if (!this.o.tofu || !held || held.auth.kind !== 'unauthenticated' || held.auth.method !== 'tofu-cert') return;
    this.learnCerts().catch((err) => this.events.emit('error', err));
  }

  private onLog(e: LogEvent): void {
    if (!e.ikeName || !AUTH_FAILURE.test(e.msg)) return;
    const peer = peerOfConn(e.ikeName);
    if (!peer) return;
    this.learnAfterFailure(peer);
    this.emitAuthFailure({ name: peer, connection: e.ikeName, reason: 'ike-auth-failed', detail: e.msg }, `sa:${e.ikeUniqueId ?? e.msg}`);
  }

  private onIkeUpdown(e: UpdownEvent): void {
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
      this.emitAuthFailure({ name: peer, connection: sa.name, reason: 'ike-auth-failed', detail: `IKE_SA ${sa.name} failed while connecting (remote ${sa.remoteId ?? '?'} at ${sa.remoteHost ?? '?'})` }, `sa:${sa.uniqueId ?? sa.name}`);
    }
  }

  private onChildUpdown(e: UpdownEvent): void {
    for (const sa of e.sas) {
      const peer = peerOfConn(sa.name);
      if (peer) this.events.emit(e.up ? 'child-up' : 'child-down', { name: peer, connection: sa.name });
    }
  }
}


function usesPsk(p: Peer): boolean {
  return p.auth.kind === 'unauthenticated' && p.auth.method === 'wellknown-psk';
}
