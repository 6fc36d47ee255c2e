// A scripted upstream nameserver in Node (UDP, and TCP on the same port when asked): each test gives
// the handler that decides what to send back, so spoofing, silence, truncation and failures are easy
// to stage. Counts what it received.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { decodeMessage, encodeMessage, makeResponse } from '../../src/wire/message';
import { type Message, type RR } from '../../src/wire/types';
import { FrameReader, frame } from '../../src/resolver/framing';

export interface FakeUpstream {
  port: number;
  endpoint: string;
  received: Message[];
  sources: RemoteInfo[];
  tcpReceived: Message[];
  close(): Promise<void>;
}

export type UdpScript = (q: Message, reply: (msg: Message | Uint8Array) => void, rinfo: RemoteInfo, sock: Socket) => void;
export type TcpScript = (q: Message) => Message | undefined;

export function answerWith(q: Message, answers: RR[], opts: Partial<Message> = {}): Message {
  return { ...makeResponse(q, 0), aa: true, answers, ...opts };
}

export function aRecord(name: string, addr: string, ttl = 300): RR {
  return { name, type: 1, class: 1, ttl, rdata: Uint8Array.from(addr.split('.').map(Number)) };
}

export async function startFakeUpstream(udp: UdpScript, tcp?: TcpScript): Promise<FakeUpstream> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = sock.address().port;
  const received: Message[] = [];
  const sources: RemoteInfo[] = [];
  const tcpReceived: Message[] = [];
  sock.on('message', (buf, rinfo) => {
    let q: Message;
    try {
      q = decodeMessage(buf);
    } catch {
      return;
    }
    received.push(q);
    sources.push(rinfo);
    udp(q, (m) => sock.send(m instanceof Uint8Array ? m : encodeMessage(m), rinfo.port, rinfo.address), rinfo, sock);
  });
  let server: Server | undefined;
  if (tcp) {
    server = createServer((c) => {
      const reader = new FrameReader();
      c.on('data', (d: Buffer) => {
        for (const f of reader.push(d)) {
          const q = decodeMessage(f);
          tcpReceived.push(q);
          const r = tcp(q);
          if (r) c.write(frame(encodeMessage(r)));
        }
      });
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
  }
  return {
    port,
    endpoint: `127.0.0.1:${port}`,
    received,
    sources,
    tcpReceived,
    close: async () => {
      await new Promise<void>((r) => sock.close(() => r()));
      if (server) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
