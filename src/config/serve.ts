// Configuration of `oedns serve`: defaults, a config file (JSON or YAML) with the same keys as the
// command-line options, and the command line on top. Everything is checked here, so that a bad value is
// one ConfigError naming the key, before any socket is opened.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../util/errors';
import { LogLevel } from '../util/log';
import { Endpoint, parseEndpoint } from '../resolver/endpoint';
import { LOOPBACK_CIDRS, parseCidr } from '../resolver/acl';
import { parseAllowList } from '../responder/allow-list';

/** The keys of the config file; command-line options have the same names in kebab-case. */
export interface ServeConfigInput {
  listen?: string[] | string;
  upstream?: string[] | string;
  trustAnchor?: string;
  engine?: string;
  cacheSize?: number | string;
  cacheBytes?: number | string;
  allow?: string[] | string;
  logLevel?: string;
  user?: string;
  upstreamTimeoutMs?: number | string;
  tcpIdleMs?: number | string;
  maxUdpSize?: number | string;
  /** Capture policy file (YAML or JSON); default: private-or-clear for every name. */
  policy?: string;
  /** strongSwan's VICI socket. */
  vici?: string;
  /** Our IKE identity (FQDN) and private key file (from `oedns keygen`). */
  identity?: string;
  key?: string;
  /** Start IKE as soon as a peer is installed (kernel-libipsec starts nothing from trap policies). */
  initiate?: boolean | string;
  /** Control socket for `oedns status`; 'none' for no socket. */
  control?: string;
  /** autosp's state file, shared with the `autosp` CLI; 'none' to leave autosp out. */
  autospState?: string;
  /** IKE-queries-DNS responder: initiator names (`name`, `.zone`) we may look up; empty: responder off. */
  responderAllow?: string[] | string;
}

/** Where the IKE side lives; only the keys the chosen engine needs are used. */
export interface EngineConfig {
  kind: 'dry-run' | 'strongswan' | 'libreswan';
  vici: string;
  identity: string;
  key: string;
  initiate: boolean;
}

export interface ServeConfig {
  listen: Endpoint[];
  upstream: Endpoint[];
  trustAnchor?: { file: string; text: string };
  engine: EngineConfig['kind'];
  engineConfig: EngineConfig;
  policyFile?: string;
  /** null: no control socket. */
  control: string | null;
  /** null: autosp not served. */
  autospState: string | null;
  /** Responder allow-list entries, checked; empty: the responder is off. */
  responderAllow: string[];
  cacheSize: number;
  cacheBytes: number;
  /** CIDRs allowed besides loopback (loopback is always allowed). */
  allow: string[];
  logLevel: LogLevel;
  /** User to switch to after binding when started as root; 'root' keeps root. */
  user?: string;
  upstreamTimeoutMs: number;
  tcpIdleMs: number;
  maxUdpSize: number;
}

export const SERVE_DEFAULTS = {
  listen: ['127.0.0.1:53'],
  engine: 'dry-run' as const,
  cacheSize: 10_000,
  cacheBytes: 64 * 1024 * 1024,
  logLevel: 'info' as LogLevel,
  upstreamTimeoutMs: 1000,
  tcpIdleMs: 10_000,
  maxUdpSize: 1232,
};

const KEYS: ReadonlyArray<keyof ServeConfigInput> = [
  'listen', 'upstream', 'trustAnchor', 'engine', 'cacheSize', 'cacheBytes', 'allow', 'logLevel', 'user',
  'upstreamTimeoutMs', 'tcpIdleMs', 'maxUdpSize', 'policy', 'vici', 'identity', 'key', 'initiate', 'control',
  'autospState', 'responderAllow',
];
const ENGINES: ReadonlyArray<string> = ['dry-run', 'strongswan', 'libreswan'];
const LEVELS: ReadonlyArray<string> = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Reads a config file: JSON if it parses as JSON (or ends in .json), YAML otherwise. Keys may be kebab-case. */
export function readConfigFile(path: string): ServeConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config-unreadable', `cannot read config file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('config-syntax', `config file ${path} does not parse: ${(err as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError('config-shape', `config file ${path} must hold an object of options`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    const key = camel(k) as keyof ServeConfigInput;
    if (!KEYS.includes(key)) throw new ConfigError('config-unknown-key', `unknown key '${k}' in ${path} (known: ${KEYS.join(', ')})`);
    out[key] = v;
  }
  return out as ServeConfigInput;
}

function list(v: unknown, key: string): string[] | undefined {
  if (v === undefined) return undefined;
  const arr = Array.isArray(v) ? v : [v];
  if (!arr.every((x) => typeof x === 'string')) throw new ConfigError('config-type', `'${key}' must be a string or a list of strings`);
  return arr as string[];
}

