// The strongSwan engine's shared part (strongswan.ts has the engine): its options, the state every
// job reads (held peers and shunts, credentials loaded, timers), the VICI connections and the lock.
// The engine was one 1100-line class with seven jobs; it is now one class built as a chain of layers,
// one file each: base → identity → shunts → conns → revocation → initiate → foreign → reconcile →
// StrongswanEngine. A layer that needs a later one's method declares it abstract here or in its own
// file, so the methods moved unchanged and `this` is still the one engine object.
import { EventEmitter } from 'node:events';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Peer } from './engine';
import { EngineError, ViciError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import { buildConn, type ConnOptions } from './peer-config';
import { type LogEvent, type UpdownEvent, ViciClient } from './vici-client';
import type { TofuCerts } from './fallback';
import { CharonTrust, type TrustVici } from './strongswan-trust';
import { RwLock } from './rw-lock';

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

export const AUTH_FAILURE =
  /AUTHENTICATION_FAILED|no trusted \S+ public key found|signature validation failed|constraint check failed|peer authentication failed|MAC mismatched|authentication of '.*' .*failed|non-matching authentication/;

export const WELLKNOWN_PSK_ID = 'oe-wellknown';

/** Conns per load-conn message: ~1 KiB each with an RSA-3072 key, far below VICI's 512 KiB frame. */
export const BATCH = 100;
const GONE = new Set(['vici-connect', 'vici-disconnected', 'vici-closed']);
/** CHILD_SA states whose policies are installed (a conn replacement leaves them in place). */
export const CHILD_UP = new Set(['INSTALLED', 'REKEYING', 'REKEYED']);
export function daemonGone(e: unknown): e is Error {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof ViciError && GONE.has(c.code)) return true;
  }
  return false;
}

export interface LoadResult {
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

export function usesPsk(p: Peer): boolean {
  return p.auth.kind === 'unauthenticated' && p.auth.method === 'wellknown-psk';
}

export abstract class StrongswanBase {
  readonly kind = 'strongswan';
  /**
   * 'auth-failed' (AuthFailure), 'child-up' / 'child-down' ({name, connection}), 'reconnected',
   * 'restored' ({conns, shunts, credentials}: what a foreign reload had removed and we put back), 'error'.
   */
  readonly events = new EventEmitter();
  protected readonly pool: ViciClient[];
  protected readonly pending: number[];
  protected readonly watcher: ViciClient;
  protected readonly initiator: ViciClient;
  protected readonly peers = new Map<string, Peer>();
  /** Drop shunts we hold: peer name → conn name (with its generation suffix) and addresses. */
  protected readonly shunts = new Map<string, { conn: string; n: number; addresses: string[] }>();
  protected readonly lock = new RwLock();
  protected readonly conn: ConnOptions;
  protected privateKey: KeyObject;
  protected readonly log: Logger;
  protected readonly trust: CharonTrust;
  protected identityLoaded = false;
  protected pskLoaded = false;
  /** Ids of the private keys this process loaded (charon's KEYID_PUBKEY_SHA1, hex). */
  protected readonly ownKeyIds = new Set<string>();
  protected currentKeyId: string | undefined;
  protected learning: Promise<void> | null = null;
  /** list-certs carries DER: this client decodes values as Buffers. */
  protected readonly certClient: ViciClient;
  protected purgeTimer: NodeJS.Timeout | undefined;
  protected checkTimer: NodeJS.Timeout | undefined;
  protected soonTimer: NodeJS.Timeout | undefined;
  protected checking: Promise<RestoreReport> | null = null;
  protected checkAgain = false;
  protected rewatching = false;
  protected closed = false;
  protected readonly reported = new Set<string>();

  constructor(protected readonly o: StrongswanEngineOptions) {
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
      const c = new ViciClient({
        socketPath: o.socketPath,
        timeoutMs: o.timeoutMs ?? 10_000,
        events,
        reconnect: events ? { initialMs: 10, maxMs: 50 } : undefined,
      });
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

  /** Reconnect the event watcher as soon as charon answers again (connect() polls every 50 ms). */
  protected rewatchNow(): void {
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

  protected forgetCredentials(): void {
    this.identityLoaded = false;
    this.pskLoaded = false;
    this.trust.loaded = false;
  }

  protected async use<T>(fn: (c: ViciClient) => Promise<T>): Promise<T> {
    let i = 0;
    for (let j = 1; j < this.pool.length; j++) if (this.pending[j]! < this.pending[i]!) i = j;
    this.pending[i]!++;
    try {
      return await fn(this.pool[i]!);
    } finally {
      this.pending[i]!--;
    }
  }

  protected readonly trustVici: TrustVici = {
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
    listCrls: async () =>
      (await this.certClient.listCerts({ type: 'X509_CRL' }))
        .map((ev) => ev.get('data'))
        .filter((d) => d instanceof Uint8Array)
        .map((d) => Buffer.from(d as Uint8Array)),
  };

  /** The peer as held: a tofu-cert peer carries its pinned fingerprint (so a re-pin reloads it). */
  protected withPin(peer: Peer): Peer {
    if (peer.auth.kind !== 'unauthenticated' || peer.auth.method !== 'tofu-cert' || !this.o.tofu) return peer;
    const fp = this.o.tofu.pin(peer.name)?.fingerprint;
    return { ...peer, auth: { ...peer.auth, pinnedFingerprint: fp } };
  }

  protected wrap(e: unknown, what: string, code = 'engine-vici'): EngineError {
    if (e instanceof EngineError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    return new EngineError(code, `${what}: ${msg}`, { cause: e });
  }

  /**
   * The conn body for `peer` with its keys vouched for by the current trust generation, and what that
   * changes in charon's trust (bind: a serial trusted again must be published before the conn loads).
   */
  protected prepare(peer: Peer): { body: ReturnType<typeof buildConn>; serials: string[] } {
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

  /**
   * Run fn over items with as many in flight as there are pool connections (x2 to keep them busy).
   * If charon is gone, the rest fail at once with the same reason instead of each waiting for it.
   */
  protected async parallel<T>(items: T[], fn: (x: T) => Promise<void>, failed?: (x: T, e: unknown) => void): Promise<void> {
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

  // Events (strongswan-foreign.ts): the constructor wires the watcher to them.
  protected abstract onLog(e: LogEvent): void;
  protected abstract onIkeUpdown(e: UpdownEvent): void;
  protected abstract onChildUpdown(e: UpdownEvent): void;
}
