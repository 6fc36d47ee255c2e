// Sockets only: UDP and TCP listeners on every --listen address, handing each query's bytes to a
// handler and sending back what it returns. TCP follows RFC 7766: two-byte length framing, many queries
// per connection answered as they complete (possibly out of order), an idle timeout, a bound on
// connections and on queries in flight per connection (reading pauses when it is reached), and
// backpressure (§6.2.3): while a connection's unsent output is above a cap, its queries are not read;
// if it stays there for the idle timeout, or would grow past four times the cap, the connection is
// closed. A client that never reads thus holds at most 4 x maxTcpUnsentBytes of our memory.
//
// Slots: a client must deliver a whole length-prefixed query within tcpFrameMs of its first byte (a
// client trickling a byte before each idle timeout held its slot forever: 256 of them, any local
// user, took DNS over TCP from everybody). When every slot is taken, the connection idle longest is
// closed for the new one (RFC 7766 §6.2.3: under pressure, close idle connections first); only when
// none is idle or slow is the new connection refused.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import { type Logger, silentLogger } from '../util/log';
import { type Endpoint, formatEndpoint } from './endpoint';
import { FrameReader, frame } from './framing';
import { type ClientInfo } from './pipeline';

export type QueryHandler = (raw: Uint8Array, client: ClientInfo) => Promise<Uint8Array | null>;

export interface ListenOptions {
  listen: Endpoint[];
  /** RFC 7766 §6.2.3: close a TCP connection idle this long, milliseconds. */
  tcpIdleMs: number;
  maxTcpConnections: number;
  /** A query's frame must be complete this long after its first byte arrived, milliseconds. */
  tcpFrameMs?: number;
  maxInflightPerConnection: number;
  /** Unsent answer bytes of one connection above which its queries are no longer read. */
  maxTcpUnsentBytes: number;
  /** Checked at accept time so that a disallowed peer cannot even hold a TCP connection. */
  allow: (address: string) => boolean;
  log?: Logger;
}

export const DEFAULT_LISTEN: Omit<ListenOptions, 'listen' | 'allow'> = {
  tcpIdleMs: 10_000,
  maxTcpConnections: 256,
  tcpFrameMs: 3000,
  maxInflightPerConnection: 32,
  maxTcpUnsentBytes: 64 * 1024,
};

/** A connection whose unsent output would exceed this many times the cap is closed at once. */
export const TCP_HARD_FACTOR = 4;

export interface ServerStats {
  udpReceived: number;
  udpSent: number;
  tcpConnections: number;
  tcpOpen: number;
  tcpRejected: number;
  tcpReceived: number;
  tcpSent: number;
  tcpIdleClosed: number;
  /** Times a connection stopped being read because its client did not read our answers. */
  tcpBackpressure: number;
  /** Connections closed because their client kept not reading (stalled, or past the hard bound). */
  tcpStallClosed: number;
  /** Connections closed because a query frame was not complete within tcpFrameMs of its first byte. */
  tcpSlowClosed: number;
  /** Idle (or slow) connections closed to make room for a new one when every slot was taken. */
  tcpEvicted: number;
  sendErrors: number;
}

export interface Listening {
  /** The addresses actually bound (port 0 resolved). */
  addresses: Endpoint[];
  stats(): ServerStats;
  close(): Promise<void>;
}

