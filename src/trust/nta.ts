// Negative trust anchors (RFC 7646): names below which DNSSEC failures are set aside while a zone's
// operator fixes a broken signature, so that its users can still resolve it (answers then count as
// insecure: no AD, and never enough to install an IPsec key). Pure: the clock is an argument.
// Each entry added at run time expires (RFC 7646 §2: an NTA SHOULD end by itself; at most a week).
import { canonicalName, normalizeName } from '../wire/name';
import { ConfigError } from '../util/errors';

export const NTA_DEFAULT_LIFETIME_SEC = 3600;
export const NTA_MAX_LIFETIME_SEC = 7 * 86400;
/** A host needs a few; a bound keeps a control-socket loop from growing the set without end. */
export const NTA_MAX_ENTRIES = 1000;

export interface Nta {
  name: string;
  /** Unix seconds; undefined: from the config file, until it is edited. */
  expiresAt?: number;
  source: 'config' | 'control';
}

/** The name without its first label ('' above a TLD); labels may hold escaped dots ('a\\.b'). */
function parentOf(name: string): string | undefined {
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '\\') i++;
    else if (name[i] === '.') return name.slice(i + 1);
  }
  return undefined;
}

/**
 * The canonical form of an NTA's name; ConfigError for anything that is not a domain name (empty
 * labels, labels over 63 bytes, names over 255) and for the root.
 */
export function ntaName(name: string): string {
  let n: string;
  try {
    n = canonicalName(normalizeName(name));
  } catch (e) {
    throw new ConfigError('nta-bad-name', `'${name}' is not a domain name: ${(e as Error).message}`);
  }
  if (n === '') throw new ConfigError('nta-root', 'a negative trust anchor for the root would turn validation off altogether; refused');
  return n;
}

/** Config-file NTA entries from names, every name checked (ntaName) before any is used. */
export function configuredNtas(names: readonly string[]): Nta[] {
  return names.map((n) => ({ name: ntaName(n), source: 'config' as const }));
}

export class NtaSet {
  private readonly entries = new Map<string, Nta>();

  /** Replaces the config-file entries (at start and on reload); control-added ones stay. */
  setConfigured(names: string[]): void {
    this.replaceConfigured(configuredNtas(names));
  }

  /** setConfigured with names already checked by configuredNtas: cannot fail (a reload commits with it). */
  replaceConfigured(entries: Nta[]): void {
    for (const [k, e] of this.entries) if (e.source === 'config') this.entries.delete(k);
    for (const e of entries) this.entries.set(e.name, { ...e });
  }

  add(name: string, nowSec: number, lifetimeSec = NTA_DEFAULT_LIFETIME_SEC): Nta {
    const n = ntaName(name);
    if (!Number.isInteger(lifetimeSec) || lifetimeSec < 1 || lifetimeSec > NTA_MAX_LIFETIME_SEC) {
      throw new ConfigError('nta-lifetime', `NTA lifetime must be 1..${NTA_MAX_LIFETIME_SEC} seconds (RFC 7646: at most a week)`);
    }
    this.expire(nowSec);
    if (!this.entries.has(n) && this.entries.size >= NTA_MAX_ENTRIES)
      throw new ConfigError('nta-full', `at most ${NTA_MAX_ENTRIES} negative trust anchors`);
    const e: Nta = { name: n, expiresAt: nowSec + lifetimeSec, source: 'control' };
    this.entries.set(n, e);
    return e;
  }

  remove(name: string): boolean {
    return this.entries.delete(canonicalName(normalizeName(name)));
  }

  /** The live entry covering `qname` (itself or an ancestor), if any. */
  covering(qname: string, nowSec: number): Nta | undefined {
    if (this.entries.size === 0) return undefined;
    // Walk up from the name itself: one map lookup per label, whatever the number of entries.
    for (let n: string | undefined = canonicalName(qname); n; n = parentOf(n)) {
      const e = this.entries.get(n);
      if (e && (e.expiresAt === undefined || e.expiresAt > nowSec)) return e;
    }
    return undefined;
  }

  list(nowSec: number): Nta[] {
    this.expire(nowSec);
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private expire(nowSec: number): void {
    for (const [k, e] of this.entries) if (e.expiresAt !== undefined && e.expiresAt <= nowSec) this.entries.delete(k);
  }
}
