// Forwards one question to the configured upstream servers. Each attempt uses a random id on a UDP socket
// bound to a random port (see udp-channels.ts); an answer is accepted only if it comes from the address and port we sent
// to and repeats our id and question (RFC 5452 §9.1). Anything else is counted and ignored, so a spoofer
// cannot end the wait early. TC=1 repeats the exchange over TCP. Timeouts and server failures move on to
// the next upstream; when every attempt failed the caller gets a TransportError (→ SERVFAIL).
import { connect } from 'node:net';
import { type Message, type Question, Rcode } from '../wire/types';
import { decodeMessage, encodeMessage, makeQuery } from '../wire/message';
import { nameEquals } from '../wire/name';
import { TransportError, WireError } from '../util/errors';
import { type Logger, silentLogger } from '../util/log';
import { type Endpoint, formatEndpoint } from './endpoint';
import { FrameReader, frame } from './framing';
import { random16 } from './random';
import { type ChannelOptions, DEFAULT_CHANNELS, UdpChannels } from './udp-channels';

export interface UpstreamOptions {
  servers: Endpoint[];
  /** Per attempt, milliseconds. */
  timeoutMs: number;
  /** Passes over the server list before giving up. */
  rounds: number;
  /** Upstream queries in flight at once; beyond it new questions fail fast (SERVFAIL). */
  maxOutstanding: number;
  /** EDNS0 payload size we advertise (RFC 9715 / DNS flag day 2020: 1232). */
  udpSize: number;
  /** Upstream UDP socket pool (sockets per server, uses per socket before a new random port). */
  channels?: ChannelOptions;
  log?: Logger;
}

export const DEFAULT_UPSTREAM: Omit<UpstreamOptions, 'servers'> = {
  timeoutMs: 1000,
  rounds: 2,
  maxOutstanding: 1000,
  udpSize: 1232,
};

export interface UpstreamStats {
  queries: number;
  udpAttempts: number;
  tcpAttempts: number;
  timeouts: number;
  /** Answers dropped because source, id or question did not match (RFC 5452). */
  mismatches: number;
  /** Datagrams from the right source that did not decode. */
  malformed: number;
  truncatedRetries: number;
  serverFailures: number;
  failed: number;
  busy: number;
  outstanding: number;
}

interface Health {
  fails: number;
  lastFail: number;
}

/** A failed server is tried last for this long, unless all of them failed. */
const PENALTY_MS = 30_000;

export class UpstreamPool {
  readonly opts: UpstreamOptions;
  private health: Health[];
  private readonly log: Logger;
  private outstanding = 0;
  private closed = false;
  /** TCP exchanges in flight, so that close() can abort them. */
  private readonly tcpExchanges = new Set<{ close(): void }>();
  private readonly channels: UdpChannels;
  private readonly counters = {
    queries: 0,
    udpAttempts: 0,
    tcpAttempts: 0,
    timeouts: 0,
    mismatches: 0,
    malformed: 0,
    truncatedRetries: 0,
    serverFailures: 0,
    failed: 0,
    busy: 0,
  };

  /**
   * `allowEmpty`: the servers come from a file that may name none yet (no network); questions then fail
   * with 'no-upstream' until setServers() gives some.
   */
  constructor(opts: UpstreamOptions, allowEmpty = false) {
    if (opts.servers.length === 0 && !allowEmpty) throw new TransportError('no-upstream', 'no upstream servers configured');
    this.opts = { ...opts };
    this.health = opts.servers.map(() => ({ fails: 0, lastFail: 0 }));
    this.log = opts.log ?? silentLogger;
    this.channels = new UdpChannels(opts.channels ?? DEFAULT_CHANNELS);
  }

  /** Resolves with the first acceptable answer; throws TransportError when every attempt failed. */
  async query(q: Question, flags: { cd?: boolean } = {}): Promise<Message> {
    if (this.closed) throw new TransportError('closed', 'upstream pool is closed');
    if (this.outstanding >= this.opts.maxOutstanding) {
      this.counters.busy++;
      throw new TransportError('busy', `more than ${this.opts.maxOutstanding} upstream queries outstanding`);
    }
    this.outstanding++;
    this.counters.queries++;
    try {
      return await this.tryAll(q, flags.cd ?? false);
    } finally {
      this.outstanding--;
    }
  }

  /**
   * Replaces the server list (the network changed). Queries in flight finish against the old servers;
   * sockets to servers no longer listed are closed once idle.
   */
  setServers(servers: Endpoint[]): void {
    const kept = new Set(servers.map(formatEndpoint));
    for (const old of this.opts.servers) if (!kept.has(formatEndpoint(old))) this.channels.dropServer(old);
    this.opts.servers = [...servers];
    this.health = servers.map(() => ({ fails: 0, lastFail: 0 }));
  }

  stats(): UpstreamStats {
    return { ...this.counters, mismatches: this.counters.mismatches + this.channels.foreign, outstanding: this.outstanding };
  }

