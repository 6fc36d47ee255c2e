// The socket layer alone (listen), with a handler the test controls: RFC 7766 bounds on TCP.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { listen, DEFAULT_LISTEN, type Listening } from '../../src/resolver/server';
import { FrameReader, frame } from '../../src/resolver/framing';

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

describe('resolver/server listeners (TCP bounds)', () => {
  let server: Listening | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await server?.close();
    server = undefined;
  });

  it('never runs more than maxInflightPerConnection queries of one connection at once, and answers them all', async () => {
    let running = 0;
    let peak = 0;
    const waiting: Array<() => void> = [];
    server = await listen(
      { ...DEFAULT_LISTEN, listen: [{ host: '127.0.0.1', port: 0, family: 4 }], allow: () => true, maxInflightPerConnection: 4 },
      async (raw) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => waiting.push(r));
        running--;
        return raw; // echo
      },
    );
    const s = await open(server.addresses[0]!.port);
    sockets.push(s);
    const reader = new FrameReader();
    const got: number[] = [];
    const all = new Promise<void>((resolve) => {
      s.on('data', (d: Buffer) => {
        for (const f of reader.push(d)) got.push(f.readUInt16BE(0));
        if (got.length === 20) resolve();
      });
    });
    s.write(Buffer.concat(Array.from({ length: 20 }, (_, i) => frame(Buffer.from([0, i, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])))));
    // Release held queries one by one until every answer is back (bounded loop).
    for (let i = 0; i < 400 && got.length < 20; i++) {
      await new Promise((r) => setTimeout(r, 5));
      waiting.shift()?.();
    }
    await all;
    assert.ok(peak <= 4, `peak ${peak} queries in flight`);
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
  });

  it('closes connections beyond maxTcpConnections at once when none is idle (tcp-slots.test: idle ones make room)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    server = await listen(
      { ...DEFAULT_LISTEN, listen: [{ host: '127.0.0.1', port: 0, family: 4 }], allow: () => true, maxTcpConnections: 2 },
      async (raw) => {
        await held;
        return raw;
      },
    );
    after(() => release());
    const port = server.addresses[0]!.port;
    const busy = [await open(port), await open(port)];
    for (const b of busy) b.write(Buffer.from([0, 12, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
    sockets.push(...busy);
    await new Promise((r) => setTimeout(r, 50));
    const third = await open(port);
    sockets.push(third);
    await new Promise<void>((r) => third.on('close', () => r()));
    assert.equal(server.stats().tcpRejected, 1);
    assert.equal(server.stats().tcpOpen, 2);
  });

  it('closes TCP connections from clients the ACL refuses', async () => {
    server = await listen(
      { ...DEFAULT_LISTEN, listen: [{ host: '127.0.0.1', port: 0, family: 4 }], allow: () => false },
      async (raw) => raw,
    );
    const s = await open(server.addresses[0]!.port);
    sockets.push(s);
    await new Promise<void>((r) => s.on('close', () => r()));
    assert.equal(server.stats().tcpRejected, 1);
  });
});
