// TCP slots against slowloris (review v11 F11): real sockets on loopback against listen(). Clients
// that trickle a byte of an unfinished frame before each idle timeout used to hold every slot for as
// long as they liked; now a frame must be whole within tcpFrameMs of its first byte, and a new client
// finding every slot taken gets the slot of the connection idle longest.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { DEFAULT_LISTEN, listen, type Listening } from '../../src/resolver/server';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const QUERY = Buffer.from([0, 12, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);

async function open(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  return s;
}

/** One query over a fresh connection: 'answered' or what went wrong, within 2 s. */
function ask(port: number): Promise<string> {
  return new Promise((res) => {
    const c = connect(port, '127.0.0.1');
    const t = setTimeout(() => {
      c.destroy();
      res('no answer in 2 s');
    }, 2000);
    c.on('error', () => undefined);
    c.on('close', () => {
      clearTimeout(t);
      res('closed without an answer');
    });
    c.on('data', () => {
      clearTimeout(t);
      res('answered');
      c.destroy();
    });
    c.on('connect', () => c.write(QUERY));
  });
}

describe('resolver/server: TCP slots (slowloris)', function () {
  this.timeout(20_000);
  let l: Listening | undefined;
  const socks: Socket[] = [];
  afterEach(async () => {
    for (const s of socks.splice(0)) s.destroy();
    await l?.close();
    l = undefined;
  });
  const start = async (o: { frameMs: number; idleMs: number; slots: number }, hold?: Promise<void>): Promise<number> => {
    l = await listen(
      {
        ...DEFAULT_LISTEN,
        tcpIdleMs: o.idleMs,
        tcpFrameMs: o.frameMs,
        maxTcpConnections: o.slots,
        listen: [{ host: '127.0.0.1', port: 0, family: 4 }],
        allow: () => true,
      },
      async (raw) => {
        if (hold && raw[0] === 0x66) await hold;
        const r = Buffer.from(raw);
        r[2]! |= 0x80;
        return r;
      },
    );
    return l.addresses[0]!.port;
  };

  it('closes connections that trickle a frame past tcpFrameMs, so every slot held that way frees up', async () => {
    const port = await start({ frameMs: 600, idleMs: 1000, slots: 16 });
    for (let i = 0; i < 16; i++) {
      const s = await open(port);
      s.write(Buffer.from([0xff, 0xff])); // a 65535-byte frame announced, never finished
      socks.push(s);
    }
    // One byte before each idle timeout: the idle timer alone never fires.
    const drip = setInterval(() => {
      for (const s of socks) if (!s.destroyed) s.write(Buffer.from([0]));
    }, 300);
    try {
      await sleep(1500);
      assert.equal(l!.stats().tcpSlowClosed, 16);
      assert.equal(l!.stats().tcpOpen, 0);
      assert.equal(await ask(port), 'answered');
    } finally {
      clearInterval(drip);
    }
  });

  it('a frame that arrives whole in pieces within tcpFrameMs is answered, and the next frame gets its own deadline', async () => {
    const port = await start({ frameMs: 600, idleMs: 5000, slots: 4 });
    const s = await open(port);
    socks.push(s);
    let answers = 0;
    s.on('data', () => answers++);
    for (let k = 0; k < 3; k++) {
      for (const b of QUERY) {
        s.write(Buffer.from([b]));
        await sleep(20); // 14 bytes over ~300 ms: slow but inside the deadline
      }
    }
    await sleep(100);
    assert.equal(answers, 3);
    assert.equal(l!.stats().tcpSlowClosed, 0);
    assert.ok(!s.destroyed);
  });

  it('with every slot taken, a new client gets the slot of the connection idle longest', async () => {
    const port = await start({ frameMs: 3000, idleMs: 30_000, slots: 8 });
    for (let i = 0; i < 8; i++) {
      const s = await open(port);
      socks.push(s);
      await sleep(10);
    }
    const closed: number[] = [];
    socks.forEach((s, i) => s.on('close', () => closed.push(i)));
    assert.equal(await ask(port), 'answered');
    await sleep(50);
    assert.deepEqual(closed, [0], 'the oldest idle connection made room');
    assert.equal(l!.stats().tcpEvicted, 1);
    assert.equal(l!.stats().tcpRejected, 0);
  });

  it('a connection that keeps a query plus one byte of the next pending is not busy: its slot goes to a new client', async () => {
    const port = await start({ frameMs: 3000, idleMs: 30_000, slots: 4 });
    for (let i = 0; i < 4; i++) {
      const s = await open(port);
      s.on('data', () => undefined);
      s.write(Buffer.concat([QUERY, QUERY.subarray(0, 1)]));
      socks.push(s);
    }
    await sleep(100);
    assert.equal(await ask(port), 'answered');
    assert.equal(l!.stats().tcpEvicted, 1);
    assert.equal(l!.stats().tcpRejected, 0);
  });

  it('connections busy with queries are not closed for a new one: it is refused', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const port = await start({ frameMs: 3000, idleMs: 30_000, slots: 4 }, hold);
    for (let i = 0; i < 4; i++) {
      const s = await open(port);
      s.write(Buffer.from([0, 12, 0x66, 0x66, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])); // held in flight
      socks.push(s);
    }
    await sleep(100);
    assert.equal(await ask(port), 'closed without an answer');
    assert.equal(l!.stats().tcpRejected, 1);
    assert.equal(l!.stats().tcpEvicted, 0);
    release();
  });
});