  /** Aborts everything in flight (their queries fail) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const s of [...this.tcpExchanges]) s.close();
    this.channels.close();
  }

  private order(servers: Endpoint[], health: Health[]): number[] {
    const now = Date.now();
    const idx = servers.map((_, i) => i);
    const penalised = (i: number): number => (health[i]!.fails > 0 && now - health[i]!.lastFail < PENALTY_MS ? 1 : 0);
    return idx.sort((a, b) => penalised(a) - penalised(b) || a - b);
  }

  private async tryAll(q: Question, cd: boolean): Promise<Message> {
    if (this.opts.servers.length === 0) {
      this.counters.failed++;
      throw new TransportError('no-upstream', `no upstream nameserver known (the upstream file names none): cannot ask for ${q.name}`);
    }
    let last: unknown;
    // This question's view of the list: setServers() may replace both while it runs.
    const servers = this.opts.servers;
    const health = this.health;
    for (let round = 0; round < this.opts.rounds; round++) {
      for (const i of this.order(servers, health)) {
        if (this.closed) throw new TransportError('closed', 'upstream pool is closed');
        const server = servers[i]!;
        try {
          let answer = await this.exchangeUdp(server, q, cd);
          if (answer.tc) {
            this.counters.truncatedRetries++;
            answer = await this.exchangeTcp(server, q, cd);
          }
          // A query has two answers that say something about the name: NOERROR and NXDOMAIN. Any other
          // rcode (SERVFAIL, REFUSED, NOTIMP, FORMERR, but also NOTAUTH, NOTZONE, and YXDOMAIN, which a
          // resolver sends when a DNAME makes a name too long, RFC 6672 §2.2) carries no proof the
          // validator could check, so the next upstream is asked; if none does better, SERVFAIL.
          if (answer.rcode !== Rcode.NOERROR && answer.rcode !== Rcode.NXDOMAIN) {
            this.counters.serverFailures++;
            throw new TransportError('server-failure', `${formatEndpoint(server)} answered rcode ${answer.rcode}`);
          }
          health[i]!.fails = 0;
          return answer;
        } catch (err) {
          last = err;
          health[i]!.fails++;
          health[i]!.lastFail = Date.now();
          this.log.debug({ upstream: formatEndpoint(server), qname: q.name, err: (err as Error).message }, 'upstream attempt failed');
        }
      }
    }
    this.counters.failed++;
    const why = last instanceof Error ? last.message : String(last);
    throw new TransportError('all-upstreams-failed', `no upstream answered ${q.name}/${q.type}: ${why}`);
  }

  private encodeQuery(q: Question, cd: boolean, id = random16()): { id: number; bytes: Uint8Array } {
    const msg = makeQuery(q.name, q.type, { id, rd: true, do: true, cd, udpSize: this.opts.udpSize });
    msg.questions[0]!.class = q.class;
    return { id, bytes: encodeMessage(msg) };
  }

  /** Decodes and checks a candidate answer; returns undefined (and counts why) when it is not ours. */
  private accept(buf: Uint8Array, id: number, q: Question): Message | undefined {
    if (buf.length < 12 || ((buf[0]! << 8) | buf[1]!) !== id || (buf[2]! & 0x80) === 0) {
      this.counters.mismatches++;
      return undefined;
    }
    let msg: Message;
    try {
      msg = decodeMessage(buf);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.counters.malformed++;
      return undefined;
    }
    const aq = msg.questions[0];
    if (msg.questions.length !== 1 || !aq || aq.type !== q.type || aq.class !== q.class || !nameEquals(aq.name, q.name)) {
      this.counters.mismatches++;
      return undefined;
    }
    return msg;
  }

  private async exchangeUdp(server: Endpoint, q: Question, cd: boolean): Promise<Message> {
    this.counters.udpAttempts++;
    let answer: Message | undefined;
    await this.channels
      .exchange(
        server,
        (id) => this.encodeQuery(q, cd, id).bytes,
        (buf) => {
          answer = this.accept(buf, (buf[0]! << 8) | buf[1]!, q);
          return answer !== undefined;
        },
        this.opts.timeoutMs,
      )
      .catch((err: unknown) => {
        if (err instanceof TransportError && err.code === 'timeout') this.counters.timeouts++;
        throw err;
      });
    return answer!;
  }

  private exchangeTcp(server: Endpoint, q: Question, cd: boolean): Promise<Message> {
    this.counters.tcpAttempts++;
    const { id, bytes } = this.encodeQuery(q, cd);
    return new Promise<Message>((resolve, reject) => {
      let done = false;
      const sock = connect({ host: server.host, port: server.port });
      const handle = { close: () => finish(new TransportError('closed', 'upstream pool closed')) };
      const finish = (err: Error | null, msg?: Message): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.tcpExchanges.delete(handle);
        sock.destroy();
        if (err) reject(err);
        else resolve(msg!);
      };
      this.tcpExchanges.add(handle);
      const timer = setTimeout(() => {
        this.counters.timeouts++;
        finish(new TransportError('timeout', `${formatEndpoint(server)} (TCP) did not answer within ${this.opts.timeoutMs * 2} ms`));
      }, this.opts.timeoutMs * 2);
      const reader = new FrameReader();
      sock.on('connect', () => sock.write(frame(bytes)));
      sock.on('data', (chunk: Buffer) => {
        if (reader.pending + chunk.length > 70_000)
          return finish(new TransportError('tcp-overflow', `${formatEndpoint(server)} sent more than one message`));
        for (const m of reader.push(chunk)) {
          const msg = this.accept(m, id, q);
          if (msg) return finish(null, msg);
        }
      });
      sock.on('error', (err) => finish(new TransportError('tcp', `${formatEndpoint(server)} (TCP): ${err.message}`)));
      sock.on('close', () => finish(new TransportError('tcp', `${formatEndpoint(server)} (TCP) closed before answering`)));
    });
  }
}
