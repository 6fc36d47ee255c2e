// Honest DNS clients for the reliability suite: a UDP client that keeps many queries in flight on one
// socket and decodes each answer, a one-shot TCP query, and a prober that asks names with known
// answers at a steady pace and keeps score (right, wrong, unanswered, latency). Loopback only;
// every query has a deadline.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/message';
import { decodeA } from '../../src/wire/rdata';
import { RRType } from '../../src/wire/types';
import { FrameReader, frame } from '../../src/resolver/framing';

export interface Answer {
  /** -1: no answer within the deadline; -2: an answer that did not decode. */
  rcode: number;
  /** A records of the answer section, owner and address. */
  a: Array<{ name: string; address: string }>;
  /** Types in the answer section. */
  types: number[];
  ms: number;
}

const NONE: Omit<Answer, 'ms'> = { rcode: -1, a: [], types: [] };

export function queryBytes(id: number, name: string, type: number, dnssecOk = false): Uint8Array {
  return encodeMessage(makeQuery(name, type, { id, rd: true, do: dnssecOk, udpSize: 1232 }));
}

function decodeAnswer(bytes: Uint8Array, ms: number): Answer {
  try {
    const m = decodeMessage(bytes);
    return {
      rcode: m.rcode,
      a: m.answers.filter((r) => r.type === RRType.A).map((r) => ({ name: r.name.toLowerCase(), address: decodeA(r.rdata) })),
      types: m.answers.map((r) => r.type),
      ms,
    };
  } catch {
    return { rcode: -2, a: [], types: [], ms };
  }
}

export class UdpResolver {
  private readonly sock: Socket;
  private readonly waiting = new Map<number, { t0: bigint; timer: NodeJS.Timeout; done: (a: Answer) => void }>();
  private nextId = Math.floor(Math.random() * 0xffff);
  private readonly ready: Promise<void>;

  constructor(
    private readonly port: number,
    private readonly timeoutMs = 3000,
  ) {
    this.sock = createSocket('udp4');
    this.sock.on('message', (m) => this.onMessage(m));
    this.sock.on('error', () => undefined);
    this.ready = new Promise((r) => this.sock.bind(0, '127.0.0.1', () => r()));
  }

  async query(name: string, type: number = RRType.A): Promise<Answer> {
    await this.ready;
    let id = this.nextId;
    for (let i = 0; i < 0x10000 && this.waiting.has(id); i++) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    const bytes = queryBytes(id, name, type);
    return new Promise<Answer>((done) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        done({ ...NONE, ms: NaN });
      }, this.timeoutMs);
      this.waiting.set(id, { t0: process.hrtime.bigint(), timer, done });
      this.sock.send(bytes, this.port, '127.0.0.1');
    });
  }

  private onMessage(m: Buffer): void {
    if (m.length < 12) return;
    const id = m.readUInt16BE(0);
    const w = this.waiting.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(id);
    w.done(decodeAnswer(m, Number(process.hrtime.bigint() - w.t0) / 1e6));
  }

  close(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    this.sock.close();
  }
}

/** One query over a fresh TCP connection. */
export function tcpQuery(port: number, name: string, type: number = RRType.A, timeoutMs = 3000): Promise<Answer> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const sock = connect({ host: '127.0.0.1', port });
    const reader = new FrameReader();
    const finish = (a: Answer): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ ...NONE, ms: NaN }), timeoutMs);
    sock.on('connect', () => sock.write(frame(queryBytes(0x4242, name, type))));
    sock.on('data', (c: Buffer) => {
      const f = reader.push(c)[0];
      if (f) finish(decodeAnswer(f, Number(process.hrtime.bigint() - t0) / 1e6));
    });
    sock.on('error', () => finish({ ...NONE, ms: NaN }));
    sock.on('close', () => finish({ ...NONE, ms: NaN }));
  });
}

