// CIDR prefixes for address rules, on top of src/wire's address parsing (not node:net, so that
// src/policy stays free of I/O modules).
import { formatAddress, formatIPv4, isV4Mapped as isMapped, parseAddress, parseIPv4 as wireIPv4, parseIPv6 as wireIPv6 } from '../wire/ip';

export { formatAddress, parseAddress };

export interface Cidr {
  /** 4 or 16 bytes, host bits zero. */
  bytes: Uint8Array;
  prefix: number;
  family: 4 | 6;
  /** Canonical text, e.g. `192.0.2.0/24`, `2001:db8::/32`. */
  text: string;
}

/** IPv4 text → 4 bytes, or null (leading zeros refused: `010` is octal to some parsers). */
export function parseIPv4(s: string): Uint8Array | null {
  try {
    return wireIPv4(s);
  } catch {
    return null;
  }
}

/** IPv6 text (with `::` and an optional dotted-quad tail) → 16 bytes, or null. Zone ids refused. */
export function parseIPv6(s: string): Uint8Array | null {
  try {
    return wireIPv6(s);
  } catch {
    return null;
  }
}

/** An address in its one canonical spelling (IPv4-mapped IPv6 as IPv4); text that is no address, trimmed and lowercased. */
export function addressText(s: string): string {
  const p = parseAddress(s.trim());
  return p ? formatAddress(p.bytes) : s.trim().toLowerCase();
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; why: string };

/** `a.b.c.d/n` or `x::/n`; a bare address is a host route. Host bits must be zero (a typo otherwise). */
export function parseCidr(s: string): CidrResult {
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const addr = parseIPv4(addrText) ?? parseIPv6(addrText);
  if (!addr) return { ok: false, why: `"${addrText}" is not an IPv4 or IPv6 address` };
  const family: 4 | 6 = addr.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) {
      return { ok: false, why: `prefix length "${p}" must be an integer from 0 to ${max}` };
    }
    prefix = Number(p);
  }
  const masked = maskBytes(addr, prefix);
  if (!bytesEqual(masked, addr)) {
    return {
      ok: false,
      why: `host bits are set after /${prefix} (did you mean ${formatAddress(masked)}/${prefix}?)`,
    };
  }
  // Addresses in ::ffff:0:0/96 are matched as IPv4 (parseAddress), so such a prefix becomes IPv4 too.
  if (family === 6 && prefix >= 96 && isMapped(masked)) {
    const v4 = masked.slice(12);
    return { ok: true, cidr: { bytes: v4, prefix: prefix - 96, family: 4, text: `${formatIPv4(v4)}/${prefix - 96}` } };
  }
  return { ok: true, cidr: { bytes: masked, prefix, family, text: `${formatAddress(masked)}/${prefix}` } };
}

export function cidrContains(c: Cidr, addr: { bytes: Uint8Array; family: 4 | 6 }): boolean {
  if (c.family !== addr.family) return false;
  return bytesEqual(maskBytes(addr.bytes, c.prefix), c.bytes);
}

function maskBytes(b: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = b[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Why an address can never be a peer's traffic selector, or null: loopback, unspecified, link-local,
 * multicast and broadcast addresses (and their IPv4-mapped forms) belong to this host or this link,
 * never to a remote peer; a DNS answer naming them must not pull local traffic into a tunnel.
 */
export function specialAddress(a: { bytes: Uint8Array; family: 4 | 6 }): string | null {
  let b = a.bytes;
  if (a.family === 6 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) b = b.subarray(12);
  if (b.length === 4) {
    const [x, y] = [b[0]!, b[1]!];
    if (x === 0) return 'unspecified ("this network", 0.0.0.0/8)';
    if (x === 127) return 'loopback (127.0.0.0/8)';
    if (x === 169 && y === 254) return 'link-local (169.254.0.0/16)';
    if (x >= 224 && x <= 239) return 'multicast (224.0.0.0/4)';
    if (x >= 240) return 'reserved (240.0.0.0/4)';
    if (b.every((v) => v === 255)) return 'broadcast';
    return null;
  }
  if (b.every((v, i) => v === 0 || (i === 15 && v <= 1))) return b[15] === 1 ? 'loopback (::1)' : 'unspecified (::)';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local (fe80::/10)';
  if (b[0] === 0xff) return 'multicast (ff00::/8)';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'site-local (fec0::/10, deprecated)';
  if (b[0] === 0x01 && b.subarray(1, 8).every((v) => v === 0)) return 'discard (100::/64)';
  return null;
}
