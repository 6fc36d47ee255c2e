// Upstream UDP sockets, per server: a small set of sockets, each bound to a random port and connected to
// that server, each retired after a few uses so that source ports keep changing (RFC 5452 §9.2: an
// off-path spoofer must guess id AND port). Sharing a socket among concurrent queries saves the
// socket/bind/connect/close system calls and epoll updates a socket per query would cost, which
// dominated cold-query latency. Answers are matched to queries by id, then by question.
import { createSocket, type Socket } from 'node:dgram';
import { TransportError } from '../util/errors';
import { type Endpoint, formatEndpoint } from './endpoint';
import { random16, randomPort } from './random';

/** A socket being opened, and once open the channel it became (so a retired one can be found). */
type Slot = Promise<Channel> & { ch?: Channel };

export interface ChannelOptions {
  /** Sockets per server in use at once. */
  socketsPerServer: number;
  /** Queries sent on one socket before it is replaced by one on a new random port. */
  usesPerSocket: number;
}

export const DEFAULT_CHANNELS: ChannelOptions = { socketsPerServer: 8, usesPerSocket: 32 };

interface Waiter {
  /** Returns true when it took the datagram as its answer. */
  onAnswer(buf: Buffer): boolean;
  onError(err: Error): void;
}

class Channel {
  readonly waiters = new Map<number, Waiter>();
  uses = 0;
  retired = false;
  closed = false;

  constructor(
    readonly sock: Socket,
    private readonly onForeign: () => void,
  ) {
    sock.on('message', (buf, rinfo) => {
      // Connected socket: the kernel already filters the source; checked again as defence in depth.
      const remote = this.remote;
      if (buf.length < 2 || rinfo.address !== remote.host || rinfo.port !== remote.port) return this.onForeign();
      const w = this.waiters.get((buf[0]! << 8) | buf[1]!);
      if (!w) return this.onForeign();
      if (w.onAnswer(buf)) this.release((buf[0]! << 8) | buf[1]!);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // ECONNREFUSED (ICMP port unreachable) is not tied to one query: every query on it fails fast.
      const e = new TransportError(err.code === 'ECONNREFUSED' ? 'refused' : 'socket', `${formatEndpoint(this.remote)}: ${err.message}`);
      this.retired = true;
      for (const [id, w] of [...this.waiters]) {
        this.waiters.delete(id);
        w.onError(e);
      }
      this.close();
    });
  }

  remote!: Endpoint;

  /** A random id not in use on this socket. */
  freeId(): number {
    for (;;) {
      const id = random16();
      if (!this.waiters.has(id)) return id;
    }
  }

  release(id: number): void {
    this.waiters.delete(id);
    if (this.retired && this.waiters.size === 0) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

export class UdpChannels {
  private readonly slots = new Map<string, (Slot | undefined)[]>();
  private readonly all = new Set<Channel>();
  foreign = 0;

  constructor(private readonly opts: ChannelOptions = DEFAULT_CHANNELS) {}

  /**
   * Sends `build(id)` to `server` and waits for a datagram that `accept` takes (it checks the question;
   * the id and source are already checked here). Rejects with TransportError on timeout or socket error.
   */
  async exchange(
    server: Endpoint,
    build: (id: number) => Uint8Array,
    accept: (buf: Buffer) => boolean,
    timeoutMs: number,
  ): Promise<Buffer> {
    const ch = await this.channel(server);
    const id = ch.freeId();
    ch.uses++;
    if (ch.uses >= this.opts.usesPerSocket) this.retire(server, ch);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        ch.release(id);
        reject(new TransportError('timeout', `${formatEndpoint(server)} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      ch.waiters.set(id, {
        onAnswer: (buf) => {
          if (!accept(buf)) return false;
          clearTimeout(timer);
          resolve(buf);
          return true;
        },
        onError: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      ch.sock.send(build(id), (err) => {
        if (!err) return;
        clearTimeout(timer);
        ch.release(id);
        reject(new TransportError('socket', `${formatEndpoint(server)}: ${err.message}`));
      });
    });
  }

  /** Stops using `server` (it left the upstream list): its sockets close once their queries are done. */
  dropServer(server: Endpoint): void {
    const k = this.key(server);
    this.slots.delete(k);
    for (const ch of this.all) {
      if (ch.remote.port !== server.port || (ch.remote.host !== server.host && formatEndpoint(ch.remote) !== formatEndpoint(server)))
        continue;
      ch.retired = true;
      if (ch.waiters.size === 0) ch.close();
    }
  }

  /** Closes every socket; queries in flight fail with 'closed'. */
  close(): void {
    const e = new TransportError('closed', 'upstream pool closed');
    for (const ch of this.all) {
      ch.retired = true;
      for (const [id, w] of [...ch.waiters]) {
        ch.waiters.delete(id);
        w.onError(e);
      }
      ch.close();
    }
    this.all.clear();
    this.slots.clear();
  }

  private key(server: Endpoint): string {
    return `${server.host}|${server.port}`;
  }

  private retire(server: Endpoint, ch: Channel): void {
    ch.retired = true;
    const slots = this.slots.get(this.key(server));
    if (slots) for (let i = 0; i < slots.length; i++) if (slots[i]?.ch === ch) slots[i] = undefined;
    // Closed by release() once its last query is done (the caller is about to add one).
  }

  private channel(server: Endpoint): Promise<Channel> {
    const k = this.key(server);
    let slots = this.slots.get(k);
    if (!slots) {
      slots = new Array(this.opts.socketsPerServer).fill(undefined);
      this.slots.set(k, slots);
    }
    const i = random16() % slots.length;
    const cur = slots[i];
    if (cur && !(cur.ch && (cur.ch.retired || cur.ch.closed))) return cur;
    const p: Slot = this.open(server).then((ch) => {
      p.ch = ch;
      return ch;
    });
    // A failed open must not poison the slot.
    p.catch(() => {
      if (slots[i] === p) slots[i] = undefined;
    });
    slots[i] = p;
    return p;
  }

  private async open(server: Endpoint): Promise<Channel> {
    const sock = await bindRandom(server.family);
    const ch = new Channel(sock, () => this.foreign++);
    ch.remote = server;
    this.all.add(ch);
    sock.on('close', () => this.all.delete(ch));
    await new Promise<void>((resolve, reject) => {
      sock.connect(server.port, server.host, (err?: Error) => {
        if (err) {
          ch.retired = true;
          ch.close();
          reject(new TransportError('socket', `${formatEndpoint(server)}: ${err.message}`));
        } else {
          // Compare sources with the kernel's spelling of the address ('::1', not '0:0::1').
          const r = sock.remoteAddress();
          ch.remote = { ...server, host: r.address, port: r.port };
          resolve();
        }
      });
    });
    return ch;
  }
}

/** A UDP socket bound to a random port (retrying on collisions, then letting the kernel choose). */
export function bindRandom(family: 4 | 6): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let tries = 0;
    const attempt = (): void => {
      const sock = createSocket(family === 6 ? 'udp6' : 'udp4');
      const port = tries < 8 ? randomPort() : 0;
      tries++;
      const onError = (err: NodeJS.ErrnoException): void => {
        sock.close();
        if (err.code === 'EADDRINUSE' && tries <= 8) attempt();
        else reject(new TransportError('socket', `cannot bind an upstream socket: ${err.message}`));
      };
      sock.once('error', onError);
      sock.bind(port, () => {
        sock.removeListener('error', onError);
        resolve(sock);
      });
    };
    attempt();
  });
}
