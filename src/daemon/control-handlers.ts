// What `oedns control` can ask of a running daemon (the unbound-control of oedns): reload, flush,
// reconcile, log-level, stats, negative trust anchors and ending a drop shunt. Each handler checks its arguments and
// answers with data; the control server turns a thrown error into an error reply.
import type { ControlHandler } from '../control/server';
import { formatEndpoint } from '../resolver/endpoint';
import { ConfigError } from '../util/errors';
import type { RunningDaemon } from './daemon';

function nameArg(args: Record<string, unknown>, required: boolean): string | undefined {
  const n = args.name;
  if (n === undefined && !required) return undefined;
  if (typeof n !== 'string' || n.length === 0 || n.length > 1024) throw new ConfigError('control-args', '"name" must be a domain name');
  return n;
}

export function daemonControlHandlers(d: RunningDaemon, now: () => number): Record<string, ControlHandler> {
  return {
    reconcile: async () => {
      await d.reconcile();
      return { peers: d.sync.registry.desired().length };
    },
    reload: () => d.reload(),
    flush: (args) => d.flush(nameArg(args, false)),
    'log-level': (args) => {
      if (typeof args.level !== 'string') throw new ConfigError('control-args', '"level" is required');
      return d.setLogLevel(args.level);
    },
    stats: () => {
      const r = d.server.stats();
      return {
        upstreams: d.server.upstream.opts.servers.map(formatEndpoint),
        resolver: r,
        validator: d.validation.stats(),
        capture: d.capture.counters,
        sync: d.sync.stats(),
        negativeTrustAnchors: d.ntas.list(now()),
        trustAnchors: d.trust.report(),
      };
    },
    'nta-add': (args) => {
      const name = nameArg(args, true)!;
      const lifetime = args.lifetime === undefined ? undefined : Number(args.lifetime);
      const e = d.ntas.add(name, now(), lifetime);
      // Answers cached before the NTA carry the old verdict (often a SERVFAIL): drop them.
      d.flush(e.name);
      return e;
    },
    'nta-remove': (args) => {
      const name = nameArg(args, true)!;
      const removed = d.ntas.remove(name);
      d.flush(name);
      return { removed };
    },
    'nta-list': () => d.ntas.list(now()),
    // An operator who knows a private peer is gone for good (or whose shunt blocks a host that now
    // speaks clear on purpose) should not have to wait out the grace period or restart the daemon.
    'shunt-clear': async (args) => {
      const name = nameArg(args, true)!;
      return { name, cleared: await d.sync.clearShunt(name) };
    },
    'trust-anchors': () => d.trust.report(),
  };
}
