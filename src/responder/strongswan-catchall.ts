// The strongSwan side of IKE-queries-DNS (Debian's charon has no ipseckey plugin, so this is built on
// VICI). Without any conn, charon answers an unknown initiator NO_PROPOSAL_CHOSEN in IKE_SA_INIT and
// never learns its identity; so we load a catch-all conn (any address, our proposals) that lets the
// exchange reach IKE_AUTH, where the initiator sends its IDi, and that then always refuses it. charon
// reports that refusal as an ike-updown event carrying the IDi and the address; we pass those on.
//
// Why the catch-all pins a dummy key whose private half is thrown away: keys given in any conn join
// charon's global trusted set bound to their remote id and stay there after the conn is unloaded. A
// catch-all with `id = %any` and no key of its own was seen to accept a peer with such a stale key.
// Pinned to a key nobody holds, the catch-all's constraint check fails for every initiator, whatever
// else charon trusts (and it still holds after the engine's clear-creds: the constraint lives in the
// conn, not in the credential set).
import { EventEmitter } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { silentLogger, type Logger } from '../util/log';
import { type UpdownEvent, ViciClient } from '../ike-bridge/vici-client';
import type { ViciInput } from '../ike-bridge/vici-codec';
import { type UnknownInitiator, unknownInitiators } from './events';

/** Not `oe-…`: the engine treats every `oe-` conn as a peer of its own and would unload it. */
export const CATCHALL_CONN = 'oedns-catchall';

/** The source of unknown initiators the responder service listens to (tests use a plain emitter). */
export interface ResponderHook {
  /**
   * Emits 'initiator' (UnknownInitiator); 'ready' (again: boolean) after each load, `again` when the
   * IKE daemon came back and had forgotten everything; 'error' (Error).
   */
  readonly events: EventEmitter;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface StrongswanCatchAllOptions {
  socketPath: string;
  /** Our IKE identity (FQDN). */
  localId: string;
  /** IKE proposals: the same as the engine's conns, or the initiator is refused in IKE_SA_INIT. */
  ikeProposals?: string[];
  /** Wait between reconnect attempts after charon went away. Default 1000 ms. */
  retryMs?: number;
  timeoutMs?: number;
  log?: Logger;
}

/** The engine's defaults (src/ike-bridge/strongswan-base.ts), both seen working here. */
export const DEFAULT_IKE_PROPOSALS = ['aes128-sha256-x25519', 'aes256-sha256-modp2048'];

/** A public key whose private half exists only inside this call. */
export function dummyPublicKeyPem(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

export function catchAllConn(o: { localId: string; ikeProposals: string[]; dummyPem: string }): ViciInput {
  return {
    version: 2,
    remote_addrs: ['%any'],
    proposals: o.ikeProposals,
    mobike: 'no',
    local: { auth: 'pubkey', id: o.localId },
    remote: { auth: 'pubkey', id: '%any', pubkeys: [o.dummyPem] },
    // No children: the conn is never meant to carry traffic.
  };
}

export class StrongswanCatchAll implements ResponderHook {
  readonly events = new EventEmitter();
  private readonly client: ViciClient;
  private readonly log: Logger;
  private readonly body: ViciInput;
  private closed = false;
  private loaded = false;
  private reconnecting = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: StrongswanCatchAllOptions) {
    this.log = o.log ?? silentLogger;
    this.body = catchAllConn({ localId: o.localId, ikeProposals: o.ikeProposals ?? DEFAULT_IKE_PROPOSALS, dummyPem: dummyPublicKeyPem() });
    this.client = new ViciClient({ socketPath: o.socketPath, timeoutMs: o.timeoutMs ?? 10_000, events: ['ike-updown'] });
    this.client.on('ike-updown', (e: UpdownEvent) => {
      for (const i of unknownInitiators(e, CATCHALL_CONN)) this.events.emit('initiator', i satisfies UnknownInitiator);
    });
    // charon restarted (or the socket broke): it has forgotten the catch-all.
    this.client.on('reconnect', () => void this.load().catch((e: Error) => this.failed(e)));
    this.client.on('disconnect', () => this.reconnect());
    this.events.on('error', () => undefined);
  }

  /** Connect, subscribe to ike-updown and load the catch-all. A charon that is down now is retried. */
  async start(): Promise<void> {
    try {
      await this.client.connect();
      await this.load();
    } catch (e) {
      this.failed(e as Error);
      this.reconnect();
    }
  }

  private async load(): Promise<void> {
    await this.client.loadConn(CATCHALL_CONN, this.body);
    const again = this.loaded;
    this.loaded = true;
    this.log.info({ conn: CATCHALL_CONN, again }, 'responder: catch-all conn loaded; unknown initiators reach IKE_AUTH and are refused');
    this.events.emit('ready', again);
  }

  private failed(e: Error): void {
    this.log.warn({ err: e.message }, 'responder: cannot load the catch-all conn into charon; will retry when it is reachable');
    this.events.emit('error', e);
  }

  /**
   * Keep trying until charon is back or we close. An event client also reconnects by itself after a
   * drop, but not when charon was never reachable at start; connect() on a live socket does nothing.
   */
  private reconnect(): void {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    const attempt = (): void => {
      this.retryTimer = undefined;
      if (this.closed) return;
      this.client.connect().then(
        () => {
          this.reconnecting = false;
          // A reconnect emits 'reconnect' (→ load()); a first connect after a failed start does not.
          if (!this.loaded) void this.load().catch((e: Error) => this.failed(e));
        },
        () => {
          if (!this.closed) this.retryTimer = setTimeout(attempt, this.o.retryMs ?? 1000);
        },
      );
    };
    this.retryTimer = setTimeout(attempt, this.o.retryMs ?? 1000);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // Leave no catch-all behind: without oedns nobody acts on its refusals, it would only cost charon work.
    if (this.client.connected) await this.client.unloadConn(CATCHALL_CONN).catch(() => undefined);
    await this.client.close();
  }
}
