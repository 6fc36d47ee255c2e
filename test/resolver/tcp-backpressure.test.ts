// RFC 7766 §6.2.3 against memory exhaustion: clients that send queries and never read the answers.
// The listener runs in a child process (test/support/tcp-sink-server.ts) whose RSS we read; every
// answer is 16 KiB. Bound stated in docs/resolver.md: a connection holds at most 4 x 64 KiB of unsent
// answers (then it is closed), so 8 such clients cost at most 2 MiB; we allow 24 MiB for the
// allocator and GC timing. The control (cap off, as before) must grow far beyond that, or the test
// would prove nothing.
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { frame } from '../../src/resolver/framing';
import type { ServerStats } from '../../src/resolver/server';

const CLIENTS = 8;
const QUERIES = 4000;
const ANSWER = 16 * 1024;
const MiB = 1024 * 1024;

interface Sink {
  child: ChildProcess;
  port: number;
  ask(): Promise<{ rss: number; stats: ServerStats }>;
  stop(): Promise<void>;
}

async function startSink(cap: string, idleMs: number): Promise<Sink> {
  const child = fork(join(__dirname, '../support/tcp-sink-server.js'), [cap, String(ANSWER), String(idleMs)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--expose-gc'],
  });
  const port = await new Promise<number>((res, rej) => {
    child.once('message', (m: { port: number }) => res(m.port));
    child.once('exit', (c) => rej(new Error(`sink exited ${c}`)));
  });
  return {
    child,
    port,
    ask: () =>
      new Promise((res) => {
        child.once('message', (m: { rss: number; stats: ServerStats }) => res(m));
        child.send('stats');
      }),
    stop: () =>
      new Promise((res) => {
        child.once('exit', () => res());
        child.send('stop');
      }),
  };
}

/** Connect, send `n` queries at once, and never read. */
function flood(port: number, n: number): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      const q = (i: number): Buffer => frame(Buffer.from([i >> 8, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      s.write(Buffer.concat(Array.from({ length: n }, (_, i) => q(i))));
      res(s);
    });
    s.on('error', rej);
  });
}

async function run(cap: string, idleMs: number, settleMs: number): Promise<{ growth: number; stats: ServerStats; closed: number }> {
  const sink = await startSink(cap, idleMs);
  const socks: Socket[] = [];
  try {
    const base = (await sink.ask()).rss;
    let closed = 0;
    for (let i = 0; i < CLIENTS; i++) {
      const s = await flood(sink.port, QUERIES);
      s.on('close', () => closed++);
      s.on('error', () => undefined);
      socks.push(s);
    }
    let peak = base;
    let last = await sink.ask();
    for (let t = 0; t < settleMs; t += 100) {
      await new Promise((r) => setTimeout(r, 100));
      last = await sink.ask();
      peak = Math.max(peak, last.rss);
    }
    return { growth: peak - base, stats: last.stats, closed };
  } finally {
    for (const s of socks) s.destroy();
    await sink.stop();
  }
}

describe('resolver/server: TCP clients that do not read cannot grow our memory', function () {
  this.timeout(60_000);

  it(`${CLIENTS} non-reading clients x ${QUERIES} queries of 16 KiB answers: RSS grows < 48 MiB, and they are closed after the idle timeout`, async () => {
    const r = await run(String(64 * 1024), 1500, 3000);
    assert.ok(r.growth < 48 * MiB, `RSS grew by ${(r.growth / MiB).toFixed(1)} MiB`);
    assert.ok(r.stats.tcpBackpressure >= CLIENTS, JSON.stringify(r.stats));
    assert.equal(r.stats.tcpStallClosed, CLIENTS, JSON.stringify(r.stats));
    assert.equal(r.stats.tcpOpen, 0);
    // Answering stopped long before every query was answered: the rest were never run.
    assert.ok(r.stats.tcpSent < (CLIENTS * QUERIES) / 4, JSON.stringify(r.stats));
    console.log(`      RSS growth with the cap: ${(r.growth / MiB).toFixed(1)} MiB`);
  });

  it('control: with the cap off (the old behaviour) the same clients grow RSS by far more', async () => {
    const r = await run('off', 60_000, 3000);
    assert.ok(r.growth > 128 * MiB, `RSS grew by only ${(r.growth / MiB).toFixed(1)} MiB`);
    console.log(`      RSS growth without it: ${(r.growth / MiB).toFixed(1)} MiB`);
  });
});
