// A hostile network path between oedns and its upstream: a UDP and TCP proxy in front of a real
// named that damages a share of named's real answers at random — flipped bits, cut messages, counts
// that lie, sections sent twice, garbage after the question, the TC bit, a changed RCODE, answers
// held back or never sent. Random damage, not crafted attacks (test/support/hostile-upstream.ts has
// those). It counts every query oedns sends per question, so a test can see whether a broken chain
// is fetched again and again. Loopback only; `share` 0 makes it an honest relay.
//
//   const p = await startMutatingUpstream({ upstream: named.endpoint, share: 0.3, seed: 7 });
//   ... oedns serve --upstream p.endpoint ...
//   p.setShare(0);            // the path heals
//   p.stats().queries, p.stats().perQuestion.get('h1.x.test/1')
//   await p.close();
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { decodeMessage, encodeMessage } from '../../src/wire/message';
import { FrameReader, frame } from '../../src/resolver/framing';
import { Rng } from './rng';

export const MUTATIONS = ['flip', 'truncate', 'counts', 'duplicate', 'garbage', 'tc', 'rcode', 'delay', 'drop'] as const;
export type Mutation = (typeof MUTATIONS)[number];

export interface MutatingUpstreamOptions {
  /** named's `host:port`. */
  upstream: string;
  /** Share of answers damaged, 0..1. */
  share: number;
  seed?: number;
  /** Relative weights of the mutations (default: all equal). */
  weights?: Partial<Record<Mutation, number>>;
  /** Hold-back time of `delay`, ms (default 100..2500: some beyond a 1 s upstream timeout). */
  delayMs?: [number, number];
}

export interface MutatingUpstreamStats {
  /** Queries received from the resolver (UDP + TCP). */
  queries: number;
  udp: number;
  tcp: number;
  /** Answers passed on unchanged. */
  honest: number;
  mutated: Record<Mutation, number>;
  /** Queries per question, `name/type` with the name lower-cased. */
  perQuestion: Map<string, number>;
}

export interface MutatingUpstream {
  endpoint: string;
  port: number;
  setShare(share: number): void;
  stats(): MutatingUpstreamStats;
  /** Zero the counters (e.g. between phases). */
  resetCounts(): void;
  close(): Promise<void>;
}

