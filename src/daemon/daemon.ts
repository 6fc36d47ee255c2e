// `oedns serve` assembled: resolver + validator + capture mode + peer registry/sync + engine +
// control socket. The CLI parses options into DaemonOptions; tests start the same thing in-process.
// Layering: src/daemon may import every folder but src/doctor and src/cli.
import type { Engine, InstalledPeer } from '../ike-bridge/engine';
import type { TrustAnchor } from '../dnssec/anchors';
import { ROOT_ANCHORS } from '../dnssec/anchors';
import { Capture } from '../capture/capture';
import type { InternalResolver } from '../resolver/pipeline';
import { type AutospService, autospPolicy, createAutospService, createPeerResolver, loadAutospState } from '../autosp';
import { failsClosed } from '../peers';
import { startControlServer, type ControlHandler, type ControlServer } from '../control/server';
import type { DaemonStatus, PeerStatus, ShuntStatus } from '../control/status';
import { defaultPolicy, type Policy } from '../policy';
import { PeerSync } from '../peers';
import { startServer, type RunningServer } from '../resolver';
import type { ServeConfig } from '../config/serve';
import { formatEndpoint } from '../resolver/endpoint';
import { type Logger, silentLogger } from '../util/log';
import { createResponder, type ResponderOptions, type ResponderService } from '../responder';
import { type DaemonValidation, daemonValidation, upstreamQuery } from './validation';
import { configuredNtas, NtaSet } from '../trust/nta';
import { ConfigError } from '../util/errors';
import { TrustAnchorManager } from '../trust/refresher';
import { stateOwners } from '../trust/state-file';
import { isOwnAddress, type UpstreamFileWatch, watchUpstreamFile } from '../resolver/upstream-file';
import { reservedAddresses } from './reserved-addresses';
import type { Endpoint } from '../resolver/endpoint';
import { LOG_LEVELS, type LogLevel } from '../util/log';
import { daemonControlHandlers } from './control-handlers';
import { leftoverShunts, readClosedSet, writeClosedSet } from './leftovers';
import type { Shunt } from '../peers/registry';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

/** serve's closed-set file, next to the autosp state (src/daemon/leftovers.ts). */
export const CLOSED_STATE_FILE = 'serve-closed.json';
import { VERSION } from '../util/version';

export interface DaemonOptions {
  serve: ServeConfig;
  engine: Engine;
  policy?: Policy;
  anchors?: readonly TrustAnchor[];
  /** Start IKE at install (kernel-libipsec starts nothing from trap policies). */
  initiate?: boolean;
  /** Control socket path; null for none. */
  controlPath?: string | null;
  /** Extra control commands, merged with status and autosp's. */
  controlHandlers?: (d: RunningDaemon) => Record<string, ControlHandler>;
  /**
   * autosp's state file: its peers are wanted from the first reconcile on (no gap in protection after
   * a restart), the daemon keeps them fresh and answers autosp's peer-* commands. null: no autosp.
   */
  autospState?: string | null;
  /** Bound on the peers serve holds (Capture maxPeers; default DEFAULT_MAX_PEERS). */
  maxPeers?: number;
  /** IKE queries DNS (responder side): look up unknown initiators on the allow-list. Absent: off. */
  responder?: ResponderOptions;
  /**
   * A full reload (`oedns control reload`, SIGHUP): the CLI re-reads the config file and hands the
   * result to reconfigure(). Absent: reload only re-reads the upstream file.
   */
  reload?: () => Promise<ReloadReport>;
  log?: Logger;
  /** Unix seconds. */
  now?: () => number;
  /**
   * Addresses no peer may cover (see src/daemon/reserved-addresses). Default: this host's interfaces,
   * default routers and the upstreams in use, re-read every few seconds.
   */
  reservedAddresses?: () => ReadonlySet<string>;
}

export interface RunningDaemon {
  server: RunningServer;
  sync: PeerSync;
  capture: Capture;
  engine: Engine;
  autosp?: AutospService;
  responder?: ResponderService;
  control?: ControlServer;
  status(): Promise<DaemonStatus>;
  /** Re-apply every wanted peer to the engine (after it restarted). */
  reconcile(): Promise<void>;
  setPolicy(p: Policy): void;
  /** The validator with its negative trust anchors; rebuilt when the trust anchors change. */
  validation: DaemonValidation;
  ntas: NtaSet;
  trust: TrustAnchorManager;
  /** Drops cached answers for NAME and below, or everything (then the validator's key cache too). */
  flush(name?: string): { dropped: number };
  /** New upstream servers (the network changed): the cache is flushed, its answers came from elsewhere. */
  setUpstreams(servers: Endpoint[], why: string): void;
  setLogLevel(level: string): { previous: string; level: string };
  /** Applies the reloadable parts of a new configuration; reports what changed and what needs a restart. */
  reconfigure(next: { config: ServeConfig; policy?: Policy; anchors: readonly TrustAnchor[] }): ReloadReport;
  /** `oedns control reload` and SIGHUP. */
  reload(): Promise<ReloadReport>;
  stop(): Promise<void>;
}