function int(v: unknown, key: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError('config-type', `'${key}' must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** The `nameserver` lines of a resolv.conf, in order. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1]!.replace(/%.*$/, ''));
  }
  return out;
}

/**
 * Upstreams from resolv.conf, minus oedns's own listen addresses (once oedns is the system resolver,
 * resolv.conf points at it, and forwarding to ourselves would loop).
 */
export function upstreamsFromResolvConf(text: string, listen: Endpoint[]): Endpoint[] {
  const ours = (e: Endpoint): boolean =>
    listen.some((l) => l.port === e.port && (l.host === e.host || l.host === '0.0.0.0' || l.host === '::'));
  return parseResolvConf(text)
    .map((s) => {
      try {
        return parseEndpoint(s);
      } catch {
        return undefined;
      }
    })
    .filter((e): e is Endpoint => e !== undefined && !ours(e));
}

/**
 * Merges defaults, the config file and the command line (later wins) and checks every value.
 * `resolvConf` is read only when no upstream is given.
 */
export function resolveServeConfig(
  file: ServeConfigInput,
  cli: ServeConfigInput,
  env: {
    readResolvConf?: () => string;
    /** Default IKE identity (the CLI passes the host name). */
    hostname?: () => string;
    /** Default control socket (the CLI passes defaultControlPath()); without it, no socket. */
    controlPath?: () => string;
    /** Default autosp state file (the CLI passes autosp's); without it, autosp is not served. */
    autospStatePath?: () => string;
  } = {},
): ServeConfig {
  const pick = <K extends keyof ServeConfigInput>(k: K): ServeConfigInput[K] => (cli[k] !== undefined ? cli[k] : file[k]);
  const listenText = list(pick('listen'), 'listen') ?? SERVE_DEFAULTS.listen;
  const listen = listenText.map((t) => parseEndpoint(t));
  let upstream: Endpoint[];
  const upText = list(pick('upstream'), 'upstream');
  if (upText && upText.length > 0) {
    upstream = upText.map((t) => parseEndpoint(t));
  } else {
    const read = env.readResolvConf ?? (() => readFileSync('/etc/resolv.conf', 'utf8'));
    let text = '';
    try {
      text = read();
    } catch (err) {
      throw new ConfigError('no-upstream', `no --upstream given and /etc/resolv.conf is unreadable: ${(err as Error).message}`);
    }
    upstream = upstreamsFromResolvConf(text, listen);
    if (upstream.length === 0) throw new ConfigError('no-upstream', 'no --upstream given and /etc/resolv.conf names no nameserver other than oedns itself');
  }
  const engine = pick('engine') ?? SERVE_DEFAULTS.engine;
  if (typeof engine !== 'string' || !ENGINES.includes(engine)) {
    throw new ConfigError('bad-engine', `unknown engine '${String(engine)}' (one of ${ENGINES.join(', ')})`);
  }
  const str = (k: 'policy' | 'vici' | 'identity' | 'key' | 'control' | 'autospState'): string | undefined => {
    const v = pick(k);
    if (v !== undefined && (typeof v !== 'string' || v === '')) throw new ConfigError('config-type', `'${k}' must be a non-empty string`);
    return v as string | undefined;
  };
  const initiateRaw = pick('initiate');
  if (initiateRaw !== undefined && ![true, false, 'true', 'false', 'yes', 'no'].includes(initiateRaw as string)) {
    throw new ConfigError('config-type', `'initiate' must be true or false`);
  }
  const engineConfig: EngineConfig = {
    kind: engine as EngineConfig['kind'],
    vici: str('vici') ?? '/var/run/charon.vici',
    identity: str('identity') ?? env.hostname?.() ?? 'localhost',
    key: str('key') ?? '/etc/oedns/host.key.pem',
    initiate: initiateRaw === true || initiateRaw === 'true' || initiateRaw === 'yes',
  };
  const controlRaw = str('control');
  const logLevel = (pick('logLevel') ?? SERVE_DEFAULTS.logLevel) as string;
  if (!LEVELS.includes(logLevel)) throw new ConfigError('bad-log-level', `log level must be one of ${LEVELS.join('|')}`);
  const allow = list(pick('allow'), 'allow') ?? [];
  for (const c of allow) parseCidr(c);
  let trustAnchor: ServeConfig['trustAnchor'];
  const ta = pick('trustAnchor');
  if (ta !== undefined) {
    if (typeof ta !== 'string') throw new ConfigError('config-type', `'trustAnchor' must be a file name`);
    try {
      trustAnchor = { file: ta, text: readFileSync(ta, 'utf8') };
    } catch (err) {
      throw new ConfigError('trust-anchor-unreadable', `cannot read trust anchor ${ta}: ${(err as Error).message}`);
    }
  }
  const responderAllow = list(pick('responderAllow'), 'responderAllow') ?? [];
  parseAllowList(responderAllow);
  const user = pick('user');
  if (user !== undefined && (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]*\$?$/i.test(user))) {
    throw new ConfigError('bad-user', `'user' must be a user name`);
  }
  return {
    listen,
    upstream,
    trustAnchor,
    engine: engineConfig.kind,
    engineConfig,
    policyFile: str('policy'),
    control: controlRaw === 'none' ? null : controlRaw ?? env.controlPath?.() ?? null,
    autospState: ((v) => (v === 'none' ? null : v ?? env.autospStatePath?.() ?? null))(str('autospState')),
    responderAllow,
    cacheSize: int(pick('cacheSize'), 'cacheSize', 0, 100_000_000) ?? SERVE_DEFAULTS.cacheSize,
    cacheBytes: int(pick('cacheBytes'), 'cacheBytes', 0, 2 ** 40) ?? SERVE_DEFAULTS.cacheBytes,
    allow,
    logLevel: logLevel as LogLevel,
    user: user as string | undefined,
    upstreamTimeoutMs: int(pick('upstreamTimeoutMs'), 'upstreamTimeoutMs', 10, 60_000) ?? SERVE_DEFAULTS.upstreamTimeoutMs,
    tcpIdleMs: int(pick('tcpIdleMs'), 'tcpIdleMs', 100, 3_600_000) ?? SERVE_DEFAULTS.tcpIdleMs,
    maxUdpSize: int(pick('maxUdpSize'), 'maxUdpSize', 512, 4096) ?? SERVE_DEFAULTS.maxUdpSize,
  };
}

export { LOOPBACK_CIDRS };
