// Configuration of `oedns serve`: defaults, the config file (src/config/file.ts) with the same keys as
// the command-line options, and the command line on top. Everything is checked here, so that a bad
// value is one ConfigError naming the key, before any socket is opened.
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../util/errors';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../util/log';
import { type Endpoint, formatEndpoint, parseEndpoint } from '../resolver/endpoint';
import { LOOPBACK_CIDRS, parseCidr } from '../resolver/acl';
import { parseAllowList } from '../responder/allow-list';
import { type FileSafetyOps, isOwnAddress, parseResolvConf, upstreamFileProblem, upstreamsFromResolvConf } from '../resolver/upstream-file';
import { type RawConfig, type ServeKey, readConfigFile as readRaw } from './file';
import { DEFAULT_SHUNT_GRACE_SEC } from '../peers/registry';
import { ntaName } from '../trust/nta';

/** The keys of the config file and the command line; values are checked by resolveServeConfig. */
export type ServeConfigInput = { [K in ServeKey]?: unknown };

/** IKE and ESP settings handed to the engine (docs/resolver.md, "Engine settings"). */
export interface IpsecSettings {
  /** IKE proposals, strongSwan syntax (swanctl.conf `proposals`), best first. */
  ikeProposals: string[];
  /** ESP proposals; a DH group in them means PFS on every CHILD_SA rekey. */
  espProposals: string[];
  mode: 'tunnel' | 'transport';
  /** Seconds before the IKE SA is rekeyed (swanctl.conf `rekey_time`). */
  ikeLifetime: number;
  /** Seconds before a CHILD_SA is rekeyed. */
  childLifetime: number;
}

/**
 * Defaults: AES with SHA-256 and X25519 (Curve25519) key exchange; ESP carries a DH group too, so each
 * CHILD_SA rekey makes fresh keys (perfect forward secrecy). CBC + HMAC rather than GCM because
 * kernel-libipsec here has no AEAD for ESP; lifetimes are strongSwan's own defaults.
 */
export const IPSEC_DEFAULTS: IpsecSettings = Object.freeze({
  ikeProposals: ['aes256-sha256-x25519', 'aes128-sha256-x25519', 'aes256-sha256-modp2048'],
  espProposals: ['aes256-sha256-x25519', 'aes128-sha256-x25519'],
  mode: 'tunnel' as const,
  ikeLifetime: 4 * 3600,
  childLifetime: 3600,
});

/** Where the IKE side lives; only the keys the chosen engine needs are used. */
export interface EngineConfig {
  kind: 'dry-run' | 'strongswan' | 'libreswan';
  vici: string;
  identity: string;
  key: string;
  initiate: boolean;
  /** IKE/ESP settings; absent: the engine's own defaults. */
  ipsec?: IpsecSettings;
}

export interface ServeConfig {
  listen: Endpoint[];
  /** Static upstreams; with an upstream file, the ones it named at start (it is re-read on change). */
  upstream: Endpoint[];
  /** resolv.conf-syntax file the upstreams come from, watched for changes. */
  upstreamFile?: string;
  trustAnchor?: { file: string; text: string };
  /** RFC 5011 state file; null: no automated rollover. */
  trustAnchorState: string | null;
  /** Names below which nothing is validated (RFC 7646), from the file; more via `oedns control`. */
  negativeTrustAnchors: string[];
  engine: EngineConfig['kind'];
  engineConfig: EngineConfig;
  policyFile?: string;
  /** null: no control socket. */
  control: string | null;
  /** null: autosp not served. */
  autospState: string | null;
  /** Responder allow-list entries, checked; empty: the responder is off. */
  responderAllow: string[];
  /** All cached answers. */
  cacheSize: number;
  cacheBytes: number;
  /** Of cacheSize, how many stay decoded; the rest are kept as bytes (src/resolver/cache.ts). */
  cacheHot: number;
  /** CIDRs allowed besides loopback (loopback is always allowed). */
  allow: string[];
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** User to switch to after binding when started as root; 'root' keeps root. */
  user?: string;
  upstreamTimeoutMs: number;
  tcpIdleMs: number;
  /** A client's TCP query must arrive whole this long after its first byte (slowloris bound). */
  tcpFrameMs: number;
  maxUdpSize: number;
  /** Seconds a drop shunt outlives the answer that handed out an address of a removed `private` peer. */
  shuntGraceSec: number;
}

