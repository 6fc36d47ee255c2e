// A small DNS-over-UDP load client for bench/capture.ts: one socket per client, a 16-bit id and a
// high-resolution timer per query, so that time-to-answer is measured without spawning a process per
// query (dig's start-up alone would swamp sub-millisecond figures). Loopback only; every query has a
// deadline, so every loop here ends.
import { createSocket, type Socket } from 'node:dgram';

export interface Reply {
  /** Time from send to answer, milliseconds; NaN when the query timed out. */
  ms: number;
  /** RCODE of the answer; -1 when none came. */
  rcode: number;
  ancount: number;
}

const TYPES: Record<string, number> = { A: 1, AAAA: 28, IPSECKEY: 45 };

/** Query bytes with EDNS (1232), RD set, no DO: what a stub resolver sends. */
export function encodeQuery(id: number, name: string, type: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT: OPT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(TYPES[type] ?? Number(type), 0);
  tail.writeUInt16BE(1, 2); // IN
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]); // root, OPT, 1232, no flags, RDLEN 0
  return Buffer.concat([header, qname, tail, opt]);
}

interface Waiting {
  t0: bigint;
  timer: NodeJS.Timeout;
  done: (r: Reply) => void;
}

export class UdpClient {
  private readonly sock: Socket;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = Math.floor(Math.random() * 0xffff);
  private ready: Promise<void>;

  constructor(
    private readonly port: number,
    private readonly timeoutMs = 3000,
    private readonly host = '127.0.0.1',
  ) {
    this.sock = createSocket('udp4');
    this.sock.on('message', (m) => this.onMessage(m));
    this.sock.on('error', () => undefined);
    this.ready = new Promise((res) => this.sock.bind(0, '127.0.0.1', () => res()));
  }

  async query(name: string, type = 'A'): Promise<Reply> {
    await this.ready;
    let id = this.nextId;
    // Skip ids still in flight (a late answer must not be taken for a new query's).
    for (let i = 0; i < 0x10000 && this.waiting.has(id); i++) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    const bytes = encodeQuery(id, name, type);
    return new Promise<Reply>((done) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        done({ ms: NaN, rcode: -1, ancount: 0 });
      }, this.timeoutMs);
      this.waiting.set(id, { t0: process.hrtime.bigint(), timer, done });
      this.sock.send(bytes, this.port, this.host);
    });
  }

  private onMessage(m: Buffer): void {
    if (m.length < 12) return;
    const w = this.waiting.get(m.readUInt16BE(0));
    if (!w) return;
    const ms = Number(process.hrtime.bigint() - w.t0) / 1e6;
    clearTimeout(w.timer);
    this.waiting.delete(m.readUInt16BE(0));
    w.done({ ms, rcode: m[3]! & 0x0f, ancount: m.readUInt16BE(6) });
  }

  close(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    this.sock.close();
  }
}

export interface RunResult {
  /** Latencies of answered queries, ms, in completion order. */
  ms: number[];
  sent: number;
  lost: number;
  /** Answers whose RCODE was not NOERROR or that had no answer records. */
  bad: number;
  /** First few bad answers, for the log. */
  badNames: string[];
  seconds: number;
}

/**
 * Asks for every name once: `clients` clients, each with one query outstanding, taking the next name
 * from the shared list. clients = 1 is the sequential single-client case.
 */
export async function runNames(port: number, names: readonly string[], clients = 1, type = 'A', timeoutMs = 3000): Promise<RunResult> {
  const cs = Array.from({ length: clients }, () => new UdpClient(port, timeoutMs));
  const res: RunResult = { ms: [], sent: 0, lost: 0, bad: 0, badNames: [], seconds: 0 };
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async (c: UdpClient): Promise<void> => {
    while (next < names.length) {
      const name = names[next++]!;
      res.sent++;
      const r = await c.query(name, type);
      if (r.rcode < 0) {
        res.lost++;
        continue;
      }
      res.ms.push(r.ms);
      if (r.rcode !== 0 || r.ancount === 0) {
        res.bad++;
        if (res.badNames.length < 5) res.badNames.push(`${name} rcode=${r.rcode} an=${r.ancount}`);
      }
    }
  };
  try {
    await Promise.all(cs.map(worker));
  } finally {
    res.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const c of cs) c.close();
  }
  return res;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}
