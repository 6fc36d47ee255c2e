// The RFC 5011 state file: what the trust anchor tracker knows about each trust point's keys, kept
// across restarts (the 30-day hold-down timers only mean something if they survive a reboot).
// Checked field by field on load: a damaged file is an error that names it, never silently "no keys".
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../util/errors';
import type { KeyState, TrackedKey, TrustPointState } from './rfc5011';

const STATES: ReadonlyArray<KeyState> = ['AddPend', 'Valid', 'Missing', 'Revoked', 'Removed'];
/** A root zone has a handful of KSKs; anything far beyond that is not a state file we wrote. */
const MAX_KEYS = 64;
const MAX_POINTS = 64;

function bad(path: string, why: string): never {
  throw new ConfigError('trust-anchor-state', `trust anchor state file ${path} is damaged: ${why} (move it away to start again from the configured anchors)`);
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 33;

function checkKey(path: string, k: unknown): TrackedKey {
  if (typeof k !== 'object' || k === null) bad(path, 'a key is not an object');
  const o = k as Record<string, unknown>;
  if (typeof o.rdata !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(o.rdata) || o.rdata.length > 4096) bad(path, 'a key has no valid rdata');
  if (typeof o.tag !== 'number' || !Number.isInteger(o.tag) || o.tag < 0 || o.tag > 65535) bad(path, 'a key has no valid tag');
  if (!STATES.includes(o.state as KeyState)) bad(path, `unknown key state ${JSON.stringify(o.state)}`);
  if (!isTime(o.firstSeen) || !isTime(o.since)) bad(path, 'a key has bad times');
  return { rdata: o.rdata, tag: o.tag, state: o.state as KeyState, firstSeen: o.firstSeen, since: o.since };
}

export function parseTrustState(text: string, path: string): TrustPointState[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    bad(path, 'not JSON');
  }
  const o = v as { version?: unknown; trustPoints?: unknown };
  if (typeof v !== 'object' || v === null || o.version !== 1 || !Array.isArray(o.trustPoints)) bad(path, 'not a version 1 state');
  if (o.trustPoints.length > MAX_POINTS) bad(path, 'too many trust points');
  return o.trustPoints.map((tp: unknown) => {
    const t = tp as Record<string, unknown>;
    if (typeof tp !== 'object' || tp === null || typeof t.zone !== 'string' || !Array.isArray(t.keys)) bad(path, 'a trust point lacks zone or keys');
    if (t.keys.length > MAX_KEYS) bad(path, `too many keys for ${t.zone || '.'}`);
    if ((t.lastSuccess !== undefined && !isTime(t.lastSuccess)) || (t.nextRefresh !== undefined && !isTime(t.nextRefresh))) bad(path, 'bad refresh times');
    const out: TrustPointState = { zone: t.zone, keys: t.keys.map((k: unknown) => checkKey(path, k)) };
    if (t.lastSuccess !== undefined) out.lastSuccess = t.lastSuccess as number;
    if (t.nextRefresh !== undefined) out.nextRefresh = t.nextRefresh as number;
    return out;
  });
}

/** The state in `path`, or [] when there is no file yet. */
export function loadTrustState(path: string): TrustPointState[] {
  if (!existsSync(path)) return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('trust-anchor-state', `cannot read trust anchor state ${path}: ${(e as Error).message}`);
  }
  return parseTrustState(text, path);
}

/** Written to a temporary file and renamed over the old one: a crash leaves the old or the new state. */
export function saveTrustState(path: string, points: TrustPointState[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify({ version: 1, trustPoints: points }, null, 1)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}
