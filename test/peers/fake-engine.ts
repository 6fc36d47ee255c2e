// A scripted Engine for the sync tests: records every call, can hold calls until released, and can
// fail on demand. (src/ike-bridge/dry-run.ts was not there when these tests were written.)
import type { Engine, EngineStatus, InstalledPeer, Peer, ReconcileResult } from '../../src/ike-bridge/engine';
import { EngineError } from '../../src/util/errors';

export class FakeEngine implements Engine {
  readonly kind = 'fake';
  readonly calls: string[] = [];
  readonly held = new Map<string, Peer>();
  /** While set, install/remove wait for release(). */
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;
  failInstall = false;
  failReconcile = false;
  inFlight = 0;
  maxInFlight = 0;

  hold(): void {
    this.gate = new Promise((res) => {
      this.open = res;
    });
  }

  release(): void {
    this.open?.();
    this.gate = null;
    this.open = null;
  }

  private async step<T>(fn: () => T): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      await Promise.resolve();
      return fn();
    } finally {
      this.inFlight--;
    }
  }

  install(peer: Peer): Promise<void> {
    this.calls.push(`install ${peer.name}`);
    return this.step(() => {
      if (this.failInstall) throw new EngineError('ENGINE_INSTALL', `fake: cannot install ${peer.name}`);
      this.held.set(peer.name, peer);
    });
  }

  remove(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    return this.step(() => {
      this.held.delete(name);
    });
  }

  async list(): Promise<InstalledPeer[]> {
    return [...this.held.values()].map((p) => ({
      name: p.name,
      connection: `oe-${p.name}`,
      addresses: p.addresses,
      authenticated: p.auth.kind === 'pubkey',
    }));
  }

  async status(): Promise<EngineStatus> {
    return { engine: 'fake', reachable: true, peers: this.held.size };
  }

  async reconcile(desired: Peer[]): Promise<ReconcileResult> {
    this.calls.push(
      `reconcile ${desired
        .map((p) => p.name)
        .sort()
        .join(',')}`,
    );
    if (this.failReconcile) throw new EngineError('ENGINE_UNREACHABLE', 'fake: engine down');
    const res: ReconcileResult = { installed: [], removed: [], unchanged: [], failed: [] };
    const want = new Set(desired.map((p) => p.name));
    for (const name of [...this.held.keys()]) {
      if (!want.has(name)) {
        this.held.delete(name);
        res.removed.push(name);
      }
    }
    for (const p of desired) {
      if (this.held.has(p.name)) res.unchanged.push(p.name);
      else res.installed.push(p.name);
      this.held.set(p.name, p);
    }
    return res;
  }

  async close(): Promise<void> {}
}
