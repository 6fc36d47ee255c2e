// A minimal stub transport for `oedns lookup`: one question to one server over UDP, retried over TCP
// when truncated (RFC 7766). Random query ids and source ports, and a reply is accepted only from the
// server's address and port, with our id and our question (RFC 5452). The resolver passes its own
// upstream client to the validator instead of this.
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { TransportError } from '../util/errors';
import { tcpExchange } from './tcp-exchange';
import { decodeMessage, encodeMessage, makeQuery } from '../wire/message';
import { nameEquals } from '../wire/name';
import type { Message, Name } from '../wire/types';
import type { QueryFn } from '../dnssec/fetcher';

export interface NetQueryOptions {
  host: string;
  port: number;
  /** Per attempt, milliseconds. */
  timeoutMs?: number;
  /** UDP attempts before giving up. */
  tries?: number;
  /** Set RD (for a recursive server). Default true. */
  rd?: boolean;
  /** Counts queries sent (for benchmarks and tests). */
  onQuery?: (name: Name, type: number, transport: 'udp' | 'tcp') => void;
}

function matches(q: Message, r: Message): boolean {
  return (
    r.qr &&
    r.id === q.id &&
    r.questions.length === 1 &&
    nameEquals(r.questions[0]!.name, q.questions[0]!.name) &&
    r.questions[0]!.type === q.questions[0]!.type &&
    r.questions[0]!.class === q.questions[0]!.class
  );
}

function udpOnce(o: NetQueryOptions, q: Message, wire: Uint8Array, timeoutMs: number): Promise<Message | null> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | null, m: Message | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(m);
    };
    const timer = setTimeout(() => finish(null, null), timeoutMs);
    sock.on('error', (e) => finish(new TransportError('udp', `${o.host}:${o.port}: ${e.message}`), null));
    sock.on('message', (buf, rinfo) => {
      if (rinfo.port !== o.port || rinfo.address !== o.host) return; // spoofed or stray: keep waiting
      let m: Message;
      try {
        m = decodeMessage(new Uint8Array(buf));
      } catch {
        return;
      }
      if (matches(q, m)) finish(null, m);
    });
    // Port 0: the kernel picks a random ephemeral source port for each query.
    sock.bind(0, () => sock.send(wire, o.port, o.host));
  });
}

async function tcpOnce(o: NetQueryOptions, q: Message, wire: Uint8Array, timeoutMs: number): Promise<Message> {
  const bytes = await tcpExchange(o.host, o.port, wire, timeoutMs);
  const m = decodeMessage(bytes);
  if (!matches(q, m)) throw new TransportError('mismatch', 'TCP answer does not match the query');
  return m;
}

/** A QueryFn over UDP (then TCP on truncation) with DO and CD set: the validator judges for itself. */
export function netQuery(o: NetQueryOptions): QueryFn {
  const timeoutMs = o.timeoutMs ?? 2000;
  const tries = o.tries ?? 2;
  return async (name, type) => {
    const q = makeQuery(name, type, { id: randomInt(0, 65536), rd: o.rd ?? true, do: true, cd: true, udpSize: 1232 });
    const wire = encodeMessage(q);
    for (let i = 0; i < tries; i++) {
      o.onQuery?.(name, type, 'udp');
      const m = await udpOnce(o, q, wire, timeoutMs);
      if (!m) continue;
      if (!m.tc) return m;
      o.onQuery?.(name, type, 'tcp');
      return tcpOnce(o, q, wire, timeoutMs);
    }
    throw new TransportError('timeout', `${o.host}:${o.port}: no answer to ${name || '.'}/${type} after ${tries} tries`);
  };
}

/** 'host', 'host:port', '[v6]:port' or 'v6' → endpoint (default port 53). */
export function parseServer(text: string): { host: string; port: number } | null {
  let host = text.trim();
  let port = 53;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if ((host.match(/:/g) ?? []).length === 1) {
    const [h, p] = host.split(':');
    host = h!;
    port = Number(p);
  }
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/** First `nameserver` of a resolv.conf text. */
export function firstNameserver(resolvConf: string): string | null {
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) return m[1]!.replace(/%.*$/, '');
  }
  return null;
}
