// Trust on first use for the tofu-cert fallback: which learnt certificate a peer may use, and the pin
// store that remembers it (continuity of association, as SSH's known_hosts). judgeCert is pure; the
// PinStore is the I/O edge (one JSON file, written atomically, mode 0600).
import { accessSync, constants, existsSync, lstatSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { CertError, type CertInfo, checkPeerCert } from './cert';
import { EngineError } from '../util/errors';
import { readRegularFile, writeFileAtomic } from '../util/atomic-file';

/** What the policy's `fallback` section says about certificates (src/policy/rules.ts FallbackPolicy). */
export interface CertTrustPolicy {
  /** Accept any (well-formed) certificate: first contact and changes; both still pinned and warned. */
  anyKey: boolean;
  /** SHA-256 fingerprints (lowercase hex) accepted without TOFU. */
  trustedFingerprints: string[];
}

export interface Pin {
  name: string;
  fingerprint: string;
  /** The certificate, base64 DER: charon needs the cert itself to pin it in a conn. */
  der: string;
  /** Unix seconds. */
  firstSeen: number;
  lastSeen: number;
  /** How it was accepted. */
  source: 'trusted-fingerprint' | 'any-key';
}

export interface PinState {
  version: 1;
  pins: Record<string, Pin>;
}

export type CertVerdict =
  { accept: true; pin: Pin; changed: boolean; warning?: string } | { accept: false; code: string; reason: string; warning?: string };

export function emptyPinState(): PinState {
  return { version: 1, pins: {} };
}

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * May `cert`, shown by the peer that claims `name`, be used for it? Checks first (CA:FALSE, SAN equal
 * to the name, validity, key), then, as SSH does:
 * - a fingerprint in `trustedFingerprints` is accepted (no TOFU needed);
 * - the pinned certificate is accepted;
 * - a different certificate for a pinned peer is refused with a loud warning, unless `anyKey`
 *   (then accepted, re-pinned, and still warned about);
 * - an unknown peer's certificate is pinned on first use only with `anyKey` (otherwise only the
 *   trusted fingerprints may be used: the policy's allow-list restricts TOFU).
 */
export function judgeCert(state: PinState, name: string, cert: CertInfo, policy: CertTrustPolicy, nowSec: number): CertVerdict {
  const n = norm(name);
  try {
    checkPeerCert(cert, n, nowSec);
  } catch (e) {
    if (!(e instanceof CertError)) throw e;
    return { accept: false, code: e.code, reason: e.message };
  }
  const old = state.pins[n];
  const fp = cert.fingerprint;
  const trusted = policy.trustedFingerprints.map((f) => f.toLowerCase().replace(/:/g, '')).includes(fp);
  const pin = (source: Pin['source']): Pin => ({
    name: n,
    fingerprint: fp,
    der: cert.der.toString('base64'),
    firstSeen: old?.fingerprint === fp ? old.firstSeen : nowSec,
    lastSeen: nowSec,
    source,
  });
  const changedText =
    old && old.fingerprint !== fp
      ? `CERTIFICATE OF ${n} HAS CHANGED: pinned ${old.fingerprint} (since ${new Date(old.firstSeen * 1000).toISOString()}), now shown ${fp}. ` +
        'Someone may be intercepting this connection (man in the middle), or the host got a new key.'
      : undefined;
  if (old && old.fingerprint === fp) return { accept: true, pin: { ...old, lastSeen: nowSec }, changed: false };
  if (trusted)
    return {
      accept: true,
      pin: pin('trusted-fingerprint'),
      changed: !!old,
      warning: changedText && `${changedText} Accepted: the new one is in trusted-fingerprints.`,
    };
  if (old) {
    if (policy.anyKey)
      return {
        accept: true,
        pin: pin('any-key'),
        changed: true,
        warning: `${changedText} Accepted and re-pinned because fallback.any-key is on.`,
      };
    return { accept: false, code: 'tofu-cert-changed', reason: `${changedText} Refused.`, warning: `${changedText} Refused.` };
  }
  if (policy.anyKey) return { accept: true, pin: pin('any-key'), changed: false };
  return {
    accept: false,
    code: 'tofu-cert-untrusted',
    reason: `certificate ${fp} of ${n} is not in fallback.trusted-fingerprints and fallback.any-key is off`,
  };
}

/** The pin file: `{ version: 1, pins: { name: Pin } }`. */
/**
 * The pin file among `places` (in order): the first that exists, else the first whose directory we
 * may write (a service running as its own user keeps pins in its state directory), else the first.
 */
export function findPinFile(places: string[]): string {
  const existing = places.find((p) => existsSync(p));
  if (existing) return existing;
  const writable = places.find((p) => {
    try {
      accessSync(dirname(p), constants.W_OK);
      return statSync(dirname(p)).isDirectory();
    } catch {
      return false;
    }
  });
  return writable ?? places[0]!;
}

/** More is not a pin file oedns wrote (a pin is ~2 KB; a host pins the peers it talks to). */
const MAX_PIN_FILE_BYTES = 64 * 1024 * 1024;

/** Which file a path held when it was last read or written: another process's rename changes it. */
const identity = (st: Stats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

/**
 * The pin file, shared by the service (which pins) and `oedns pins` (which lists and forgets, often as
 * root, in the service's own state directory). Each reads the file again when another process has
 * replaced it, so a forgotten pin is neither trusted on nor written back by the running service.
 */
export class PinStore {
  private state: PinState;
  private seen?: string;

  constructor(readonly path: string) {
    const r = PinStore.load(path);
    this.state = r.state;
    this.seen = r.seen;
  }

  static read(path: string): PinState {
    return PinStore.load(path).state;
  }

  /**
   * Never through a link, never blocking on a FIFO, bounded: the file may sit in a directory the
   * service user owns, and root reads it there (`oedns pins`).
   */
  private static load(path: string): { state: PinState; seen?: string } {
    let text: string;
    let seen: string;
    try {
      const r = readRegularFile(path, MAX_PIN_FILE_BYTES);
      if (r.kind !== 'file')
        throw new EngineError(
          'tofu-store',
          r.kind === 'too-large'
            ? `the pin file ${path} has ${r.stat.size} bytes, more than ${MAX_PIN_FILE_BYTES}: not read`
            : `the pin file ${path} is not a regular file: not read`,
        );
      text = r.data.toString('utf8');
      seen = identity(r.stat);
    } catch (e) {
      if (e instanceof EngineError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyPinState() };
      const link = (e as NodeJS.ErrnoException).code === 'ELOOP' ? ' (a link: not followed)' : '';
      throw new EngineError('tofu-store', `cannot read the pin file ${path}${link}: ${(e as Error).message}`, { cause: e });
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      // Not the parser's message: it quotes the file's first bytes, and the file may not be one of ours.
      throw new EngineError('tofu-store', `pin file ${path} is not JSON`, { cause: e });
    }
    const s = v as PinState;
    if (!s || s.version !== 1 || typeof s.pins !== 'object' || s.pins === null)
      throw new EngineError('tofu-store', `pin file ${path} is not a version 1 pin file`);
    for (const [k, p] of Object.entries(s.pins)) {
      if (!p || p.name !== k || !/^[0-9a-f]{64}$/.test(p.fingerprint) || typeof p.der !== 'string') {
        throw new EngineError('tofu-store', `pin file ${path}: bad entry for ${k}`);
      }
    }
    return { state: s, seen };
  }

  /** The file as it is now if another process replaced or removed it since we last read or wrote it. */
  private refresh(): void {
    let now: string | undefined;
    try {
      now = identity(lstatSync(this.path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (now === this.seen) return;
    const r = PinStore.load(this.path);
    this.state = r.state;
    this.seen = r.seen;
  }

  get snapshot(): PinState {
    this.refresh();
    return this.state;
  }

  get(name: string): Pin | undefined {
    this.refresh();
    return this.state.pins[norm(name)];
  }

  /** Record a pin and write the file (temp file + rename: a crash leaves the old or the new one). */
  put(p: Pin): void {
    this.refresh();
    this.state = { version: 1, pins: { ...this.state.pins, [p.name]: p } };
    this.save();
  }

  /** Forget a peer (e.g. `oedns` operator decided the change was legitimate and any-key is off). */
  forget(name: string): boolean {
    this.refresh();
    const n = norm(name);
    if (!this.state.pins[n]) return false;
    const pins = { ...this.state.pins };
    delete pins[n];
    this.state = { version: 1, pins };
    this.save();
    return true;
  }

  /** New file under a random name, created exclusively (never through a planted link), then renamed. */
  private save(): void {
    // Root editing the service's file (`oedns pins forget`) gives it back to its owner, or the service
    // could not read its pins at its next start.
    let owner: { uid: number; gid: number } | undefined;
    try {
      const st = lstatSync(this.path);
      if (st.isFile() && process.geteuid?.() === 0) owner = { uid: st.uid, gid: st.gid };
    } catch {
      owner = undefined;
    }
    writeFileAtomic(this.path, `${JSON.stringify(this.state, null, 1)}\n`, 0o600, owner?.gid, owner?.uid);
    this.seen = identity(lstatSync(this.path));
  }
}