export interface ReloadReport {
  applied: string[];
  /** Keys whose new value only takes effect after a restart. */
  restartNeeded: string[];
}

/** Keys a running daemon cannot change (sockets, engine, identity, user): reported, not applied. */
const RESTART_KEYS: ReadonlyArray<keyof ServeConfig> = [
  'listen',
  'engineConfig',
  'control',
  'autospState',
  'responderAllow',
  'cacheSize',
  'cacheBytes',
  'cacheHot',
  'allow',
  'user',
  'upstreamTimeoutMs',
  'tcpIdleMs',
  'tcpFrameMs',
  'maxUdpSize',
  'trustAnchorState',
  'logFormat',
];

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const log = o.log ?? silentLogger;
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  const startedAt = now();
  const engine = o.engine;
  // The upstreams in use are known once the server runs; until then the configured ones.
  let upstreamsInUse = (): readonly Endpoint[] => o.serve.upstream;
  const sync = new PeerSync({
    engine,
    log,
    shuntGraceSec: o.serve.shuntGraceSec,
    reserved: o.reservedAddresses ?? reservedAddresses(() => upstreamsInUse()),
  });
  const reconcile = async (): Promise<void> => {
    try {
      const r = await sync.reconcile();
      if (r.failed.length) log.warn({ failed: r.failed }, 'reconcile: some peers could not be installed');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'reconcile failed: the IKE engine is unreachable; will retry when it comes back');
    }
  };
  // A crash or restart of oedns must leave no stale policies behind: the engine starts out holding
  // exactly what the registry wants. That is no key at all (stored keys are trusted only once autosp
  // has looked its names up and validated them again, moments later), but the addresses of autosp's
  // live `private` peers stay closed meanwhile: programs may still be using them.
  if (o.autospState) {
    for (const p of loadAutospState(o.autospState, now(), autospPolicy(o.policy).maxTtl)) {
      if (failsClosed(p.level)) sync.registry.holdShunt(p.name, p.addresses, p.expiresAt + sync.registry.shuntGraceSec, now());
    }
  }
  // serve's own private answers too (src/daemon/leftovers.ts): what the previous process handed out
  // stays closed for its lifetime plus the grace, from the closed-set file and from the conns the
  // IKE daemon still holds. Held before the reconcile, which would otherwise remove those conns.
  const closedPath = o.autospState ? join(dirname(o.autospState), CLOSED_STATE_FILE) : undefined;
  const grace = sync.registry.shuntGraceSec;
  const policyNow = o.policy ?? defaultPolicy();
  let stored: Shunt[] = [];
  if (closedPath) {
    try {
      const c = readClosedSet(closedPath, now(), policyNow.maxTtl + grace);
      for (const why of c.rejected) log.warn({ state: closedPath }, `stored closed address ignored: ${why}`);
      stored = c.entries;
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'closed-set file not read: holding closed what the IKE daemon still has');
    }
  }
  const leftover = await engine.list().catch(() => [] as InstalledPeer[]);
  const held = leftoverShunts(leftover, stored, policyNow, now(), grace);
  // A stored file may list any address: never the host's own, its routers or its upstreams.
  for (const s of held) {
    const reserved = new Set(sync.reservedAmong(s.addresses));
    const addresses = s.addresses.filter((a) => !reserved.has(a));
    if (reserved.size) log.warn({ name: s.name, addresses: [...reserved] }, 'previous run: reserved addresses not held closed');
    if (addresses.length) sync.registry.holdShunt(s.name, addresses, s.until, now());
  }
  if (held.length)
    log.info(
      { names: held.length, addresses: held.reduce((n, s) => n + s.addresses.length, 0) },
      'previous run: private addresses held closed (drop shunts) until validated again',
    );
  let closedWritten = -1;
  let closedMs = 0;
  const writeClosed = (): void => {
    // Not before the state directory exists: made later by the service user (after the privilege
    // drop), never by us as root here, or it could no longer be handed over (a first start).
    if (!closedPath || sync.registry.changes === closedWritten || !existsSync(dirname(closedPath))) return;
    const t = Date.now();
    try {
      writeClosedSet(closedPath, sync.registry.closedSet(now()), now());
      closedWritten = sync.registry.changes;
    } catch (e) {
      log.warn({ err: (e as Error).message, state: closedPath }, 'closed-set file not written');
    }
    closedMs = Date.now() - t;
  };
  await reconcile();
  sync.start();
  writeClosed();
  // Every 2 s when something changed (longer when the file is big: at most ~5% of the time goes to
  // it): a crash loses at most that much, and what it loses is still in the IKE daemon's conns (held
  // above on the next start if policy says private).
  let closedTimer: NodeJS.Timeout | undefined;
  const scheduleClosed = (): void => {
    closedTimer = setTimeout(
      () => {
        writeClosed();
        scheduleClosed();
      },
      Math.max(2000, 20 * closedMs),
    );
    closedTimer.unref();
  };
  scheduleClosed();

  let validation!: DaemonValidation;
  let upstreamRef: RunningServer['upstream'] | undefined;
  const ntas = new NtaSet();
  ntas.setConfigured(o.serve.negativeTrustAnchors ?? []);
  // RFC 5011 (with a state file): the anchors the validator starts from are the tracked ones.
  const trust = new TrustAnchorManager({
    configured: o.anchors ?? ROOT_ANCHORS,
    statePath: o.serve.trustAnchorState ?? undefined,
    stateOwners: stateOwners(o.serve.user),
    query: (name, type) => upstreamQuery(upstreamRef!)(name, type),
    now,
    log,
    onChange: (anchors) => {
      validation.setAnchors(anchors);
      server.cache.clear();
      log.warn(
        { anchors: anchors.map((a) => ({ zone: a.zone || '.', ds: a.ds.length, keys: a.keys.length })) },
        'trust anchors changed (RFC 5011): validator rebuilt, cache flushed',
      );
      logUntrusted();
    },
  });
  const logUntrusted = (): void => {
    const dead = trust.untrusted();
    if (dead.length) {
      log.error(
        { trustPoints: dead.map((z) => z || '.'), state: o.serve.trustAnchorState },
        'no trusted key left for these trust points (RFC 5011 state): every name under them is answered SERVFAIL; move the state file away and restart to start again from the configured anchors',
      );
    }
  };
  logUntrusted();
  const server = await startServer(o.serve, {
    log,
    validator: (upstream) => {
      upstreamRef = upstream;
      validation = daemonValidation(upstream, trust.anchors(), now, ntas, log, () => trust.untrusted());
      return validation.validator;
    },
    // Capture mode is built on the resolver's inner layer, before the pipeline that wraps it.
    capture: (inner) =>
      new Capture({
        policy: o.policy ?? defaultPolicy(),
        sync,
        resolver: { resolve: (q) => inner.resolveInternal(q) },
        now,
        shorten: (entry, ttl) => inner.shortenCached(entry, ttl),
        peekCached: (q) => inner.peekCached(q),
        maxPeers: o.maxPeers,
        initiate: o.initiate,
        log,
      }),
  });
  const capture = server.capture;
  // autosp and the responder look names up the way capture does: through cache and validation.
  const internal: InternalResolver = { resolve: (q) => server.pipeline.resolveInternal(q) };

  // When the IKE daemon comes back (restart, crash), it has forgotten everything: put it all back.
  const onBack = (): void =>
    void reconcile().then(() => autosp?.bringUp().catch((e: Error) => log.warn({ err: e.message }, 'autosp: bring-up failed')));
  engine.events?.on('reconnected', onBack);

  const autosp =
    o.autospState === undefined || o.autospState === null
      ? undefined
      : createAutospService({
          sync,
          engine,
          statePath: o.autospState,
          initiate: o.initiate,
          resolvePeer: createPeerResolver({ resolver: internal, policy: autospPolicy(o.policy), now }),
          maxTtl: autospPolicy(o.policy).maxTtl,
          log,
        });
  // The responder looks initiators up through the same validating resolver, with autosp's policy.
  const responder = o.responder
    ? createResponder({
        ...o.responder,
        sync,
        resolvePeer: createPeerResolver({ resolver: internal, policy: autospPolicy(o.policy), now }),
        // charon restarted: a status call makes the engine reconnect (and notice it must reload our
        // key) before the reconcile puts every peer back.
        onDaemonRestart: async () => {
          await engine.status();
          await reconcile();
        },
        log,
      })
    : undefined;
  await responder?.start();
  // Upstreams that follow the network: re-read the file when it changes, never ourselves.
  upstreamsInUse = () => server.upstream.opts.servers;
  const ownAddresses = (): Endpoint[] => [...o.serve.listen, ...server.addresses];
  const selfIn = (servers: Endpoint[]): Endpoint[] => servers.filter((u) => isOwnAddress(u, ownAddresses()));
  // The config check knew the listen addresses, not the ports the kernel chose for port 0.
  const startSelf = selfIn(server.upstream.opts.servers);
  if (startSelf.length) {
    server.upstream.setServers(server.upstream.opts.servers.filter((u) => !startSelf.includes(u)));
    log.error({ upstream: startSelf.map(formatEndpoint) }, 'upstream is oedns itself (it would forward to itself): left out');
  }
  let upstreamWatch: UpstreamFileWatch | undefined;
  // Made in two steps so that a reload can build the new watch before it changes anything.
  const makeWatch = (cfg: ServeConfig): UpstreamFileWatch | undefined =>
    cfg.upstreamFile
      ? watchUpstreamFile(
          cfg.upstreamFile,
          ownAddresses(),
          server.upstream.opts.servers,
          (servers) => d.setUpstreams(servers, `${cfg.upstreamFile} changed`),
          1000,
          (problem) =>
            log.error(
              { upstreamFile: cfg.upstreamFile, upstream: server.upstream.opts.servers.map(formatEndpoint) },
              `upstream file not followed: ${problem}; keeping the upstreams it named before (fix its owner and mode, see docs/resolver.md)`,
            ),
        )
      : undefined;
  const useWatch = (w: UpstreamFileWatch | undefined): void => {
    upstreamWatch?.close();
    upstreamWatch = w;
    // The bound ports are known only now (port 0 in tests): re-check against them at once.
    upstreamWatch?.check();
  };
  let currentConfig = o.serve;
  const d: RunningDaemon = {
    server,
    sync,
    capture,
    engine,
    autosp,
    responder,
    status: () => buildStatus(d, o, startedAt, now()),
    reconcile,
    setPolicy: (p) => capture.setPolicy(p),
    validation,
    ntas,
    trust,
    flush(name) {
      if (name === undefined) {
        const dropped = server.cache.stats().entries;
        server.cache.clear();
        validation.reset();
        return { dropped };
      }
      return { dropped: server.cache.flushName(name) };
    },
    setUpstreams(servers, why) {
      server.upstream.setServers(servers);
      server.cache.clear();
      log.warn(
        { upstream: servers.map(formatEndpoint), why },
        servers.length ? 'upstreams changed: cache flushed' : 'no upstream left (no network?): answering SERVFAIL until one appears',
      );
    },
    setLogLevel(level) {
      if (!LOG_LEVELS.includes(level as LogLevel)) throw new Error(`log level must be one of ${LOG_LEVELS.join('|')}`);
      const previous = log.level;
      log.level = level;
      return { previous, level };
    },
    reconfigure(next) {
      const applied: string[] = [];
      const restartNeeded: string[] = [];
      const prev = currentConfig;
      const changed = (k: keyof ServeConfig): boolean => JSON.stringify(prev[k]) !== JSON.stringify(next.config[k]);
      // All or nothing: whatever can fail (names, levels, a validator, the upstream file watch) is
      // built first; only then is anything applied, by steps that cannot fail. A reload that throws
      // leaves the daemon exactly as it was.
      const level = next.config.logLevel;
      if (changed('logLevel') && !LOG_LEVELS.includes(level))
        throw new ConfigError('bad-log-level', `log level must be one of ${LOG_LEVELS.join('|')}`);
      const ntaEntries = changed('negativeTrustAnchors') ? configuredNtas(next.config.negativeTrustAnchors) : undefined;
      const self = next.config.upstreamFile ? [] : selfIn(next.config.upstream);
      if (self.length)
        throw new ConfigError(
          'upstream-is-self',
          `'upstream' ${self.map(formatEndpoint).join(', ')} is oedns itself: it would forward its questions to itself`,
        );
      const useAnchors = changed('trustAnchor') && !trust.managed ? validation.prepareAnchors(next.anchors) : undefined;
      // Last, so that nothing after it can throw: an unused watch would have to be closed again.
      const watch = makeWatch(next.config);

      if (next.policy) {
        capture.setPolicy(next.policy);
        applied.push('policy');
      }
      if (changed('logLevel')) {
        log.level = level;
        applied.push(`logLevel=${level}`);
      }
      if (changed('upstream') || changed('upstreamFile')) {
        if (!next.config.upstreamFile) d.setUpstreams(next.config.upstream, 'configuration reloaded');
        applied.push('upstream');
      }
      useWatch(watch);
      if (useAnchors) {
        useAnchors();
        server.cache.clear();
        applied.push('trustAnchor');
      } else if (changed('trustAnchor')) restartNeeded.push('trustAnchor');
      if (ntaEntries) {
        ntas.replaceConfigured(ntaEntries);
        for (const n of [...prev.negativeTrustAnchors, ...next.config.negativeTrustAnchors]) server.cache.flushName(n);
        applied.push('negativeTrustAnchors');
      }
      for (const k of RESTART_KEYS) if (changed(k)) restartNeeded.push(k);
      currentConfig = { ...next.config };
      return { applied, restartNeeded };
    },
    async reload() {
      upstreamWatch?.check();
      return o.reload ? o.reload() : { applied: [], restartNeeded: [] };
    },
    async stop() {
      upstreamWatch?.close();
      trust.close();
      engine.events?.off('reconnected', onBack);
      await d.control?.close();
      await responder?.close();
      await autosp?.close();
      await server.stop();
      clearTimeout(closedTimer);
      writeClosed();
      await sync.close();
      await engine.close();
    },
  };
  if (o.controlPath) {
    try {
      d.control = await startControlServer({
        path: o.controlPath,
        log,
        handlers: {
          status: () => d.status(),
          ...daemonControlHandlers(d, now),
          ...(autosp?.handlers ?? {}),
          ...(o.controlHandlers?.(d) ?? {}),
        },
      });
    } catch (e) {
      await d.stop();
      throw e;
    }
  }
  useWatch(makeWatch(o.serve));
  trust.start();
  // With initiate: start IKE for adopted autosp peers whose SA is not up.
  await autosp?.bringUp().catch((e: Error) => log.warn({ err: e.message }, 'autosp: bring-up failed'));
  return d;
}

