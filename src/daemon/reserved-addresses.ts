// Addresses no peer may cover: this host's own, its default routers and its upstream resolvers. Any
// signed name can list any address; a conn over one of these would send the traffic the host needs to
// work at all (its DNS, its first hop) into a tunnel with a host that is not that name (found by a
// review: a name listing the upstream's address stopped all resolution). The parsers are pure; the
// reader at the bottom touches /proc and the interfaces, and caches for a few seconds.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { addressText, formatAddress } from '../policy/ip';
import type { Endpoint } from '../resolver/endpoint';

/** IPv4 default routers from /proc/net/route: Destination 00000000 with a Gateway, little-endian hex. */
export function parseRouteTable(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || f[1] !== '00000000' || !/^[0-9A-Fa-f]{8}$/.test(f[2]!) || f[2] === '00000000') continue;
    const n = parseInt(f[2]!, 16);
    out.push(formatAddress(new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24])));
  }
  return out;
}

/** IPv6 default routers from /proc/net/ipv6_route: destination ::/0 with a next hop. */
export function parseIpv6RouteTable(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[0] !== '0'.repeat(32) || f[1] !== '00' || !/^[0-9a-f]{32}$/i.test(f[4]!) || /^0+$/.test(f[4]!)) continue;
    out.push(formatAddress(Uint8Array.from(Buffer.from(f[4]!, 'hex'))));
  }
  return out;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The reserved set now: interfaces, default routers, the upstreams' hosts. */
export function reservedAddressesNow(upstreams: readonly Endpoint[]): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(addressText(i.address.split('%')[0]!));
  for (const a of parseRouteTable(readOr('/proc/net/route'))) out.add(a);
  for (const a of parseIpv6RouteTable(readOr('/proc/net/ipv6_route'))) out.add(a);
  for (const u of upstreams) out.add(addressText(u.host));
  return out;
}

/** A getter for PeerSync: recomputed at most every `maxAgeMs` (interfaces and routes change when a laptop moves). */
export function reservedAddresses(
  upstreams: () => readonly Endpoint[],
  maxAgeMs = 5000,
  now: () => number = Date.now,
): () => ReadonlySet<string> {
  let at = -Infinity;
  let set = new Set<string>();
  return () => {
    if (now() - at > maxAgeMs) {
      set = reservedAddressesNow(upstreams());
      at = now();
    }
    return set;
  };
}
