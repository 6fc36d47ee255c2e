// Which initiator identities the responder may look up in DNS. The identity comes from an unauthenticated
// IKE_AUTH message, so it is attacker-chosen text: it must look like a host name before it is matched,
// and nothing outside the list is ever queried (empty list: nothing is). Pure.
import { ConfigError } from '../util/errors';

export interface AllowList {
  /** Exact names (lower case, no trailing dot). */
  readonly exact: ReadonlySet<string>;
  /** Zone suffixes: a name strictly below one of these matches (lower case, no dots around). */
  readonly zones: readonly string[];
}

export type AllowCheck =
  { allowed: true; name: string; rule: string } | { allowed: false; reason: 'not-a-hostname' | 'not-allowed'; detail: string };

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** Lower case, without a trailing dot, or undefined when `text` is not an LDH host name of 2+ labels. */
export function hostname(text: string): string | undefined {
  let n = text.trim().toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n.length === 0 || n.length > 253 || IPV4.test(n)) return undefined;
  const labels = n.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  return n;
}

/** `NAME` is one exact name; `.ZONE` or `*.ZONE` is every name below ZONE (not ZONE itself). */
export function parseAllowList(entries: readonly string[]): AllowList {
  const exact = new Set<string>();
  const zones: string[] = [];
  for (const raw of entries) {
    const e = raw.trim();
    const zone = e.startsWith('*.') ? e.slice(2) : e.startsWith('.') ? e.slice(1) : undefined;
    const n = hostname(zone ?? e);
    // A one-label zone ('.com') is refused: anyone under that TLD could make us query DNS.
    if (!n)
      throw new ConfigError(
        'bad-responder-allow',
        `responder allow-list entry '${raw}' is not a host name, '.zone' or '*.zone' of two labels or more`,
      );
    if (zone !== undefined) zones.push(n);
    else exact.add(n);
  }
  return { exact, zones };
}

export function checkAllowed(list: AllowList, identity: string): AllowCheck {
  const n = hostname(identity);
  if (!n) return { allowed: false, reason: 'not-a-hostname', detail: `identity '${identity.slice(0, 80)}' is not an FQDN` };
  if (list.exact.has(n)) return { allowed: true, name: n, rule: n };
  for (const z of list.zones) if (n.endsWith(`.${z}`)) return { allowed: true, name: n, rule: `.${z}` };
  return {
    allowed: false,
    reason: 'not-allowed',
    detail: list.exact.size + list.zones.length === 0 ? 'the responder allow-list is empty' : `${n} is not on the responder allow-list`,
  };
}
