// The forwarding resolver core alone (startServer: ACL, parse, cache, upstream; no validator, no capture
// hook), configured exactly like `oedns serve` from the same options. The resolver benchmark runs this so
// that its figures stay the forwarding path's even as later stages join `oedns serve`.
// Usage: node dist/bench/resolver-serve.js --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT [--cache-size N]
import { resolveServeConfig } from '../src/config/serve';
import { startServer } from '../src/resolver';
import { createLogger } from '../src/util/log';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (k: string): string[] => args.flatMap((a, i) => (a === k && args[i + 1] !== undefined ? [args[i + 1]!] : []));
  const config = resolveServeConfig(
    {},
    {
      listen: get('--listen'),
      upstream: get('--upstream'),
      cacheSize: get('--cache-size')[0],
      logLevel: get('--log-level')[0] ?? 'warn',
    },
  );
  const log = createLogger(config.logLevel, 'oedns-resolver-bench');
  const server = await startServer(config, { log });
  const stop = (): void => {
    // One line on stdout for the benchmark: counters and resident memory with the cache as it is now.
    process.stdout.write(`${JSON.stringify({ stats: server.stats(), rss: process.memoryUsage().rss })}\n`);
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(String(err));
  process.exit(1);
});
