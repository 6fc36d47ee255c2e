// VICI client: one persistent unix socket to charon, length framing, and a queue because VICI has
// no sequence numbers (one command at a time per connection). Events arrive at any time, even in
// the middle of a command; those of a streamed command's type are collected for it, the rest go to
// listeners. A timed-out command leaves the stream in an unknown state, so the socket is dropped and
// reopened (with backoff) rather than risk pairing a late answer with the next command.
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { ViciError } from '../util/errors';
import {
  decodePacket,
  encodePacket,
  frame,
  list,
  PacketType,
  section,
  splitFrames,
  str,
  type ViciInput,
  type ViciPacket,
  type ViciSection,
} from './vici-codec';

export interface ViciClientOptions {
  /** Path of charon's VICI socket (strongswan.conf `vici { socket = unix://PATH }`). */
  socketPath: string;
  /** Per-command deadline, counted from when the command is queued. Default 10 s. */
  timeoutMs?: number;
  /** How long a command waits for the socket to (re)appear before failing with vici-connect. Default 3 s. */
  connectTimeoutMs?: number;
  /** Reconnect backoff; false to fail at once when the socket is gone. Default 50 ms doubling to 2 s. */
  reconnect?: { initialMs: number; maxMs: number } | false;
  /** Events registered on every (re)connect, delivered through `on(name)` and `on('event')`. */
  events?: string[];
  /** Decode values as Buffers instead of strings (for binary payloads). */
  binary?: boolean;
}

export interface LogEvent {
  group: string;
  level: number;
  ikeName?: string;
  ikeUniqueId?: string;
  msg: string;
}

export interface SaInfo {
  name: string;
  uniqueId?: string;
  state?: string;
  localHost?: string;
  localId?: string;
  remoteHost?: string;
  remoteId?: string;
  /** CHILD_SAs under this IKE_SA: section name -> {name, state, ...} */
  children: { key: string; name?: string; state?: string; uniqueId?: string; reqid?: string }[];
  raw: ViciSection;
}

export interface UpdownEvent {
  up: boolean;
  sas: SaInfo[];
}

export function parseLog(m: ViciSection): LogEvent {
  return {
    group: str(m, 'group') ?? '',
    level: Number(str(m, 'level') ?? 0),
    ikeName: str(m, 'ikesa-name'),
    ikeUniqueId: str(m, 'ikesa-uniqueid'),
    msg: str(m, 'msg') ?? '',
  };
}

/** An IKE SA section as found in list-sa, ike-updown and child-updown messages. */
export function parseSa(name: string, s: ViciSection): SaInfo {
  const children: SaInfo['children'] = [];
  const cs = section(s, 'child-sas');
  if (cs) {
    for (const [key, v] of cs) {
      if (v instanceof Map) {
        children.push({ key, name: str(v, 'name'), state: str(v, 'state'), uniqueId: str(v, 'uniqueid'), reqid: str(v, 'reqid') });
      }
    }
  }
  return {
    name,
    uniqueId: str(s, 'uniqueid'),
    state: str(s, 'state'),
    localHost: str(s, 'local-host'),
    localId: str(s, 'local-id'),
    remoteHost: str(s, 'remote-host'),
    remoteId: str(s, 'remote-id'),
    children,
    raw: s,
  };
}

export function parseUpdown(m: ViciSection): UpdownEvent {
  const sas: SaInfo[] = [];
  for (const [k, v] of m) if (v instanceof Map) sas.push(parseSa(k, v));
  return { up: str(m, 'up') === 'yes', sas };
}

/** Turn `success = no` into a ViciError carrying charon's errmsg. */
export function checkSuccess(reply: ViciSection, cmd = 'command'): ViciSection {
  if (str(reply, 'success') === 'no') {
    throw new ViciError('vici-command-failed', `${cmd}: ${str(reply, 'errmsg') ?? 'failed without errmsg'}`);
  }
  return reply;
}

type Reply = Extract<ViciPacket, { type: 1 | 2 | 5 | 6 }>;

interface Exchange {
  resolve(p: Reply): void;
  reject(e: Error): void;
  collect?: { event: string; into: ViciSection[] };
}

