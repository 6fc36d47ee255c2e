// Which clients may use the resolver. By default only loopback: a resolver open to the network is an
// amplification reflector and leaks what its owner looks up. `--allow CIDR` widens the list.
import { isIP } from 'node:net';
import { ConfigError } from '../util/errors';

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
  const bytes = family === 4 ? ipv4Bytes(addr) : ipv6Bytes(addr);
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
    const b = ipv6Bytes(addr);
    if (isV4Mapped(b)) return v4.some((c) => within(b.subarray(12), c));
    return v6.some((c) => within(b, c));
  }
  if (fam === 4) return v4.some((c) => within(ipv4Bytes(addr), c));
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

export function ipv4Bytes(addr: string): Uint8Array {
  return Uint8Array.from(addr.split('.').map(Number));
}

export function ipv6Bytes(addr: string): Uint8Array {
  let text = addr;
  const out = new Uint8Array(16);
  // An embedded dotted quad ('::ffff:1.2.3.4') becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const q = ipv4Bytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}