export const SERVE_DEFAULTS = {
  listen: ['127.0.0.1:53'],
  engine: 'dry-run' as const,
  cacheSize: 100_000,
  cacheBytes: 64 * 1024 * 1024,
  cacheHot: 10_000,
  logLevel: 'info' as LogLevel,
  logFormat: 'auto' as LogFormat,
  upstreamTimeoutMs: 1000,
  tcpIdleMs: 10_000,
  tcpFrameMs: 3000,
  maxUdpSize: 1232,
  shuntGraceSec: DEFAULT_SHUNT_GRACE_SEC,
  vici: '/var/run/charon.vici',
  key: '/etc/oedns/host.key.pem',
};

const ENGINES: ReadonlyArray<string> = ['dry-run', 'strongswan', 'libreswan'];

/** Reads a config file (JSON or YAML); kept here for the callers that read serve's keys only. */
export function readConfigFile(path: string): RawConfig {
  return readRaw(path);
}

function list(v: unknown, key: string): string[] | undefined {
  if (v === undefined) return undefined;
  const arr = Array.isArray(v) ? v : [v];
  if (!arr.every((x) => typeof x === 'string')) throw new ConfigError('config-type', `'${key}' must be a string or a list of strings`);
  return arr;
}

function int(v: unknown, key: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError('config-type', `'${key}' must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds, given as a number or as `90s`, `30m`, `4h`, `1d`. */
export function duration(v: unknown, key: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^\s*(\d+)\s*([smhd]?)\s*$/.exec(v) : null;
  const n = typeof v === 'number' ? v : m ? Number(m[1]) * UNIT[m[2] || 's']! : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(
      'config-type',
      `'${key}' must be a duration (seconds, or a number with s, m, h or d) in ${min}..${max} s, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

function bool(v: unknown, key: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === true || v === 'true' || v === 'yes') return true;
  if (v === false || v === 'false' || v === 'no') return false;
  throw new ConfigError('config-type', `'${key}' must be true or false`);
}

/** swanctl.conf proposal keywords joined by '-': letters, digits and underscores only. */
function proposals(v: unknown, key: string): string[] | undefined {
  const l = list(v, key);
  if (l === undefined) return undefined;
  if (l.length === 0 || !l.every((p) => /^[a-z0-9_]+(-[a-z0-9_]+)*$/i.test(p))) {
    throw new ConfigError('config-type', `'${key}' must be a non-empty list of proposals like aes256-sha256-x25519`);
  }
  return l;
}

/** The IKE/ESP settings from the file and command line (either may set any of them). */
export function ipsecSettings(pick: (k: ServeKey) => unknown): IpsecSettings {
  const mode = pick('ipsecMode');
  if (mode !== undefined && mode !== 'tunnel' && mode !== 'transport')
    throw new ConfigError('config-type', `'ipsecMode' must be tunnel or transport`);
  return {
    ikeProposals: proposals(pick('ikeProposals'), 'ikeProposals') ?? [...IPSEC_DEFAULTS.ikeProposals],
    espProposals: proposals(pick('espProposals'), 'espProposals') ?? [...IPSEC_DEFAULTS.espProposals],
    mode: mode ?? IPSEC_DEFAULTS.mode,
    ikeLifetime: duration(pick('ikeLifetime'), 'ikeLifetime', 300, 7 * 86400) ?? IPSEC_DEFAULTS.ikeLifetime,
    childLifetime: duration(pick('childLifetime'), 'childLifetime', 60, 7 * 86400) ?? IPSEC_DEFAULTS.childLifetime,
  };
}

export { parseResolvConf, upstreamsFromResolvConf };

export interface ServeEnv {
  readResolvConf?: () => string;
  /** Reads the upstream file (default: fs); a missing file is not an error, it may appear later. */
  readFile?: (path: string) => string;
  /** Default IKE identity (the CLI passes the host name). */
  hostname?: () => string;
  /** Default control socket (the CLI passes defaultControlPath()); without it, no socket. */
  controlPath?: () => string | undefined;
  /** Default autosp state file (the CLI passes autosp's); without it, autosp is not served. */
  autospStatePath?: () => string;
  /** This host's addresses (default: its interfaces), for telling our own address from an upstream. */
  localAddresses?: () => string[];
  /** How the upstream file's owner and modes are looked at (default: the file system). */
  fileSafety?: FileSafetyOps;
}

/**
 * Merges defaults, the config file and the command line (later wins) and checks every value.
 * Upstreams: --upstream; else --upstream-file (watched by the daemon); else /etc/resolv.conf once.
 */
export function resolveServeConfig(file: ServeConfigInput, cli: ServeConfigInput, env: ServeEnv = {}): ServeConfig {
  const pick = (k: ServeKey): unknown => (cli[k] !== undefined ? cli[k] : file[k]);
  const str = (k: ServeKey): string | undefined => {
    const v = pick(k);
    if (v !== undefined && (typeof v !== 'string' || v === '')) throw new ConfigError('config-type', `'${k}' must be a non-empty string`);
    return v;
  };
  const listenText = list(pick('listen'), 'listen') ?? SERVE_DEFAULTS.listen;
  const listen = listenText.map((t) => parseEndpoint(t));
  let upstream: Endpoint[];
  const upText = list(pick('upstream'), 'upstream');
  const upstreamFile = str('upstreamFile');
  if (upText && upText.length > 0) {
    upstream = upText.map((t) => parseEndpoint(t));
    const self = upstream.filter((u) => isOwnAddress(u, listen, env.localAddresses));
    if (self.length) {
      throw new ConfigError(
        'upstream-is-self',
        `'upstream' ${self.map(formatEndpoint).join(', ')} is oedns itself (listening on ${listen.map(formatEndpoint).join(', ')}): it would forward its questions to itself`,
      );
    }
  } else if (upstreamFile) {
    const problem = upstreamFileProblem(upstreamFile, env.fileSafety);
    if (problem) throw new ConfigError('upstream-file-unsafe', `'upstreamFile' cannot be trusted: ${problem}`);
    let text: string;
    try {
      text = (env.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(upstreamFile);
    } catch {
      // NetworkManager writes its file once a connection is up, which may be after we start.
      text = '';
    }
    upstream = upstreamsFromResolvConf(text, listen);
  } else {
    const read = env.readResolvConf ?? (() => readFileSync('/etc/resolv.conf', 'utf8'));
    let text: string;
    try {
      text = read();
    } catch (err) {
      throw new ConfigError('no-upstream', `no --upstream given and /etc/resolv.conf is unreadable: ${(err as Error).message}`);
    }
    upstream = upstreamsFromResolvConf(text, listen);
    if (upstream.length === 0) {
      throw new ConfigError(
        'no-upstream',
        'no --upstream given and /etc/resolv.conf names no nameserver other than oedns itself ' +
          '(use --upstream-file with the file your network manager writes, e.g. /run/NetworkManager/no-stub-resolv.conf)',
      );
    }
  }
  const engine = pick('engine') ?? SERVE_DEFAULTS.engine;
  if (typeof engine !== 'string' || !ENGINES.includes(engine)) {
    throw new ConfigError('bad-engine', `unknown engine '${String(engine)}' (one of ${ENGINES.join(', ')})`);
  }
  const engineConfig: EngineConfig = {
    kind: engine as EngineConfig['kind'],
    vici: str('vici') ?? SERVE_DEFAULTS.vici,
    identity: str('identity') ?? env.hostname?.() ?? 'localhost',
    key: str('key') ?? SERVE_DEFAULTS.key,
    initiate: bool(pick('initiate'), 'initiate') ?? false,
    ipsec: ipsecSettings(pick),
  };
  const controlRaw = str('control');
  const logLevel = (pick('logLevel') ?? SERVE_DEFAULTS.logLevel) as string;
  if (!LOG_LEVELS.includes(logLevel as LogLevel))
    throw new ConfigError('bad-log-level', `log level must be one of ${LOG_LEVELS.join('|')}`);
  const logFormat = (pick('logFormat') ?? SERVE_DEFAULTS.logFormat) as string;
  if (!LOG_FORMATS.includes(logFormat as LogFormat))
    throw new ConfigError('bad-log-format', `log format must be one of ${LOG_FORMATS.join('|')}`);
  const allow = list(pick('allow'), 'allow') ?? [];
  for (const c of allow) parseCidr(c);
  let trustAnchor: ServeConfig['trustAnchor'];
  const ta = str('trustAnchor');
  if (ta !== undefined) {
    try {
      trustAnchor = { file: ta, text: readFileSync(ta, 'utf8') };
    } catch (err) {
      throw new ConfigError('trust-anchor-unreadable', `cannot read trust anchor ${ta}: ${(err as Error).message}`);
    }
  }
  const taState = str('trustAnchorState');
  // The same check the running daemon applies (labels of 1..63 bytes, no root), so that a file
  // --check-config accepts can always be loaded and reloaded.
  const nta = (list(pick('negativeTrustAnchors'), 'negativeTrustAnchors') ?? []).map((n) => {
    try {
      return ntaName(n);
    } catch (e) {
      throw new ConfigError('config-type', `'negativeTrustAnchors': ${(e as Error).message}`);
    }
  });
  const responderAllow = list(pick('responderAllow'), 'responderAllow') ?? [];
  parseAllowList(responderAllow);
  const user = pick('user');
  if (user !== undefined && (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]*\$?$/i.test(user))) {
    throw new ConfigError('bad-user', `'user' must be a user name`);
  }
  const autospState = str('autospState');
  return {
    listen,
    upstream,
    // Static upstreams win; the file is then not watched.
    upstreamFile: upText && upText.length > 0 ? undefined : upstreamFile,
    trustAnchor,
    trustAnchorState: taState === undefined || taState === 'none' ? null : taState,
    negativeTrustAnchors: nta,
    engine: engineConfig.kind,
    engineConfig,
    policyFile: str('policy'),
    control: controlRaw === 'none' ? null : (controlRaw ?? env.controlPath?.() ?? null),
    autospState: autospState === 'none' ? null : (autospState ?? env.autospStatePath?.() ?? null),
    responderAllow,
    cacheSize: int(pick('cacheSize'), 'cacheSize', 0, 100_000_000) ?? SERVE_DEFAULTS.cacheSize,
    cacheBytes: int(pick('cacheBytes'), 'cacheBytes', 0, 2 ** 40) ?? SERVE_DEFAULTS.cacheBytes,
    cacheHot: int(pick('cacheHot'), 'cacheHot', 1, 100_000_000) ?? SERVE_DEFAULTS.cacheHot,
    allow,
    logLevel: logLevel as LogLevel,
    logFormat: logFormat as LogFormat,
    user: user,
    upstreamTimeoutMs: int(pick('upstreamTimeoutMs'), 'upstreamTimeoutMs', 10, 60_000) ?? SERVE_DEFAULTS.upstreamTimeoutMs,
    tcpIdleMs: int(pick('tcpIdleMs'), 'tcpIdleMs', 100, 3_600_000) ?? SERVE_DEFAULTS.tcpIdleMs,
    tcpFrameMs: int(pick('tcpFrameMs'), 'tcpFrameMs', 100, 60_000) ?? SERVE_DEFAULTS.tcpFrameMs,
    maxUdpSize: int(pick('maxUdpSize'), 'maxUdpSize', 512, 4096) ?? SERVE_DEFAULTS.maxUdpSize,
    shuntGraceSec: int(pick('shuntGraceSec'), 'shuntGraceSec', 0, 30 * 86400) ?? SERVE_DEFAULTS.shuntGraceSec,
  };
}

/** The distribution's root trust anchor (Debian's dns-root-data), kept current by the package manager. */
export const DISTRO_ROOT_KEY = '/usr/share/dns/root.key';

/** Which trust anchor file applies when none is configured: the distribution's when present. */
export function defaultTrustAnchorFile(exists = existsSync): string | undefined {
  return exists(DISTRO_ROOT_KEY) ? DISTRO_ROOT_KEY : undefined;
}

export { LOOPBACK_CIDRS };