export class ViciClient extends EventEmitter {
  private sock: Socket | null = null;
  private rx: Buffer = Buffer.alloc(0);
  private exchange: Exchange | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private backoffMs: number;
  private readonly timeoutMs: number;
  private readonly persistent: Set<string>;
  private everConnected = false;
  private rewatchTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ViciClientOptions) {
    super();
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.backoffMs = opts.reconnect === false ? 0 : (opts.reconnect?.initialMs ?? 50);
    this.persistent = new Set(opts.events ?? []);
    // An 'error' listener-less emit would crash the process; errors here are also reported per command.
    this.on('error', () => undefined);
  }

  get connected(): boolean {
    return this.sock !== null;
  }

  /** Open the socket now (commands also open it on demand). Rejects with vici-connect on failure. */
  async connect(): Promise<void> {
    await this.enqueue(async () => undefined, this.timeoutMs);
  }

  /** Send a command and return charon's raw reply (not checked for success). */
  request(cmd: string, msg: ViciInput = {}, opts: { timeoutMs?: number } = {}): Promise<ViciSection> {
    return this.enqueue(() => this.command(cmd, msg), opts.timeoutMs ?? this.timeoutMs);
  }

  /** Send a command and throw ViciError(vici-command-failed) if it answers success=no. */
  async call(cmd: string, msg: ViciInput = {}, opts: { timeoutMs?: number } = {}): Promise<ViciSection> {
    return checkSuccess(await this.request(cmd, msg, opts), cmd);
  }

  /**
   * A streamed command: register for `event`, send the command, collect the events until the reply,
   * unregister; as one unit in the queue so two streams never share a registration.
   */
  streamed(
    cmd: string,
    event: string,
    msg: ViciInput = {},
    opts: { timeoutMs?: number } = {},
  ): Promise<{ events: ViciSection[]; reply: ViciSection }> {
    return this.enqueue(async () => {
      const already = this.persistent.has(event);
      if (!already) await this.register(event, PacketType.EVENT_REGISTER);
      const events: ViciSection[] = [];
      const reply = await this.command(cmd, msg, { event, into: events });
      if (!already) await this.register(event, PacketType.EVENT_UNREGISTER);
      return { events, reply };
    }, opts.timeoutMs ?? this.timeoutMs);
  }

  /** Register an event for the lifetime of this client (kept across reconnects). */
  async subscribe(event: string): Promise<void> {
    if (this.persistent.has(event)) return;
    this.persistent.add(event);
    if (this.sock) await this.enqueue(() => this.register(event, PacketType.EVENT_REGISTER), this.timeoutMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.rewatchTimer) clearTimeout(this.rewatchTimer);
    this.rewatchTimer = null;
    const s = this.sock;
    this.sock = null;
    if (this.exchange) this.exchange.reject(new ViciError('vici-closed', 'client closed'));
    this.exchange = null;
    if (s)
      await new Promise<void>((r) => {
        s.once('close', () => r());
        s.destroy();
      });
  }

  // ---- named commands -------------------------------------------------------------------------
  version(): Promise<ViciSection> {
    return this.request('version');
  }
  stats(): Promise<ViciSection> {
    return this.request('stats');
  }
  loadConn(name: string, conn: ViciInput): Promise<ViciSection> {
    return this.call('load-conn', { [name]: conn });
  }
  unloadConn(name: string): Promise<ViciSection> {
    return this.call('unload-conn', { name });
  }
  async getConns(): Promise<string[]> {
    return list(await this.request('get-conns'), 'conns');
  }
  async listConns(filter: { ike?: string } = {}): Promise<ViciSection[]> {
    return (await this.streamed('list-conns', 'list-conn', filter)).events;
  }
  async listSas(filter: { ike?: string; ike_id?: string; noblock?: boolean } = {}): Promise<SaInfo[]> {
    const { ike_id, ...rest } = filter;
    const { events } = await this.streamed('list-sas', 'list-sa', {
      ...rest,
      'ike-id': ike_id,
      ike_id,
      noblock: filter.noblock ? 'yes' : undefined,
    });
    const out: SaInfo[] = [];
    for (const e of events) for (const [k, v] of e) if (v instanceof Map) out.push(parseSa(k, v));
    return out;
  }
  async listCerts(filter: { type?: string; flag?: string; subject?: string } = {}): Promise<ViciSection[]> {
    return (await this.streamed('list-certs', 'list-cert', filter)).events;
  }
  /** `initiate` streams control-log events; they are returned so a failure can say why. */
  async initiate(
    args: { child?: string; ike?: string; timeout?: number; loglevel?: number },
    opts: { timeoutMs?: number } = {},
  ): Promise<{ reply: ViciSection; log: string[] }> {
    const { events, reply } = await this.streamed('initiate', 'control-log', { loglevel: 1, ...args }, opts);
    return { reply, log: events.map((e) => str(e, 'msg') ?? '') };
  }
  /** ike_id/child_id are sent as `ike-id`/`child-id` too: 5.9.8 reads the dashed names, newer releases the underscored. */
  terminate(
    args: { child?: string; ike?: string; ike_id?: string; child_id?: string; timeout?: number; force?: boolean },
    opts: { timeoutMs?: number } = {},
  ): Promise<ViciSection> {
    const { ike_id, child_id, force, ...rest } = args;
    return this.request(
      'terminate',
      { ...rest, 'ike-id': ike_id, ike_id, 'child-id': child_id, child_id, force: force ? 'yes' : undefined },
      opts,
    );
  }
  loadKey(type: string, data: string | Buffer): Promise<ViciSection> {
    return this.call('load-key', { type, data });
  }
  unloadKey(id: string): Promise<ViciSection> {
    return this.call('unload-key', { id });
  }
  async getKeys(): Promise<string[]> {
    return list(await this.request('get-keys'), 'keys');
  }
  loadShared(args: { type: string; data: string | Buffer; owners: string[]; id?: string }): Promise<ViciSection> {
    return this.call('load-shared', args);
  }
  unloadShared(id: string): Promise<ViciSection> {
    return this.call('unload-shared', { id });
  }
  clearCreds(): Promise<ViciSection> {
    return this.call('clear-creds');
  }

  // ---- machinery ------------------------------------------------------------------------------

  /** Run `fn` with exclusive use of the connection, within `timeoutMs` counted from now. */
  private enqueue<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(new ViciError('vici-closed', 'client closed'));
    const deadline = Date.now() + timeoutMs;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let running = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new ViciError('vici-timeout', `no answer from charon within ${timeoutMs} ms`));
        // Only a command already on the wire leaves the stream out of step.
        if (running) this.drop(new ViciError('vici-timeout', 'command timed out'));
      }, timeoutMs);
      const run = async (): Promise<void> => {
        if (settled) return;
        try {
          await this.ensureConnected(deadline);
          if (settled) return;
          running = true;
          const v = await fn();
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            resolve(v);
          }
        } catch (e) {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        }
      };
      this.tail = this.tail.then(run, run);
    });
  }

  private async ensureConnected(jobDeadline: number): Promise<void> {
    // A daemon that is down should fail commands quickly, not hold each one for its full timeout.
    const deadline = Math.min(jobDeadline, Date.now() + (this.opts.connectTimeoutMs ?? 3000));
    while (!this.sock) {
      if (this.closed) throw new ViciError('vici-closed', 'client closed');
      try {
        await this.open();
        return;
      } catch (e) {
        const wait = this.backoffMs;
        if (this.opts.reconnect === false || Date.now() + wait >= deadline) {
          throw new ViciError('vici-connect', `cannot reach charon at ${this.opts.socketPath}: ${(e as Error).message}`, { cause: e });
        }
        await new Promise((r) => setTimeout(r, wait));
        const max = this.opts.reconnect ? this.opts.reconnect.maxMs : 2000;
        this.backoffMs = Math.min(max, this.backoffMs * 2);
      }
    }
  }

  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const s = createConnection(this.opts.socketPath);
      const fail = (e: Error): void => {
        s.destroy();
        reject(e);
      };
      s.once('error', fail);
      s.once('connect', () => {
        s.off('error', fail);
        this.sock = s;
        this.rx = Buffer.alloc(0);
        s.on('data', (d) => this.onData(d));
        s.on('error', (e) => this.drop(e, s));
        s.on('close', () => this.drop(new ViciError('vici-disconnected', 'charon closed the VICI socket'), s));
        this.backoffMs = this.opts.reconnect === false ? 0 : (this.opts.reconnect?.initialMs ?? 50);
        const again = this.everConnected;
        this.everConnected = true;
        // Re-register persistent events before any queued command runs.
        (async () => {
          for (const ev of this.persistent) await this.register(ev, PacketType.EVENT_REGISTER);
        })().then(
          () => {
            this.emit(again ? 'reconnect' : 'connect');
            resolve();
          },
          (e: Error) => {
            this.drop(e);
            reject(e);
          },
        );
      });
    });
  }

  /** Forget the current socket (or `which`, if it is still current) and fail the command on it. */
  private drop(err: Error, which?: Socket): void {
    const s = this.sock;
    if (!s || (which && which !== s)) return;
    this.sock = null;
    s.destroy();
    const ex = this.exchange;
    this.exchange = null;
    if (ex) ex.reject(err instanceof ViciError ? err : new ViciError('vici-disconnected', err.message, { cause: err }));
    if (!this.closed) {
      this.emit('disconnect', err);
      if (this.persistent.size > 0) this.rewatch(200);
    }
  }

  /**
   * A client that listens for events must not wait for a command to notice that charon is back (a
   * restarted charon has forgotten everything, and only the 'reconnect' event tells its users to
   * re-apply their state), so it reconnects on its own, with backoff.
   */
  private rewatch(delayMs: number): void {
    if (this.rewatchTimer || this.closed) return;
    this.rewatchTimer = setTimeout(() => {
      this.rewatchTimer = null;
      if (this.closed || this.sock) return;
      this.connect().catch(() => this.rewatch(Math.min(2000, delayMs * 2)));
    }, delayMs);
    this.rewatchTimer.unref();
  }

  private send(packet: Buffer, collect?: Exchange['collect']): Promise<Reply> {
    const s = this.sock;
    if (!s) return Promise.reject(new ViciError('vici-disconnected', 'not connected'));
    return new Promise<Reply>((resolve, reject) => {
      this.exchange = { resolve, reject, collect };
      s.write(frame(packet));
    });
  }

  private async command(cmd: string, msg: ViciInput, collect?: Exchange['collect']): Promise<ViciSection> {
    const r = await this.send(encodePacket({ type: PacketType.CMD_REQUEST, name: cmd, message: msg }), collect);
    if (r.type === PacketType.CMD_UNKNOWN) throw new ViciError('vici-unknown-command', `charon does not know command '${cmd}'`);
    if (r.type !== PacketType.CMD_RESPONSE) throw new ViciError('vici-protocol', `unexpected packet type ${r.type} for '${cmd}'`);
    return r.message;
  }

  private async register(event: string, type: typeof PacketType.EVENT_REGISTER | typeof PacketType.EVENT_UNREGISTER): Promise<void> {
    const r = await this.send(encodePacket({ type, name: event }));
    if (r.type === PacketType.EVENT_UNKNOWN) throw new ViciError('vici-unknown-event', `charon does not know event '${event}'`);
    if (r.type !== PacketType.EVENT_CONFIRM) throw new ViciError('vici-protocol', `unexpected packet type ${r.type} for event '${event}'`);
  }

  private onData(d: Buffer): void {
    this.rx = this.rx.length ? Buffer.concat([this.rx, d]) : d;
    let frames: Buffer[];
    try {
      ({ frames, rest: this.rx } = splitFrames(this.rx));
    } catch (e) {
      this.drop(e as Error);
      return;
    }
    for (const f of frames) {
      let p: ViciPacket;
      try {
        p = decodePacket(f, { binary: this.opts.binary });
      } catch (e) {
        this.drop(e as Error);
        return;
      }
      if (p.type === PacketType.EVENT) {
        const ex = this.exchange;
        if (ex?.collect && ex.collect.event === p.name && !this.persistent.has(p.name)) ex.collect.into.push(p.message);
        else this.deliver(p.name, p.message);
        continue;
      }
      const ex = this.exchange;
      if (!ex || p.type === PacketType.CMD_REQUEST || p.type === PacketType.EVENT_REGISTER || p.type === PacketType.EVENT_UNREGISTER) {
        this.drop(new ViciError('vici-protocol', `unexpected packet type ${p.type}`));
        return;
      }
      this.exchange = null;
      ex.resolve(p);
    }
  }

  private deliver(name: string, m: ViciSection): void {
    // A listener that throws must not break the socket's data handler.
    try {
      this.emit('event', name, m);
      if (name === 'log' || name === 'control-log') this.emit(name, parseLog(m));
      else if (name === 'ike-updown' || name === 'child-updown') this.emit(name, parseUpdown(m));
      else this.emit(name, m);
    } catch (e) {
      this.emit('error', e);
    }
  }
}
