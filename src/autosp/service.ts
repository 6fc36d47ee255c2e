// The daemon side of autosp: control-socket commands through which the CLI hands its peers to a
// running `oedns serve`, whose registry then holds them (owner 'autosp') next to its own. A peer that
// serve's capture also wants stays until both owners have released it.
//
//   peer-add    { names: string[], initiate?: boolean }  → { peers: PeerReport[] }
//   peer-remove { names: string[] }                      → { peers: PeerReport[] }
//   peer-sync   { names: string[], initiate?: boolean, refresh?: boolean }
//                                                        → { peers: PeerReport[] }   exactly these;
//                                                          refresh: false looks up only new names
//   peer-list   { }                                      → { peers: PeerReport[], engine?: InstalledPeer[] }
// Every request may carry owner: 'autosp' (the only owner served here).
import type { ControlHandler } from '../control/server';
import type { Engine, InstalledPeer } from '../ike-bridge/engine';
import type { PeerSync, SyncClock } from '../peers';
import { ConfigError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import { AutospKeeper, type PeerReport } from './keeper';
import { checkPeerName, MAX_PEERS } from './peers-file';
import type { ResolvePeer } from './resolve';
import { readAutospState, stateWriter, writeAutospState } from './state';

export interface AutospServiceDeps {
  sync: PeerSync;
  /** createPeerResolver({ resolver: <the daemon's internal resolver>, policy: autospPolicy(...) }). */
  resolvePeer: ResolvePeer;
  /** Where autosp's names and peers are kept across restarts (DEFAULT_STATE_PATH); none: not kept. */
  statePath?: string;
  /** Initiate IKE for peers whose request does not say. */
  initiate?: boolean;
  /** For IKE/CHILD states in peer-list. */
  engine?: Engine;
  clock?: SyncClock;
  log?: Logger;
  /** Longest lifetime a stored peer may claim (policy max-ttl); default DEFAULT_MAX_TTL. */
  maxTtl?: number;
}

export interface AutospService {
  keeper: AutospKeeper;
  handlers: Record<string, ControlHandler>;
  /**
   * After the daemon's reconcile (e.g. charon restarted): start IKE again, soon, for adopted peers
   * whose CHILD_SA is not up (with initiate on). Needs deps.engine; returns the names marked.
   */
  bringUp(): Promise<string[]>;
  /** Stop refreshing and wait for lookups under way; peers stay installed. */
  close(): Promise<void>;
}

function namesArg(args: Record<string, unknown>): string[] {
  if (args.owner !== undefined && args.owner !== 'autosp') {
    throw new ConfigError('autosp-owner', `owner must be "autosp", got ${JSON.stringify(args.owner)}`);
  }
  const v = args.names;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new ConfigError('autosp-args', '"names" must be an array of strings');
  if (v.length > MAX_PEERS) throw new ConfigError('autosp-args', `more than ${MAX_PEERS} names`);
  return [...new Set(v.map((x) => checkPeerName(x)))];
}

function initiateArg(args: Record<string, unknown>): boolean | undefined {
  if (args.initiate === undefined) return undefined;
  if (typeof args.initiate !== 'boolean') throw new ConfigError('autosp-args', '"initiate" must be a boolean');
  return args.initiate;
}

/**
 * The autosp keeper inside the daemon plus its control handlers. With a statePath, names and peers
 * from the state file are adopted at once (upserted into the registry: reconcile afterwards) and every
 * change is written back.
 */
export function createAutospService(deps: AutospServiceDeps): AutospService {
  const log = deps.log ?? silentLogger;
  const statePath = deps.statePath;
  // Coalesced writes (src/autosp/state.ts stateWriter): the keeper exists before its first change.
  const keeper: AutospKeeper = new AutospKeeper({
    sync: deps.sync,
    resolvePeer: deps.resolvePeer,
    initiate: deps.initiate,
    clock: deps.clock,
    log,
    onChange: () => writer?.schedule(),
  });
  const writer = statePath ? stateWriter(() => writeAutospState(statePath, keeper.state())) : undefined;
  if (deps.statePath) {
    try {
      const st = readAutospState(deps.statePath, { maxTtl: deps.maxTtl });
      for (const why of st.rejected) log.warn({ state: deps.statePath }, `autosp: stored peer ignored: ${why}`);
      keeper.adopt(st);
    } catch (e) {
      log.warn({ err: e instanceof Error ? e.message : String(e) }, 'autosp: state file not adopted');
    }
  }
  // Another owner's answer for one of our names failed validation: look it up ourselves now.
  const unsubscribe = deps.sync.onInvalidated((name, owner) => {
    if (owner !== 'autosp') keeper.revalidate(name);
  });
  keeper.start();
  // An operator's request is written before it is answered (one write per request, however many names).
  const flushed =
    (h: ControlHandler): ControlHandler =>
    async (args) => {
      try {
        return await h(args);
      } finally {
        writer?.flush();
      }
    };
  const handlers: Record<string, ControlHandler> = {
    'peer-add': flushed(async (args) => ({ peers: await keeper.add(namesArg(args), { initiate: initiateArg(args) }) })),
    'peer-remove': flushed(async (args) => ({ peers: await keeper.remove(namesArg(args)) })),
    'peer-sync': flushed(async (args) => {
      if (args.refresh !== undefined && typeof args.refresh !== 'boolean')
        throw new ConfigError('autosp-args', '"refresh" must be a boolean');
      return { peers: await keeper.setNames(namesArg(args), { initiate: initiateArg(args), refreshExisting: args.refresh !== false }) };
    }),
    'peer-list': async () => {
      let engine: InstalledPeer[] | undefined;
      if (deps.engine) engine = await deps.engine.list().catch(() => undefined);
      const peers: PeerReport[] = keeper.reports();
      return { peers, engine };
    },
  };
  const bringUp = async (): Promise<string[]> => {
    if (!deps.engine) return [];
    const held = await deps.engine.list().catch(() => [] as InstalledPeer[]);
    const up = new Set(held.filter((p) => p.childState === 'INSTALLED').map((p) => p.name));
    return keeper.markDown(keeper.names().filter((n) => !up.has(n)));
  };
  return {
    keeper,
    handlers,
    bringUp,
    close: () => {
      unsubscribe();
      return keeper.close().finally(() => writer?.flush());
    },
  };
}

/** The handlers alone, for `startControlServer({ handlers: { ...serveHandlers, ...autospControlHandlers(deps) } })`. */
export function autospControlHandlers(deps: AutospServiceDeps): Record<string, ControlHandler> {
  return createAutospService(deps).handlers;
}
