// `oedns doctor [--json]`: runs every check of src/doctor against this host's configuration and prints
// one line per check with a fix under each failure. Exit 0 only when nothing failed.
import { type Command } from 'commander';
import { netQuery } from '../resolver/net-query';
import type { Endpoint } from '../resolver/endpoint';
import {
  type CheckResult,
  checkCharon,
  checkClock,
  checkDaemon,
  checkEngine,
  checkIdentity,
  checkKeyFile,
  checkPublished,
  checkSystemResolver,
  checkTrustAnchors,
  checkUpstreams,
  checkViciGroup,
  type DoctorContext,
} from '../doctor/checks';
import { checkForeignConns, checkTrustSeed } from '../doctor/trust';
import { loadServeConfig } from './serve';

export interface DoctorOptions {
  config?: string;
  json?: boolean;
  /** /etc/resolv.conf, for tests. */
  resolvConf?: string;
  timeout?: string;
}

export async function runDoctor(o: DoctorOptions, nowSec = Math.floor(Date.now() / 1000)): Promise<{ ok: boolean; checks: CheckResult[] }> {
  let loaded;
  try {
    loaded = await loadServeConfig(o.config, {});
  } catch (e) {
    const checks: CheckResult[] = [
      { id: 'config', status: 'fail', detail: (e as Error).message, fix: 'fix the key named above, then `oedns serve --check-config`' },
    ];
    return { ok: false, checks };
  }
  const timeoutMs = o.timeout ? Number(o.timeout) : 2000;
  const first: Endpoint | undefined = loaded.config.upstream[0];
  const query = first
    ? netQuery({ host: first.host, port: first.port, timeoutMs, tries: 2 })
    : async () => {
        throw new Error('no upstream nameserver');
      };
  const ctx: DoctorContext = {
    config: loaded.config,
    configPath: loaded.path,
    anchors: loaded.anchors,
    anchorSource: loaded.anchorSource,
    query,
    now: nowSec,
    timeoutMs,
  };
  const probe = async (e: Endpoint): Promise<number> => (await netQuery({ host: e.host, port: e.port, timeoutMs, tries: 1 })('', 6)).rcode;
  const checks: CheckResult[] = [
    { id: 'config', status: 'pass', detail: loaded.path ? `${loaded.path} is valid` : 'no config file: built-in defaults' },
  ];
  checks.push(checkEngine(ctx));
  checks.push(await checkCharon(ctx));
  checks.push(checkViciGroup(ctx));
  checks.push(checkIdentity(ctx));
  checks.push(checkKeyFile(ctx));
  checks.push(checkTrustSeed(ctx));
  checks.push(await checkForeignConns(ctx));
  checks.push(await checkPublished(ctx));
  const ta = await checkTrustAnchors(ctx);
  checks.push(ta.result);
  checks.push(await checkUpstreams(ctx, probe));
  checks.push(checkSystemResolver(ctx, o.resolvConf));
  checks.push(checkClock(ctx, ta.windows));
  checks.push(await checkDaemon(ctx));
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

export function formatDoctor(r: { ok: boolean; checks: CheckResult[] }): string {
  const width = Math.max(...r.checks.map((c) => c.id.length));
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${c.status.toUpperCase().padEnd(4)}  ${c.id.padEnd(width)}  ${c.detail}`);
    if (c.fix) lines.push(`${' '.repeat(width + 8)}fix: ${c.fix}`);
  }
  const failed = r.checks.filter((c) => c.status === 'fail').length;
  lines.push('', failed ? `${failed} problem${failed > 1 ? 's' : ''} found` : 'no problems found');
  return `${lines.join('\n')}\n`;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check this host: charon and its plugins, who may use its VICI socket, our key and its published IPSECKEY, the trust seed mode, foreign conns that accept any certificate, identity, trust anchors, upstreams, resolv.conf, clock, daemon; a fix for each problem (exit 0 only when all pass)',
    )
    .option('-c, --config <file>', "config file (default /etc/oedns/oedns.yaml when it exists; 'none' for none)")
    .option('--json', 'print one JSON object')
    .option('--timeout <ms>', 'per network step', '2000')
    .option('--resolv-conf <file>', 'the system resolver configuration to check', '/etc/resolv.conf')
    .action(async (o: DoctorOptions) => {
      const r = await runDoctor(o);
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : formatDoctor(r));
      process.exitCode = r.ok ? 0 : 1;
    });
}
