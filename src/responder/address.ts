// One spelling per address, so the address charon reports and the ones DNS gave compare equal. Pure.
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../wire/ip';

/** Canonical text of an IPv4 or IPv6 literal (a `[port]` or `%zone` suffix dropped), or undefined. */
export function ipv4Or6(text: string): string | undefined {
  const t = text
    .trim()
    .replace(/\[\d+\]$/, '')
    .replace(/%.*$/, '');
  try {
    return t.includes(':') ? formatIPv6(parseIPv6(t)) : formatIPv4(parseIPv4(t));
  } catch {
    return undefined;
  }
}
