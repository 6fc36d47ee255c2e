#!/usr/bin/env node
// Entry point of the `autosp` command: IPsec peers known by name in advance. Each peer's A, AAAA and
// IPSECKEY are validated by our own validator and installed with the peer's FQDN as IKE identity.
// When a running `oedns serve` answers on its control socket, autosp hands the names to it (its
// registry holds them for owner autosp, next to its own peers); otherwise autosp drives the engine
// itself and records its peers in a state file that serve adopts at start. docs/autosp.md.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { validatorSetup } from './lookup';
import { Command, CommanderError } from 'commander';
import {
  AutospKeeper, autospPolicy, checkPeerName, createPeerResolver, DEFAULT_STATE_PATH, lockState,
  OK_RESULTS, parsePeersFile, type PeerReport, readAutospState, stateWriter, validatingLookup, writeAutospState,
} from '../autosp';
import { ControlError, controlRequest } from '../control/client';
import { defaultControlPath } from '../control/protocol';
import type { Engine, InstalledPeer } from '../ike-bridge/engine';
import { engineFromConfig } from '../daemon/engine-config';
import { PeerSync } from '../peers';
import { ViciClient } from '../ike-bridge/vici-client';
import { peerOfConn } from '../ike-bridge/peer-config';
import type { Policy } from '../policy';
import { ConfigError, EngineError, ikeDaemonGone, OednsError } from '../util/errors';
import { createLogger, type Logger, type LogLevel } from '../util/log';
import { loadPolicyFile } from './policy';
import { loadConfig } from '../config/file';
import { autospDefaults, autospIpsec } from '../config/autosp';
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

/** The engine or the daemon cannot be reached: exit 3. */
class Unreachable extends OednsError {}

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
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
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

// ---- modes ----------------------------------------------------------------------------------------

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

/** How long the daemon may take for `n` names (lookups and installs). */
function daemonTimeoutMs(n: number): number {
  return 30_000 + 200 * n;
}

type Mode = { kind: 'daemon'; path: string } | { kind: 'direct' };

/**
 * Daemon mode when a daemon answers autosp's requests on the control socket; direct mode when none
 * listens there. An explicit --control that does not answer, or a daemon that answers but does not
 * take autosp requests, is an error (exit 3): driving the engine beside a daemon would fight it.
 */
async function chooseMode(flags: AutospFlags): Promise<Mode> {
  if (flags.daemon === false) return { kind: 'direct' };
  const path = flags.control ?? defaultControlPath();
  try {
    await controlRequest(path, 'peer-list', { owner: 'autosp' }, 5000);
    return { kind: 'daemon', path };
  } catch (e) {
    if (!(e instanceof ControlError)) throw e;
    if (e.code === 'control-unreachable' && flags.control === undefined) return { kind: 'direct' };
    if (e.code === 'control-refused' && /unknown command/.test(e.message)) {
      throw new Unreachable('autosp-daemon', `the daemon on ${path} does not take autosp requests (${e.message}); ` +
        'stop it or use --no-daemon to drive the engine directly');
    }
    throw new Unreachable('autosp-daemon', e.message);
  }
}

async function daemonRequest(path: string, cmd: string, args: Record<string, unknown>, n: number): Promise<{ peers: PeerReport[]; engine?: InstalledPeer[] }> {
  try {
    return (await controlRequest(path, cmd, { owner: 'autosp', ...args }, daemonTimeoutMs(n))) as { peers: PeerReport[]; engine?: InstalledPeer[] };
  } catch (e) {
    if (e instanceof ControlError && e.code === 'control-refused') throw new ConfigError('autosp-daemon-refused', e.message);
    if (e instanceof ControlError) throw new Unreachable('autosp-daemon', e.message);
    throw e;
  }
}

/**
 * The engine as `oedns serve` builds it (src/daemon/engine-config.ts), so that both name connections
 * and bind our identity the same way.
 */
