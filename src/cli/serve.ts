// `oedns serve`: the local resolver. Options and config-file keys are the same (kebab-case here,
// camelCase or kebab-case in the file); the command line wins over the file.
import { Command } from 'commander';
import { ServeConfigInput, readConfigFile, resolveServeConfig } from '../config/serve';
import { hostname } from 'node:os';
import { startDaemon, RunningDaemon } from '../daemon/daemon';
import { engineFromConfig } from '../daemon/engine-config';
import { defaultControlPath } from '../control/protocol';
import { parseTrustAnchors, ROOT_ANCHORS } from '../dnssec/anchors';
import { defaultPolicy } from '../policy';
import { loadPolicyFile } from './policy';
import { DEFAULT_STATE_PATH, strongswanKeyRollover } from '../autosp';
import { formatEndpoint } from '../resolver/endpoint';
import { dropPrivileges, handOverDir } from '../resolver/privileges';
import { dirname } from 'node:path';
import { ConfigError, OednsError } from '../util/errors';
import { createLogger } from '../util/log';
import { exitOnError } from './common';
import { responderFromConfig } from '../responder/from-config';

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
  policy?: string;
  vici?: string;
  identity?: string;
  key?: string;
  initiate?: boolean;
  control?: string;
  autospState?: string;
  responderAllow?: string[];
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the local resolver (UDP and TCP): forwards to the upstreams, validates every answer with DNSSEC from the trust anchors, caches, and installs IPsec policies for the peers the policy selects before answering.')
    .option('-c, --config <file>', 'config file (JSON, or YAML) with the same keys as these options')
    .option('-l, --listen <addr>', 'address[:port] to serve on, repeatable; [v6]:port for IPv6 (default 127.0.0.1:53)', collect)
    .option('-u, --upstream <addr>', 'upstream nameserver address[:port], repeatable, tried in order with failover (default: nameservers in /etc/resolv.conf that are not oedns itself)', collect)
    .option('--trust-anchor <file>', 'DNSSEC trust anchor file (DS or DNSKEY lines), handed to the validator')
    .option('--engine <name>', 'IKE engine: dry-run (default: logs what it would do), strongswan (VICI), libreswan (ipsec whack)')
    .option('--policy <file>', 'capture policy (YAML or JSON): which names and addresses must, may or must not be encrypted (default: private-or-clear for all)')
    .option('--vici <path>', "strongSwan's VICI socket (default /var/run/charon.vici)")
    .option('--identity <fqdn>', 'our IKE identity, the name whose IPSECKEY publishes our key (default: the host name)')
    .option('--key <file>', 'our private key from `oedns keygen` (default /etc/oedns/host.key.pem)')
    .option('--initiate', 'start IKE as soon as a peer is installed (needed with kernel-libipsec, whose trap policies start nothing)')
    .option('--control <path>', "control socket for `oedns status`, or 'none' (default /run/oedns/control.sock as root)")
    .option('--autosp-state <file>', `autosp's state file: its peers are kept from start-up on and autosp commands go through this daemon; 'none' to leave autosp out (default ${DEFAULT_STATE_PATH})`)
    .option('--responder-allow <name>', "IKE queries DNS: when an unknown initiator's IKE identity is this name (or, as .zone, any name below zone), look up its IPSECKEY and accept it if DNSSEC-secure; repeatable; none by default (nothing is looked up). strongswan engine only", collect)
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
    policy: flags.policy,
    vici: flags.vici,
    identity: flags.identity,
    key: flags.key,
    initiate: flags.initiate,
    control: flags.control,
    autospState: flags.autospState,
    responderAllow: flags.responderAllow,
    // `oedns --log-level x serve` counts too, but its built-in default must not hide the file's value.
    logLevel: flags.logLevel ?? (parent?.getOptionValueSource('logLevel') === 'cli' ? (parent.opts().logLevel as string) : undefined),
  };
  const file = flags.config ? readConfigFile(flags.config) : {};
  const config = resolveServeConfig(file, cli, { hostname, controlPath: () => defaultControlPath(), autospStatePath: () => DEFAULT_STATE_PATH });
  const policy = config.policyFile ? await loadPolicyFile(config.policyFile) : defaultPolicy();
  const anchors = config.trustAnchor ? parseTrustAnchors(config.trustAnchor.text) : ROOT_ANCHORS;
  if (anchors.length === 0) throw new ConfigError('no-anchor', `${config.trustAnchor?.file} holds no DS or DNSKEY trust anchor`);
  const log = createLogger(config.logLevel, 'oedns-serve');
  // Signals are caught from the start, so a SIGTERM during start-up also ends cleanly.
  let server: RunningDaemon | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, stats: server?.server.stats() }, 'stopping');
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
  for (const w of policy.warnings) log.warn({ policy: config.policyFile }, w);
  const engine = await engineFromConfig(config.engineConfig, log, policy.fallback);
  try {
    server = await startDaemon({
      serve: config, engine, policy, anchors, initiate: config.engineConfig.initiate, controlPath: config.control, log,
      autospState: config.autospState,
      responder: responderFromConfig(config, log),
      keyRollover: config.engine === 'strongswan' ? strongswanKeyRollover(config.engineConfig.vici, log) : undefined,
    });
  } catch (err) {
    await engine.close().catch(() => undefined);
    if (err instanceof OednsError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new OednsError('bind-failed', `cannot listen on ${config.listen.map(formatEndpoint).join(', ')}: ${e.message}`);
  }
  if (stopping) return void (await server.stop());
  // SIGHUP re-reads the policy; a broken file keeps the old policy (and says why).
  process.on('SIGHUP', () => {
    if (!config.policyFile) return;
    loadPolicyFile(config.policyFile).then(
      (p) => {
        server?.setPolicy(p);
        log.info({ policy: config.policyFile }, 'policy reloaded');
      },
      (e: Error) => log.error({ policy: config.policyFile, err: e.message }, 'policy not reloaded; keeping the old one'),
    );
  });
  // The IKE engines need root to reach charon's socket again after it restarts, so with a real
  // engine we keep root unless a user is named explicitly (one in charon's VICI group).
  const user = config.user ?? (config.engine === 'dry-run' ? undefined : 'root');
  if (config.autospState) {
    const warning = handOverDir(dirname(config.autospState), user);
    if (warning) log.warn({ autospState: config.autospState }, warning);
  }
  const drop = dropPrivileges(user);
  log.info(
    {
      listen: server.server.addresses.map(formatEndpoint),
      control: config.control,
      policy: config.policyFile ?? 'built-in default (private-or-clear)',
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