async function buildStatus(d: RunningDaemon, o: DaemonOptions, startedAt: number, nowSec: number): Promise<DaemonStatus> {
  const engineStatus = await d.engine
    .status()
    .catch((e: Error) => ({ engine: d.engine.kind, reachable: false, peers: 0, detail: e.message }));
  const held = new Map<string, InstalledPeer>();
  const heldShunts = new Map<string, InstalledPeer>();
  if (engineStatus.reachable) {
    for (const p of await d.engine.list().catch(() => [])) (p.shunt ? heldShunts : held).set(p.name.toLowerCase(), p);
  }
  // Every owner's peers with their owners and the engine's SA states: more than autosp's peerSummary().
  const peers: PeerStatus[] = d.sync.registry.desired().map((p) => {
    const e = held.get(p.name.toLowerCase());
    const authenticated = p.auth.kind === 'pubkey';
    return {
      name: p.name,
      addresses: p.addresses,
      level: p.level,
      keySource: authenticated ? 'dnssec-secure' : 'unauthenticated',
      authenticated,
      owners: d.sync.registry.owners(p.name),
      expiresAt: p.expiresAt,
      ikeState: e?.ikeState,
      childState: e?.childState,
    };
  });
  const shunts: ShuntStatus[] = d.sync.shunts().map((x) => {
    const e = heldShunts.get(x.name);
    return { name: x.name, addresses: x.addresses, until: x.until, held: !!e && x.addresses.every((a) => e.addresses.includes(a)) };
  });
  const r = d.server.stats();
  const c = d.capture.counters;
  const s = d.sync.stats();
  const counters: Record<string, number> = {
    queries: r.pipeline.queries,
    cacheHits: r.pipeline.answeredFromCache,
    servfail: r.pipeline.servfail,
    formerr: r.pipeline.formerr,
    refusedByAcl: r.pipeline.refusedByAcl,
    captured: c.captured,
    installs: c.installed,
    installsUnauthenticated: c.installedUnauthenticated,
    answeredClear: c.answeredClear,
    refused: c.refused,
    addressLeaksGuarded: c.addressLeaksGuarded,
    engineFailures: c.engineFailures,
    engineCalls: s.installs + s.removes + s.shuntCalls,
    shuntCalls: s.shuntCalls,
    rolledSas: s.rolledSas,
    pendingRemovals: s.pendingRemovals,
    pendingRolledSas: s.pendingRolledSas,
    shuntsEvicted: d.sync.registry.evictedShunts,
  };
  for (const [reason, n] of d.capture.refusals) counters[`refused: ${reason}`] = n;
  if (d.responder) for (const [k, n] of Object.entries(d.responder.counters)) counters[`responder: ${k}`] = n;
  return {
    version: VERSION,
    startedAt,
    now: nowSec,
    listen: d.server.addresses.map(formatEndpoint),
    upstreams: d.server.config.upstream.map(formatEndpoint),
    engine: engineStatus,
    peers,
    shunts,
    retrying: d.sync.pendingRetries(),
    counters,
  };
}
