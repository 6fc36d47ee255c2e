// `oedns publish` (put our IPSECKEY into our signed zone with a TSIG-signed DNS UPDATE, then watch it
// come back secure) and `oedns key activate` (the rollover step between publish --add and
// publish --withdraw-old). The work is in src/publish; this file reads options and files, prints, and
// turns error codes into the exit statuses docs/publish.md lists.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { type Command } from 'commander';
import { parseTrustAnchors, ROOT_ANCHORS, type TrustAnchor } from '../dnssec/anchors';
import { firstNameserver, netQuery, parseServer } from '../resolver/net-query';
import { keyObjectToIpseckey } from '../ike-bridge/keys';
import { ConfigError, OednsError } from '../util/errors';
import { normalizeName } from '../wire/name';
import { decodeIpseckey, encodeIpseckey } from '../wire/rdata';
import { EXIT, exitCodeOf, PublishError } from '../publish/errors';
import {
  activateNext,
  keyFingerprint,
  readCurrent,
  readRollover,
  readSlot,
  removeOld,
  slotPaths,
  writeRollover,
  type RolloverState,
  type Slot,
} from '../publish/keydir';
import { tcpExchange } from '../resolver/tcp-exchange';
import { addressOf, publish, type Endpoint, type PublishIo, type PublishReport } from '../publish/publish';
import { checkActivate, keysToPublish, nextStepAdvice, type KeyDirState, type PublishMode } from '../publish/rollover';
import { checkKeyDir, readSecretFile } from '../publish/files';
import { pickTsigKey } from '../publish/tsig-keyfile';

interface PublishFlags {
  name: string;
  keyDir: string;
  server?: string;
  tsigKey: string;
  tsigKeyName?: string;
  zone?: string;
  ttl?: string;
  precedence: string;
  gateway?: string;
  add?: boolean;
  withdrawOld?: boolean;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  resolver?: string;
  trustAnchor?: string;
  wait: string;
  timeout: string;
  checkServers?: string;
}

function usage(msg: string): never {
  throw new ConfigError('usage', msg);
}

function intOpt(v: string | undefined, what: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) usage(`${what} must be an integer ${min}..${max}, not ${v}`);
  return n;
}

/** IPSECKEY RDATA for one of our keys: gateway none unless --gateway (address or name, RFC 4025 §2.3). */
export function ourRecord(key: KeyObject, precedence: number, gateway?: string): Uint8Array {
  const { algorithm, publicKey } = keyObjectToIpseckey(key);
  let gatewayType: 0 | 1 | 2 | 3 = 0;
  let gw: string | null = null;
  if (gateway) {
    const fam = isIP(gateway);
    gatewayType = fam === 4 ? 1 : fam === 6 ? 2 : 3;
    gw = fam ? gateway : normalizeName(gateway);
  }
  return encodeIpseckey({ precedence, gatewayType, algorithm, gateway: gw, publicKey });
}

