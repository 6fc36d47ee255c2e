// The BTNS fallback's moving parts on strongSwan (docs/fallback.md): our own self-signed certificate,
// kept next to the host key; learning a peer's certificate from charon's cert cache after a failed
// IKE_AUTH (charon keeps the untrusted cert it received; VICI list-certs shows it); and refusing
// `null` (RFC 7619) on strongSwan 5.9, which rejects `auth = null`.
import { randomBytes, type KeyObject, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CertError, createSelfSignedCert, derToPem, parseCert, pemToDer } from './cert';
import { type CertTrustPolicy, judgeCert, type Pin, PinStore } from './tofu';
import { ConfigError } from '../util/errors';
import { readRegularFile, writeFileAtomic } from '../util/atomic-file';
import type { Logger } from '../util/log';
import type { ViciInput, ViciSection } from './vici-codec';

export type FallbackMethod = 'tofu-cert' | 'wellknown-psk' | 'null';

/**
 * The published well-known PSK (BTNS): every oedns host uses this same value, so it authenticates
 * nobody; it only lets two strangers run IKE and get fresh DH keys. Changing it breaks interop.
 */
export const WELLKNOWN_PSK = 'oedns opportunistic encryption: this key is public and authenticates nobody (RFC 5386)';

/** Refuse, at configuration time, a method the engine cannot build (never a silent clear fallback). */
export function checkFallbackMethod(engine: string, method: FallbackMethod): void {
  if (method === 'null' && engine === 'strongswan') {
    throw new ConfigError(
      'fallback-null-unsupported',
      'fallback.method null (RFC 7619 NULL authentication) is not supported by strongSwan 5.9: charon rejects `auth = null` ' +
        '("invalid value for: auth"). Use fallback.method tofu-cert (default) or wellknown-psk, or the libreswan engine.',
    );
  }
}

export const HOST_CERT_FILE = 'host.cert.pem';
export const PIN_FILE = 'tofu-pins.json';

/**
 * Where the fallback keeps `file`: next to the host key first (where root keeps it), then in the
 * service's state directory. A service running as its own user (the systemd unit: User=oedns,
 * ProtectSystem=strict) cannot write next to a root-owned key; it can in its state directory.
 */
export function fallbackPlaces(keyPath: string, stateDir: string, file: string): string[] {
  return [join(dirname(keyPath), file), join(stateDir, file)];
}

/** The file's text if it is a regular file (never through a link, never blocking on a FIFO). */
function readRegular(path: string): string {
  const r = readRegularFile(path);
  if (r.kind !== 'file') throw new CertError('cert-not-file', `${path} is not a regular file`);
  return r.data.toString('utf8');
}

/** Renew when less than this is left: a renewal makes every peer that pinned us warn. */
const RENEW_BEFORE_S = 30 * 86400;

/** The certificate at `path` if it is ours (this key and name, not a CA, not near expiry); else why not. */
function ownCertAt(path: string, key: KeyObject, id: string, nowSec: number): { pem: string } | { why: string } | undefined {
  if (!existsSync(path)) return undefined;
  const spki = (k: KeyObject): string =>
    (k.type === 'public' ? k : createPublicKey(k)).export({ type: 'spki', format: 'der' }).toString('base64');
  try {
    const pem = readRegular(path);
    const c = parseCert(pemToDer(pem));
    const n = id.toLowerCase().replace(/\.$/, '');
    if (c.dnsNames.includes(n) && spki(c.publicKey) === spki(key) && !c.isCA && c.notAfter - nowSec > RENEW_BEFORE_S) return { pem };
    return { why: 'it does not match our key or name, or is about to expire' };
  } catch (e) {
    if (e instanceof CertError) return { why: e.message };
    const code = (e as NodeJS.ErrnoException).code;
    // Whatever is there and cannot be read as ours (a link, a socket: ENXIO, a device) is replaced by
    // a new cert where we may write: never a failed start over a file the service user planted.
    if (typeof code === 'string') return { why: (e as Error).message };
    throw e;
  }
}

