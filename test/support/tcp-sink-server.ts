// A child process for the TCP backpressure test: the resolver's listener (src/resolver/server.ts)
// alone, answering every query with `answerBytes` of fresh data, so that the test can measure this
// process's RSS while clients that never read pile answers up. Talks to its parent over IPC:
// sends { port } when listening; on 'stats' answers { rss, stats }; exits on 'stop'.
// Usage: fork(tcp-sink-server.js, [maxTcpUnsentBytes | 'off', answerBytes, tcpIdleMs])
import { DEFAULT_LISTEN, listen } from '../../src/resolver/server';

async function main(): Promise<void> {
  const [capArg, sizeArg, idleArg] = process.argv.slice(2);
  const cap = capArg === 'off' ? Number.MAX_SAFE_INTEGER : Number(capArg);
  const size = Number(sizeArg);
  const server = await listen(
    {
      ...DEFAULT_LISTEN,
      listen: [{ host: '127.0.0.1', port: 0, family: 4 }],
      allow: () => true,
      maxTcpUnsentBytes: cap,
      tcpIdleMs: Number(idleArg),
    },
    async (raw) => {
      const out = Buffer.alloc(size, 0x61);
      out[0] = raw[0]!;
      out[1] = raw[1]!;
      return out;
    },
  );
  process.on('message', (m: string) => {
    if (m === 'stats') {
      // Collected first (the child runs with --expose-gc): the figure is what is held, not garbage.
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({ rss: process.memoryUsage().rss, stats: server.stats() });
    }
    if (m === 'stop') void server.close().then(() => process.exit(0));
  });
  process.send!({ port: server.addresses[0]!.port });
}

void main();
