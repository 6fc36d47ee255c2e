// Text encodings used by presentation format: base64 and hex split as BIND prints them, base32hex
// (RFC 4648 §7, for NSEC3), quoted <character-string>s, and RRSIG timestamps (RFC 4034 §3.2).
import { ParseError } from '../util/errors';

/** BIND splits long base64/hex fields into 56-character chunks separated by a space (dig's default +split). */
export const SPLIT = 56;

export function split(s: string, width = SPLIT): string {
  if (width <= 0 || s.length <= width) return s;
  const parts: string[] = [];
  for (let i = 0; i < s.length; i += width) parts.push(s.slice(i, i + width));
  return parts.join(' ');
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  const s = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new ParseError('bad-base64', `not base64: '${text.slice(0, 40)}'`);
  return Uint8Array.from(Buffer.from(s, 'base64'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex').toUpperCase();
}

export function fromHex(text: string): Uint8Array {
  const s = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new ParseError('bad-hex', `not hex: '${text.slice(0, 40)}'`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

const B32HEX = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

/** Unpadded base32hex, upper case as BIND prints NSEC3 hashes. */
export function toBase32hex(b: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32HEX[(value << (5 - bits)) & 31];
  return out;
}

export function fromBase32hex(text: string): Uint8Array {
  const s = text.toUpperCase().replace(/=+$/, '');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of s) {
    const v = B32HEX.indexOf(c);
    if (v < 0) throw new ParseError('bad-base32hex', `not base32hex: '${text}'`);
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  // Leftover bits must be zero padding, and fewer than 5 (RFC 4648 §7 without '=').
  if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) throw new ParseError('bad-base32hex', `not canonical base32hex: '${text}'`);
  return Uint8Array.from(out);
}

/** A <character-string> in double quotes, escaped as BIND prints it. */
export function quote(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s + '"';
}

/**
 * Reads one character of zone text at `i` into `out`, resolving RFC 1035 §5.1 escapes (`\X` is X,
 * `\DDD` a decimal byte; other characters as UTF-8). Returns the index after it. Throws ParseError.
 */
export function readTextChar(text: string, i: number, out: number[]): number {
  if (text.charCodeAt(i) === 0x5c) {
    if (i + 1 >= text.length) throw new ParseError('bad-escape', `dangling backslash in '${text}'`);
    const d1 = text.charCodeAt(i + 1);
    if (d1 >= 0x30 && d1 <= 0x39) {
      const digits = text.slice(i + 1, i + 4);
      if (!/^[0-9]{3}$/.test(digits)) throw new ParseError('bad-escape', `\\DDD needs three digits in '${text}'`);
      const v = Number(digits);
      if (v > 255) throw new ParseError('bad-escape', `\\${digits} is not a byte in '${text}'`);
      out.push(v);
      return i + 4;
    }
    return i + 1 + pushCodePoint(out, text.codePointAt(i + 1)!);
  }
  return i + pushCodePoint(out, text.codePointAt(i)!);
}

/** Pushes the UTF-8 bytes of one code point; returns how many UTF-16 units it took. */
function pushCodePoint(out: number[], cp: number): number {
  if (cp < 0x80) out.push(cp);
  else for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b);
  return cp > 0xffff ? 2 : 1;
}

/** Resolves the escapes of a whole token (quoted or not) to bytes. */
export function unescapeBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length;) i = readTextChar(text, i, out);
  return Uint8Array.from(out);
}

/** RFC 4034 §3.2: YYYYMMDDHHmmSS in UTC (the 32-bit value read as seconds since 1970). */
export function timeToText(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Accepts YYYYMMDDHHmmSS or a plain decimal number of seconds (RFC 4034 §3.2). */
export function textToTime(text: string): number {
  const m = /^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})$/.exec(text);
  if (m) {
    const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
    const ms = Date.UTC(y, mo - 1, d, h, mi, s);
    const back = new Date(ms);
    if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
      throw new ParseError('bad-time', `bad time '${text}'`);
    return (ms / 1000) >>> 0;
  }
  if (/^[0-9]{1,10}$/.test(text) && Number(text) <= 0xffffffff) return Number(text);
  throw new ParseError('bad-time', `bad time '${text}'`);
}