/**
 * Our certificate for `id`: the first of `paths` that holds one for this key and name, not near
 * expiry; otherwise made (CA:FALSE, SAN DNS:id) and written to the first of them we may write (mode
 * 0644: it is public). Returns PEM. Throws when none can be written, unless `orMemory`: then it is
 * used from memory (peers that pinned it see a new one at each start: said in a warning).
 */
export function findHostCert(paths: string[], key: KeyObject, id: string, nowSec: number, log?: Logger, orMemory = false): string {
  const rejected: { path: string; why: string }[] = [];
  for (const path of paths) {
    const r = ownCertAt(path, key, id, nowSec);
    if (r && 'pem' in r) return r.pem;
    if (r) rejected.push({ path, why: r.why });
  }
  for (const r of rejected) log?.warn(r, 'host certificate not used: making a new one (peers that pinned the old one will warn)');
  const pem = createSelfSignedCert(id, key, { now: nowSec, serial: randomBytes(16) });
  let last: unknown;
  for (const path of paths) {
    try {
      // Renamed into place: a link planted at `path` is replaced, never written through.
      writeFileAtomic(path, pem, 0o644);
      return pem;
    } catch (e) {
      last = e;
    }
  }
  if (!orMemory) throw last;
  log?.warn(
    { tried: paths, err: (last as Error).message },
    'tofu-cert: our certificate could not be written anywhere; using it from memory (made anew at each start: peers that pinned it will warn)',
  );
  return pem;
}

/** findHostCert for one path (throws when it cannot be written). */
export function ensureHostCert(path: string, key: KeyObject, id: string, nowSec: number, log?: Logger): string {
  return findHostCert([path], key, id, nowSec, log);
}

/** The part of a VICI client the learner uses. */
export interface CertSource {
  listCerts(filter: { type?: string }): Promise<ViciSection[]>;
  call(cmd: string, msg?: ViciInput): Promise<ViciSection>;
}

export interface LearnResult {
  /** Peers whose pin is new or changed: their conns must be reloaded. */
  pinned: string[];
  refused: { name: string; code: string; reason: string }[];
}

/**
 * Certificates for the tofu-cert method: our own, the pins, and learning from charon. Warnings about
 * changed certificates go to the log at `error` level (loud), and to `onWarning` for the daemon.
 */
