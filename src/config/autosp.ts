// autosp reads the same config file as `oedns serve`: the shared keys (engine, identity, key, trust
// anchor, policy, control socket, state file, IKE settings) and its own `autosp:` section. The command
// line wins; this only fills what it left out. Also the engine those options describe, checked.
import { checkPeerName } from '../autosp/peers-file';
import { ConfigError } from '../util/errors';
import type { RawConfig } from './file';
import { type EngineConfig, type IpsecSettings, ipsecSettings } from './serve';

/** autosp's option names (camelCase, as commander gives them) with their values from the file. */
export interface AutospDefaults {
  engine?: string;
  vici?: string;
  identity?: string;
  key?: string;
  state?: string;
  control?: string;
  trustAnchor?: string;
  policy?: string;
  initiate?: boolean;
  server?: string;
  timeout?: string;
  peers?: string;
  daemonCheck?: string;
}

function str(raw: Record<string, unknown>, k: string, where: string): string | undefined {
  const v = raw[k];
  if (v === undefined) return undefined;
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || v === '') throw new ConfigError('config-type', `'${k}'${where} must be a non-empty string`);
  return v;
}

export function autospDefaults(raw: RawConfig): AutospDefaults {
  const r = raw as Record<string, unknown>;
  const a = (raw.autosp ?? {}) as Record<string, unknown>;
  const init = r.initiate;
  if (init !== undefined && ![true, false, 'true', 'false', 'yes', 'no'].includes(init as string))
    throw new ConfigError('config-type', `'initiate' must be true or false`);
  const upstream: unknown = Array.isArray(r.upstream) ? r.upstream[0] : r.upstream;
  const out: AutospDefaults = {
    engine: str(r, 'engine', ''),
    vici: str(r, 'vici', ''),
    identity: str(r, 'identity', ''),
    key: str(r, 'key', ''),
    state: str(r, 'autospState', ''),
    control: str(r, 'control', ''),
    trustAnchor: str(r, 'trustAnchor', ''),
    policy: str(r, 'policy', ''),
    initiate: init === undefined ? undefined : init === true || init === 'true' || init === 'yes',
    // Without its own server, autosp asks serve's first static upstream, if the file names one.
    server: str(a, 'server', ' in the autosp section') ?? (typeof upstream === 'string' ? upstream : undefined),
    timeout: str(a, 'timeout', ' in the autosp section'),
    peers: str(a, 'peers', ' in the autosp section'),
    daemonCheck: str(a, 'daemonCheck', ' in the autosp section'),
  };
  for (const k of Object.keys(out) as Array<keyof AutospDefaults>) if (out[k] === undefined) delete out[k];
  return out;
}

/** The IKE/ESP settings of the file, for an engine autosp drives itself. */
export function autospIpsec(raw: RawConfig): IpsecSettings {
  return ipsecSettings((k) => (raw as Record<string, unknown>)[k]);
}

/** The engine options of the autosp command line (after the file filled what it left out). */
export interface AutospEngineOptions {
  engine?: string;
  vici?: string;
  identity?: string;
  key?: string;
  ipsec?: IpsecSettings;
}

function usage(msg: string): never {
  throw new ConfigError('usage', msg);
}

/**
 * The engine autosp drives itself, described as `oedns serve` describes its own (built by
 * src/daemon/engine-config.ts), so that both name connections and bind our identity the same way.
 * ConfigError (usage) for an unknown engine or a missing identity or key.
 */
export function autospEngineConfig(flags: AutospEngineOptions): EngineConfig {
  const kind = flags.engine ?? 'strongswan';
  if (kind !== 'strongswan' && kind !== 'libreswan' && kind !== 'dry-run')
    usage(`unknown --engine '${kind}' (strongswan, libreswan, dry-run)`);
  let identity = '';
  if (kind !== 'dry-run') {
    if (!flags.identity) usage(`--identity FQDN (our IKE identity) is required with --engine ${kind}`);
    identity = checkPeerName(flags.identity);
  }
  if (kind === 'strongswan' && !flags.key) usage('--key FILE (our private key from `oedns keygen`) is required with --engine strongswan');
  return {
    kind,
    vici: flags.vici ?? '/var/run/charon.vici',
    identity,
    key: flags.key ?? '',
    initiate: false,
    ipsec: flags.ipsec ?? autospIpsec({}),
  };
}
