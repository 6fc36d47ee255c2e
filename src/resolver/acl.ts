// Which clients may use the resolver. By default only loopback: a resolver open to the network is an
// amplification reflector and leaks what its owner looks up. `--allow CIDR` widens the list.
import { isIP } from 'node:net';
import { ConfigError } from '../util/errors';
import { parseIPv4, parseIPv6 } from '../wire/ip';

export interface Cidr {
  family: 4 | 6;
  /** Network address as 4 or 16 bytes. */
  bytes: Uint8Array;
  prefix: number;
  text: string;
}

export const LOOPBACK_CIDRS = ['127.0.0.0/8', '::1/128'];

/** Parses '10.0.0.0/8', '2001:db8::/32' or a bare address (a host route). Throws ConfigError. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(addr);
  if (family !== 4 && family !== 6) throw new ConfigError('bad-cidr', `not an IP address or CIDR: '${text}'`);
  const max = family === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1)))) {
    throw new ConfigError('bad-cidr', `bad prefix length in '${text}' (0..${max})`);
  }
  const bytes = family === 4 ? parseIPv4(addr) : parseIPv6(addr);
  return { family, bytes: maskBytes(bytes, prefix), prefix, text };
}

/**
 * A predicate over client addresses. IPv4-mapped IPv6 clients (::ffff:a.b.c.d, as seen on dual-stack
 * sockets) are matched against the IPv4 entries, so '127.0.0.0/8' covers them too.
 */
export function makeAcl(cidrs: string[]): (address: string) => boolean {
  const list = cidrs.map(parseCidr);
  const v4 = list.filter((c) => c.family === 4);
  const v6 = list.filter((c) => c.family === 6);
  const cache = new Map<string, boolean>();
  return (address: string): boolean => {
    const hit = cache.get(address);
    if (hit !== undefined) return hit;
    const ok = matches(address, v4, v6);
    // Bounded memo: the hot path sees the same few loopback addresses over and over.
    if (cache.size > 1024) cache.clear();
    cache.set(address, ok);
    return ok;
  };
}

function matches(address: string, v4: Cidr[], v6: Cidr[]): boolean {
  let addr = address;
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  const fam = isIP(addr);
  if (fam === 6) {
    const b = parseIPv6(addr);
    if (isV4Mapped(b)) return v4.some((c) => within(b.subarray(12), c));
    return v6.some((c) => within(b, c));
  }
  if (fam === 4) return v4.some((c) => within(parseIPv4(addr), c));
  return false;
}

function within(b: Uint8Array, c: Cidr): boolean {
  const masked = maskBytes(b, c.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== c.bytes[i]) return false;
  return true;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function maskBytes(b: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = b[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}
