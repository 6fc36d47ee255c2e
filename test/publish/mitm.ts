// An on-path attacker on loopback between `oedns publish` and a real named, for the publish tests:
// UDP and TCP on one port, forwarding to named, with a hook that may replace each answer. Used to
// prove that what publish reads at the primary cannot be rewritten or replayed unnoticed.
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { decodeName } from '../../src/wire/name';

export interface Mitm {
  endpoint: string;
  close(): Promise<void>;
}

/** What the hook sees: the query's bytes, named's answer, and the transport. Return bytes to send instead. */
export type MitmHook = (query: Uint8Array, answer: Uint8Array, transport: 'udp' | 'tcp') => Uint8Array | undefined;

function udpAsk(host: string, port: number, wire: Uint8Array): Promise<Uint8Array> {
  return new Promise((res, rej) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => (s.close(), rej(new Error('udp timeout'))), 3000);
    s.on('message', (m) => (clearTimeout(t), s.close(), res(new Uint8Array(m))));
    s.send(wire, port, host);
  });
}

function tcpAsk(host: string, port: number, wire: Uint8Array): Promise<Uint8Array> {
  return new Promise((res, rej) => {
    const s = connect({ host, port });
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => (s.destroy(), rej(new Error('tcp timeout'))), 5000);
    s.on('connect', () => {
      const l = Buffer.alloc(2);
      l.writeUInt16BE(wire.length);
      s.write(Buffer.concat([l, Buffer.from(wire)]));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(t);
        s.destroy();
        res(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
    s.on('error', (e) => (clearTimeout(t), rej(e)));
  });
}

export async function startMitm(upstream: { host: string; port: number }, hook: MitmHook): Promise<Mitm> {
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  udp.on('message', (m, rinfo) => {
    const q = new Uint8Array(m);
    udpAsk(upstream.host, upstream.port, q).then(
      (a) => udp.send(hook(q, a, 'udp') ?? a, rinfo.port, rinfo.address),
      () => undefined,
    );
  });
  const tcp = createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      buf = Buffer.alloc(0);
      tcpAsk(upstream.host, upstream.port, q).then(
        (a) => {
          const out = hook(q, a, 'tcp') ?? a;
          const l = Buffer.alloc(2);
          l.writeUInt16BE(out.length);
          c.write(Buffer.concat([l, Buffer.from(out)]));
        },
        () => c.destroy(),
      );
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  return {
    endpoint: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        udp.close();
        tcp.close(() => r());
      }),
  };
}

/** The question type of a query or answer (first question). */
export function qtype(wire: Uint8Array): number {
  const { next } = decodeName(wire, 12);
  return (wire[next]! << 8) | wire[next + 1]!;
}

/** The answer with the TTL of every answer-section record of `type` set to `ttl`, in place (a TSIG stays as it was). */
export function withTtl(wire: Uint8Array, type: number, ttl: number): Uint8Array {
  const out = wire.slice();
  const qd = (out[4]! << 8) | out[5]!;
  const an = (out[6]! << 8) | out[7]!;
  let p = 12;
  for (let i = 0; i < qd; i++) p = decodeName(out, p).next + 4;
  for (let i = 0; i < an; i++) {
    const at = decodeName(out, p).next;
    if (((out[at]! << 8) | out[at + 1]!) === type) new DataView(out.buffer, out.byteOffset).setUint32(at + 4, ttl);
    p = at + 10 + ((out[at + 8]! << 8) | out[at + 9]!);
  }
  return out;
}
