// An attacker on the path between oedns and its upstream, for tests: an in-process UDP+TCP proxy on
// loopback in front of a real named. Every query is forwarded to named as received (id, flags, EDNS,
// DO/CD), and each test installs the attack that turns named's genuine answer into the attacker's:
// strip or add records, re-sign, flip the rcode, spoof, truncate, stall. Replies too large for the
// client's UDP size are truncated (TC) as a server would, so big forged answers go over TCP.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, connect, type Server, type Socket as TcpSocket } from 'node:net';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/message';
import { FrameReader, frame } from '../../src/resolver/framing';
import type { Message, Name, RR } from '../../src/wire/types';

export type Transport = 'udp' | 'tcp';

/** One query on its way through the proxy. */
export interface Exchange {
  query: Message;
  transport: Transport;
  /** named's genuine answer to this very query (over TCP when named truncates). */
  forward(): Promise<Message>;
  /** named's genuine answer to another question (DO and CD set), to borrow records from. */
  ask(name: Name, type: number): Promise<Message>;
}

/** What the attacker sends back: a message, raw bytes, several replies in order, a delay, or nothing. */
export type Reply = Message | { raw: Uint8Array } | { delayMs: number; then: Reply } | { all: Reply[] } | null;

export type Attack = (x: Exchange) => Promise<Reply>;

/** The honest path: named's answer, untouched. */
export const passThrough: Attack = (x) => x.forward();

export interface HostileUpstream {
  port: number;
  endpoint: string;
  /** Replaced per test; applies to every query until changed. */
  attack: Attack;
  /** Queries seen, as "name TYPE transport" (for assertions that a path was taken). */
  seen: string[];
  close(): Promise<void>;
}

const TYPE_NAMES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  28: 'AAAA',
  39: 'DNAME',
  43: 'DS',
  45: 'IPSECKEY',
  46: 'RRSIG',
  47: 'NSEC',
  48: 'DNSKEY',
  50: 'NSEC3',
};