/** One-line presentation (`10 0 2 . AwEAA...`), shortened for people unless `full`. */
export function ipseckeyText(rdata: Uint8Array, full = true): string {
  const k = decodeIpseckey(rdata);
  const gw = k.gatewayType === 0 ? '.' : k.gatewayType === 3 ? `${k.gateway}.` : k.gateway;
  const b64 = Buffer.from(k.publicKey).toString('base64');
  return `${k.precedence} ${k.gatewayType} ${k.algorithm} ${gw} ${full || b64.length <= 24 ? b64 : `${b64.slice(0, 12)}...${b64.slice(-8)}`}`;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    usage(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

function endpoint(text: string, what: string): { host: string; port: number } {
  return parseServer(text) ?? usage(`bad ${what} '${text}' (HOST[:PORT])`);
}

function anchorsFrom(file: string | undefined): readonly TrustAnchor[] {
  return file ? parseTrustAnchors(readText(file, 'trust anchor file')) : ROOT_ANCHORS;
}

function resolverEndpoint(text: string | undefined): { host: string; port: number } {
  if (text) return endpoint(text, '--resolver');
  let conf = '';
  try {
    conf = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* none */
  }
  return endpoint(firstNameserver(conf) ?? usage('no --resolver given and no nameserver in /etc/resolv.conf'), 'resolver');
}

function realIo(resolver: { host: string; port: number }, timeoutMs: number): PublishIo {
  return {
    resolver: netQuery({ ...resolver, timeoutMs }),
    send: (s, wire) => tcpExchange(s.host, s.port, wire, Math.max(timeoutMs, 5000)),
    direct: (s) => netQuery({ host: s.host, port: s.port, timeoutMs, rd: false }),
    now: () => Date.now() / 1000,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

export interface PublishOutcome {
  report?: PublishReport;
  mode: PublishMode;
  exitCode: number;
  rollover?: RolloverState;
  advice?: string;
  error?: { code: string; message: string; changed: false | 'unknown' | true; detail?: Record<string, unknown> };
}

/** The keys in the directory and what a rollover check needs: their fingerprints and rollover.json. */
function readKeyDir(dir: string): Record<Slot, KeyObject | undefined> & { fingerprints: KeyDirState } {
  const current = readCurrent(dir);
  const next = readSlot(dir, 'next');
  const old = readSlot(dir, 'old');
  const fp = (k?: KeyObject): string | undefined => (k ? keyFingerprint(k) : undefined);
  return { current, next, old, fingerprints: { current: fp(current), next: fp(next), old: fp(old), state: readRollover(dir) } };
}

/** Runs `oedns publish` with these flags; never exits the process (tests call it). */
export async function runPublish(f: PublishFlags, nowSec = (): number => Date.now() / 1000): Promise<PublishOutcome> {
  if (f.add && f.withdrawOld) usage('--add and --withdraw-old are two steps of a rollover: give one');
  const mode: PublishMode = f.add ? 'add' : f.withdrawOld ? 'withdraw-old' : 'replace';
  try {
    let name: string;
    try {
      name = normalizeName(f.name);
    } catch (e) {
      usage(`bad --name '${f.name}': ${(e as Error).message}`);
    }
    const zone = f.zone === undefined ? undefined : normalizeName(f.zone);
    const ttl = intOpt(f.ttl, '--ttl', 0, 2 ** 31 - 1);
    const precedence = intOpt(f.precedence, '--precedence', 0, 255)!;
    const waitSec = intOpt(f.wait, '--wait', 0, 3600)!;
    const timeoutMs = intOpt(f.timeout, '--timeout', 100, 60_000)!;
    // The secret lets anyone holding it change our records: refuse a file others could read or swap.
    const key = pickTsigKey(readSecretFile(f.tsigKey, 'TSIG key file', 'tsig-key-mode', 'tsig-key-file').toString('utf8'), f.tsigKeyName);
    const anchors = anchorsFrom(f.trustAnchor);
    const dir = f.keyDir;
    checkKeyDir(dir);
    const keys = readKeyDir(dir);
    const slots = keysToPublish(mode, keys.fingerprints, nowSec(), !!f.force);
    const records = slots.map((s: Slot) => ourRecord(keys[s]!, precedence, f.gateway));
    const io = realIo(resolverEndpoint(f.resolver), timeoutMs);
    let server: Endpoint | undefined;
    if (f.server) {
      const s = endpoint(f.server, '--server');
      server = isIP(s.host) ? s : { host: await addressOf(normalizeName(s.host), io.resolver), port: s.port };
    }
    const servers =
      f.checkServers === undefined
        ? undefined
        : f.checkServers === 'none'
          ? []
          : f.checkServers
              .split(',')
              .map((x) => endpoint(x, '--check-servers'))
              .map((e) => (isIP(e.host) ? e : usage(`--check-servers takes addresses, not ${e.host}`)));
    const report = await publish({ name, zone, server, ttl, records, key, anchors, dryRun: f.dryRun, waitSec, servers }, io);
    const out: PublishOutcome = { report, mode, exitCode: EXIT.ok };
    if (report.action === 'dry-run') return out;
    const v = report.verification;
    if (v && !(v.verdict === 'secure' && v.matches)) {
      const what = v.matches
        ? `the published records validate as ${v.verdict} (${v.reason}): peers that validate will not use them`
        : `after ${v.waitedSec} s the zone still does not serve our records signed (${v.verdict}: ${v.reason})`;
      out.exitCode = EXIT.notSecure;
      out.error = { code: 'not-secure', message: `oedns not-secure: ${what}`, changed: report.action === 'updated' ? true : false };
      return out;
    }
    // Rollover bookkeeping only once the step was seen secure (or not checked, which --wait 0 asks for).
    const at = Math.floor(nowSec());
    const fp = keys.fingerprints;
    const lagging = (report.servers ?? []).filter((x) => !x.confirmed);
    if (mode === 'add') {
      // A name server that did not serve the new version within --wait may lag until the zone's SOA
      // refresh (the longest a working secondary goes without NOTIFY): the clock allows for that.
      const lag = lagging.length ? (report.soa?.refresh ?? 0) : 0;
      out.rollover = {
        step: 'added',
        name,
        at,
        waitSec: Math.max(report.beforeTtl ?? 0, report.ttl) + lag,
        ttl: report.ttl,
        current: fp.current,
        next: fp.next,
      };
      if (!v) out.rollover = undefined; // not verified: `key activate` will want --force
    } else if (mode === 'withdraw-old' && v) {
      // The old private key goes only once the zone was seen serving the new key alone, signed.
      out.rollover = { step: 'withdrawn', name, at, waitSec: 0, ttl: report.ttl, current: fp.current };
      removeOld(dir);
    }
    if (out.rollover) {
      writeRollover(dir, out.rollover);
      out.advice = nextStepAdvice(out.rollover);
    } else if (mode === 'add') {
      out.advice = 'not verified (--wait 0): oedns key activate will need --force';
    } else if (mode === 'withdraw-old') {
      out.advice = `not verified (--wait 0): ${slotPaths(dir, 'old').privateKey} is kept; run oedns publish --withdraw-old again without --wait 0 to check the zone and remove it`;
    }
    if (lagging.length) {
      const which = lagging
        .map((x) => `${x.server}${x.ns ? ` (${x.ns})` : ''}: ${x.serial === undefined ? (x.error ?? 'no answer') : `serial ${x.serial}`}`)
        .join('; ');
      const warn =
        `warning: ${lagging.length} of the zone's name servers did not serve serial ${report.soa?.serial ?? '?'} within --wait (${which}); peers asking them still get the old records` +
        (mode === 'add' && out.rollover
          ? `; the wait before key activate includes the zone's SOA refresh (${report.soa?.refresh ?? 0} s)`
          : '');
      out.advice = out.advice ? `${warn}\n${out.advice}` : warn;
    }
    return out;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if (!(e instanceof OednsError)) throw e;
    const changed = e instanceof PublishError ? e.changed : false;
    const detail = e instanceof PublishError ? e.detail : undefined;
    return { mode, exitCode: exitCodeOf(e.code), error: { code: e.code, message: e.message, changed, detail } };
  }
}

function reportJson(o: PublishOutcome): unknown {
  const r = o.report;
  return {
    mode: o.mode,
    exitCode: o.exitCode,
    ...(r
      ? {
          name: r.name,
          zone: r.zone,
          server: `${r.server.host}:${r.server.port}`,
          ttl: r.ttl,
          action: r.action,
          before: r.before.map((x) => ipseckeyText(x)),
          beforeTtl: r.beforeTtl ?? null,
          after: r.after.map((x) => ipseckeyText(x)),
          removed: r.removed.map((x) => ipseckeyText(x)),
          added: r.added.map((x) => ipseckeyText(x)),
          verification: r.verification ?? null,
          serial: r.soa?.serial ?? null,
          servers: r.servers ?? null,
        }
      : {}),
    rollover: o.rollover ?? null,
    advice: o.advice ?? null,
    error: o.error ?? null,
  };
}

function reportHuman(o: PublishOutcome): { out: string; err: string } {
  const lines: string[] = [];
  const r = o.report;
  if (r) {
    lines.push(`; zone ${r.zone || '.'}, primary ${r.server.host}:${r.server.port}, TTL ${r.ttl}`);
    const kept = r.after.filter((x) => !r.added.some((a) => Buffer.compare(a, x) === 0));
    for (const x of r.removed) lines.push(`- ${r.name}. ${r.beforeTtl ?? ''} IN IPSECKEY ${ipseckeyText(x, false)}`);
    for (const x of kept) lines.push(`= ${r.name}. ${r.ttl} IN IPSECKEY ${ipseckeyText(x, false)}`);
    for (const x of r.added) lines.push(`+ ${r.name}. ${r.ttl} IN IPSECKEY ${ipseckeyText(x, false)}`);
    const did =
      r.action === 'dry-run' ? 'dry run: nothing sent' : r.action === 'unchanged' ? 'already published: no update sent' : 'updated';
    const v = r.verification;
    lines.push(`; ${did}${v ? `; ${v.verdict}${v.matches ? '' : ' (records differ)'} after ${v.waitedSec} s: ${v.reason}` : ''}`);
    if (r.servers?.length)
      lines.push(
        `; name servers serving serial ${r.soa?.serial ?? '?'}: ${r.servers.filter((x) => x.confirmed).length} of ${r.servers.length}`,
      );
  }
  const err: string[] = [];
  if (o.error) {
    const e = o.error;
    const tail =
      e.changed === false
        ? ' (nothing was changed)'
        : e.changed === 'unknown' && !/oedns lookup/.test(e.message)
          ? ' (the zone may have changed: check with oedns lookup NAME IPSECKEY)'
          : '';
    err.push(e.message + tail);
  }
  if (o.advice) err.push(o.advice);
  return { out: lines.length ? lines.join('\n') + '\n' : '', err: err.length ? err.join('\n') + '\n' : '' };
}

function collectExit(e: unknown): never {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(EXIT.usage);
  }
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(EXIT.internal);
}

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .description("publish this host's IPSECKEY in its signed zone with a TSIG-signed DNS UPDATE, then check it validates (docs/publish.md)")
    .requiredOption('--name <fqdn>', 'the name to publish at (our IKE identity)')
    .option('--key-dir <dir>', 'where oedns keygen wrote host.key.pem', '/etc/oedns')
    .requiredOption('--tsig-key <file>', 'TSIG key as tsig-keygen prints it: key "NAME" { algorithm hmac-sha256; secret "..."; };')
    .option('--tsig-key-name <name>', 'which key of the file, when it holds several')
    .option('--server <host[:port]>', "the zone's primary (default: the SOA's MNAME, port 53)")
    .option('--zone <zone>', 'the zone (default: found from the SOA)')
    .option('--ttl <seconds>', 'TTL of the records (default: the current one, else 3600)')
    .option('--precedence <n>', 'IPSECKEY precedence', '10')
    .option('--gateway <address|name>', 'IPSECKEY gateway (default none: the host itself)')
    .option('--add', 'rollover: publish the current and the next key (after oedns keygen --next)')
    .option('--withdraw-old', 'rollover: publish only the current key, withdrawing the one before oedns key activate')
    .option('--force', 'skip the rollover timing checks')
    .option('--dry-run', 'show what would change; send nothing')
    .option('--json', 'print one JSON object')
    .option(
      '--resolver <host[:port]>',
      'recursive resolver for the SOA and the chain above the zone (default: first nameserver in /etc/resolv.conf)',
    )
    .option('--trust-anchor <file>', 'DS/DNSKEY lines or BIND trust-anchors { } (default: the IANA root KSKs)')
    .option('--wait <seconds>', 'how long to wait for the zone to serve the records signed (0: do not check)', '60')
    .option('--timeout <ms>', 'per-query timeout', '3000')
    .option(
      '--check-servers <addr[:port],...>',
      "servers that must serve the new zone version before we report (and a rollover's clock starts); default: the zone's NS set, port 53; 'none' to skip",
    )
    .action(async (f: PublishFlags) => {
      try {
        const o = await runPublish(f);
        const h = reportHuman(o);
        if (f.json) process.stdout.write(JSON.stringify(reportJson(o)) + '\n');
        else process.stdout.write(h.out);
        process.stderr.write(h.err);
        process.exitCode = o.exitCode;
      } catch (e) {
        collectExit(e);
      }
    });
}

export interface ActivateOutcome {
  exitCode: number;
  rollover?: RolloverState;
  advice?: string;
  error?: { code: string; message: string };
}

/** `oedns key activate`; never exits the process. */
export function runActivate(dir: string, force: boolean, nowSec = Date.now() / 1000): ActivateOutcome {
  try {
    checkKeyDir(dir);
    const keys = readKeyDir(dir);
    const state = keys.fingerprints.state;
    checkActivate(keys.fingerprints, nowSec, force);
    activateNext(dir);
    const ttl = state?.ttl ?? state?.waitSec ?? 0;
    const rollover: RolloverState = {
      step: 'activated',
      name: state?.name ?? '',
      at: Math.floor(nowSec),
      waitSec: ttl,
      ttl,
      current: keys.fingerprints.next,
      old: keys.fingerprints.current,
    };
    writeRollover(dir, rollover);
    return { exitCode: EXIT.ok, rollover, advice: nextStepAdvice(rollover) };
  } catch (e) {
    if (e instanceof ConfigError || !(e instanceof OednsError)) throw e;
    return { exitCode: exitCodeOf(e.code), error: { code: e.code, message: e.message } };
  }
}

export function registerKey(program: Command): void {
  const key = program.command('key').description('our own key during a rollover (docs/publish.md)');
  key
    .command('activate')
    .description(
      'sign with the next key from now on: it becomes host.key.pem (a running serve/autosp picks it up); the previous key is kept as host.old.key.pem',
    )
    .option('--key-dir <dir>', 'where oedns keygen wrote the keys', '/etc/oedns')
    .option('--force', 'skip the check that the next key was published at least a TTL ago')
    .option('--json', 'print one JSON object')
    .action((o: { keyDir: string; force?: boolean; json?: boolean }) => {
      try {
        const r = runActivate(o.keyDir, !!o.force);
        if (o.json)
          process.stdout.write(
            JSON.stringify({ exitCode: r.exitCode, rollover: r.rollover ?? null, advice: r.advice ?? null, error: r.error ?? null }) + '\n',
          );
        if (r.error) process.stderr.write(`${r.error.message}\n`);
        else {
          if (!o.json)
            process.stdout.write(
              `now signing with ${slotPaths(o.keyDir, 'current').privateKey}; the previous key is ${slotPaths(o.keyDir, 'old').privateKey}\n`,
            );
          process.stderr.write(
            `a running oedns serve or autosp watch using --key ${slotPaths(o.keyDir, 'current').privateKey} switches by itself\n${r.advice}\n`,
          );
        }
        process.exitCode = r.exitCode;
      } catch (e) {
        collectExit(e);
      }
    });
}
