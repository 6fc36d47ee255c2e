#!/usr/bin/env node
// Entry point of the `autosp` command: IPsec peers known by name in advance. Each peer's A, AAAA and
// IPSECKEY are validated by our own validator and installed with the peer's FQDN as IKE identity.
// When a running `oedns serve` answers on its control socket, autosp hands the names to it (its
// registry holds them for owner autosp, next to its own peers); otherwise autosp drives the engine
// itself and records its peers in a state file that serve adopts at start. docs/autosp.md.
// This file is the commander front end only: options, output and exit statuses. The work is in
// src/autosp (daemon-client, direct, once, list, ike-states, watch) and src/config/autosp.ts.
import { readFileSync } from 'node:fs';
import { validatorSetup } from './lookup';
import { Command, CommanderError } from 'commander';
import {
  applyOnce,
  autospPolicy,
  checkPeerName,
  chooseMode,
  createPeerResolver,
  daemonRequest,
  DEFAULT_STATE_PATH,
  type Direct,
  engineStates,
  OK_RESULTS,
  type Op,
  openDirect as openDirectSession,
  parsePeersFile,
  type PeerReport,
  readAutospState,
  storedReports,
  Unreachable,
  validatingLookup,
  watchPeers,
} from '../autosp';
import { defaultControlPath } from '../control/protocol';
import type { Engine, InstalledPeer } from '../ike-bridge/engine';
import { engineFromConfig } from '../daemon/engine-config';
import type { Policy } from '../policy';
import { ConfigError, EngineError, ikeDaemonGone } from '../util/errors';
import { createLogger, type Logger, type LogLevel } from '../util/log';
import { loadPolicyFile } from './policy';
import { loadConfig } from '../config/file';
import { autospDefaults, autospEngineConfig, autospIpsec } from '../config/autosp';
import type { IpsecSettings } from '../config/serve';
import { VERSION } from '../util/version';

/** Exit statuses (docs/autosp.md). */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNREACHABLE: 3 } as const;

export interface AutospFlags {
  engine?: string;
  vici?: string;
  identity?: string;
  key?: string;
  server?: string;
  trustAnchor?: string;
  policy?: string;
  initiate?: boolean;
  state?: string;
  control?: string;
  /** false with --no-daemon. */
  daemon?: boolean;
  json?: boolean;
  peers?: string;
  timeout?: string;
  progress?: boolean;
  logLevel?: string;
  /** watch: seconds between looks at the control socket. */
  daemonCheck?: string;
  /** The config file shared with `oedns serve` (default /etc/oedns/oedns.yaml when present). */
  config?: string;
  /** IKE/ESP settings from the config file. */
  ipsec?: IpsecSettings;
}

// ---- output ---------------------------------------------------------------------------------------

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function inSeconds(t: number | undefined, now: number): string {
  return t === undefined ? '-' : `${Math.max(0, Math.round(t - now))} s`;
}

