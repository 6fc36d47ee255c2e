// startServer: the resolver assembled (cache, upstream pool, pipeline, listeners) and running in this
// process. The daemon (`oedns serve`), tests and benchmarks all start it through here.
// Layering: src/resolver may import src/dnssec, src/wire and src/util (and, as a known exception
// left for later, src/config/serve below).
import { type Logger, silentLogger } from '../util/log';
// eslint-disable-next-line no-restricted-imports -- known exception (docs/CONTRIBUTING.md): a config given as text
import { type ServeConfig, type ServeConfigInput, resolveServeConfig } from '../config/serve';
import { LOOPBACK_CIDRS, makeAcl } from './acl';
import { Cache, type CacheStats, type Clock, DEFAULT_CACHE } from './cache';
import { type Endpoint } from './endpoint';
import { type InternalLookups, Pipeline, type PipelineStats, ResolverCore, type Stage, type Validator } from './pipeline';
import { DEFAULT_LISTEN, type ServerStats, listen } from './server';
import { DEFAULT_UPSTREAM, UpstreamPool, type UpstreamStats } from './upstream';

/** What capture mode builds on the resolver's inner layer: anything that can hand the pipeline its stage. */
export interface CaptureLayer {
  stage(): Stage;
}

export interface StartOptions<C extends CaptureLayer = CaptureLayer> {
  /** Milliseconds clock for the cache; tests inject one to age answers. */
  now?: Clock;
  validator?: Validator | ((upstream: UpstreamPool) => Validator);
  /**
   * Builds capture mode on the inner layer (cache, validate, upstream), before the pipeline that
   * wraps both exists: its own lookups go through that layer. The result comes back as `capture`.
   */
  capture?: (inner: InternalLookups) => C;
  log?: Logger;
  /** Upstream tuning for tests (e.g. fewer rounds). */
  upstreamRounds?: number;
}

export interface ResolverStats {
  server: ServerStats;
  pipeline: PipelineStats;
  cache: CacheStats;
  upstream: UpstreamStats;
}

export interface RunningServer<C extends CaptureLayer | undefined = CaptureLayer | undefined> {
  addresses: Endpoint[];
  pipeline: Pipeline;
  upstream: UpstreamPool;
  /** The answer cache (`oedns control flush`, and flushed when the network changes). */
  cache: Cache;
  config: ServeConfig;
  /** What StartOptions.capture built (undefined without one). */
  capture: C;
  stats(): ResolverStats;
  stop(): Promise<void>;
}

function isResolved(c: ServeConfig | ServeConfigInput): c is ServeConfig {
  return Array.isArray(c.listen) && typeof c.listen[0] === 'object';
}

/** Starts listening on every configured address; resolves once all sockets are bound. */
export async function startServer<C extends CaptureLayer>(
  config: ServeConfig | ServeConfigInput,
  opts: StartOptions<C> & { capture: (inner: InternalLookups) => C },
): Promise<RunningServer<C>>;
export async function startServer(config: ServeConfig | ServeConfigInput, opts?: StartOptions): Promise<RunningServer<undefined>>;
export async function startServer(config: ServeConfig | ServeConfigInput, opts: StartOptions = {}): Promise<RunningServer> {
  const cfg = isResolved(config) ? config : resolveServeConfig({}, config);
  const log = opts.log ?? silentLogger;
  const allow = makeAcl([...LOOPBACK_CIDRS, ...cfg.allow]);
  const cache = new Cache({
    ...DEFAULT_CACHE,
    maxEntries: cfg.cacheSize,
    maxBytes: cfg.cacheBytes,
    hotEntries: cfg.cacheHot,
    now: opts.now ?? Date.now,
  });
  const upstream = new UpstreamPool(
    {
      ...DEFAULT_UPSTREAM,
      servers: cfg.upstream,
      timeoutMs: cfg.upstreamTimeoutMs,
      rounds: opts.upstreamRounds ?? DEFAULT_UPSTREAM.rounds,
      udpSize: cfg.maxUdpSize,
      log,
    },
    cfg.upstreamFile !== undefined,
  );
  // Inside out: the core (cache, validate, upstream), capture on the core, the pipeline around both.
  const validator = typeof opts.validator === 'function' ? opts.validator(upstream) : opts.validator;
  const core = new ResolverCore({ cache, upstream, validator, maxUdpSize: cfg.maxUdpSize, log });
  const capture = opts.capture?.(core);
  const pipeline = new Pipeline({
    allow,
    cache,
    upstream,
    core,
    capture: capture?.stage(),
    maxUdpSize: cfg.maxUdpSize,
    log,
  });
  const server = await listen(
    { ...DEFAULT_LISTEN, listen: cfg.listen, tcpIdleMs: cfg.tcpIdleMs, tcpFrameMs: cfg.tcpFrameMs, allow, log },
    (raw, client) => pipeline.handle(raw, client),
  );
  let stopped: Promise<void> | undefined;
  return {
    addresses: server.addresses,
    pipeline,
    upstream,
    cache,
    config: cfg,
    capture,
    stats: () => ({ server: server.stats(), pipeline: { ...pipeline.stats }, cache: cache.stats(), upstream: upstream.stats() }),
    stop: () => {
      stopped ??= (async () => {
        upstream.close();
        await server.close();
      })();
      return stopped;
    },
  };
}

export { Pipeline, ResolverCore } from './pipeline';
export type { Stage, QueryContext, Outcome, Answer, Validator, ClientInfo, InternalLookups } from './pipeline';
