// IPv4 / IPv6 text <-> bytes, printing IPv6 the way BIND's inet_ntop does (RFC 5952 style, lowercase,
// longest zero run compressed, IPv4-mapped and -compatible tails in dotted form).
import { ParseError } from '../util/errors';

export function parseIPv4(text: string): Uint8Array {
  const b = readIPv4(text);
  if (b === null) throw new ParseError('bad-address', `'${text}' is not an IPv4 address`);
  return b;
}

/**
 * IPv4 text → 4 bytes, or null; by hand, not split + regex, and without an exception for the IPv6
 * addresses parseAddress tries it on (policy reads every answered address). Four decimal parts of 1-3
 * digits, no leading zero (`010` is octal to some parsers), each at most 255.
 */
function readIPv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let digits = 0;
  let v = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || v > 255 || part > 3) return null;
      out[part++] = v;
      digits = 0;
      v = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if ((digits === 1 && v === 0) || digits === 3) return null;
      v = v * 10 + (c - 0x30);
      digits++;
    } else return null;
  }
  return part === 4 ? out : null;
}

export function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export function parseIPv6(text: string): Uint8Array {
  const bad = (): never => {
    throw new ParseError('bad-address', `'${text}' is not an IPv6 address`);
  };
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) bad();
  if (s.slice(lastColon + 1).includes('.')) {
    // An embedded IPv4 tail becomes the last two 16-bit groups.
    const v4 = parseIPv4(s.slice(lastColon + 1));
    s = s.slice(0, lastColon + 1) + ((v4[0]! << 8) | v4[1]!).toString(16) + ':' + ((v4[2]! << 8) | v4[3]!).toString(16);
  }
  const halves = s.split('::');
  if (halves.length > 2) bad();
  const groups = (h: string): number[] =>
    h === ''
      ? []
      : h.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad();
          return parseInt(g, 16);
        });
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) bad();
  const words = halves.length === 2 ? [...head, ...Array<number>(8 - total).fill(0), ...tail] : head;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

export function formatIPv6(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      s += formatIPv4(b.subarray(12, 16));
      break;
    }
    s += w[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) s += ':';
  return s;
}

/** `::ffff:a.b.c.d`: an IPv4 destination written as IPv6. */
export function isV4Mapped(b: Uint8Array): boolean {
  return b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

/**
 * Any address literal → bytes, or null. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is returned
 * as IPv4: policy rules, the reserved set and the upstream file all mean the same destination by
 * both spellings, so they read addresses here and compare one canonical form.
 */
export function parseAddress(s: string): { bytes: Uint8Array; family: 4 | 6 } | null {
  const v4 = readIPv4(s);
  if (v4 !== null) return { bytes: v4, family: 4 };
  let v6: Uint8Array;
  try {
    v6 = parseIPv6(s);
  } catch {
    return null;
  }
  return isV4Mapped(v6) ? { bytes: v6.slice(12), family: 4 } : { bytes: v6, family: 6 };
}

/** Canonical text (RFC 5952 for IPv6, as BIND prints it). */
export function formatAddress(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIPv4(bytes) : formatIPv6(bytes);
}
