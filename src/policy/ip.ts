// Address literals and CIDR prefixes as bytes, for address rules. Written here rather than taken from
// node:net so that src/policy stays free of I/O modules; only what policy matching needs.

export interface Cidr {
  /** 4 or 16 bytes, host bits zero. */
  bytes: Uint8Array;
  prefix: number;
  family: 4 | 6;
  /** Canonical text, e.g. `192.0.2.0/24`, `2001:db8::/32`. */
  text: string;
}

/** IPv4 dotted quad → 4 bytes, or null. Leading zeros are refused: `010` is octal to some parsers. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** IPv6 text (with `::` and an optional trailing dotted quad) → 16 bytes, or null. Zone ids refused. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.length === 0 || s.length > 45 || s.includes('%')) return null;
  let tailV4: Uint8Array | null = null;
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIPv4(s.slice(lastColon + 1));
    if (!tailV4) return null;
    // Keep both colons of a `::` right before the quad (`::1.2.3.4`), drop a single separator.
    body = s[lastColon - 1] === ':' ? s.slice(0, lastColon + 1) : s.slice(0, lastColon);
  }
  const maxGroups = tailV4 ? 6 : 8;
  const dbl = body.indexOf('::');
  if (dbl !== body.lastIndexOf('::')) return null;
  const parseGroups = (t: string): number[] | null => {
    if (t === '') return [];
    const gs = t.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(body.slice(0, dbl));
    const tail = parseGroups(body.slice(dbl + 2));
    if (!head || !tail) return null;
    const missing = maxGroups - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseGroups(body);
    if (!all || all.length !== maxGroups) return null;
    groups = all;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tailV4) out.set(tailV4, 12);
  return out;
}

/**
 * Any address literal → bytes. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is returned as IPv4,
 * so that one IPv4 rule covers both spellings of the same destination.
 */
export function parseAddress(s: string): { bytes: Uint8Array; family: 4 | 6 } | null {
  const v4 = parseIPv4(s);
  if (v4) return { bytes: v4, family: 4 };
  const v6 = parseIPv6(s);
  if (!v6) return null;
  const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  if (mapped) return { bytes: v6.slice(12), family: 4 };
  return { bytes: v6, family: 6 };
}

export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
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
    out[i] = b[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
