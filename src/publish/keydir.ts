// The key directory during a rollover. `oedns keygen --out DIR` writes the current key (host.key.pem,
// which `oedns serve --key` and autosp read); `keygen --next` puts the next one beside it; `key
// activate` makes next current and keeps the previous one as old until `publish --withdraw-old`.
// rollover.json remembers when each step was published and for which keys (fingerprints), so the next
// step can refuse to come too early, or to act on keys that are not the ones the state describes.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hostKeyPaths, writePrivateKeyFile } from '../ike-bridge/identity';
import { privateKeyPemForCharon } from '../ike-bridge/keys';
import { ConfigError } from '../util/errors';
import { PublishError } from './errors';
import { readKeyFile, UnsafeKeyFile, writeFileAtomic } from './files';

export type Slot = 'current' | 'next' | 'old';

export function slotPaths(dir: string, slot: Slot): { privateKey: string; publicKey: string } {
  if (slot === 'current') return hostKeyPaths(dir);
  return { privateKey: join(dir, `host.${slot}.key.pem`), publicKey: join(dir, `host.${slot}.pub.pem`) };
}

export function readSlot(dir: string, slot: Slot): KeyObject | undefined {
  const p = slotPaths(dir, slot).privateKey;
  let pem: Buffer;
  try {
    pem = readKeyFile(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (e instanceof UnsafeKeyFile) throw new ConfigError('host-key', `not using ${p}: ${e.reason}`, { cause: e });
    throw new ConfigError('host-key', `cannot read ${p}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new ConfigError('host-key', `${p} is not a PEM private key: ${(e as Error).message}`, { cause: e });
  }
}

/** SHA-256 of the key's SubjectPublicKeyInfo, hex: what rollover.json binds a step to. */
export function keyFingerprint(k: KeyObject): string {
  return createHash('sha256')
    .update(createPublicKey(k).export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export function readCurrent(dir: string): KeyObject {
  const k = readSlot(dir, 'current');
  if (!k) throw new ConfigError('host-key', `no key in ${slotPaths(dir, 'current').privateKey} (run oedns keygen --out ${dir})`);
  return k;
}

const exists = (p: string): boolean => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/**
 * Writes the next key (0600, or 0640 with the current key's group when that one is group-readable),
 * refusing to replace one unless `force`. The caller checked the directory (checkKeyDir); each file is
 * new (never written through a link) and renamed into place.
 */
export function writeNext(dir: string, key: KeyObject, force: boolean): { privateKey: string; publicKey: string; mode: number } {
  const p = slotPaths(dir, 'next');
  if (!force && exists(p.privateKey)) {
    throw new ConfigError('keygen-exists', `${p.privateKey} exists (a rollover is under way); use --force to replace the next key`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A daemon that dropped root may read the current key through its group (install.sh: 0640
  // root:oedns); after activation it must be able to read this one the same way.
  const mode = writePrivateKeyFile(p.privateKey, privateKeyPemForCharon(key), slotPaths(dir, 'current').privateKey);
  writeFileAtomic(p.publicKey, createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), 0o644);
  return { ...p, mode };
}

export interface RolloverState {
  /** What was last done. */
  step: 'added' | 'activated' | 'withdrawn';
  /** The FQDN the keys are published at. */
  name: string;
  /** Unix seconds when the step's records were seen published (or the key was activated). */
  at: number;
  /** How long the next step must wait after `at`, seconds. */
  waitSec: number;
  /** TTL of the records published in this step. */
  ttl?: number;
  /** Fingerprints (keyFingerprint) of the keys this step was done with: current and next after an
   * add, current and old after an activation. A step whose keys differ is refused. */
  current?: string;
  next?: string;
  old?: string;
}

const STATE = 'rollover.json';

export function readRollover(dir: string): RolloverState | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, STATE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('rollover-state', `cannot read ${join(dir, STATE)}: ${(e as Error).message}`);
  }
  try {
    const s = JSON.parse(text) as RolloverState;
    if (!['added', 'activated', 'withdrawn'].includes(s.step) || typeof s.at !== 'number' || typeof s.waitSec !== 'number')
      throw new Error('bad fields');
    return s;
  } catch (e) {
    throw new ConfigError(
      'rollover-state',
      `${join(dir, STATE)} is not a rollover state (${(e as Error).message}); remove it to start over`,
    );
  }
}

export function clearRollover(dir: string): void {
  rmSync(join(dir, STATE), { force: true });
}

export function writeRollover(dir: string, s: RolloverState): void {
  writeFileAtomic(join(dir, STATE), JSON.stringify(s, null, 2) + '\n', 0o644);
}

/** Seconds left before a step that must wait `s.waitSec` after `s`; 0 when it may go now. */
export function waitLeft(s: RolloverState, nowSec: number): number {
  return Math.max(0, Math.ceil(s.at + s.waitSec - nowSec));
}

/**
 * Makes the next key current: the current pair becomes old (hard links, so nothing is copied half),
 * then next is renamed over current, which an engine watching host.key.pem sees as one change.
 */
export function activateNext(dir: string): void {
  const cur = slotPaths(dir, 'current');
  const next = slotPaths(dir, 'next');
  const old = slotPaths(dir, 'old');
  if (!exists(next.privateKey))
    throw new PublishError('rollover-no-next', `no next key in ${dir} (run oedns keygen --next --out ${dir}, then oedns publish --add)`);
  for (const f of [old.privateKey, old.publicKey]) rmSync(f, { force: true });
  linkSync(cur.privateKey, old.privateKey);
  if (exists(cur.publicKey)) linkSync(cur.publicKey, old.publicKey);
  if (exists(next.publicKey)) renameSync(next.publicKey, cur.publicKey);
  renameSync(next.privateKey, cur.privateKey);
}

/** After the old key is withdrawn from DNS its private half has no use left. */
export function removeOld(dir: string): void {
  const old = slotPaths(dir, 'old');
  for (const f of [old.privateKey, old.publicKey]) rmSync(f, { force: true });
}