/** A table, one peer per line; the reason goes last so the columns stay aligned. */
export function formatReports(peers: PeerReport[], now: number, ike?: InstalledPeer[]): string {
  if (peers.length === 0) return 'no autosp peers\n';
  const head = ['PEER', 'RESULT', 'ADDRESSES', 'KEYS', 'LEVEL', 'EXPIRES IN'];
  if (ike) head.push('IKE', 'CHILD');
  head.push('DETAIL');
  const rows = [head];
  for (const p of peers) {
    const row = [
      p.name,
      p.result,
      p.addresses.join(',') || '-',
      p.keys ? `${p.keys}${p.authenticated ? '' : ' (unauth)'}` : p.authenticated ? '0' : '-',
      p.level ?? '-',
      inSeconds(p.expiresAt, now),
    ];
    if (ike) {
      const e = ike.find((x) => x.name === p.name);
      row.push(e?.ikeState ?? '-', e?.childState ?? '-');
    }
    row.push(p.reason + (p.sharedWith?.length ? ` [also held for ${p.sharedWith.join(', ')}]` : ''));
    rows.push(row);
  }
  const widths = head.map((_, i) => (i === head.length - 1 ? 0 : Math.max(...rows.map((r) => r[i]!.length))));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function exitCodeFor(peers: PeerReport[]): number {
  if (peers.some((p) => p.result === 'engine-error' && p.engineGone)) return EXIT.UNREACHABLE;
  return peers.every((p) => OK_RESULTS.includes(p.result)) ? EXIT.OK : EXIT.FAILED;
}

function print(flags: AutospFlags, mode: string, peers: PeerReport[], ike?: InstalledPeer[]): number {
  const code = exitCodeFor(peers);
  const now = Date.now() / 1000;
  if (flags.json) process.stdout.write(JSON.stringify({ mode, exitCode: code, peers, ...(ike ? { engine: ike } : {}) }) + '\n');
  else process.stdout.write(formatReports(peers, now, ike));
  return code;
}

/** Progress on stderr for long runs: a rewritten line on a terminal, a line per tenth otherwise. */
function progressReporter(flags: AutospFlags, what: string): ((done: number, total: number) => void) | undefined {
  if (flags.progress === false) return undefined;
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  let lastMs = 0;
  return (done, total) => {
    if (total < 20) return;
    if (tty) {
      const t = Date.now();
      if (done === total || t - lastMs >= 100) {
        lastMs = t;
        process.stderr.write(`\r${what} ${done}/${total} peers${done === total ? '\n' : ''}`);
      }
      return;
    }
    const tenth = Math.floor((done * 10) / total);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      process.stderr.write(`${what} ${done}/${total} peers\n`);
    }
  };
}

// ---- options to objects ---------------------------------------------------------------------------

function usage(msg: string): never {
  throw new ConfigError('usage', msg);
}

function logger(flags: AutospFlags, dflt: LogLevel = 'warn'): Logger {
  return createLogger((flags.logLevel ?? dflt) as LogLevel, 'autosp');
}

/** Peer names from the command line, normalized; ConfigError (exit 2) for a bad one. */
function argNames(names: string[]): string[] {
  if (names.length === 0) usage('name at least one peer');
  return [...new Set(names.map(checkPeerName))];
}