export async function listen(opts: ListenOptions, handler: QueryHandler): Promise<Listening> {
  const log = opts.log ?? silentLogger;
  const stats: ServerStats = {
    udpReceived: 0,
    udpSent: 0,
    tcpConnections: 0,
    tcpOpen: 0,
    tcpRejected: 0,
    tcpReceived: 0,
    tcpSent: 0,
    tcpIdleClosed: 0,
    tcpBackpressure: 0,
    tcpStallClosed: 0,
    tcpSlowClosed: 0,
    tcpEvicted: 0,
    sendErrors: 0,
  };
  const udps: UdpSocket[] = [];
  const tcps: TcpServer[] = [];
  // Open connections → what makeRoom() needs to know about each.
  const conns = new Map<Socket, () => { idleSince?: number; frameSince?: number }>();
  const addresses: Endpoint[] = [];
  let closing = false;

  const closeAll = async (): Promise<void> => {
    closing = true;
    for (const c of conns.keys()) c.destroy();
    await Promise.all([
      ...udps.map(
        (u) =>
          new Promise<void>((r) => {
            try {
              u.close(() => r());
            } catch {
              r();
            }
          }),
      ),
      ...tcps.map((t) => new Promise<void>((r) => t.close(() => r()))),
    ]);
  };

  try {
    for (const ep of opts.listen) {
      const { udp, tcp } = await bindPair(ep);
      udps.push(udp);
      tcps.push(tcp);
      const port = udp.address().port;
      addresses.push({ ...ep, port });
      udp.on('message', (msg, rinfo) => {
        stats.udpReceived++;
        const client: ClientInfo = { address: rinfo.address, port: rinfo.port, transport: 'udp' };
        handler(msg, client).then(
          (reply) => {
            if (!reply || closing) return;
            udp.send(reply, rinfo.port, rinfo.address, (err) => {
              if (err) {
                stats.sendErrors++;
                log.warn({ client: rinfo.address, err: err.message }, 'UDP send failed');
              } else stats.udpSent++;
            });
          },
          (err: unknown) => log.error({ err: String(err) }, 'UDP handler failed'),
        );
      });
      udp.on('error', (err) => log.error({ listen: formatEndpoint(ep), err: err.message }, 'UDP socket error'));
      tcp.on('connection', (sock) => onConnection(sock));
      tcp.on('error', (err) => log.error({ listen: formatEndpoint(ep), err: err.message }, 'TCP listener error'));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  /**
   * Every slot taken: close the connection that has been idle longest (nothing in flight, queued or
   * unsent, no partial frame), else the one whose partial frame is oldest past a second (a slow
   * sender). False when every connection is busy with queries: the new one is refused then.
   */
  function makeRoom(now: number): boolean {
    let victim: { sock: Socket; since: number } | undefined;
    let slow: { sock: Socket; since: number } | undefined;
    for (const [sock, c] of conns) {
      const st = c();
      if (st.idleSince !== undefined && (!victim || st.idleSince < victim.since)) victim = { sock, since: st.idleSince };
      if (st.frameSince !== undefined && now - st.frameSince >= 1000 && (!slow || st.frameSince < slow.since))
        slow = { sock, since: st.frameSince };
    }
    const out = victim ?? slow;
    if (!out) return false;
    stats.tcpEvicted++;
    conns.delete(out.sock);
    out.sock.destroy();
    return true;
  }

  function onConnection(sock: Socket): void {
    const address = sock.remoteAddress ?? '';
    if (closing || !opts.allow(address) || (conns.size >= opts.maxTcpConnections && !makeRoom(Date.now()))) {
      stats.tcpRejected++;
      sock.destroy();
      return;
    }
    stats.tcpConnections++;
    stats.tcpOpen = conns.size;
    const client: ClientInfo = { address, port: sock.remotePort ?? 0, transport: 'tcp' };
    const reader = new FrameReader();
    let inflight = 0;
    let ended = false;
    // When the connection last had nothing to do, and when the partial frame now read began.
    let idleSince: number | undefined = Date.now();
    let frameSince: number | undefined;
    let frameTimer: NodeJS.Timeout | undefined;
    conns.set(sock, () => ({
      // A partial frame does not make a connection busy: a client that sends a query plus one byte of
      // the next every second would otherwise never count as idle (nor slow) and hold its slot forever.
      idleSince: inflight === 0 && queued.length === 0 && !blocked && sock.writableLength === 0 ? idleSince : undefined,
      frameSince,
    }));
    sock.setNoDelay(true);
    // A listener of its own: setTimeout(ms, cb) registers cb with once(), and a fired timer does not
    // re-arm by itself, so both are renewed by hand.
    sock.on('timeout', () => {
      // Idle means nothing in flight either (RFC 7766 §6.2.3): a slow upstream must not cut the client off.
      if (inflight > 0) return void sock.setTimeout(opts.tcpIdleMs);
      stats.tcpIdleClosed++;
      sock.destroy();
    });
    sock.setTimeout(opts.tcpIdleMs);
    const maybeFinish = (): void => {
      // The client half-closed: answer what is pending, then close our side.
      if (ended && inflight === 0 && queued.length === 0 && !sock.destroyed) sock.end();
    };
    // Frames beyond the in-flight bound, or read while the client is not reading our answers, wait
    // here; while any wait, the socket is paused, so this queue holds at most what one read delivered.
    const queued: Buffer[] = [];
    // Backpressure: the client is not reading our answers (unsent output above the cap).
    let blocked = false;
    let stall: NodeJS.Timeout | undefined;
    const cap = opts.maxTcpUnsentBytes;
    const kill = (): void => {
      stats.tcpStallClosed++;
      sock.destroy();
    };
    const send = (buf: Buffer): void => {
      if (sock.writableLength + buf.length > cap * TCP_HARD_FACTOR) return kill();
      sock.write(buf);
      stats.tcpSent++;
      if (!blocked && sock.writableLength > cap) {
        blocked = true;
        stats.tcpBackpressure++;
        sock.pause();
        stall = setTimeout(kill, opts.tcpIdleMs);
        stall.unref();
      }
    };
    const pump = (): void => {
      while (!blocked && inflight < opts.maxInflightPerConnection && queued.length > 0 && !sock.destroyed) dispatch(queued.shift()!);
      if (!blocked && queued.length === 0 && sock.isPaused() && !sock.destroyed) sock.resume();
    };
    sock.on('drain', () => {
      if (!blocked) return;
      blocked = false;
      clearTimeout(stall);
      pump();
      maybeFinish();
    });
    const dispatch = (f: Buffer): void => {
      inflight++;
      handler(f, client)
        .then(
          (reply) => {
            if (reply && !sock.destroyed && !closing) send(frame(reply));
          },
          (err: unknown) => log.error({ err: String(err) }, 'TCP handler failed'),
        )
        .finally(() => {
          inflight--;
          pump();
          // The idle period starts when the last answer has gone out.
          if (inflight === 0) idleSince = Date.now();
          if (inflight === 0 && !sock.destroyed) sock.setTimeout(opts.tcpIdleMs);
          maybeFinish();
        });
    };
    const frameMs = opts.tcpFrameMs ?? DEFAULT_LISTEN.tcpFrameMs!;
    sock.on('data', (chunk: Buffer) => {
      const frames = reader.push(chunk);
      // The deadline runs from the first byte of a frame; the bytes left after the last complete
      // frame start the next one now.
      if (frames.length > 0 || reader.pending === 0) {
        clearTimeout(frameTimer);
        frameTimer = undefined;
        frameSince = undefined;
      }
      if (reader.pending > 0 && frameTimer === undefined) {
        frameSince = Date.now();
        frameTimer = setTimeout(() => {
          stats.tcpSlowClosed++;
          sock.destroy();
        }, frameMs);
        frameTimer.unref();
      }
      for (const f of frames) {
        stats.tcpReceived++;
        if (!blocked && inflight < opts.maxInflightPerConnection) dispatch(f);
        else {
          queued.push(f);
          sock.pause();
        }
      }
      if (frames.length > 0 && inflight === 0 && queued.length === 0) idleSince = Date.now();
    });
    sock.on('end', () => {
      ended = true;
      maybeFinish();
    });
    sock.on('error', (err) => log.debug({ client: address, err: err.message }, 'TCP connection error'));
    sock.on('close', () => {
      clearTimeout(stall);
      clearTimeout(frameTimer);
      conns.delete(sock);
      stats.tcpOpen = conns.size;
    });
  }

  return { addresses, stats: () => ({ ...stats, tcpOpen: conns.size }), close: closeAll };
}

/**
 * UDP first: with port 0 the kernel picks a port, and TCP then binds the same number, which another
 * socket may already hold for TCP: then another port is tried (a few times), as the kernel's choice
 * was arbitrary anyway. A port the user named is never changed.
 */
async function bindPair(ep: Endpoint): Promise<{ udp: UdpSocket; tcp: TcpServer }> {
  for (let attempt = 0; ; attempt++) {
    const udp = await bindUdp(ep);
    try {
      return { udp, tcp: await bindTcp({ ...ep, port: udp.address().port }) };
    } catch (e) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (ep.port !== 0 || attempt >= 8 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
}

function bindUdp(ep: Endpoint): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: ep.family === 6 ? 'udp6' : 'udp4', ipv6Only: ep.family === 6 });
    sock.once('error', reject);
    sock.bind(ep.port, ep.host, () => {
      sock.removeListener('error', reject);
      resolve(sock);
    });
  });
}

function bindTcp(ep: Endpoint): Promise<TcpServer> {
  return new Promise((resolve, reject) => {
    const srv = createServer({ allowHalfOpen: true, pauseOnConnect: false });
    srv.once('error', reject);
    srv.listen({ host: ep.host, port: ep.port, ipv6Only: ep.family === 6, backlog: 128 }, () => {
      srv.removeListener('error', reject);
      resolve(srv);
    });
  });
}
