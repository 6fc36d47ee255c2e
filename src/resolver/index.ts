// startServer: the resolver assembled (cache, upstream pool, pipeline, listeners) and running in this
// process. The daemon (`oedns serve`), tests and benchmarks all start it through here.
import { type Logger, silentLogger } from '../util/log';
import { type ServeConfig, type ServeConfigInput, resolveServeConfig } from '../config/serve';
import { LOOPBACK_CIDRS, makeAcl } from './acl';
import { Cache, type CacheStats, type Clock, DEFAULT_CACHE } from './cache';
import { type Endpoint } from './endpoint';
import { type CaptureHook, Pipeline, type PipelineStats, type Stage, type Validator } from './pipeline';
import { DEFAULT_LISTEN, type ServerStats, listen } from './server';
import { DEFAULT_UPSTREAM, UpstreamPool, type UpstreamStats } from './upstream';

export interface StartOptions {
  /** Milliseconds clock for the cache; tests inject one to age answers. */
  now?: Clock;
  validator?: Validator | ((upstream: UpstreamPool) => Validator);
  captureHook?: CaptureHook;
  /** Build the capture stage once the pipeline exists (it resolves through the pipeline itself). */
  capture?: (pipeline: Pipeline) => Stage;
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

export interface RunningServer {
  addresses: Endpoint[];
  pipeline: Pipeline;
  upstream: UpstreamPool;
  /** The answer cache (`oedns control flush`, and flushed when the network changes). */
  cache: Cache;
  config: ServeConfig;
  stats(): ResolverStats;
  stop(): Promise<void>;
}

function isResolved(c: ServeConfig | ServeConfigInput): c is ServeConfig {
  return Array.isArray(c.listen) && typeof c.listen[0] === 'object';
}

/** Starts listening on every configured address; resolves once all sockets are bound. */
export async function startServer(config: ServeConfig | ServeConfigInput, opts: StartOptions = {}): Promise<RunningServer> {
  const cfg = isResolved(config) ? config : resolveServeConfig({}, config);
  const log = opts.log ?? silentLogger;
  const allow = makeAcl([...LOOPBACK_CIDRS, ...cfg.allow]);
  const cache = new Cache({ ...DEFAULT_CACHE, maxEntries: cfg.cacheSize, maxBytes: cfg.cacheBytes, now: opts.now ?? Date.now });
  const upstream = new UpstreamPool({
    ...DEFAULT_UPSTREAM,
    servers: cfg.upstream,
    timeoutMs: cfg.upstreamTimeoutMs,
    rounds: opts.upstreamRounds ?? DEFAULT_UPSTREAM.rounds,
    udpSize: cfg.maxUdpSize,
    log,
  }, cfg.upstreamFile !== undefined);
  // The capture stage needs the pipeline (its lookups go through cache and validation), and the
  // pipeline needs the stage: a late-bound stage breaks the cycle.
  let capture: Stage | undefined;
  const lateCapture: Stage | undefined = opts.capture
    ? {
        name: 'capture',
        handle: (ctx, next) => capture!.handle(ctx, next),
        passesCached: (e) => (capture?.passesCached ? capture.passesCached(e) : capture === undefined ? false : true),
      }
    : undefined;
  const pipeline = new Pipeline({
    allow, cache, upstream,
    validator: typeof opts.validator === 'function' ? opts.validator(upstream) : opts.validator,
    captureHook: opts.captureHook, capture: lateCapture, maxUdpSize: cfg.maxUdpSize, log,
  });
  if (opts.capture) capture = opts.capture(pipeline);
  const server = await listen(
    { ...DEFAULT_LISTEN, listen: cfg.listen, tcpIdleMs: cfg.tcpIdleMs, allow, log },
    (raw, client) => pipeline.handle(raw, client),
  );
  let stopped: Promise<void> | undefined;
  return {
    addresses: server.addresses,
    pipeline,
    upstream,
    cache,
    config: cfg,
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

export { Pipeline } from './pipeline';
export type { Stage, QueryContext, Outcome, Answer, Validator, CaptureHook, Refusal, ClientInfo } from './pipeline';