/** Is `a` exactly the answer the zone publishes for `name` (one A record, that address)? */
export function isRight(a: Answer, name: string, address: string): boolean {
  return a.rcode === 0 && a.a.length >= 1 && a.a.every((r) => r.address === address) && a.a.some((r) => r.name === name.toLowerCase());
}

export interface ProbeScore {
  sent: number;
  right: number;
  /** Answers carrying an address the zone does not publish for the name: must stay 0. */
  wrong: number;
  /** SERVFAIL or other error answers. */
  failed: number;
  unanswered: number;
  tcpSent: number;
  tcpRight: number;
  ms: number[];
  /** Per tick: [seconds since start, latency ms or NaN]. */
  series: Array<[number, number]>;
}

/**
 * Asks `targets` (names with known addresses) in turn, `perSecond` times a second over UDP (and every
 * `tcpEvery`-th over TCP), until stopped. A query counts as right only with the published address.
 */
export class Prober {
  readonly score: ProbeScore = { sent: 0, right: 0, wrong: 0, failed: 0, unanswered: 0, tcpSent: 0, tcpRight: 0, ms: [], series: [] };
  private timer: NodeJS.Timeout | undefined;
  private readonly udp: UdpResolver;
  private readonly inflight = new Set<Promise<void>>();
  private i = 0;
  private readonly t0 = Date.now();

  constructor(
    private readonly port: number,
    private readonly targets: ReadonlyArray<{ name: string; address: string }>,
    private readonly opts: { perSecond: number; tcpEvery?: number; timeoutMs?: number; tries?: number; keepSeries?: boolean },
  ) {
    this.udp = new UdpResolver(port, opts.timeoutMs ?? 2000);
  }

  start(): this {
    this.timer = setInterval(() => this.tick(), 1000 / this.opts.perSecond);
    return this;
  }

  private tick(): void {
    const t = this.targets[this.i++ % this.targets.length]!;
    const viaTcp = this.opts.tcpEvery !== undefined && this.i % this.opts.tcpEvery === 0;
    this.score.sent++;
    if (viaTcp) this.score.tcpSent++;
    const ask = async (): Promise<Answer> => {
      const t0 = Date.now();
      for (let i = 1; ; i++) {
        const a = await (viaTcp ? tcpQuery(this.port, t.name, RRType.A, this.opts.timeoutMs ?? 2000) : this.udp.query(t.name));
        if (a.rcode !== -1 || i >= (this.opts.tries ?? 1)) return { ...a, ms: a.rcode === -1 ? NaN : i === 1 ? a.ms : Date.now() - t0 };
      }
    };
    const p = ask().then((a) => {
      if (a.rcode === -1) this.score.unanswered++;
      else if (a.a.some((r) => r.address !== t.address)) this.score.wrong++;
      else if (isRight(a, t.name, t.address)) {
        this.score.right++;
        if (viaTcp) this.score.tcpRight++;
        this.score.ms.push(a.ms);
      } else this.score.failed++;
      if (this.opts.keepSeries) this.score.series.push([(Date.now() - this.t0) / 1000, a.ms]);
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  async stop(): Promise<ProbeScore> {
    clearInterval(this.timer);
    await Promise.all([...this.inflight]);
    this.udp.close();
    return this.score;
  }
}

/** Asks every target once (`width` at a time) and returns how many came back right, and the misses. */
export async function checkAll(
  port: number,
  targets: ReadonlyArray<{ name: string; address: string }>,
  width = 20,
  timeoutMs = 3000,
): Promise<{ right: number; wrong: number; misses: string[] }> {
  const c = new UdpResolver(port, timeoutMs);
  let right = 0;
  let wrong = 0;
  const misses: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const t = targets[next++]!;
      const a = await c.query(t.name);
      if (isRight(a, t.name, t.address)) right++;
      else {
        if (a.a.some((r) => r.address !== t.address)) wrong++;
        misses.push(`${t.name}: rcode ${a.rcode}, ${a.a.map((r) => r.address).join(',') || 'no A'}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: width }, worker));
  } finally {
    c.close();
  }
  return { right, wrong, misses };
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}
