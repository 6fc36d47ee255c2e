// Domain names: presentation strings (the shared `Name` type) <-> labels <-> wire bytes.
// Names stay strings above this layer so they are cheap to log, key and compare; every byte a label can
// hold survives the trip because non-printable and special bytes are escaped exactly as BIND prints them.
import { ParseError, WireError } from '../util/errors';
import { readTextChar } from './text';
import type { Name } from './types';

/** RFC 1035 §2.3.4 limits. */
export const MAX_LABEL = 63;
export const MAX_NAME_WIRE = 255;
/** A legitimate name has at most 127 labels, so more pointer hops than that can only be an attack. */
const MAX_POINTER_HOPS = 127;

const DOT = 0x2e;

/**
 * Parses presentation text into labels. Accepts an optional trailing dot; '' and '.' are the root.
 * RFC 1035 §5.1 escapes: `\X` is X literally, `\DDD` a decimal byte value.
 */
export function nameToLabels(name: Name): Uint8Array[] {
  if (name === '' || name === '.') return [];
  const plain = plainLabels(name);
  if (plain) return plain;
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let wireLen = 1;
  const finish = (): void => {
    if (cur.length === 0) throw new ParseError('empty-label', `empty label in name '${name}'`);
    if (cur.length > MAX_LABEL) throw new ParseError('label-too-long', `label longer than 63 bytes in '${name}'`);
    wireLen += cur.length + 1;
    if (wireLen > MAX_NAME_WIRE) throw new ParseError('name-too-long', `name longer than 255 bytes: '${name}'`);
    labels.push(Uint8Array.from(cur));
    cur = [];
  };
  for (let i = 0; i < name.length;) {
    if (name.charCodeAt(i) === DOT) {
      finish();
      if (++i === name.length) return labels; // trailing dot: absolute name
    } else i = readTextChar(name, i, cur);
  }
  finish();
  return labels;
}

/**
 * The labels of a name written in plain ASCII (no escapes, no empty or overlong label): what every
 * name read off the wire or typed by hand is, read without the per-character escape handling (names
 * are split many times per query). Null for anything else: the general parser decides (and throws).
 */
function plainLabels(name: Name): Uint8Array[] | null {
  const n = name.length;
  const end = name.charCodeAt(n - 1) === DOT ? n - 1 : n;
  if (end > MAX_NAME_WIRE - 2) return null;
  const labels: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? DOT : name.charCodeAt(i);
    if (c === DOT) {
      const len = i - start;
      if (len === 0 || len > MAX_LABEL) return null;
      const l = new Uint8Array(len);
      for (let j = 0; j < len; j++) l[j] = name.charCodeAt(start + j);
      labels.push(l);
      start = i + 1;
    } else if (c === 0x5c || c >= 0x80) return null;
  }
  return labels;
}

/** True for bytes that BIND prints with a plain backslash (dns_name_totext's "special" set). */
function isSpecial(b: number): boolean {
  return b === 0x22 || b === 0x28 || b === 0x29 || b === 0x2e || b === 0x3b || b === 0x5c || b === 0x40 || b === 0x24;
}

export function labelToText(label: Uint8Array): string {
  let plain = true;
  for (const b of label) {
    if (b <= 0x20 || b >= 0x7f || isSpecial(b)) {
      plain = false;
      break;
    }
  }
  if (plain) return String.fromCharCode.apply(null, label as unknown as number[]);
  let s = '';
  for (const b of label) {
    if (isSpecial(b)) s += '\\' + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + String(b).padStart(3, '0');
  }
  return s;
}

export function labelsToName(labels: Uint8Array[]): Name {
  return labels.map(labelToText).join('.');
}

function lowerByte(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/** Uncompressed wire form, ending with the root label. */
export function encodeName(name: Name, opts?: { lowercase?: boolean }): Uint8Array {
  return labelsToWire(nameToLabels(name), opts?.lowercase ?? false);
}

export function labelsToWire(labels: Uint8Array[], lowercase = false): Uint8Array {
  let len = 1;
  for (const l of labels) len += l.length + 1;
  const out = new Uint8Array(len);
  let p = 0;
  for (const l of labels) {
    out[p++] = l.length;
    if (lowercase) for (const b of l) out[p++] = lowerByte(b);
    else {
      out.set(l, p);
      p += l.length;
    }
  }
  out[p] = 0;
  return out;
}

/** Splits an uncompressed wire name (as produced by readNameWire) into labels. */
export function wireToLabels(wire: Uint8Array): Uint8Array[] {
  const labels: Uint8Array[] = [];
  let p = 0;
  while (p < wire.length && wire[p] !== 0) {
    labels.push(wire.subarray(p + 1, p + 1 + wire[p]!));
    p += wire[p]! + 1;
  }
  return labels;
}

/**
 * Walks a possibly compressed name, calling `onLabel` with each label's offset and length. The in-place part
 * must end before `limit` (RDLENGTH end for names inside RDATA); with `pointers` false any pointer is an
 * error. Pointers may only go backwards to bytes not yet visited, so loops, forward references and runaway
 * chains are rejected rather than followed. Returns the offset after the name in place.
 */
function walkName(buf: Uint8Array, at: number, limit: number, pointers: boolean, onLabel: (start: number, len: number) => void): number {
  let pos = at;
  let bound = Math.min(limit, buf.length);
  let next = -1;
  let hops = 0;
  let wireLen = 1;
  // Each pointer must point before the previous one's target (so before the name that held it): an
  // encoder only ever points at earlier copies, and strictly decreasing targets cannot loop. (A list
  // of visited offsets did the same job in quadratic time: 106 ms for one hostile 64 KB answer.)
  let lastTarget = Infinity;
  for (;;) {
    if (pos >= bound) throw new WireError('truncated', `name at offset ${at} runs past the end of its data`);
    const len = buf[pos]!;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (!pointers) throw new WireError('rdata-compressed', `compression pointer at offset ${pos} where names must not be compressed`);
      if (pos + 1 >= bound) throw new WireError('truncated', `compression pointer at offset ${pos} is cut off`);
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (target > pos) throw new WireError('forward-pointer', `compression pointer at offset ${pos} points forward to ${target}`);
      if (target === pos || target >= lastTarget) throw new WireError('pointer-loop', `compression pointer loop at offset ${pos}`);
      if (++hops > MAX_POINTER_HOPS) throw new WireError('pointer-chain', `more than ${MAX_POINTER_HOPS} compression pointers in one name`);
      lastTarget = target;
      pos = target;
      bound = buf.length;
      continue;
    }
    if (kind !== 0) throw new WireError('bad-label-type', `label type bits ${(len >> 6).toString(2).padStart(2, '0')} at offset ${pos}`);
    if (len === 0) return next < 0 ? pos + 1 : next;
    if (pos + 1 + len > bound) throw new WireError('truncated', `label at offset ${pos} runs past the end of its data`);
    wireLen += len + 1;
    if (wireLen > MAX_NAME_WIRE) throw new WireError('name-too-long', `name at offset ${at} is longer than 255 bytes`);
    onLabel(pos + 1, len);
    pos += len + 1;
  }
}

