// What a previous `oedns serve` left closed, kept closed across a restart or a crash (review v11 F2).
// A program may hold the address of a `private` peer for its answer's TTL plus the shunt grace; the
// process that handed it out may stop (upgrade, systemctl restart) or die (kill -9, OOM) meanwhile.
// The new process trusts no key it did not validate itself, and its startup reconcile removes every
// conn it does not want: without this, the next packet to that address left in clear.
//
// Two sources, both only ever ADD drop shunts (never a key, never a conn that passes traffic):
// - the closed-set file serve writes next to its state (`serve-closed.json`: name, addresses, until),
//   read back as untrusted input: bounded, every field checked, `until` capped;
// - the conns the IKE daemon still holds (it outlives oedns): a peer conn whose name or addresses
//   the current policy puts at a failing-closed level, or that the file lists, and every leftover
//   drop shunt, are held closed until the file's `until`, else the longest a private answer could
//   have lasted (max-ttl) plus the grace. A new validated answer takes an address back as usual.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import type { InstalledPeer } from '../ike-bridge/engine';
import { failsClosed, type Shunt } from '../peers/registry';
import { matchPeer, parseAddress, type Policy } from '../policy';
import { specialAddress } from '../policy/ip';
import { writeFileAtomic } from '../publish/files';
import { peerNameProblem } from '../autosp/peers-file';
import { ConfigError } from '../util/errors';

/** At most this many names and this many bytes: more is not a file serve wrote (its shunt bound is 65,536 addresses). */
export const MAX_CLOSED_NAMES = 65_536;
export const MAX_CLOSED_BYTES = 4 * 1024 * 1024;
const MAX_ADDRESSES_PER_NAME = 64;

export interface ClosedSet {
  entries: Shunt[];
  /** Why stored entries were left out. */
  rejected: string[];
}

/** Writes the closed set atomically, mode 0600 (it lists whom this host talks to). */
export function writeClosedSet(path: string, entries: readonly Shunt[], nowSec: number): void {
  const body = {
    version: 1,
    updatedAt: Math.floor(nowSec),
    entries: entries.map((e) => ({ name: e.name, addresses: e.addresses, until: Math.ceil(e.until) })),
  };
  writeFileAtomic(path, JSON.stringify(body) + '\n', 0o600);
}

/**
 * The stored closed set, as untrusted input: entries ending by `nowSec` are dropped, `until` is capped
 * at nowSec + maxHoldSec, names and addresses are checked like any answer's (no loopback, link-local,
 * multicast or unspecified address becomes a shunt). A missing file is an empty set; an unreadable
 * or malformed one is a ConfigError (the caller logs it and holds what the IKE daemon still has).
 */
export function readClosedSet(path: string, nowSec: number, maxHoldSec: number): ClosedSet {
  if (!existsSync(path)) return { entries: [], rejected: [] };
  let v: { version?: unknown; entries?: unknown };
  // Read as root before the privilege drop: a link, a FIFO or a device there must not be followed,
  // block the start or fill memory, and nothing of what it holds goes into the log.
  const st = lstatSync(path);
  if (!st.isFile()) throw new ConfigError('closed-state', `${path} is not a regular file (a link, FIFO or device): not read`);
  if (st.size > MAX_CLOSED_BYTES)
    throw new ConfigError('closed-state', `${path} has ${st.size} bytes, more than the ${MAX_CLOSED_BYTES} it may have: not read`);
  try {
    v = JSON.parse(readFileSync(path, 'utf8')) as typeof v;
  } catch (e) {
    throw new ConfigError('closed-state', `${path} is not the JSON oedns writes: not read`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || v.version !== 1 || !Array.isArray(v.entries)) {
    throw new ConfigError('closed-state', `${path} is not a serve closed-set file (version 1)`);
  }
  if (v.entries.length > MAX_CLOSED_NAMES)
    throw new ConfigError('closed-state', `${path}: ${v.entries.length} entries, more than ${MAX_CLOSED_NAMES}`);
  const entries: Shunt[] = [];
  const rejected: string[] = [];
  for (const raw of v.entries as unknown[]) {
    const why = entryProblem(raw);
    if (why) {
      rejected.push(why);
      continue;
    }
    const e = raw as Shunt;
    if (e.until <= nowSec) continue;
    entries.push({
      name: e.name.toLowerCase().replace(/\.$/, ''),
      addresses: e.addresses.map((a) => a.toLowerCase()),
      until: Math.min(e.until, nowSec + maxHoldSec),
    });
  }
  return { entries, rejected };
}

function entryProblem(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return 'an entry is not an object';
  const e = raw as Record<string, unknown>;
  if (typeof e.name !== 'string' || peerNameProblem(e.name) !== null) return `bad name ${JSON.stringify(e.name)}`;
  if (typeof e.until !== 'number' || !Number.isFinite(e.until)) return `${e.name}: bad until`;
  if (!Array.isArray(e.addresses) || e.addresses.length === 0 || e.addresses.length > MAX_ADDRESSES_PER_NAME)
    return `${e.name}: bad address list`;
  for (const a of e.addresses) {
    const p = typeof a === 'string' ? parseAddress(a) : null;
    if (!p) return `${e.name}: bad address ${JSON.stringify(a)}`;
    const special = specialAddress(p);
    if (special) return `${e.name}: ${a} is ${special}`;
  }
  return null;
}

/**
 * The shunts a starting serve must hold before it answers anything: the stored closed set, plus what
 * the IKE daemon still holds from the previous process that policy (or the file) says fails closed.
 * Pure: the caller lists the engine and reads the file.
 */
export function leftoverShunts(
  installed: readonly InstalledPeer[],
  stored: readonly Shunt[],
  policy: Policy,
  nowSec: number,
  graceSec: number,
): Shunt[] {
  const out = new Map<string, Shunt>();
  const add = (s: Shunt): void => {
    const prev = out.get(s.name);
    out.set(
      s.name,
      prev ? { name: s.name, addresses: [...new Set([...prev.addresses, ...s.addresses])], until: Math.max(prev.until, s.until) } : s,
    );
  };
  const byName = new Map(stored.map((s) => [s.name, s]));
  for (const s of stored) add(s);
  const longest = nowSec + policy.maxTtl + graceSec;
  for (const p of installed) {
    const name = p.name.toLowerCase().replace(/\.$/, '');
    if (peerNameProblem(name) !== null) continue;
    const addresses = p.addresses.filter((a) => {
      const parsed = parseAddress(a);
      return parsed !== null && specialAddress(parsed) === null;
    });
    if (addresses.length === 0) continue;
    const known = byName.get(name);
    if (p.shunt || known || failsClosed(matchPeer(policy, name, addresses).level)) {
      add({ name, addresses, until: known?.until ?? longest });
    }
  }
  return [...out.values()];
}