export async function makeEngine(flags: AutospFlags, log: Logger): Promise<Engine> {
  const kind = flags.engine ?? 'strongswan';
  if (kind !== 'strongswan' && kind !== 'libreswan' && kind !== 'dry-run') usage(`unknown --engine '${kind}' (strongswan, libreswan, dry-run)`);
  let identity = '';
  if (kind !== 'dry-run') {
    if (!flags.identity) usage(`--identity FQDN (our IKE identity) is required with --engine ${kind}`);
    identity = checkPeerName(flags.identity);
  }
  if (kind === 'strongswan' && !flags.key) usage('--key FILE (our private key from `oedns keygen`) is required with --engine strongswan');
  return engineFromConfig({ kind, vici: flags.vici ?? '/var/run/charon.vici', identity, key: flags.key ?? '', initiate: false, ipsec: flags.ipsec ?? autospIpsec({}) }, log);
}

function makeResolver(flags: AutospFlags, policy: Policy) {
  const { query, validator } = validatorSetup(flags);
  return createPeerResolver({ resolver: validatingLookup(query, validator), policy });
}

/** autosp driving the engine itself: one process at a time (the state lock). */
interface Direct {
  engine: Engine;
  sync: PeerSync;
  keeper: AutospKeeper;
  statePath: string;
  persist(): void;
  /** Stop; `persist: false` after handing the peers to a daemon (which now writes the state). */
  close(opts?: { persist?: boolean }): Promise<void>;
}

