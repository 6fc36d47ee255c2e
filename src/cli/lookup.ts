// `oedns lookup NAME [TYPE]`: one query to a server, validated by our own validator from a trust anchor,
// like BIND's delv. Exit 0 secure/insecure, 1 bogus/indeterminate, 2 usage errors.
import { readFileSync } from 'node:fs';
import { type Command } from 'commander';
import { ConfigError, OednsError } from '../util/errors';
import { normalizeName } from '../wire/name';
import type { Message, Name } from '../wire/types';
import { parseTrustAnchors, ROOT_ANCHORS, type TrustAnchor } from '../dnssec/anchors';
import { firstNameserver, netQuery, parseServer } from '../resolver/net-query';
import type { QueryFn } from '../dnssec/fetcher';
import { presentRR } from '../dnssec/present';
import { typeFromLabel, typeLabel, nameLabel } from '../dnssec/util';
import { createValidator, type ValidationResult, type Validator } from '../dnssec/validator';
import { describeVerdict, indeterminate, type Verdict } from '../dnssec/verdict';

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

export interface LookupOptions {
  server?: string;
  trustAnchor?: string;
  json?: boolean;
  timeout?: string;
}

export interface LookupReport {
  name: string;
  type: string;
  rcode: string;
  verdict: Verdict['kind'];
  reason: string;
  negative: null | 'nodata' | 'nxdomain';
  records: string[];
  chain: Array<{ zone: string; keys: number[]; verdict: string }>;
}

function reasonText(v: Verdict): string {
  return v.kind === 'secure' ? v.reason : `${v.reason}: ${v.detail}`;
}

function usage(msg: string): never {
  throw new ConfigError('usage', msg);
}

/**
 * The query function and validator that --server, --trust-anchor and --timeout describe (default: the
 * first resolv.conf nameserver, the IANA root anchors, 2 s). Throws ConfigError for bad options.
 */
export function validatorSetup(o: { server?: string; trustAnchor?: string; timeout?: string }): { query: QueryFn; validator: Validator } {
  let anchors: readonly TrustAnchor[] = ROOT_ANCHORS;
  if (o.trustAnchor) {
    let text: string;
    try {
      text = readFileSync(o.trustAnchor, 'utf8');
    } catch (e) {
      usage(`cannot read trust anchor file ${o.trustAnchor}: ${(e as Error).message}`);
    }
    anchors = parseTrustAnchors(text);
  }
  let serverText = o.server;
  if (!serverText) {
    let conf = '';
    try {
      conf = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* no resolv.conf */
    }
    serverText = firstNameserver(conf) ?? usage('no --server given and no nameserver in /etc/resolv.conf');
  }
  const server = parseServer(serverText) ?? usage(`bad --server '${serverText}' (HOST[:PORT])`);
  const timeoutMs = o.timeout ? Number(o.timeout) : 2000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage(`bad --timeout '${o.timeout}'`);
  const query = netQuery({ host: server.host, port: server.port, timeoutMs });
  return { query, validator: createValidator({ anchors, query }) };
}

/** Runs one lookup; returns the report and the exit status. Throws ConfigError for usage errors. */
export async function runLookup(
  nameArg: string,
  typeArg: string | undefined,
  o: LookupOptions,
  nowSec = Date.now() / 1000,
): Promise<{ report: LookupReport; exitCode: number }> {
  let name: Name;
  try {
    name = normalizeName(nameArg);
  } catch (e) {
    usage(`bad name '${nameArg}': ${(e as Error).message}`);
  }
  const type = typeFromLabel(typeArg ?? 'A');
  if (type === undefined) usage(`unknown type '${typeArg}'`);
  const { query, validator } = validatorSetup(o);

  let result: ValidationResult;
  let rcode = 'SERVFAIL';
  try {
    const msg: Message = await query(name, type);
    result = await validator.validate({ name, type, class: 1 }, msg, nowSec);
    rcode = RCODES[result.rcode] ?? `RCODE${result.rcode}`;
  } catch (e) {
    if (!(e instanceof OednsError)) throw e;
    const v = indeterminate('fetch-failed', e.message);
    result = { verdict: v, negative: null, chain: [], rrsets: [], steps: [], rcode: 2 };
  }
  const v = result.verdict;
  const report: LookupReport = {
    name: nameLabel(name),
    type: typeLabel(type),
    rcode,
    verdict: v.kind,
    reason: reasonText(v),
    negative: result.negative,
    // Only what the validator vouched for (nothing for bogus answers, as delv prints nothing).
    records: result.rrsets
      .filter((s) => s.role !== 'denial')
      .flatMap((s) => s.records)
      .map(presentRR),
    chain: result.chain.map((c) => ({ zone: nameLabel(c.zone), keys: c.keys, verdict: c.verdict })),
  };
  return { report, exitCode: v.kind === 'secure' || v.kind === 'insecure' ? 0 : 1 };
}

function human(r: LookupReport, allRecords: string[]): string {
  const lines: string[] = [];
  if (r.negative) lines.push(`; ${r.negative === 'nxdomain' ? 'NXDOMAIN' : 'NODATA'}: ${r.name} ${r.type}`);
  // Like delv, never present bogus data as an answer: show it commented out.
  lines.push(...(r.verdict === 'bogus' ? allRecords.map((x) => `; (bogus) ${x}`) : allRecords));
  for (const c of r.chain) lines.push(`; chain: ${c.zone} keys [${c.keys.join(' ')}] ${c.verdict}`);
  lines.push(`; ${r.verdict}: ${r.reason}`);
  return lines.join('\n') + '\n';
}

export function registerLookup(program: Command): void {
  program
    .command('lookup')
    .description('Query NAME and validate the answer with our own DNSSEC validator (like delv)')
    .argument('<name>', 'domain name')
    .argument('[type]', 'record type (default A)')
    .option('--server <host[:port]>', 'server to query (default: first nameserver in /etc/resolv.conf)')
    .option('--trust-anchor <file>', 'DS/DNSKEY lines or BIND trust-anchors { } (default: built-in IANA root KSKs)')
    .option('--timeout <ms>', 'per-query timeout in milliseconds', '2000')
    .option('--json', 'print one JSON object')
    .action(async (nameArg: string, typeArg: string | undefined, o: LookupOptions) => {
      try {
        const { report, exitCode } = await runLookup(nameArg, typeArg, o);
        process.stdout.write(o.json ? JSON.stringify(report) + '\n' : human(report, report.records));
        process.exitCode = exitCode;
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`${e.message}\n`);
          process.exit(2);
        }
        throw e;
      }
    });
}

export { describeVerdict };
