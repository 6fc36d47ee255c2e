// `oedns serve`: the local resolver. Options and config-file keys are the same (kebab-case here,
// camelCase or kebab-case in the file, /etc/oedns/oedns.yaml by default); the command line wins over
// the file. `--check-config` checks everything and exits; SIGHUP and `oedns control reload` re-read
// the file and apply what a running daemon can change.
import { type Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { type ServeConfig, type ServeConfigInput, defaultTrustAnchorFile, resolveServeConfig } from '../config/serve';
import { loadConfig } from '../config/file';
import { startDaemon, type RunningDaemon, type ReloadReport } from '../daemon/daemon';
import { engineFromConfig } from '../daemon/engine-config';
import { defaultControlPath } from '../control/protocol';
import { parseTrustAnchors, ROOT_ANCHORS, type TrustAnchor } from '../dnssec/anchors';
import { defaultPolicy, type Policy } from '../policy';
import { loadPolicyFile } from './policy';
import { DEFAULT_STATE_PATH } from '../autosp';
import { formatEndpoint } from '../resolver/endpoint';
import { canUseSocket, dropPrivileges, handOverDir } from '../resolver/privileges';
import { loadTrustState, stateOwners } from '../trust/state-file';
import { TrustAnchorManager } from '../trust/refresher';
import { ConfigError, OednsError } from '../util/errors';
import { createLogger, type Logger } from '../util/log';
import { sdNotifier } from '../util/sd-notify';
import { exitOnError } from './common';
import { responderFromConfig } from '../responder/from-config';

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

interface ServeFlags {
  config?: string;
  checkConfig?: boolean;
  listen?: string[];
  upstream?: string[];
  upstreamFile?: string;
  trustAnchor?: string;
  trustAnchorState?: string;
  nta?: string[];
  engine?: string;
  cacheSize?: string;
  cacheBytes?: string;
  cacheHot?: string;
  allow?: string[];
  logLevel?: string;
  logFormat?: string;
  user?: string;
  upstreamTimeoutMs?: string;
  tcpIdleMs?: string;
  tcpFrameMs?: string;
  maxUdpSize?: string;
  policy?: string;
  vici?: string;
  identity?: string;
  key?: string;
  initiate?: boolean;
  control?: string;
  autospState?: string;
  responderAllow?: string[];
  ikeProposals?: string[];
  espProposals?: string[];
  ipsecMode?: string;
  ikeLifetime?: string;
  childLifetime?: string;
  shuntGraceSec?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'Run the local resolver (UDP and TCP): forwards to the upstreams, validates every answer with DNSSEC from the trust anchors, caches, and installs IPsec policies for the peers the policy selects before answering.',
    )
    .option(
      '-c, --config <file>',
      "config file (YAML, or JSON) with the same keys as these options (default /etc/oedns/oedns.yaml when it exists; 'none' for none)",
    )
    .option(
      '--check-config',
      'check the configuration (file, policy, trust anchors, key) and exit: 0 when good, 2 with the reason otherwise',
    )
    .option('-l, --listen <addr>', 'address[:port] to serve on, repeatable; [v6]:port for IPv6 (default 127.0.0.1:53)', collect)
    .option(
      '-u, --upstream <addr>',
      'upstream nameserver address[:port], repeatable, tried in order with failover (default: nameservers in /etc/resolv.conf that are not oedns itself)',
      collect,
    )
    .option(
      '--upstream-file <file>',
      'take the upstreams from this resolv.conf-syntax file and follow its changes (e.g. /run/NetworkManager/no-stub-resolv.conf); our own addresses in it are skipped',
    )
    .option(
      '--trust-anchor <file>',
      `DNSSEC trust anchor file (DS or DNSKEY lines) (default ${defaultTrustAnchorFile() ?? 'the built-in IANA root anchors'})`,
    )
    .option(
      '--trust-anchor-state <file>',
      "RFC 5011 state file: follow the trust anchors' key rollovers (e.g. /var/lib/oedns/trust-anchors.json); 'none' for static anchors (default)",
    )
    .option('--nta <name>', 'negative trust anchor (RFC 7646): do not validate this name and below, repeatable', collect)
    .option('--engine <name>', 'IKE engine: dry-run (default: logs what it would do), strongswan (VICI), libreswan (ipsec whack)')
    .option(
      '--policy <file>',
      'capture policy (YAML or JSON): which names and addresses must, may or must not be encrypted (default: private-or-clear for all)',
    )
    .option('--vici <path>', "strongSwan's VICI socket (default /var/run/charon.vici)")
    .option('--identity <fqdn>', 'our IKE identity, the name whose IPSECKEY publishes our key (default: the host name)')
    .option('--key <file>', 'our private key from `oedns keygen` (default /etc/oedns/host.key.pem)')
    .option('--initiate', 'start IKE as soon as a peer is installed (needed with kernel-libipsec, whose trap policies start nothing)')
    .option(
      '--ike-proposals <list>',
      'IKE proposals, strongSwan syntax, repeatable (default aes256-sha256-x25519, aes128-sha256-x25519, aes256-sha256-modp2048)',
      collect,
    )
    .option(
      '--esp-proposals <list>',
      'ESP proposals; a DH group gives PFS on rekey, repeatable (default aes256-sha256-x25519, aes128-sha256-x25519)',
      collect,
    )
    .option('--ipsec-mode <mode>', 'tunnel (default) or transport')
    .option('--ike-lifetime <duration>', 'IKE SA rekey time: seconds or 30m, 4h, 1d (default 4h)')
    .option('--child-lifetime <duration>', 'CHILD SA rekey time (default 1h)')
    .option(
      '--control <path>',
      "control socket for `oedns status` and `oedns control`, or 'none' (default /run/oedns/control.sock as root)",
    )
    .option(
      '--autosp-state <file>',
      `autosp's state file: its peers are kept from start-up on and autosp commands go through this daemon; 'none' to leave autosp out (default ${DEFAULT_STATE_PATH})`,
    )
    .option(
      '--responder-allow <name>',
      "IKE queries DNS: when an unknown initiator's IKE identity is this name (or, as .zone, any name below zone), look up its IPSECKEY and accept it if DNSSEC-secure; repeatable; none by default (nothing is looked up). strongswan engine only",
      collect,
    )
    .option(
      '--shunt-grace-sec <sec>',
      'after a `private` peer is removed (TTL over, forged answer), keep dropping traffic to its addresses for this long after their last answer ran out (default 3600; 0: only until then)',
    )
    .option('--cache-size <n>', 'cached answers (default 100000)')
    .option('--cache-bytes <n>', 'cache memory bound in bytes (default 67108864)')
    .option('--cache-hot <n>', 'of those, how many stay decoded for the fastest hits; the rest are kept as compact bytes (default 10000)')
    .option('--allow <cidr>', 'also serve clients from this network, repeatable (loopback is always allowed)', collect)
    .option(
      '--user <name>',
      "when started as root, switch to this user after binding (default: oedns, created by scripts/install.sh; 'root' keeps root)",
    )
    .option('--upstream-timeout-ms <ms>', 'per-attempt upstream timeout (default 1000)')
    .option('--tcp-idle-ms <ms>', 'close idle client TCP connections after this long (default 10000)')
    .option(
      '--tcp-frame-ms <ms>',
      'a TCP query must arrive whole this long after its first byte, or the connection is closed (default 3000)',
    )
    .option('--max-udp-size <n>', 'largest UDP answer we send and the EDNS size we advertise (default 1232)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .option(
      '--log-format <format>',
      'auto (default: journal under systemd, readable lines on a terminal, JSON otherwise), json, pretty, journal',
    )
    .action(async (flags: ServeFlags, cmd: Command) => {
      try {
        await runServe(flags, cmd);
      } catch (err) {
        exitOnError(err);
      }
    });
}

