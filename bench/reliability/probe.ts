// Preloaded into the real `oedns serve` process by the reliability suite
// (`node --expose-gc -r dist/bench/reliability/probe.js dist/src/cli/oedns.js serve ...`, with an IPC
// channel). It answers the suite's questions about the inside of the process that /proc cannot:
// heap after a full GC, active handles and live timers (the global timer functions are wrapped to
// count them), and — with the dry-run engine — every peer the
// engine was asked to install, with its keys, so the suite can hold each one against the zone.
// It changes nothing in oedns; without an IPC channel it does nothing at all.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import type { Peer } from '../../src/ike-bridge/engine';

export interface ProbeSample {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  /** process._getActiveHandles(): sockets, servers, timers with a handle. */
  handles: number;
  /** Live timers (set and neither fired nor cleared), counted by wrapping the global timer functions. */
  timers: number;
  /** Every active resource type with its count. */
  resources: Record<string, number>;
  /** Event-loop delay since the previous sample (ms): its 99th percentile and maximum. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface RecordedInstall {
  name: string;
  addresses: string[];
  /** base64 public keys; empty for an unauthenticated peer. */
  keys: string[];
  auth: string;
  gateway: string | null;
  level: string;
}

export type ProbeRequest = { id: number; cmd: 'sample'; gc?: boolean } | { id: number; cmd: 'installs' };

/** At most this many installs wait for the suite to collect them; beyond it they are counted only. */
const MAX_RECORDED = 200_000;

if (typeof process.send === 'function') {
  const installs: RecordedInstall[] = [];
  let overflow = 0;
  const original = DryRunEngine.prototype.install;
  DryRunEngine.prototype.install = async function (this: DryRunEngine, peer: Peer): Promise<void> {
    if (installs.length < MAX_RECORDED) {
      installs.push({
        name: peer.name,
        addresses: [...peer.addresses],
        keys: peer.auth.kind === 'pubkey' ? peer.auth.keys.map((k) => Buffer.from(k.publicKey).toString('base64')) : [],
        auth: peer.auth.kind,
        gateway: peer.gateway.kind === 'address' ? peer.gateway.address : null,
        level: peer.level,
      });
    } else overflow++;
    return original.call(this, peer);
  };

  // Live timers, unref'd ones included (getActiveResourcesInfo() lists only those that hold the loop).
  const live = new Set<unknown>();
  const g = globalThis as unknown as Record<string, (...a: unknown[]) => unknown>;
  const origSetTimeout = g.setTimeout!;
  const origSetInterval = g.setInterval!;
  const origClearTimeout = g.clearTimeout!;
  const origClearInterval = g.clearInterval!;
  g.setTimeout = function (fn: unknown, ...rest: unknown[]): unknown {
    if (typeof fn !== 'function') return origSetTimeout.call(this, fn, ...rest);
    const t: unknown = origSetTimeout.call(
      this,
      (...a: unknown[]) => {
        live.delete(t);
        return (fn as (...x: unknown[]) => unknown)(...a);
      },
      ...rest,
    );
    live.add(t);
    return t;
  };
  g.setInterval = function (...a: unknown[]): unknown {
    const t = origSetInterval.apply(this, a);
    live.add(t);
    return t;
  };
  g.clearTimeout = function (t: unknown): unknown {
    live.delete(t);
    return origClearTimeout.call(this, t);
  };
  g.clearInterval = function (t: unknown): unknown {
    live.delete(t);
    return origClearInterval.call(this, t);
  };

  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const sample = (gc: boolean): ProbeSample => {
    const loopDelayP99Ms = loop.percentile(99) / 1e6;
    const loopDelayMaxMs = loop.max / 1e6;
    loop.reset();
    const collect = (globalThis as { gc?: () => void }).gc;
    if (gc && collect) collect();
    const m = process.memoryUsage();
    const resources: Record<string, number> = {};
    for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
    const mib = (b: number): number => b / 1048576;
    return {
      rssMiB: mib(m.rss),
      heapUsedMiB: mib(m.heapUsed),
      heapTotalMiB: mib(m.heapTotal),
      externalMiB: mib(m.external),
      handles,
      timers: live.size,
      resources,
      loopDelayP99Ms,
      loopDelayMaxMs,
    };
  };

  process.on('message', (req: ProbeRequest) => {
    if (!req || typeof req !== 'object') return;
    if (req.cmd === 'sample') process.send!({ id: req.id, result: sample(req.gc === true) });
    else if (req.cmd === 'installs') {
      const out = installs.splice(0);
      process.send!({ id: req.id, result: { installs: out, overflow } });
    }
  });
  // The suite going away must not take the daemon with it (it is stopped by signal, like in real life).
  process.on('disconnect', () => undefined);
}