export class TofuCerts {
  constructor(
    private local: string,
    private readonly store: PinStore,
    private readonly policy: CertTrustPolicy,
    private readonly log: Logger,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Our certificate (PEM), which tofu-cert conns present. */
  get localCertPem(): string {
    return this.local;
  }

  /** After our key changed (`oedns key activate`): conns built from now on present this one. */
  setLocalCert(pem: string): void {
    this.local = pem;
  }

  /** The pinned cert for a peer, PEM, if any. */
  pinnedPem(name: string): string | undefined {
    const p = this.store.get(name);
    return p ? derToPem(Buffer.from(p.der, 'base64')) : undefined;
  }

  pin(name: string): Pin | undefined {
    return this.store.get(name);
  }

  /**
   * Look through charon's certificates for ones naming any of `names` (SAN dNSName) and judge each
   * against the pins and the policy. Accepted ones are pinned. Certificates naming nobody we asked
   * about are ignored: a cert is only ever bound to the identity the peer claimed for our conn.
   */
  async learn(src: CertSource, names: string[]): Promise<LearnResult> {
    const want = new Set(names.map((n) => n.toLowerCase().replace(/\.$/, '')));
    const res: LearnResult = { pinned: [], refused: [] };
    if (want.size === 0) return res;
    const events = await src.listCerts({ type: 'X509' });
    const seen = new Set<string>();
    // The pinned certs are listed too (conns' credentials); never judge them again, or with any-key
    // an old pin still loaded could win back over its replacement.
    const pinnedAtStart = new Set([...want].map((n) => this.store.get(n)?.fingerprint).filter((f): f is string => !!f));
    for (const ev of events) {
      const data = ev.get('data');
      if (!(data instanceof Uint8Array)) continue;
      let info;
      try {
        info = parseCert(data);
      } catch {
        continue;
      }
      if (seen.has(info.fingerprint) || pinnedAtStart.has(info.fingerprint)) continue;
      seen.add(info.fingerprint);
      if (info.fingerprint === localFingerprint(this.localCertPem)) continue;
      for (const name of info.dnsNames.filter((d) => want.has(d))) {
        const v = judgeCert(this.store.snapshot, name, info, this.policy, this.now());
        if (v.warning) this.log.error({ peer: name, fingerprint: info.fingerprint }, v.warning);
        if (!v.accept) {
          if (!v.warning) this.log.warn({ peer: name, code: v.code }, v.reason);
          res.refused.push({ name, code: v.code, reason: v.reason });
          continue;
        }
        const old = this.store.get(name);
        this.store.put(v.pin);
        if (!old || old.fingerprint !== v.pin.fingerprint) {
          this.log.warn(
            { peer: name, fingerprint: v.pin.fingerprint, source: v.pin.source },
            `pinned the certificate of ${name} (unauthenticated: trust on first use)`,
          );
          res.pinned.push(name);
        }
      }
    }
    // Drop the cache so a later change shows up alone (pinned certs live in conns, not in the cache).
    if (seen.size > 0) await src.call('flush-certs', { type: 'X509' }).catch(() => undefined);
    return res;
  }
}

const localFps = new Map<string, string>();
function localFingerprint(pem: string): string {
  let f = localFps.get(pem);
  if (!f) {
    f = parseCert(pemToDer(pem)).fingerprint;
    localFps.set(pem, f);
  }
  return f;
}

/**
 * Our certificate for a new key (after `oedns key activate`): host.cert.pem is made anew for it. If
 * that file cannot be written (a daemon that dropped root), the certificate lives in memory only.
 */
export function renewHostCert(paths: string[], key: KeyObject, id: string, nowSec: number, log: Logger): string {
  const pem = findHostCert(paths, key, id, nowSec, log, true);
  // Peers that trust us by fingerprint (fallback.trusted-fingerprints) need this one now.
  log.warn(
    { fingerprint: parseCert(pemToDer(pem)).fingerprint },
    'tofu-cert: our certificate changed with our key; peers that pinned the old one will see a changed certificate',
  );
  return pem;
}

export interface StrongswanFallbackSetup {
  /** The policy's fallback section (src/policy/rules.ts FallbackPolicy). */
  fallback: CertTrustPolicy & { method: FallbackMethod };
  /** Where our certificate may be (fallbackPlaces(key, state dir, HOST_CERT_FILE)): read from the first that has it, written to the first writable. */
  certPaths: string[];
  identity: string;
  privateKey: KeyObject;
  /** Where pins are kept (findPinFile over fallbackPlaces(..., PIN_FILE)). */
  pinFile: string;
  log: Logger;
  nowSec: number;
}

/**
 * What `serve` and `autosp` should pass to `new StrongswanEngine({... , ...strongswanFallback(x)})`.
 * ConfigError for `null`; nothing is made when the policy never falls back (neither any-key nor a
 * trusted fingerprint) or when the method is wellknown-psk (built into the engine).
 */
export function strongswanFallback(s: StrongswanFallbackSetup): { tofu?: TofuCerts } {
  checkFallbackMethod('strongswan', s.fallback.method);
  const used = s.fallback.anyKey || s.fallback.trustedFingerprints.length > 0;
  if (!used || s.fallback.method !== 'tofu-cert') return {};
  const pem = findHostCert(s.certPaths, s.privateKey, s.identity, s.nowSec, s.log, true);
  const store = new PinStore(s.pinFile);
  return { tofu: new TofuCerts(pem, store, { anyKey: s.fallback.anyKey, trustedFingerprints: s.fallback.trustedFingerprints }, s.log) };
}
