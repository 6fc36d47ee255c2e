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
import { EventEmitter } from 'node:events';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Engine, EngineStatus, InstalledPeer, Peer, ReconcileResult, ShuntSpec } from './engine';
import { EngineError, ViciError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import { charonKeyType, privateKeyPemForCharon } from './keys';
import {
  buildConn, buildShuntConn, type ConnOptions, connName, CONN_PREFIX, peerOfConn, peerOfShunt, peerPubkeys, peersEqual, SELF_CONN, selfConn,
  SHUNT_PREFIX, shuntConnName,
} from './peer-config';
import { type LogEvent, type UpdownEvent, ViciClient } from './vici-client';
import { WELLKNOWN_PSK, type TofuCerts } from './fallback';
import { list, section, str, type ViciSection } from './vici-codec';
import { CharonTrust, type TrustVici } from './strongswan-trust';
import { keyIdentifier } from './trust-ca';

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
   * 0 (default): remove() returns once charon no longer trusts the key (a new CRL is in). > 0: the
   * CRL goes out at most this many ms later, batched with other removals; meanwhile no oe-* conn
   * accepts the old key (each pins its own certificates), but a foreign conn without pins still would.
   */
  purgeDelayMs?: number;
  /**
   * How often to check (get-conns + get-keys) that nobody unloaded our conns or credentials, e.g.
   * `swanctl --load-all`; what is missing is put back. VICI log events of a foreign load trigger
   * the same check at once. Default 10 000 ms; 0: only on events.
   */
  checkIntervalMs?: number;
  /** Revoked peer certificates before the trust generation is renewed (strongswan-trust.ts). Default 4096. */
  trustRotateAt?: number;
  /**
   * Seed of our trust root (ensureTrustSeed). Absent: derived from the host key, and then a host key
   * rollover cannot retire what the old key's root vouched for while charon keeps running.
   */
  trustSeed?: Buffer;
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
/** CHILD_SA states whose policies are installed (a conn replacement leaves them in place). */
const CHILD_UP = new Set(['INSTALLED', 'REKEYING', 'REKEYED']);
function daemonGone(e: unknown): e is Error {
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
  /**
   * 'auth-failed' (AuthFailure), 'child-up' / 'child-down' ({name, connection}), 'reconnected',
   * 'restored' ({conns, shunts, credentials}: what a foreign reload had removed and we put back), 'error'.
   */
  readonly events = new EventEmitter();
  private readonly pool: ViciClient[];
  private readonly pending: number[];
  private readonly watcher: ViciClient;
  private readonly initiator: ViciClient;
  private readonly peers = new Map<string, Peer>();
  /** Drop shunts we hold: peer name → conn name (with its generation suffix) and addresses. */
  private readonly shunts = new Map<string, { conn: string; n: number; addresses: string[] }>();
  private readonly lock = new RwLock();
  private readonly conn: ConnOptions;
  private privateKey: KeyObject;
  private readonly log: Logger;
  private readonly trust: CharonTrust;
  private identityLoaded = false;
  private pskLoaded = false;
  /** Ids of the private keys this process loaded (charon's KEYID_PUBKEY_SHA1, hex). */
  private readonly ownKeyIds = new Set<string>();
  private currentKeyId: string | undefined;
  private learning: Promise<void> | null = null;
  /** list-certs carries DER: this client decodes values as Buffers. */
  private readonly certClient: ViciClient;
  private purgeTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private checking: Promise<RestoreReport> | null = null;
  private checkAgain = false;
  private rewatching = false;
  private closed = false;
  private readonly reported = new Set<string>();

  constructor(private readonly o: StrongswanEngineOptions) {
    this.log = o.logger ?? silentLogger;
    this.privateKey = typeof o.identity.privateKey === 'string' ? createPrivateKey(o.identity.privateKey) : o.identity.privateKey;
    this.trust = new CharonTrust(o.trustSeed ?? this.privateKey, o.identity.id, { rotateAt: o.trustRotateAt, log: this.log });
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
      // The event watcher polls a vanished socket every 50 ms (a failed connect to a unix socket costs
      // nothing): its reconnect is what starts putting a restarted charon's state back.
      const c = new ViciClient({ socketPath: o.socketPath, timeoutMs: o.timeoutMs ?? 10_000, events, reconnect: events ? { initialMs: 10, maxMs: 50 } : undefined });
      // A reconnect of a command connection may mean charon restarted and forgot our key. The event
      // watcher reconnects by itself, possibly after the command connections already reloaded it.
      if (!events) c.on('reconnect', () => this.forgetCredentials());
      return c;
    };
    this.pool = Array.from({ length: Math.max(1, o.connections ?? 1) }, () => mk());
    this.pending = this.pool.map(() => 0);
    this.initiator = mk();
    this.watcher = mk(['ike-updown', 'child-updown', 'log']);
    this.certClient = new ViciClient({ socketPath: o.socketPath, timeoutMs: o.timeoutMs ?? 10_000, binary: true });
    this.watcher.on('log', (e: LogEvent) => this.onLog(e));
    // charon restarted (the watcher reconnects by itself): whoever owns the peers must re-apply them.
    this.watcher.on('reconnect', () => this.events.emit('reconnected'));
    // The client's own re-watch waits 200 ms first; the engine starts polling at once instead.
    this.watcher.on('disconnect', () => this.rewatchNow());
    this.watcher.on('ike-updown', (e: UpdownEvent) => this.onIkeUpdown(e));
    this.watcher.on('child-updown', (e: UpdownEvent) => this.onChildUpdown(e));
    this.events.on('error', () => undefined);
  }

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

  /** Reconnect the event watcher as soon as charon answers again (connect() polls every 50 ms). */
  private rewatchNow(): void {
    if (this.closed || this.rewatching) return;
    this.rewatching = true;
    this.watcher.connect().then(
      () => (this.rewatching = false),
      () => {
        this.rewatching = false;
        if (this.closed) return;
        setTimeout(() => this.rewatchNow(), 100).unref();
      },
    );
  }

  private forgetCredentials(): void {
    this.identityLoaded = false;
    this.pskLoaded = false;
    this.trust.loaded = false;
  }

  private async use<T>(fn: (c: ViciClient) => Promise<T>): Promise<T> {
    let i = 0;
    for (let j = 1; j < this.pool.length; j++) if (this.pending[j]! < this.pending[i]!) i = j;
    this.pending[i]!++;
    try {
      return await fn(this.pool[i]!);
    } finally {
      this.pending[i]!--;
    }
  }

  private readonly trustVici: TrustVici = {
    request: (cmd, msg) => this.use((c) => c.request(cmd, msg)),
    listCaCerts: async () => {
      const out: Buffer[] = [];
      for (const ev of await this.certClient.listCerts({ type: 'X509', flag: 'CA' })) {
        const d = ev.get('data');
        if (d instanceof Uint8Array) out.push(Buffer.from(d));
      }
      return out;
    },
    // CRL numbers go on from charon's, whatever the clock did (strongswan-trust.ts load()).
    listCrls: async () => (await this.certClient.listCerts({ type: 'X509_CRL' }))
      .map((ev) => ev.get('data')).filter((d) => d instanceof Uint8Array).map((d) => Buffer.from(d as Uint8Array)),
  };

  private async ensureIdentity(): Promise<void> {
    // A command connection notices a charon restart (and clears identityLoaded) only when it next
    // talks to charon: connect first, so the check below sees a restart that has not been noticed yet.
    await this.use((c) => c.connect());
    if (this.identityLoaded) return;
    // Trust from an oedns root we lost the seed of fails closed (clear-creds) before ours is loaded.
    await this.trust.clearForeignRoots(this.trustVici, this.o.identity.id);
    const loaded = await this.use((c) => c.loadKey(charonKeyType(this.privateKey), privateKeyPemForCharon(this.privateKey)));
    const ours = str(loaded, 'id');
    if (ours) {
      this.ownKeyIds.add(ours);
      this.currentKeyId = ours;
      await this.retireOldOwnKeys(ours);
    }
    await this.use((c) => c.loadConn(SELF_CONN, selfConn(this.conn)));
    await this.trust.load(this.trustVici);
    this.identityLoaded = true;
    this.pskLoaded = false;
    if ([...this.peers.values()].some(usesPsk)) await this.ensurePsk();
  }

  /**
   * A host that rolled its key still has the old private key in charon, and charon may keep signing
   * with it for our identity: peers that follow DNS then reject us. A key is ours to unload if this
   * process loaded it, or if charon binds its public half to our own IKE identity (an earlier oedns
   * loaded it for this identity, which only oedns configures). Every other key is left alone.
   */
  private async retireOldOwnKeys(current: string): Promise<void> {
    const bound = new Set<string>();
    try {
      for (const ev of await this.certClient.listCerts({ type: 'pubkey' })) {
        const subject = ev.get('subject');
        const data = ev.get('data');
        if (!(data instanceof Uint8Array) || String(subject ?? '').toLowerCase() !== this.o.identity.id.toLowerCase()) continue;
        try {
          bound.add(keyIdentifier(Buffer.from(data)).toString('hex'));
        } catch {
          /* not a key we can read: not ours */
        }
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'strongswan: could not list the keys bound to our identity');
    }
    for (const id of await this.use((c) => c.getKeys())) {
      if (id === current || !(this.ownKeyIds.has(id) || bound.has(id))) continue;
      await this.use((c) => c.unloadKey(id))
        .then(() => this.log.info({ key: id }, 'strongswan: unloaded an old private key of our identity'))
        .catch((e: Error) => this.log.warn({ key: id, err: e.message }, 'could not unload an old private key'));
      this.ownKeyIds.delete(id);
    }
  }

  /**
   * Sign with another private key from now on (`oedns key activate`): the new key is loaded, bound to
   * our identity, and the old one (ours) unloaded by its id. Peers' conns carry no key of ours, except
   * tofu-cert conns, which present our certificate (the caller renews it first): those are reloaded.
   * Established SAs are not touched.
   */
  async setIdentityKey(privateKey: KeyObject): Promise<void> {
    await this.lock.write(async () => {
      this.privateKey = privateKey;
      this.conn.local = { ...this.conn.local, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
      this.identityLoaded = false;
      try {
        await this.ensureIdentity();
        const tofu = [...this.peers.values()].filter((p) => p.auth.kind === 'unauthenticated' && p.auth.method === 'tofu-cert');
        await this.parallel(tofu, (p) => this.use((c) => c.loadConn(connName(p.name), this.prepare(p).body)).then(() => undefined));
      } catch (e) {
        throw this.wrap(e, 'load the new identity key');
      }
    });
  }

  /** The well-known PSK goes into charon only once a peer needs it (it matches any identity). */
  private async ensurePsk(): Promise<void> {
    if (this.pskLoaded) return;
    await this.use((c) => c.loadShared({ id: WELLKNOWN_PSK_ID, type: 'IKE', data: this.o.wellknownPsk ?? WELLKNOWN_PSK, owners: [] }));
    this.pskLoaded = true;
  }

  /** The PSK goes again when no peer needs it any more (by its id: other shared secrets stay). */
  private async dropPskIfUnused(): Promise<void> {
    if (!this.pskLoaded || [...this.peers.values()].some(usesPsk)) return;
    await this.use((c) => c.unloadShared(WELLKNOWN_PSK_ID)).catch((e: Error) => this.log.debug({ err: e.message }, 'unload-shared'));
    this.pskLoaded = false;
  }

  /** The peer as held: a tofu-cert peer carries its pinned fingerprint (so a re-pin reloads it). */
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

  /**
   * The conn body for `peer` with its keys vouched for by the current trust generation, and what that
   * changes in charon's trust (bind: a serial trusted again must be published before the conn loads).
   */
  private prepare(peer: Peer): { body: ReturnType<typeof buildConn>; serials: string[] } {
    let serials: string[] = [];
    const body = buildConn(peer, {
      ...this.conn,
      vouch: (p, pems) => {
        const v = this.trust.vouch(p.name, pems);
        serials = v.serials;
        return v.certs;
      },
    });
    return { body, serials };
  }

  async install(peer: Peer): Promise<void> {
    await this.installInner(peer);
  }

  private async installInner(given: Peer, mayInitiate = true): Promise<void> {
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
      const res = await tofu.learn(this.certClient, held.map((x) => x.name));
      for (const x of held) if (res.pinned.includes(x.name.toLowerCase())) await this.installInner(x, false);
    })().finally(() => (this.learning = null));
    this.learning = p;
    return p;
  }

  private async initiateOnce(peerName: string, retried = false): Promise<void> {
    const name = connName(peerName);
    const t = this.o.initiateTimeoutMs ?? 10_000;
    let r: { reply: ViciSection; log: string[] };
    try {
      r = await this.initiator.initiate({ child: name, ike: name, timeout: t, loglevel: 1 }, { timeoutMs: t + 5000 });
    } catch (e) {
      throw this.wrap(e, `initiate ${peerName}`, 'ike-initiate-failed');
    }
    if (str(r.reply, 'success') === 'yes') return;
    // charon refuses a second CHILD_SA with the same selectors (a reinstall of an unchanged peer):
    // fine if that CHILD_SA is really up; if it was on its way out, try once more.
    if (r.log.some((l) => /not establishing CHILD_SA .* due to existing duplicate/.test(l))) {
      const up = (await this.use((c) => c.listSas({ ike: name, noblock: true }))).some(
        (sa) => sa.state === 'ESTABLISHED' && sa.children.some((ch) => ch.name === name && ch.state === 'INSTALLED'));
      if (up) return;
      if (!retried) {
        await new Promise((res) => setTimeout(res, 200));
        return this.initiateOnce(peerName, true);
      }
    }
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

  /**
   * Publish the revocations made so far: at once (purgeDelayMs 0), or batched within purgeDelayMs.
   * A generation whose CRL grew long is replaced first (every held conn reloaded with new certificates).
   */
  private async publishRevocations(): Promise<void> {
    if (this.trust.shouldRotate()) return this.rotateTrust();
    if ((this.o.purgeDelayMs ?? 0) <= 0) {
      await this.trust.publish(this.trustVici).catch((e) => { throw this.wrap(e, 'revoke'); });
    } else if (!this.purgeTimer) {
      this.purgeTimer = setTimeout(() => {
        this.purgeTimer = undefined;
        this.trust.publish(this.trustVici).catch((e) => this.events.emit('error', e));
      }, this.o.purgeDelayMs);
    }
  }

  /** Run a pending batched revocation now (e.g. before shutdown or in tests). */
  async flushPurge(): Promise<void> {
    if (!this.purgeTimer) return;
    clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    await this.trust.publish(this.trustVici);
  }

  /** New trust generation: every held conn gets certificates of it, then the old one is retired. */
  private async rotateTrust(): Promise<void> {
    await this.lock.write(async () => {
      try {
        // Several removals may have asked for it; the first one's rotation served them all.
        if (!this.trust.shouldRotate()) {
          await this.trust.publish(this.trustVici);
          return;
        }
        const old = this.trust.rotate();
        await this.trust.loadGeneration(this.trustVici);
        // Every peer held now (removals and installs wait for the lock: none is under way).
        const peers = [...this.peers.values()];
        const { failed } = await this.loadManyLocked(peers, { always: true });
        for (const f of failed) this.log.warn({ peer: f.name, err: f.reason }, 'strongswan: conn not reloaded for the new trust generation (it fails closed)');
        await this.trust.retire(this.trustVici, old);
        this.log.info({ peers: peers.length, retired: old }, 'strongswan: trust generation renewed');
      } catch (e) {
        throw this.wrap(e, 'renew the trust generation');
      }
    });
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

  async saIds(peerName: string): Promise<string[]> {
    try {
      const sas = await this.use((c) => c.listSas({ ike: connName(peerName), noblock: true }));
      return sas.map((s) => s.uniqueId).filter((id): id is string => id !== undefined);
    } catch (e) {
      throw this.wrap(e, `list SAs of ${peerName}`);
    }
  }

  async terminateSas(peerName: string, ids: string[]): Promise<void> {
    for (const id of ids) {
      const r = await this.use((c) => c.terminate({ ike_id: id, timeout: 2000, force: true })).catch((e: unknown) => {
        throw this.wrap(e, `terminate an IKE SA of ${peerName}`);
      });
      // An SA that is gone already is what we wanted.
      if (str(r, 'success') !== 'yes' && !/not found|no IKE_SA/i.test(str(r, 'errmsg') ?? '')) {
        throw new EngineError('engine-vici', `terminate IKE SA ${id} of ${peerName}: ${str(r, 'errmsg') ?? 'failed'}`);
      }
    }
  }

  /**
   * Drop all traffic to `addresses` for `name` (empty: end the shunt). A changed shunt is loaded under
   * a new conn name before the old one is unloaded, so no address is ever open in between.
   */
  setShunt(peerName: string, addresses: string[]): Promise<void> {
    return this.lock.read(() => this.setShuntLocked(peerName, addresses));
  }

  private async setShuntLocked(peerName: string, addresses: string[]): Promise<void> {
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
      if (cur) await this.use((c) => c.unloadConn(cur.conn)).catch((e: Error) => this.log.debug({ conn: cur.conn, err: e.message }, 'unload old shunt'));
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
  private async bridge(next: Peer[], always = false): Promise<string[]> {
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

  private async unbridge(conns: string[]): Promise<void> {
    await this.parallel(conns, (conn) => this.use((c) => c.unloadConn(conn)).then(
      () => undefined,
      (e: Error) => this.log.debug({ conn, err: e.message }, 'unload bridge'),
    ));
  }

  /**
   * Run fn over items with as many in flight as there are pool connections (x2 to keep them busy).
   * If charon is gone, the rest fail at once with the same reason instead of each waiting for it.
   */
  private async parallel<T>(items: T[], fn: (x: T) => Promise<void>, failed?: (x: T, e: unknown) => void): Promise<void> {
    let next = 0;
    let gone: Error | undefined;
    const width = this.pool.length * 2;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const x = items[next++]!;
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

  private loadMany(peers: Peer[]): Promise<LoadResult> {
    return this.lock.read(() => this.loadManyLocked(peers));
  }

  /** loadMany's work, for a caller that holds the lock (as reader or writer). */
  private async loadManyLocked(peers: Peer[], opts: { always?: boolean } = {}): Promise<LoadResult> {
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
      const bridges = await this.bridge(ready.map((r) => r.peer), opts.always);
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
            out.push({ name: shuntOf, connection: cname, addresses: list(child, 'remote-ts').map(bare), authenticated: false, shunt: true });
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
    if (revoke) await this.publishRevocations().catch((e: Error) => this.log.warn({ err: e.message }, 'reconcile: publishing revocations failed'));
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

  private async reconcileShunts(all: string[], shunts: ShuntSpec[], res: ReconcileResult): Promise<void> {
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
  private async checkOnce(trigger: RestoreReport['trigger']): Promise<RestoreReport> {
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
        if (!this.peers.has(p.name) || up.has(connName(p.name)) || p.level === 'clear' || p.level === 'block' || !(p.initiate ?? this.o.initiate ?? false)) continue;
        this.initiate(p.name).catch((e: Error) => this.log.warn({ peer: p.name, err: e.message }, 'strongswan: initiate after restore failed'));
      }
    }
    this.log.warn({ ...rep }, 'strongswan: our conns or credentials had been unloaded by someone else; put back');
    this.events.emit('restored', rep);
    return rep;
  }

  /** What of ours charon lacks now: undefined if nothing. */
  private async foreignDamage(): Promise<{ have: Set<string>; credentials: boolean } | undefined> {
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
  private checkSoon(): void {
    if (this.closed) return;
    this.checkForeign('event').catch((e: Error) => this.log.debug({ err: e.message }, 'strongswan: check failed'));
    if (this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.checkForeign('event').catch((e: Error) => this.log.debug({ err: e.message }, 'strongswan: check failed'));
    }, 300);
    this.soonTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of [this.purgeTimer, this.soonTimer]) if (t) clearTimeout(t);
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.purgeTimer = this.soonTimer = this.checkTimer = undefined;
    await this.checking?.catch(() => undefined);
    await Promise.all([...this.pool, this.watcher, this.initiator, this.certClient].map((c) => c.close()));
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

  private holdsConn(conn: string): boolean {
    const p = peerOfConn(conn);
    if (p !== undefined) return this.peers.has(p);
    return [...this.shunts.values()].some((s) => s.conn === conn);
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

interface LoadResult {
  failed: { name: string; reason: string }[];
  loaded: Peer[];
  revoke: boolean;
}

/** What checkForeign() put back. */
export interface RestoreReport {
  conns: number;
  shunts: number;
  /** Our credentials had been cleared and were loaded again. */
  credentials: boolean;
  /** What started the check: a VICI log event, the periodic timer, or a direct call. */
  trigger: 'event' | 'timer' | 'call';
}

/** charon's config log lines (level 1): a conn loaded by anyone, or a trap/shunt conn being unloaded. */
const FOREIGN_CONFIG = /^(?:added|replaced|updated) vici connection: (.+)$|^uninstalling '(.+)'$/;

function bare(ts: string): string {
  return ts.replace(/\/(32|128)$/, '');
}

function usesPsk(p: Peer): boolean {
  return p.auth.kind === 'unauthenticated' && p.auth.method === 'wellknown-psk';
}