/** `n` bytes of `rng`, one int(256) each (the stream a seed gave before Rng was shared). */
function bytesOf(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function questionKey(q: Buffer): string {
  try {
    const m = decodeMessage(q);
    const x = m.questions[0];
    return x ? `${x.name.toLowerCase()}/${x.type}` : '(no question)';
  } catch {
    return '(undecodable)';
  }
}

/** Where the question section of a message ends (header + QNAME + type + class), or 12. */
function questionEnd(m: Buffer): number {
  let i = 12;
  while (i < m.length) {
    const l = m[i]!;
    if (l === 0) return Math.min(m.length, i + 5);
    if ((l & 0xc0) === 0xc0) return Math.min(m.length, i + 6);
    i += l + 1;
  }
  return Math.min(m.length, 12);
}

/** One damaged copy of `m` (never longer than 65,535 bytes). `delay` and `drop` are the caller's. */
export function damage(kind: Exclude<Mutation, 'delay' | 'drop'>, m: Buffer, rng: Rng): Buffer {
  const c = Buffer.from(m);
  switch (kind) {
    case 'flip': {
      for (let n = 1 + rng.int(4); n > 0; n--) {
        const at = c.length > 12 && rng.next() < 0.9 ? 12 + rng.int(c.length - 12) : rng.int(c.length);
        c[at] = c[at]! ^ (1 << rng.int(8));
      }
      return c;
    }
    case 'truncate':
      return c.subarray(0, 2 + rng.int(Math.max(1, c.length - 2)));
    case 'counts':
      if (c.length >= 12) c.writeUInt16BE([0, 1, 2, 255, 65535][rng.int(5)]!, 6 + 2 * rng.int(3));
      return c;
    case 'duplicate': {
      try {
        const msg = decodeMessage(c);
        const which = rng.int(3);
        if (which === 0) msg.answers = [...msg.answers, ...msg.answers];
        else if (which === 1) msg.authorities = [...msg.authorities, ...msg.authorities];
        else msg.additionals = [...msg.additionals, ...msg.additionals];
        const out = Buffer.from(encodeMessage(msg, { compress: true }));
        return out.length <= 65_535 ? out : c;
      } catch {
        return damage('flip', m, rng);
      }
    }
    case 'garbage': {
      const end = questionEnd(c);
      const out = Buffer.concat([c.subarray(0, end), bytesOf(rng, 1 + rng.int(600))]);
      out.writeUInt16BE(rng.int(8), 6);
      out.writeUInt16BE(rng.int(8), 8);
      out.writeUInt16BE(rng.int(8), 10);
      return out;
    }
    case 'tc':
      if (c.length >= 12) c[2] = c[2]! | 0x02;
      return c;
    case 'rcode':
      if (c.length >= 12) c[3] = (c[3]! & 0xf0) | [2, 3, 5, 1, 4][rng.int(5)]!;
      return c;
  }
}

export async function startMutatingUpstream(o: MutatingUpstreamOptions): Promise<MutatingUpstream> {
  const [uHost, uPortText] = o.upstream.split(/:(?=\d+$)/) as [string, string];
  const uPort = Number(uPortText);
  const rng = new Rng(o.seed ?? 1);
  let share = o.share;
  const weights = MUTATIONS.map((k) => o.weights?.[k] ?? 1);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const [dMin, dMax] = o.delayMs ?? [100, 2500];
  const zero = (): Record<Mutation, number> => Object.fromEntries(MUTATIONS.map((k) => [k, 0])) as Record<Mutation, number>;
  let st: MutatingUpstreamStats = { queries: 0, udp: 0, tcp: 0, honest: 0, mutated: zero(), perQuestion: new Map() };
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const pick = (): Mutation | null => {
    if (share <= 0 || rng.next() >= share) return null;
    let x = rng.next() * totalWeight;
    for (let i = 0; i < MUTATIONS.length; i++) if ((x -= weights[i]!) < 0) return MUTATIONS[i]!;
    return 'flip';
  };
  /** Passes `answer` to `send` honestly or damaged, now, later or never. */
  const pass = (answer: Buffer, send: (b: Buffer) => void): void => {
    const kind = pick();
    if (kind === null) {
      st.honest++;
      return send(answer);
    }
    st.mutated[kind]++;
    if (kind === 'drop') return;
    if (kind === 'delay') return later(dMin + rng.int(Math.max(1, dMax - dMin)), () => send(answer));
    send(damage(kind, answer, rng));
  };
  const count = (q: Buffer, via: 'udp' | 'tcp'): void => {
    st.queries++;
    st[via]++;
    const k = questionKey(q);
    st.perQuestion.set(k, (st.perQuestion.get(k) ?? 0) + 1);
  };

  // ---- UDP: one socket towards named, ids remapped so answers find their way back -----------------
  let front!: UdpSocket;
  const back: UdpSocket = createSocket('udp4');
  const waiting = new Map<number, { rinfo: RemoteInfo; id: number; at: number }>();
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  const onQuery = (q: Buffer, rinfo: RemoteInfo): void => {
    if (q.length < 12) return;
    count(q, 'udp');
    let id = rng.int(65536);
    for (let i = 0; i < 65536 && waiting.has(id); i++) id = (id + 1) & 0xffff;
    if (waiting.has(id)) return; // 65,536 in flight: drop, as a congested path would
    waiting.set(id, { rinfo, id: q.readUInt16BE(0), at: Date.now() });
    const out = Buffer.from(q);
    out.writeUInt16BE(id, 0);
    back.send(out, uPort, uHost);
  };
  back.on('message', (a) => {
    if (a.length < 12) return;
    const w = waiting.get(a.readUInt16BE(0));
    if (!w) return;
    waiting.delete(a.readUInt16BE(0));
    const out = Buffer.from(a);
    out.writeUInt16BE(w.id, 0);
    pass(out, (b) => front.send(b, w.rinfo.port, w.rinfo.address));
  });
  back.on('error', () => undefined);
  // Forget queries named never answered (it may drop what it cannot parse).
  const sweep = setInterval(() => {
    const old = Date.now() - 10_000;
    for (const [k, w] of waiting) if (w.at < old) waiting.delete(k);
  }, 5000);

  // ---- TCP: one connection to named per client connection, each answer frame passed or damaged ----
  const conns = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect({ host: uHost, port: uPort });
    conns.add(client);
    conns.add(up);
    const fromClient = new FrameReader();
    const fromUp = new FrameReader();
    const end = (): void => {
      client.destroy();
      up.destroy();
      conns.delete(client);
      conns.delete(up);
    };
    client.on('data', (c: Buffer) => {
      for (const f of fromClient.push(c)) {
        count(f, 'tcp');
        up.write(frame(f));
      }
    });
    up.on('data', (c: Buffer) => {
      for (const f of fromUp.push(c)) {
        pass(f, (b) => {
          if (client.destroyed) return;
          // A damaged TCP answer may also lose the end of its frame, and the connection with it.
          if (b.length < f.length && rng.next() < 0.5) {
            client.write(frame(f).subarray(0, 2 + b.length));
            return end();
          }
          client.write(frame(b.subarray(0, 65_535)));
        });
      }
    });
    for (const s of [client, up]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  // UDP and TCP on the same port number, so one endpoint serves both: take a TCP port the kernel
  // picks and bind UDP to it, trying again if that UDP port is taken.
  let port = 0;
  for (let attempt = 0; attempt < 20 && port === 0; attempt++) {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const p = (server.address() as { port: number }).port;
    const sock = createSocket('udp4');
    const ok = await new Promise<boolean>((res) => {
      const fail = (): void => res(false);
      sock.once('error', fail);
      sock.bind(p, '127.0.0.1', () => {
        sock.off('error', fail);
        res(true);
      });
    });
    if (ok) {
      port = p;
      front = sock;
    } else {
      sock.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
  if (port === 0) throw new Error('mutating upstream: no free UDP+TCP port pair');
  front.on('message', onQuery);
  front.on('error', () => undefined);

  return {
    endpoint: `127.0.0.1:${port}`,
    port,
    setShare: (x) => (share = x),
    stats: () => ({ ...st, mutated: { ...st.mutated }, perQuestion: new Map(st.perQuestion) }),
    resetCounts: () => (st = { queries: 0, udp: 0, tcp: 0, honest: 0, mutated: zero(), perQuestion: new Map() }),
    async close() {
      clearInterval(sweep);
      for (const t of timers) clearTimeout(t);
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all([front, back].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