async function openDirect(flags: AutospFlags, log: Logger): Promise<Direct> {
  const policy = autospPolicy(flags.policy ? await loadPolicyFile(flags.policy) : undefined);
  const resolvePeer = makeResolver(flags, policy);
  const statePath = flags.state ?? DEFAULT_STATE_PATH;
  const state = readAutospState(statePath, { maxTtl: policy.maxTtl });
  for (const why of state.rejected) log.warn({ state: statePath }, `autosp: stored peer ignored: ${why}`);
  const engine = await makeEngine(flags, log);
  let unlock: (() => void) | undefined;
  try {
    const st = await engine.status();
    if (!st.reachable) throw new Unreachable('engine-unreachable', `the ${st.engine} engine is unreachable: ${st.detail ?? ''}`);
    unlock = lockState(statePath);
    const sync = new PeerSync({ engine, log });
    // Coalesced (src/autosp/state.ts stateWriter); persist() writes what is pending now.
    const keeper: AutospKeeper = new AutospKeeper({ sync, resolvePeer, initiate: flags.initiate ?? false, log, onChange: () => writer.schedule() });
    const writer = stateWriter(() => writeAutospState(statePath, keeper.state()));
    const persist = (): void => {
      writer.schedule();
      writer.flush();
    };
    keeper.adopt(state);
    // Stored keys are not trusted: every known name is looked up and validated again before the
    // engine is brought in line (what fails to validate stays closed by a drop shunt, if private).
    await keeper.refreshDue();
    try {
      const r = await sync.reconcile();
      for (const f of r.failed) log.warn({ peer: f.name, reason: f.reason }, 'autosp: reinstalling a known peer failed');
    } catch (e) {
      throw new Unreachable('engine-unreachable', `reconcile with the ${engine.kind} engine failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (flags.initiate && engine.kind !== 'dry-run') {
      const held = await engine.list().catch(() => [] as InstalledPeer[]);
      const up = new Set(held.filter((p) => p.childState === 'INSTALLED').map((p) => p.name));
      keeper.markDown(state.names.filter((n) => !up.has(n)));
    }
    const u = unlock;
    return {
      engine,
      sync,
      keeper,
      statePath,
      persist,
      async close(o = {}) {
        await keeper.close();
        await sync.close();
        try {
          if (o.persist !== false) persist();
        } finally {
          u();
          await engine.close();
        }
      },
    };
  } catch (e) {
    unlock?.();
    await engine.close().catch(() => undefined);
    throw e;
  }
}

// ---- commands -------------------------------------------------------------------------------------

type Op = { cmd: 'add' | 'remove' | 'sync'; names: string[] };

async function runOnce(op: Op, flags: AutospFlags): Promise<number> {
  const log = logger(flags);
  const mode = await chooseMode(flags);
  if (mode.kind === 'daemon') {
    if (flags.policy || flags.engine || flags.vici || flags.key || flags.server || flags.trustAnchor) {
      process.stderr.write(`autosp: a daemon answers on ${mode.path}; its own engine, upstream, trust anchor and policy apply (engine/DNS options here are ignored)\n`);
    }
    const cmd = op.cmd === 'add' ? 'peer-add' : op.cmd === 'remove' ? 'peer-remove' : 'peer-sync';
    const r = await daemonRequest(mode.path, cmd, { names: op.names, ...(flags.initiate !== undefined ? { initiate: flags.initiate } : {}) }, op.names.length);
    return print(flags, 'daemon', r.peers);
  }
  const d = await openDirect(flags, log);
  let peers: PeerReport[];
  try {
    const progress = progressReporter(flags, op.cmd === 'remove' ? 'removed' : 'resolved');
    if (op.cmd === 'add') peers = await d.keeper.add(op.names, { progress });
    else if (op.cmd === 'remove') peers = await d.keeper.remove(op.names);
    else peers = await d.keeper.setNames(op.names, { progress });
    // Others whose lifetime ran out since the last run are brought up to date too (logged only).
    const others = await d.keeper.refreshDue();
    for (const r of others) if (!OK_RESULTS.includes(r.result)) log.warn({ peer: r.name, result: r.result }, r.reason);
  } finally {
    await d.close();
  }
  return print(flags, 'direct', peers);
}

/**
 * IKE and CHILD_SA states of our connections, for `list` (which needs no identity or key):
 * straight from charon's list-sas for strongswan; the engine's own list otherwise; none for dry-run.
 */
async function engineStates(flags: AutospFlags): Promise<InstalledPeer[] | undefined> {
  const kind = flags.engine ?? 'strongswan';
  if (kind === 'dry-run') return undefined;
  if (kind === 'strongswan') {
    const c = new ViciClient({ socketPath: flags.vici ?? '/var/run/charon.vici', timeoutMs: 5000, connectTimeoutMs: 1000, reconnect: false });
    try {
      const [conns, sas] = [await c.getConns(), await c.listSas({ noblock: true })];
      return conns.filter((n) => peerOfConn(n) !== undefined).map((conn) => {
        const sa = sas.find((x) => x.name === conn && x.state === 'ESTABLISHED') ?? sas.find((x) => x.name === conn);
        const child = sa?.children.find((ch) => ch.name === conn);
        return { name: peerOfConn(conn)!, connection: conn, addresses: [], authenticated: true, ikeState: sa?.state, childState: child?.state };
      });
    } finally {
      await c.close();
    }
  }
  if (!flags.identity) return undefined;
  const engine = await makeEngine(flags, logger(flags));
  try {
    return await engine.list();
  } finally {
    await engine.close();
  }
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
  const byName = new Map(state.peers.map((p) => [p.name, p]));
  const peers: PeerReport[] = state.names.map((name) => {
    const p = byName.get(name);
    if (!p || p.expiresAt <= now) {
      return { name, result: 'pending', reason: p ? 'lapsed: looked up again at the next autosp run' : 'not installed', addresses: [], keys: 0, authenticated: false };
    }
    return {
      name, result: 'installed', reason: `owner autosp, ${p.auth.kind === 'pubkey' ? 'key validated by DNSSEC' : 'NOT authenticated'}`,
      addresses: p.addresses, keys: p.auth.kind === 'pubkey' ? p.auth.keys.length : 0, authenticated: p.auth.kind === 'pubkey',
      level: p.level, expiresAt: p.expiresAt,
    };
  });
  let ike: InstalledPeer[] | undefined;
  let code: number = EXIT.OK;
  try {
    ike = await engineStates(flags);
  } catch (e) {
    process.stderr.write(`autosp: the engine did not answer: ${e instanceof Error ? e.message : String(e)}\n`);
    code = EXIT.UNREACHABLE;
  }
  const c = print(flags, 'direct', peers, ike);
  return code === EXIT.OK ? c : code;
}

/**
 * `watch`: keep the file's peers installed and fresh until SIGTERM/SIGINT. Re-reads the file when it
 * changes and on SIGHUP. Without a daemon it runs the keeper itself and hands over to `oedns serve`
 * as soon as one answers on the control socket; with a daemon it sends the names there.
 */
async function runWatch(flags: AutospFlags, opts: { signal?: AbortSignal } = {}): Promise<number> {
  const log = logger(flags, 'info');
  const file = flags.peers ?? usage('--peers FILE is required');
  let names = readPeersFile(file);
  let mode = await chooseMode(flags);
  let direct: Direct | undefined;
  let stopping = false;
  let busy: Promise<void> = Promise.resolve();
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  const serial = (fn: () => Promise<void>): Promise<void> => {
    busy = busy.then(fn).catch((e: unknown) => {
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'autosp watch: step failed');
    });
    return busy;
  };
  const report = (peers: PeerReport[]): void => {
    print(flags, mode.kind, peers);
  };

  const apply = async (first: boolean): Promise<void> => {
    if (mode.kind === 'daemon') {
      try {
        const r = await daemonRequest(mode.path, 'peer-sync', { names, refresh: first, ...(flags.initiate !== undefined ? { initiate: flags.initiate } : {}) }, names.length);
        report(r.peers);
        return;
      } catch (e) {
        if (!(e instanceof Unreachable) || flags.control !== undefined) throw e;
        log.warn({ err: e.message }, 'autosp watch: the daemon is gone; driving the engine directly');
        mode = { kind: 'direct' };
      }
    }
    if (!direct) {
      direct = await openDirect(flags, log);
      direct.keeper.start();
      direct.sync.start();
    }
    report(await direct.keeper.setNames(names, { refreshExisting: first, progress: first ? progressReporter(flags, 'resolved') : undefined }));
  };

  const reload = (why: string): void => {
    void serial(async () => {
      let next: string[];
      try {
        next = readPeersFile(file);
      } catch (e) {
        // A broken edit must not drop every peer: keep the last good list.
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'autosp watch: peers file not reloaded; keeping the previous list');
        return;
      }
      log.info({ why, peers: next.length }, 'autosp watch: peers file reloaded');
      names = next;
      await apply(false);
    });
  };

  // Direct mode: hand over to a daemon that appears. Daemon mode: notice a daemon that went away
  // (drive the engine directly) or came back without our names (send them again).
  const probe = (): void => {
    if (stopping || flags.daemon === false) return;
    void serial(async () => {
      if (stopping) return;
      if (mode.kind === 'daemon') {
        let held: PeerReport[];
        try {
          held = (await daemonRequest(mode.path, 'peer-list', {}, 0)).peers;
        } catch (e) {
          if (!(e instanceof Unreachable)) throw e;
          await apply(false); // switches to direct mode (or fails when --control was given)
          return;
        }
        const have = new Set(held.map((p) => p.name));
        if (held.length !== names.length || names.some((n) => !have.has(n))) {
          log.info({ control: mode.path }, 'autosp watch: the daemon does not hold our names; sending them again');
          await apply(false);
        }
        return;
      }
      const path = flags.control ?? defaultControlPath();
      try {
        await controlRequest(path, 'peer-list', { owner: 'autosp' }, 2000);
      } catch {
        return;
      }
      log.info({ control: path }, 'autosp watch: a daemon answers; handing the peers over');
      mode = { kind: 'daemon', path };
      try {
        await apply(false);
      } catch (e) {
        log.warn({ err: e instanceof Error ? e.message : String(e) }, 'autosp watch: handover failed; staying direct');
        mode = { kind: 'direct' };
        return;
      }
      const d = direct;
      direct = undefined;
      await d?.close({ persist: false });
    });
  };

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'autosp watch: stopping (installed peers stay)');
    unwatchFile(file);
    clearInterval(probeTimer);
    void busy.then(async () => {
      await direct?.close().catch((e: unknown) => log.error({ err: String(e) }, 'autosp watch: close failed'));
      resolveDone(EXIT.OK);
    });
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  const onHup = (): void => reload('SIGHUP');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  opts.signal?.addEventListener('abort', () => stop('abort'));
  const every = flags.daemonCheck === undefined ? 10 : Number(flags.daemonCheck);
  if (!Number.isFinite(every) || every <= 0) usage(`bad --daemon-check '${flags.daemonCheck}' (seconds)`);
  const probeTimer = setInterval(probe, every * 1000);
  try {
    // The first sync's errors end the command with their own exit status (2 for a busy lock, 3 for
    // an unreachable engine); later steps only log theirs.
    const first = apply(true);
    busy = first.catch(() => undefined);
    await first;
    if (!stopping) {
      // Polling the path (not inotify on the inode) also sees editors that replace the file.
      watchFile(file, { interval: 1000 }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) reload('file changed');
      });
    }
    return await done;
  } catch (e) {
    stopping = true;
    await direct?.close().catch(() => undefined);
    throw e;
  } finally {
    unwatchFile(file);
    clearInterval(probeTimer);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }
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
    process.exitCode = e instanceof ConfigError ? EXIT.USAGE
      : e instanceof Unreachable || (e instanceof EngineError && ikeDaemonGone(e)) ? EXIT.UNREACHABLE
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
    .addHelpText('after', '\nExit status: 0 every peer as asked, 1 some peer failed, 2 usage or configuration error, 3 engine or daemon unreachable.');
  common(program.command('add').description('install these peers (looked up and validated now) and keep them').argument('<names...>'))
    .action(async (names: string[], _o: unknown, cmd: Command) => outcome(() => runOnce({ cmd: 'add', names: argNames(names) }, flagsOf(cmd))));
  common(program.command('remove').description('stop wanting these peers; each leaves the engine unless serve still holds it').argument('<names...>'))
    .action(async (names: string[], _o: unknown, cmd: Command) => outcome(() => runOnce({ cmd: 'remove', names: argNames(names) }, flagsOf(cmd))));
  common(program.command('list').description('the autosp peers, their addresses, keys, lifetimes and IKE state (DNS options are accepted and ignored)'))
    .action(async (_o: unknown, cmd: Command) => outcome(() => runList(flagsOf(cmd))));
  common(program.command('sync').description('make the engine hold exactly the peers of FILE (owner autosp)'))
    .option('--peers <file>', 'peers file: one FQDN per line, # comments (config: autosp.peers)')
    .action(async (_o: unknown, cmd: Command) => outcome(() => {
      const flags = flagsOf(cmd);
      return runOnce({ cmd: 'sync', names: readPeersFile(flags.peers) }, flags);
    }));
  common(program.command('watch').description('keep the peers of FILE installed and fresh; re-reads FILE on change or SIGHUP; stops on SIGTERM/SIGINT'))
    .option('--peers <file>', 'peers file: one FQDN per line, # comments (config: autosp.peers)')
    .option('--daemon-check <seconds>', 'how often to look for (or after) a daemon on the control socket', '10')
    .action(async (_o: unknown, cmd: Command) => outcome(() => runWatch(flagsOf(cmd))));
  return program;
}

export { runWatch, runOnce, runList };

if (require.main === module) {
  buildAutosp().parseAsync(process.argv).catch((err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