/** Sends `wire` to named over UDP, then TCP if truncated; resolves with the decoded reply. */
async function toNamed(host: string, port: number, wire: Uint8Array, timeoutMs = 3000): Promise<Message> {
  const id = (wire[0]! << 8) | wire[1]!;
  const udp = await new Promise<Message>((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`named did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('message', (buf) => {
      let m: Message;
      try {
        m = decodeMessage(new Uint8Array(buf));
      } catch {
        return;
      }
      if (m.id !== id) return;
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(wire, port, host);
  });
  if (!udp.tc) return udp;
  return new Promise<Message>((resolve, reject) => {
    const c = connect({ host, port });
    const reader = new FrameReader();
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`named did not answer over TCP within ${timeoutMs} ms`));
    }, timeoutMs);
    c.on('connect', () => c.write(frame(wire)));
    c.on('data', (d: Buffer) => {
      for (const f of reader.push(d)) {
        clearTimeout(t);
        c.destroy();
        try {
          resolve(decodeMessage(f));
        } catch (e) {
          reject(e);
        }
      }
    });
    c.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** The largest UDP reply the client accepts (RFC 6891 §6.2.5; 512 without EDNS). */
function udpLimit(q: Message): number {
  return q.edns ? Math.max(512, q.edns.udpSize) : 512;
}

/** RFC 2181 §9: too big for UDP: the header and question, with TC set. */
function truncated(m: Message): Message {
  return { ...m, tc: true, answers: [], authorities: [], additionals: [] };
}

export async function startHostileUpstream(named: { address: string; port: number }): Promise<HostileUpstream> {
  const sock: Socket = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = sock.address().port;
  const timers = new Set<NodeJS.Timeout>();
  const conns = new Set<TcpSocket>();
  let closed = false;

  const ask = async (name: Name, type: number): Promise<Message> => {
    const q = makeQuery(name, type, { rd: false, do: true, cd: true });
    return toNamed(named.address, named.port, encodeMessage(q));
  };

  const self: HostileUpstream = {
    port,
    endpoint: `127.0.0.1:${port}`,
    attack: passThrough,
    seen: [],
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => sock.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  /** Turns a Reply into wire sends (in order, honouring delays). */
  const deliver = async (reply: Reply, q: Message, send: (b: Uint8Array) => void, transport: Transport): Promise<void> => {
    if (reply === null || closed) return;
    if ('all' in reply) {
      for (const r of reply.all) await deliver(r, q, send, transport);
      return;
    }
    if ('delayMs' in reply) {
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          timers.delete(t);
          r();
        }, reply.delayMs);
        timers.add(t);
      });
      return deliver(reply.then, q, send, transport);
    }
    if ('raw' in reply) return send(reply.raw);
    let wire = encodeMessage(reply);
    if (transport === 'udp' && wire.length > udpLimit(q)) wire = encodeMessage(truncated(reply));
    send(wire);
  };

  const handle = async (q: Message, wire: Uint8Array, transport: Transport, send: (b: Uint8Array) => void): Promise<void> => {
    const question = q.questions[0];
    if (question) self.seen.push(`${question.name || '.'} ${TYPE_NAMES[question.type] ?? question.type} ${transport}`);
    const x: Exchange = { query: q, transport, forward: () => toNamed(named.address, named.port, wire), ask };
    try {
      await deliver(await self.attack(x), q, send, transport);
    } catch {
      /* named down or the attack threw: the client sees silence, as with a dead upstream */
    }
  };

  sock.on('message', (buf: Buffer, rinfo: RemoteInfo) => {
    let q: Message;
    try {
      q = decodeMessage(new Uint8Array(buf));
    } catch {
      return;
    }
    void handle(q, new Uint8Array(buf), 'udp', (b) => {
      if (!closed) sock.send(b, rinfo.port, rinfo.address);
    });
  });

  const server: Server = createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => undefined);
    const reader = new FrameReader();
    c.on('data', (d: Buffer) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(d);
      } catch {
        c.destroy();
        return;
      }
      for (const f of frames) {
        let q: Message;
        try {
          q = decodeMessage(f);
        } catch {
          continue;
        }
        // A raw reply goes out exactly as given (garbage TCP); messages get their length prefix.
        void handle(q, f, 'tcp', (b) => {
          if (!c.destroyed) c.write(rawOrFramed.has(b) ? Buffer.from(b) : frame(b));
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return self;
}

/** Raw replies are marked so TCP sends them without a length prefix (see garbage()). */
const rawOrFramed = new WeakSet<Uint8Array>();

/** Bytes sent exactly as given, even over TCP (no length prefix added): for garbage replies. */
export function garbage(bytes: Uint8Array): Reply {
  rawOrFramed.add(bytes);
  return { raw: bytes };
}

// ------------------------------------------------------------------------------------ message edits

/** Copy of `m` with `f` applied to every section. */
export function mapSections(m: Message, f: (rrs: RR[], section: 'answers' | 'authorities' | 'additionals') => RR[]): Message {
  return {
    ...m,
    answers: f(m.answers, 'answers'),
    authorities: f(m.authorities, 'authorities'),
    additionals: f(m.additionals, 'additionals'),
  };
}

export const isRrsig = (r: RR): boolean => r.type === 46;
export const covers = (r: RR): number => (r.rdata[0]! << 8) | r.rdata[1]!;

/** Every RRSIG removed. */
export function stripRrsigs(m: Message): Message {
  return mapSections(m, (rrs) => rrs.filter((r) => !isRrsig(r)));
}

/** The question's name matches (case-insensitive) one of `names`. */
export function asks(x: Exchange, name: Name, type?: number): boolean {
  const q = x.query.questions[0];
  return !!q && q.name.toLowerCase() === name.toLowerCase() && (type === undefined || q.type === type);
}