function readPeersFile(path: string | undefined): string[] {
  if (!path) usage('--peers FILE is required');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('autosp-peers-file', `cannot read peers file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parsePeersFile(text, path);
}

/**
 * The engine as `oedns serve` builds it (src/daemon/engine-config.ts), so that both name connections
 * and bind our identity the same way.
 */
export async function makeEngine(flags: AutospFlags, log: Logger): Promise<Engine> {
  return engineFromConfig(autospEngineConfig(flags), log);
}

function makeResolver(flags: AutospFlags, policy: Policy) {
  const { query, validator } = validatorSetup(flags);
  return createPeerResolver({ resolver: validatingLookup(query, validator), policy });
}

/** The direct session (src/autosp/direct.ts) with the policy, resolver and engine the options name. */
async function openDirect(flags: AutospFlags, log: Logger): Promise<Direct> {
  const policy = autospPolicy(flags.policy ? await loadPolicyFile(flags.policy) : undefined);
  const resolvePeer = makeResolver(flags, policy);
  return openDirectSession(
    {
      statePath: flags.state ?? DEFAULT_STATE_PATH,
      maxTtl: policy.maxTtl,
      resolvePeer,
      initiate: flags.initiate ?? false,
      makeEngine: () => makeEngine(flags, log),
    },
    log,
  );
}

// ---- commands -------------------------------------------------------------------------------------

async function runOnce(op: Op, flags: AutospFlags): Promise<number> {
  const log = logger(flags);
  const mode = await chooseMode(flags);
  if (mode.kind === 'daemon') {
    if (flags.policy || flags.engine || flags.vici || flags.key || flags.server || flags.trustAnchor) {
      process.stderr.write(
        `autosp: a daemon answers on ${mode.path}; its own engine, upstream, trust anchor and policy apply (engine/DNS options here are ignored)\n`,
      );
    }
    const cmd = op.cmd === 'add' ? 'peer-add' : op.cmd === 'remove' ? 'peer-remove' : 'peer-sync';
    const r = await daemonRequest(
      mode.path,
      cmd,
      { names: op.names, ...(flags.initiate !== undefined ? { initiate: flags.initiate } : {}) },
      op.names.length,
    );
    return print(flags, 'daemon', r.peers);
  }
  const progress = progressReporter(flags, op.cmd === 'remove' ? 'removed' : 'resolved');
  const peers = await applyOnce(op, () => openDirect(flags, log), progress, log);
  return print(flags, 'direct', peers);
}

async function runList(flags: AutospFlags): Promise<number> {
  const mode = await chooseMode(flags);
  if (mode.kind === 'daemon') {
    const r = await daemonRequest(mode.path, 'peer-list', {}, 0);
    return print(flags, 'daemon', r.peers, r.engine);
  }
  // Direct: what the state file says, with the engine's IKE/CHILD states when it answers.
  const statePath = flags.state ?? DEFAULT_STATE_PATH;
  const state = readAutospState(statePath);
  const now = Date.now() / 1000;
  const peers = storedReports(state, now);
  let ike: InstalledPeer[] | undefined;
  let code: number = EXIT.OK;
  try {
    ike = await engineStates(flags, () => makeEngine(flags, logger(flags)));
  } catch (e) {
    process.stderr.write(`autosp: the engine did not answer: ${e instanceof Error ? e.message : String(e)}\n`);
    code = EXIT.UNREACHABLE;
  }
  const c = print(flags, 'direct', peers, ike);
  return code === EXIT.OK ? c : code;
}

/** `watch` (src/autosp/watch.ts): runs until SIGTERM/SIGINT or `opts.signal`, then exits 0. */
async function runWatch(flags: AutospFlags, opts: { signal?: AbortSignal } = {}): Promise<number> {
  const log = logger(flags, 'info');
  const file = flags.peers ?? usage('--peers FILE is required');
  const names = readPeersFile(file);
  const mode = await chooseMode(flags);
  const every = flags.daemonCheck === undefined ? 10 : Number(flags.daemonCheck);
  if (!Number.isFinite(every) || every <= 0) usage(`bad --daemon-check '${flags.daemonCheck}' (seconds)`);
  await watchPeers(
    {
      file,
      names,
      mode,
      readNames: () => readPeersFile(file),
      openDirect: () => openDirect(flags, log),
      report: (kind, peers) => {
        print(flags, kind, peers);
      },
      firstProgress: progressReporter(flags, 'resolved'),
      daemon: flags.daemon,
      control: flags.control,
      initiate: flags.initiate,
      probeEverySec: every,
      signal: opts.signal,
    },
    log,
  );
  return EXIT.OK;
}

// ---- wiring ---------------------------------------------------------------------------------------

function common(cmd: Command, opts: { dns?: boolean } = {}): Command {
  cmd
    .option('--engine <name>', 'IKE engine: strongswan (default), libreswan, dry-run')
    .option('--vici <path>', "charon's VICI socket (default /var/run/charon.vici)")
    .option('--identity <fqdn>', 'our IKE identity (the name our IPSECKEY is published under)')
    .option('--key <file>', 'our private key, as `oedns keygen` wrote it (host.key.pem)')
    .option('--state <file>', `autosp state file (default ${DEFAULT_STATE_PATH})`)
    .option('--control <path>', `control socket of a running oedns serve (default ${defaultControlPath()}); when given, it must answer`)
    .option('--no-daemon', 'never hand peers to a running daemon: drive the engine directly')
    .option('--json', 'print one JSON object')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent');
  if (opts.dns !== false) {
    cmd
      .option('--server <host[:port]>', 'DNS server to ask (default: first nameserver in /etc/resolv.conf)')
      .option('--trust-anchor <file>', 'DNSSEC trust anchor (DS/DNSKEY lines; default: the IANA root KSKs)')
      .option('--policy <file>', 'policy file (default: every autosp peer is level private)')
      .option('--initiate', 'start IKE when a peer is installed or its key changes (needed with kernel-libipsec)')
      .option('--timeout <ms>', 'per-query DNS timeout in milliseconds', '2000')
      .option('--no-progress', 'no progress line on stderr');
  }
  return cmd;
}

/** The command line, with what it left out (or left at a built-in default) taken from the config file. */
function flagsOf(cmd: Command): AutospFlags {
  const f = cmd.optsWithGlobals<AutospFlags>();
  const { raw } = loadConfig(f.config);
  const fromFile = autospDefaults(raw) as Record<string, unknown>;
  const out = f as Record<string, unknown>;
  for (const [k, v] of Object.entries(fromFile)) {
    const source = cmd.getOptionValueSourceWithGlobals(k);
    if (out[k] === undefined || source === 'default' || source === undefined) out[k] = v;
  }
  f.ipsec = autospIpsec(raw);
  return f;
}

/** Run a command body and set the exit status: 2 usage/config, 3 unreachable, else what it returned. */
async function outcome(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode =
      e instanceof ConfigError
        ? EXIT.USAGE
        : e instanceof Unreachable || (e instanceof EngineError && ikeDaemonGone(e))
          ? EXIT.UNREACHABLE
          : EXIT.FAILED;
  }
}

export function buildAutosp(): Command {
  const program = new Command('autosp')
    .description('Load keys and policies for IPsec peers named in advance, validated with DNSSEC, and keep them fresh.')
    .version(VERSION)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default: warn; info for watch)')
    .option('-c, --config <file>', "config file shared with `oedns serve` (default /etc/oedns/oedns.yaml when it exists; 'none' for none)")
    .exitOverride()
    .addHelpText(
      'after',
      '\nExit status: 0 every peer as asked, 1 some peer failed, 2 usage or configuration error, 3 engine or daemon unreachable.',
    );
  common(
    program.command('add').description('install these peers (looked up and validated now) and keep them').argument('<names...>'),
  ).action(async (names: string[], _o: unknown, cmd: Command) =>
    outcome(() => runOnce({ cmd: 'add', names: argNames(names) }, flagsOf(cmd))),
  );
  common(
    program
      .command('remove')
      .description('stop wanting these peers; each leaves the engine unless serve still holds it')
      .argument('<names...>'),
  ).action(async (names: string[], _o: unknown, cmd: Command) =>
    outcome(() => runOnce({ cmd: 'remove', names: argNames(names) }, flagsOf(cmd))),
  );
  common(
    program
      .command('list')
      .description('the autosp peers, their addresses, keys, lifetimes and IKE state (DNS options are accepted and ignored)'),
  ).action(async (_o: unknown, cmd: Command) => outcome(() => runList(flagsOf(cmd))));
  common(program.command('sync').description('make the engine hold exactly the peers of FILE (owner autosp)'))
    .option('--peers <file>', 'peers file: one FQDN per line, # comments (config: autosp.peers)')
    .action(async (_o: unknown, cmd: Command) =>
      outcome(() => {
        const flags = flagsOf(cmd);
        return runOnce({ cmd: 'sync', names: readPeersFile(flags.peers) }, flags);
      }),
    );
  common(
    program
      .command('watch')
      .description('keep the peers of FILE installed and fresh; re-reads FILE on change or SIGHUP; stops on SIGTERM/SIGINT'),
  )
    .option('--peers <file>', 'peers file: one FQDN per line, # comments (config: autosp.peers)')
    .option('--daemon-check <seconds>', 'how often to look for (or after) a daemon on the control socket', '10')
    .action(async (_o: unknown, cmd: Command) => outcome(() => runWatch(flagsOf(cmd))));
  return program;
}

export { runWatch, runOnce, runList };

if (require.main === module) {
  buildAutosp()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
