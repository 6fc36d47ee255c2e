// `oedns serve`: the local resolver. Options and config-file keys are the same (kebab-case here,
// camelCase or kebab-case in the file); the command line wins over the file.
import { Command } from 'commander';
import { ServeConfigInput, readConfigFile, resolveServeConfig } from '../config/serve';
import { startServer } from '../resolver';
import { formatEndpoint } from '../resolver/endpoint';
import { dropPrivileges } from '../resolver/privileges';
import { OednsError } from '../util/errors';
import { createLogger } from '../util/log';
import { exitOnError } from './common';

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

interface ServeFlags {
  config?: string;
  listen?: string[];
  upstream?: string[];
  trustAnchor?: string;
  engine?: string;
  cacheSize?: string;
  cacheBytes?: string;
  allow?: string[];
  logLevel?: string;
  user?: string;
  upstreamTimeoutMs?: string;
  tcpIdleMs?: string;
  maxUdpSize?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the local resolver (UDP and TCP): forwards to the upstreams, caches, and (in later versions) validates and installs IPsec policies before answering.')
    .option('-c, --config <file>', 'config file (JSON, or YAML) with the same keys as these options')
    .option('-l, --listen <addr>', 'address[:port] to serve on, repeatable; [v6]:port for IPv6 (default 127.0.0.1:53)', collect)
    .option('-u, --upstream <addr>', 'upstream nameserver address[:port], repeatable, tried in order with failover (default: nameservers in /etc/resolv.conf that are not oedns itself)', collect)
    .option('--trust-anchor <file>', 'DNSSEC trust anchor file (DS or DNSKEY lines), handed to the validator')
    .option('--engine <name>', 'IKE engine: dry-run (the only one so far)')
    .option('--cache-size <n>', 'cache entries (default 10000)')
    .option('--cache-bytes <n>', 'cache memory bound in bytes (default 67108864)')
    .option('--allow <cidr>', 'also serve clients from this network, repeatable (loopback is always allowed)', collect)
    .option('--user <name>', "when started as root, switch to this user after binding (default: nobody if it exists; 'root' keeps root)")
    .option('--upstream-timeout-ms <ms>', 'per-attempt upstream timeout (default 1000)')
    .option('--tcp-idle-ms <ms>', 'close idle client TCP connections after this long (default 10000)')
    .option('--max-udp-size <n>', 'largest UDP answer we send and the EDNS size we advertise (default 1232)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .action(async (flags: ServeFlags, cmd: Command) => {
      try {
        await runServe(flags, cmd);
      } catch (err) {
        exitOnError(err);
      }
    });
}

async function runServe(flags: ServeFlags, cmd: Command): Promise<void> {
  const parent = cmd.parent;
  const cli: ServeConfigInput = {
    listen: flags.listen,
    upstream: flags.upstream,
    trustAnchor: flags.trustAnchor,
    engine: flags.engine,
    cacheSize: flags.cacheSize,
    cacheBytes: flags.cacheBytes,
    allow: flags.allow,
    user: flags.user,
    upstreamTimeoutMs: flags.upstreamTimeoutMs,
    tcpIdleMs: flags.tcpIdleMs,
    maxUdpSize: flags.maxUdpSize,
    // `oedns --log-level x serve` counts too, but its built-in default must not hide the file's value.
    logLevel: flags.logLevel ?? (parent?.getOptionValueSource('logLevel') === 'cli' ? (parent.opts().logLevel as string) : undefined),
  };
  const file = flags.config ? readConfigFile(flags.config) : {};
  const config = resolveServeConfig(file, cli);
  const log = createLogger(config.logLevel, 'oedns-serve');
  // Signals are caught from the start, so a SIGTERM during start-up also ends cleanly.
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, stats: server?.stats() }, 'stopping');
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    (server ? server.stop() : Promise.resolve()).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    server = await startServer(config, { log });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new OednsError('bind-failed', `cannot listen on ${config.listen.map(formatEndpoint).join(', ')}: ${e.message}`);
  }
  if (stopping) return void (await server.stop());
  const drop = dropPrivileges(config.user);
  log.info(
    {
      listen: server.addresses.map(formatEndpoint),
      upstream: config.upstream.map(formatEndpoint),
      allow: ['loopback', ...config.allow],
      engine: config.engine,
      trustAnchor: config.trustAnchor?.file,
      user: drop.dropped ? drop.user : drop.reason,
    },
    'listening',
  );
  // The serve command never resolves on its own: it runs until a signal.
  await new Promise<never>(() => undefined);
}
