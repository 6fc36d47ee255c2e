// The one config file of a host, /etc/oedns/oedns.yaml by default, read by `oedns serve` and by
// `autosp` alike: one place for the engine, the identity, the key, the trust anchors, the policy and
// the control socket, so the two commands cannot disagree about them. Keys are the long option names
// (kebab-case or camelCase); autosp's own options sit in an `autosp:` section.
// Layering: src/config may import every folder below the daemon (it checks what each accepts); never
// src/daemon, src/doctor or src/cli.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../util/errors';

export const DEFAULT_CONFIG_PATH = '/etc/oedns/oedns.yaml';

/** Every key of the file (camelCase); the command-line options are the same in kebab-case. */
export const SERVE_KEYS = [
  'listen',
  'upstream',
  'upstreamFile',
  'trustAnchor',
  'trustAnchorState',
  'negativeTrustAnchors',
  'engine',
  'cacheSize',
  'cacheBytes',
  'cacheHot',
  'allow',
  'logLevel',
  'logFormat',
  'user',
  'upstreamTimeoutMs',
  'tcpIdleMs',
  'tcpFrameMs',
  'maxUdpSize',
  'shuntGraceSec',
  'policy',
  'vici',
  'identity',
  'key',
  'initiate',
  'control',
  'autospState',
  'responderAllow',
  'ikeProposals',
  'espProposals',
  'ipsecMode',
  'ikeLifetime',
  'childLifetime',
] as const;
export type ServeKey = (typeof SERVE_KEYS)[number];

/** Keys of the `autosp:` section: options only the autosp command has. */
export const AUTOSP_KEYS = ['peers', 'server', 'timeout', 'daemonCheck'] as const;
export type AutospKey = (typeof AUTOSP_KEYS)[number];

export type RawConfig = Partial<Record<ServeKey, unknown>> & { autosp?: Partial<Record<AutospKey, unknown>> };

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function keysOf(obj: Record<string, unknown>, known: readonly string[], where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = camel(k);
    if (!known.includes(key)) throw new ConfigError('config-unknown-key', `unknown key '${k}' in ${where} (known: ${known.join(', ')})`);
    out[key] = v;
  }
  return out;
}

/** Parses config text: JSON when `json` (or when it parses as such), YAML otherwise. */
export function parseConfigText(text: string, where: string, json = false): RawConfig {
  let data: unknown;
  try {
    data = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('config-syntax', `config file ${where} does not parse: ${(err as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError('config-shape', `config file ${where} must hold an object of options`);
  const { autosp, ...rest } = data as Record<string, unknown>;
  const out = keysOf(rest, SERVE_KEYS, where) as RawConfig;
  if (autosp !== undefined && autosp !== null) {
    if (typeof autosp !== 'object' || Array.isArray(autosp))
      throw new ConfigError('config-shape', `'autosp' in ${where} must be a section of options`);
    out.autosp = keysOf(autosp as Record<string, unknown>, AUTOSP_KEYS, `the autosp section of ${where}`);
  }
  return out;
}

/** Reads a config file: JSON if its name ends in .json, YAML otherwise. */
export function readConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config-unreadable', `cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfigText(text, path, path.endsWith('.json'));
}

/**
 * Which file to read: the one named (`none`: no file), else $OEDNS_CONFIG, else the default path when
 * it exists. A file named explicitly must exist; the default may be absent (embedded defaults apply).
 */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, exists = existsSync): string | undefined {
  const named = flag ?? env.OEDNS_CONFIG;
  if (named === 'none') return undefined;
  if (named !== undefined && named !== '') return named;
  return exists(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined;
}

/** The file `configPath` picks, read; {} when there is none. */
export function loadConfig(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { path?: string; raw: RawConfig } {
  const path = configPath(flag, env);
  return { path, raw: path ? readConfigFile(path) : {} };
}
