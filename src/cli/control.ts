// `oedns control ...`: acts on a running `oedns serve` over its control socket, as unbound-control does
// for Unbound: reload, flush [NAME], reconcile, log-level LEVEL, stats, negative trust anchors,
// shunt-clear NAME.
// The socket path comes from --control, else the config file's `control`, else the default.
import { type Command } from 'commander';
import { controlRequest } from '../control/client';
import { defaultControlPath } from '../control/protocol';
import { loadConfig } from '../config/file';
import { duration } from '../config/serve';
import { exitOnError } from './common';

interface ControlFlags {
  control?: string;
  config?: string;
  json?: boolean;
}

function socketPath(f: ControlFlags): string {
  if (f.control) return f.control;
  const { raw } = loadConfig(f.config);
  const c = raw.control;
  return typeof c === 'string' && c !== 'none' ? c : defaultControlPath();
}

const line = (o: unknown): string => `${JSON.stringify(o)}\n`;

/** Human form of each command's answer; --json prints the answer as it came. */
const HUMAN: Record<string, (r: unknown) => string> = {
  reload: (r) => {
    const x = r as { applied: string[]; restartNeeded: string[] };
    return (
      `reloaded: ${x.applied.length ? x.applied.join(', ') : 'nothing changed'}\n` +
      (x.restartNeeded.length ? `needs a restart to take effect: ${x.restartNeeded.join(', ')}\n` : '')
    );
  },
  flush: (r) => `flushed ${(r as { dropped: number }).dropped} cache entries\n`,
  reconcile: (r) => `reconciled: ${(r as { peers: number }).peers} peers re-applied to the engine\n`,
  'log-level': (r) => `log level ${(r as { previous: string }).previous} -> ${(r as { level: string }).level}\n`,
  'nta-add': (r) => {
    const e = r as { name: string; expiresAt: number };
    return `negative trust anchor ${e.name || '.'} until ${new Date(e.expiresAt * 1000).toISOString()}\n`;
  },
  'shunt-clear': (r) => {
    const x = r as { name: string; cleared: boolean };
    return x.cleared ? `drop shunt of ${x.name} ended\n` : `${x.name} has no drop shunt\n`;
  },
  'nta-remove': (r) => ((r as { removed: boolean }).removed ? 'removed\n' : 'there was no such negative trust anchor\n'),
  'nta-list': (r) => {
    const l = r as Array<{ name: string; expiresAt?: number; source: string }>;
    if (!l.length) return 'no negative trust anchors\n';
    return l
      .map((e) => `${e.name}  ${e.expiresAt ? `until ${new Date(e.expiresAt * 1000).toISOString()}` : 'from the config file'}\n`)
      .join('');
  },
  'trust-anchors': (r) => {
    const l = r as Array<{
      zone: string;
      managed: boolean;
      keys: Array<{ tag: number; state: string }>;
      lastSuccess?: number;
      nextRefresh?: number;
    }>;
    return l
      .map(
        (t) =>
          `${t.zone || '.'}  ${
            t.managed
              ? `RFC 5011: ${t.keys.map((k) => `${k.tag} ${k.state}`).join(', ') || 'not observed yet'}` +
                `${t.lastSuccess ? `; last refresh ${new Date(t.lastSuccess * 1000).toISOString()}` : ''}`
              : 'static (from configuration)'
          }\n`,
      )
      .join('');
  },
  stats: (r) => {
    const s = r as {
      upstreams: string[];
      resolver: Record<string, Record<string, number>>;
      capture: Record<string, number>;
      validator: Record<string, number>;
    };
    const out = [`upstreams: ${s.upstreams.join(', ') || '(none)'}`];
    for (const [group, counters] of Object.entries({ ...s.resolver, capture: s.capture, validator: s.validator })) {
      out.push(
        `${group}: ${Object.entries(counters)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    }
    return `${out.join('\n')}\n`;
  },
};

async function send(cmd: string, args: Record<string, unknown>, f: ControlFlags): Promise<void> {
  try {
    const r = await controlRequest(socketPath(f), cmd, args, 30_000);
    process.stdout.write(f.json ? line(r) : (HUMAN[cmd] ?? line)(r));
  } catch (e) {
    exitOnError(e);
  }
}

export function registerControl(program: Command): void {
  const control = program
    .command('control')
    .description('act on a running `oedns serve` through its control socket (like unbound-control)')
    .option('--control <path>', "the daemon's control socket (default: 'control' of the config file, else /run/oedns/control.sock as root)")
    .option('-c, --config <file>', 'config file to take the socket path from (default /etc/oedns/oedns.yaml when it exists)')
    .option('--json', 'print the answer as JSON');
  const flags = (cmd: Command): ControlFlags => cmd.optsWithGlobals<ControlFlags>();
  control
    .command('reload')
    .description('re-read the config file, policy, trust anchors and upstream file; apply what can change while running (also SIGHUP)')
    .action((_o: unknown, cmd: Command) => send('reload', {}, flags(cmd)));
  control
    .command('flush')
    .argument('[name]', 'only this name and the names below it')
    .description('drop cached answers (all of them, then also the validated DNSKEY/DS cache)')
    .action((name: string | undefined, _o: unknown, cmd: Command) => send('flush', name ? { name } : {}, flags(cmd)));
  control
    .command('reconcile')
    .description('put every wanted peer back into the IKE daemon (after `swanctl --load-all` or a charon restart)')
    .action((_o: unknown, cmd: Command) => send('reconcile', {}, flags(cmd)));
  control
    .command('log-level')
    .argument('<level>', 'fatal|error|warn|info|debug|trace|silent')
    .description("change the daemon's log level until the next restart or reload")
    .action((level: string, _o: unknown, cmd: Command) => send('log-level', { level }, flags(cmd)));
  control
    .command('stats')
    .description('counters: queries, cache, upstreams, validator, capture, engine calls')
    .action((_o: unknown, cmd: Command) => send('stats', {}, flags(cmd)));
  control
    .command('trust-anchors')
    .description('the trust anchors in use and their RFC 5011 key states')
    .action((_o: unknown, cmd: Command) => send('trust-anchors', {}, flags(cmd)));
  control
    .command('shunt-clear')
    .argument('<name>', 'the peer name `oedns status` lists under drop shunts')
    .description("end NAME's drop shunt now: traffic to its addresses may leave in clear again, until a validated answer protects them")
    .action((name: string, _o: unknown, cmd: Command) => send('shunt-clear', { name }, flags(cmd)));
  const nta = control
    .command('nta')
    .description('negative trust anchors (RFC 7646): stop validating a zone whose DNSSEC is broken, for a while');
  nta
    .command('add')
    .argument('<name>', 'zone to stop validating')
    .option('--lifetime <duration>', 'how long: seconds, or 30m, 4h, 1d; at most 7d', '1h')
    .description('answers for NAME and below count as insecure (no AD; never enough to install an IPsec key) until the lifetime ends')
    .action((name: string, o: { lifetime: string }, cmd: Command) => {
      let lifetime: number;
      try {
        lifetime = duration(o.lifetime, 'lifetime', 1, 7 * 86400)!;
      } catch (e) {
        return exitOnError(e);
      }
      return send('nta-add', { name, lifetime }, flags(cmd));
    });
  nta
    .command('remove')
    .argument('<name>')
    .description('validate NAME again')
    .action((name: string, _o: unknown, cmd: Command) => send('nta-remove', { name }, flags(cmd)));
  nta
    .command('list')
    .description('the negative trust anchors and when they end')
    .action((_o: unknown, cmd: Command) => send('nta-list', {}, flags(cmd)));
}