/** Reads a possibly compressed name into its uncompressed wire form (see walkName for the rules). */
export function readNameWire(buf: Uint8Array, at: number, limit: number = buf.length, pointers = true): { wire: Uint8Array; next: number } {
  const out = new Uint8Array(MAX_NAME_WIRE);
  let o = 0;
  const next = walkName(buf, at, limit, pointers, (start, len) => {
    out[o++] = len;
    out.set(buf.subarray(start, start + len), o);
    o += len;
  });
  out[o++] = 0;
  return { wire: out.slice(0, o), next };
}

/** Decodes a (possibly compressed) name from a whole message buffer. Throws WireError. */
export function decodeName(buf: Uint8Array, at: number): { name: Name; next: number } {
  let name = '';
  const next = walkName(buf, at, buf.length, true, (start, len) => {
    const t = labelToText(buf.subarray(start, start + len));
    name = name === '' ? t : name + '.' + t;
  });
  return { name, next };
}

export function wireToName(wire: Uint8Array): Name {
  return labelsToName(wireToLabels(wire));
}

function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}

/** Lowercased (ASCII only, RFC 4343) and with escapes in normal form. */
export function canonicalName(name: Name): Name {
  if (!name.includes('\\')) return asciiLower(name.endsWith('.') ? name.slice(0, -1) : name);
  return labelsToName(nameToLabels(name).map((l) => l.map(lowerByte)));
}

export function nameEquals(a: Name, b: Name): boolean {
  if (a === b) return true;
  return canonicalName(a) === canonicalName(b);
}

function compareLabels(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = lowerByte(a[i]!) - lowerByte(b[i]!);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** RFC 4034 §6.1: compare label by label from the right, each as a lowercased octet string. */
export function compareCanonical(a: Name, b: Name): number {
  const la = nameToLabels(a);
  const lb = nameToLabels(b);
  for (let i = 1; i <= Math.min(la.length, lb.length); i++) {
    const d = compareLabels(la[la.length - i]!, lb[lb.length - i]!);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return la.length === lb.length ? 0 : la.length < lb.length ? -1 : 1;
}

export function isSubdomain(child: Name, parent: Name): boolean {
  // Plain names (the common case) compare as text: same labels, case folded, on a label boundary.
  if (isPlain(child) && isPlain(parent)) {
    const c = canonicalName(child);
    const p = canonicalName(parent);
    return p === '' || c === p || (c.length > p.length && c.endsWith(p) && c.charCodeAt(c.length - p.length - 1) === DOT);
  }
  const lc = nameToLabels(child);
  const lp = nameToLabels(parent);
  if (lp.length > lc.length) return false;
  for (let i = 1; i <= lp.length; i++) {
    if (compareLabels(lc[lc.length - i]!, lp[lp.length - i]!) !== 0) return false;
  }
  return true;
}

export function parentName(name: Name): Name | null {
  const labels = nameToLabels(name);
  if (labels.length === 0) return null;
  return labelsToName(labels.slice(1));
}

export function labelCount(name: Name): number {
  if (name === '' || name === '.') return 0;
  if (!isPlain(name)) return nameToLabels(name).length;
  let n = 1;
  for (let i = 0; i < name.length - 1; i++) if (name.charCodeAt(i) === DOT) n++;
  return n;
}

/** A name plainLabels() reads: ASCII, no escape, no empty or overlong label, not too long. */
function isPlain(name: Name): boolean {
  const n = name.length;
  if (n === 0 || (n === 1 && name.charCodeAt(0) === DOT)) return true;
  const end = name.charCodeAt(n - 1) === DOT ? n - 1 : n;
  if (end > MAX_NAME_WIRE - 2) return false;
  let start = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? DOT : name.charCodeAt(i);
    if (c === DOT) {
      const len = i - start;
      if (len === 0 || len > MAX_LABEL) return false;
      start = i + 1;
    } else if (c === 0x5c || c >= 0x80) return false;
  }
  return true;
}

/** Storage form: no trailing dot, root ''. Validates the text (ParseError). */
export function normalizeName(text: string): Name {
  return labelsToName(nameToLabels(text.trim()));
}