/** The command-line half of the configuration, in config-file keys. */
function cliInput(flags: ServeFlags, cmd: Command): ServeConfigInput {
  const parent = cmd.parent;
  return {
    listen: flags.listen,
    upstream: flags.upstream,
    upstreamFile: flags.upstreamFile,
    trustAnchor: flags.trustAnchor,
    trustAnchorState: flags.trustAnchorState,
    negativeTrustAnchors: flags.nta,
    engine: flags.engine,
    cacheSize: flags.cacheSize,
    cacheBytes: flags.cacheBytes,
    cacheHot: flags.cacheHot,
    allow: flags.allow,
    user: flags.user,
    upstreamTimeoutMs: flags.upstreamTimeoutMs,
    tcpIdleMs: flags.tcpIdleMs,
    tcpFrameMs: flags.tcpFrameMs,
    maxUdpSize: flags.maxUdpSize,
    policy: flags.policy,
    vici: flags.vici,
    identity: flags.identity,
    key: flags.key,
    initiate: flags.initiate,
    control: flags.control,
    autospState: flags.autospState,
    responderAllow: flags.responderAllow,
    ikeProposals: flags.ikeProposals?.flatMap((p) =>
      p
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
    espProposals: flags.espProposals?.flatMap((p) =>
      p
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
    ipsecMode: flags.ipsecMode,
    ikeLifetime: flags.ikeLifetime,
    childLifetime: flags.childLifetime,
    logFormat: flags.logFormat,
    shuntGraceSec: flags.shuntGraceSec,
    // `oedns --log-level x serve` counts too, but its built-in default must not hide the file's value.
    logLevel: flags.logLevel ?? (parent?.getOptionValueSource('logLevel') === 'cli' ? (parent.opts().logLevel as string) : undefined),
  };
}

export interface LoadedConfig {
  path?: string;
  config: ServeConfig;
  policy: Policy;
  anchors: readonly TrustAnchor[];
  /** Where the anchors came from, for the start-up line and doctor. */
  anchorSource: string;
}

/** Reads and checks everything serve needs from files: config, policy, trust anchors. No sockets. */
export async function loadServeConfig(configFlag: string | undefined, cli: ServeConfigInput): Promise<LoadedConfig> {
  const { path, raw } = loadConfig(configFlag);
  const config = resolveServeConfig(raw, cli, {
    hostname,
    controlPath: () => defaultControlPath(),
    autospStatePath: () => DEFAULT_STATE_PATH,
  });
  const policy = config.policyFile ? await loadPolicyFile(config.policyFile) : defaultPolicy();
  let anchors: readonly TrustAnchor[] = ROOT_ANCHORS;
  let anchorSource = 'built-in IANA root anchors';
  const distro = config.trustAnchor ? undefined : defaultTrustAnchorFile();
  const ta = config.trustAnchor ?? (distro ? { file: distro, text: readFileSync(distro, 'utf8') } : undefined);
  if (ta) {
    anchors = parseTrustAnchors(ta.text);
    anchorSource = ta.file;
    if (anchors.length === 0) throw new ConfigError('no-anchor', `${ta.file} holds no DS or DNSKEY trust anchor`);
  }
  if (config.trustAnchorState) loadTrustState(config.trustAnchorState, stateOwners(config.user));
  return { path, config, policy, anchors, anchorSource };
}

/** --check-config: what an engine would read at start (our key), without starting it. */
function checkEngineFiles(c: ServeConfig): void {
  if (c.engine !== 'strongswan') return;
  let pem: string;
  try {
    pem = readFileSync(c.engineConfig.key, 'utf8');
  } catch (e) {
    throw new ConfigError(
      'key-unreadable',
      `cannot read our private key ${c.engineConfig.key} (${(e as Error).message}); create one with \`oedns keygen --out DIR\``,
    );
  }
  try {
    createPrivateKey(pem);
  } catch (e) {
    throw new ConfigError('key-invalid', `${c.engineConfig.key} is not a PEM private key: ${(e as Error).message}`);
  }
}

/**
 * --check-config: an RFC 5011 state that leaves a trust point without a trusted key (all revoked) is
 * refused here; the daemon itself would start and answer SERVFAIL under it (fail closed).
 */
function checkTrustState(loaded: LoadedConfig): void {
  const path = loaded.config.trustAnchorState;
  if (!path) return;
  const dead = TrustAnchorManager.offline(loaded.anchors, path, undefined, stateOwners(loaded.config.user)).untrusted();
  if (dead.length) {
    throw new ConfigError(
      'trust-anchor-untrusted',
      `RFC 5011 state ${path} leaves no trusted key for ${dead.map((z) => z || '.').join(', ')}: ` +
        `oedns would answer SERVFAIL for every name under it. Move the file away to start again from the configured anchors (${loaded.anchorSource})`,
    );
  }
}

async function runServe(flags: ServeFlags, cmd: Command): Promise<void> {
  const cli = cliInput(flags, cmd);
  const loaded = await loadServeConfig(flags.config, cli);
  const { config, policy, anchors } = loaded;
  if (flags.checkConfig) {
    checkEngineFiles(config);
    checkTrustState(loaded);
    process.stdout.write(
      `configuration OK (${loaded.path ?? 'no config file: built-in defaults and the command line'}): ` +
        `listen ${config.listen.map(formatEndpoint).join(', ')}, ` +
        `upstreams ${config.upstreamFile ? `from ${config.upstreamFile}` : config.upstream.map(formatEndpoint).join(', ')}, ` +
        `engine ${config.engine}, trust anchors ${loaded.anchorSource}${config.trustAnchorState ? ` (RFC 5011 state ${config.trustAnchorState})` : ''}, ` +
        `policy ${config.policyFile ?? 'built-in default'}\n`,
    );
    return;
  }
  const log = createLogger(config.logLevel, 'oedns-serve', config.logFormat);
  const notifier = sdNotifier();
  // Signals are caught from the start, so a SIGTERM during start-up also ends cleanly.
  let server: RunningDaemon | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    void notifier.notify({ STOPPING: '1' });
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
  // A full reload: the same file and the same command line, read again; a broken file keeps all.
  const reload = async (): Promise<ReloadReport> => {
    const next = await loadServeConfig(flags.config, cli);
    for (const w of next.policy.warnings) log.warn({ policy: next.config.policyFile }, w);
    return server!.reconfigure({
      config: next.config,
      policy: next.config.policyFile ? next.policy : defaultPolicy(),
      anchors: next.anchors,
    });
  };
  try {
    server = await startDaemon({
      serve: config,
      engine,
      policy,
      anchors,
      initiate: config.engineConfig.initiate,
      controlPath: config.control,
      log,
      autospState: config.autospState,
      responder: responderFromConfig(config, log),
      reload: async () => {
        await notifier.notify({ RELOADING: '1' });
        try {
          const r = await reload();
          log.info(r, 'configuration reloaded');
          return r;
        } finally {
          await notifier.notify({ READY: '1' });
        }
      },
    });
  } catch (err) {
    await engine.close().catch(() => undefined);
    if (err instanceof OednsError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new OednsError('bind-failed', `cannot listen on ${config.listen.map(formatEndpoint).join(', ')}: ${e.message}`);
  }
  if (stopping) return void (await server.stop());
  process.on('SIGHUP', () => {
    server
      ?.reload()
      .catch((e: Error) => log.error({ config: loaded.path, err: e.message }, 'configuration not reloaded; keeping the old one'));
  });
  startedAs(config, server, log, loaded);
  await notifier.notify({ READY: '1', STATUS: `answering on ${server.server.addresses.map(formatEndpoint).join(', ')}` });
  // The serve command never resolves on its own: it runs until a signal.
  await new Promise<never>(() => undefined);
}

/** Drops root (to the `oedns` user by default) and logs the one start-up line tests and users read. */
function startedAs(config: ServeConfig, server: RunningDaemon, log: Logger, loaded: LoadedConfig): void {
  // Started as root by hand with a real engine, we keep root unless a user is named (one in charon's
  // VICI group): the engine must reach charon's socket again after charon restarts. The systemd unit
  // starts us as `oedns` directly, with that group.
  const user = config.user ?? (config.engine === 'dry-run' ? undefined : 'root');
  // Directories the daemon keeps writing to after the drop; only ones we create are handed over.
  for (const file of [config.autospState, config.trustAnchorState]) {
    if (!file) continue;
    const warning = handOverDir(dirname(file), user);
    if (warning) log.warn({ file }, warning);
  }
  const drop = dropPrivileges(user);
  if (!drop.dropped && drop.reason === 'no-such-default-user') {
    log.warn('there is no user oedns to switch to: still running as root (create it with `bash scripts/install.sh user`, or give --user)');
  }
  if (drop.dropped && config.engine === 'strongswan') {
    // The engine reconnects to charon after a charon restart: as this user, it must still be allowed to.
    let st;
    try {
      st = statSync(config.engineConfig.vici);
    } catch {
      st = undefined;
    }
    if (st && !canUseSocket(st, { uid: drop.uid, groups: drop.groups })) {
      log.warn(
        { vici: config.engineConfig.vici, user: drop.user },
        `${drop.user} may not use charon's VICI socket: after a charon restart peers cannot be installed (set charon.group to a group of ${drop.user}: see docs/laptop.md)`,
      );
    }
  }
  log.info(
    {
      listen: server.server.addresses.map(formatEndpoint),
      control: config.control,
      config: loaded.path ?? 'none',
      policy: config.policyFile ?? 'built-in default (private-or-clear)',
      upstream: config.upstream.map(formatEndpoint),
      upstreamFile: config.upstreamFile,
      allow: ['loopback', ...config.allow],
      engine: config.engine,
      trustAnchor: loaded.anchorSource,
      trustAnchorState: config.trustAnchorState ?? undefined,
      user: drop.dropped ? drop.user : drop.reason,
    },
    'listening',
  );
}
