// autosp driving the engine itself, when no daemon takes its peers: one process at a time (the state
// lock), the stored names adopted, looked up and validated again, and the engine brought in line
// before any command runs. Closing persists the state and releases the lock. The CLI builds the
// engine and the resolver from its options and hands them in (src/autosp may not import the layers
// that build them).
import type { Engine, InstalledPeer } from '../ike-bridge/engine';
import { PeerSync } from '../peers';
import type { Logger } from '../util/log';
import { Unreachable } from './errors';
import { AutospKeeper } from './keeper';
import type { ResolvePeer } from './resolve';
import { lockState, readAutospState, stateWriter, writeAutospState } from './state';

export interface Direct {
  engine: Engine;
  sync: PeerSync;
  keeper: AutospKeeper;
  statePath: string;
  persist(): void;
  /** Stop; `persist: false` after handing the peers to a daemon (which now writes the state). */
  close(opts?: { persist?: boolean }): Promise<void>;
}

export interface DirectOptions {
  statePath: string;
  /** The policy's max TTL: caps the expiries read back from the state file. */
  maxTtl: number;
  resolvePeer: ResolvePeer;
  initiate: boolean;
  /** Called once the state file has been read, so that a bad state file is reported first. */
  makeEngine(): Promise<Engine>;
}

export async function openDirect(o: DirectOptions, log: Logger): Promise<Direct> {
  const { statePath, resolvePeer } = o;
  const state = readAutospState(statePath, { maxTtl: o.maxTtl });
  for (const why of state.rejected) log.warn({ state: statePath }, `autosp: stored peer ignored: ${why}`);
  const engine = await o.makeEngine();
  let unlock: (() => void) | undefined;
  try {
    const st = await engine.status();
    if (!st.reachable) throw new Unreachable('engine-unreachable', `the ${st.engine} engine is unreachable: ${st.detail ?? ''}`);
    unlock = lockState(statePath);
    const sync = new PeerSync({ engine, log });
    // Coalesced (src/autosp/state.ts stateWriter); persist() writes what is pending now.
    const keeper: AutospKeeper = new AutospKeeper({ sync, resolvePeer, initiate: o.initiate, log, onChange: () => writer.schedule() });
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
      throw new Unreachable(
        'engine-unreachable',
        `reconcile with the ${engine.kind} engine failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (o.initiate && engine.kind !== 'dry-run') {
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
      async close(c = {}) {
        await keeper.close();
        await sync.close();
        try {
          if (c.persist !== false) persist();
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
