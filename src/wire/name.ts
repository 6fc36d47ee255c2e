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
  outLen = 0;
  for (let i = 0; i < labels.length; i++) {
    if (i > 0) textOut[outLen++] = DOT;
    pushLabelText(labels[i]!, 0, labels[i]!.length);
  }
  return takeText();
}

function lowerByte(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/** Uncompressed wire form, ending with the root label. */
export function encodeName(name: Name, opts?: { lowercase?: boolean }): Uint8Array {
  const n = writeName(name, wireOut, 0);
  const out = wireOut.slice(0, n);
  if (opts?.lowercase) for (let i = 0; i < n; i++) out[i] = lowerByte(out[i]!);
  return out;
}

/**
 * Writes the uncompressed wire form of `name` into `out` at `at` (which must have MAX_NAME_WIRE bytes
 * of room) and returns the offset after it. Throws ParseError as nameToLabels does. Plain names go
 * byte by byte from the text, without label arrays.
 */
export function writeName(name: Name, out: Uint8Array, at: number): number {
  const n = name.length;
  if (n === 0 || (n === 1 && name.charCodeAt(0) === DOT)) {
    out[at] = 0;
    return at + 1;
  }
  const end = name.charCodeAt(n - 1) === DOT ? n - 1 : n;
  plain: if (end <= MAX_NAME_WIRE - 2) {
    // The same test as plainLabels: any other name goes to the escape parser, which decides.
    let lenAt = at;
    let o = at + 1;
    for (let i = 0; i <= end; i++) {
      const c = i === end ? DOT : name.charCodeAt(i);
      if (c === DOT) {
        const len = o - lenAt - 1;
        if (len === 0 || len > MAX_LABEL) break plain;
        out[lenAt] = len;
        lenAt = o++;
      } else if (c === 0x5c || c >= 0x80) break plain;
      else out[o++] = c;
    }
    out[lenAt] = 0;
    return lenAt + 1;
  }
  let o = at;
  for (const l of nameToLabels(name)) {
    out[o++] = l.length;
    out.set(l, o);
    o += l.length;
  }
  out[o] = 0;
  return o + 1;
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
 * Scratch output of walkName: the uncompressed wire form (wireOut) or the text's character codes
 * (textOut) of the name just walked, outLen long. Every caller copies out of it before returning, so
 * nothing handed out aliases it and nothing carries from one name to the next.
 */
const wireOut = new Uint8Array(MAX_NAME_WIRE);
const textOut: number[] = [];
let outLen = 0;

const WIRE = 0;
const TEXT = 1;

/** Appends label bytes as text, escaped exactly as labelToText does. */
function pushLabelText(buf: Uint8Array, start: number, len: number): void {
  let o = outLen;
  for (let i = start; i < start + len; i++) {
    const b = buf[i]!;
    if (b > 0x20 && b < 0x7f) {
      if (isSpecial(b)) textOut[o++] = 0x5c;
      textOut[o++] = b;
    } else {
      textOut[o++] = 0x5c;
      textOut[o++] = 0x30 + ((b / 100) | 0);
      textOut[o++] = 0x30 + (((b / 10) | 0) % 10);
      textOut[o++] = 0x30 + (b % 10);
    }
  }
  outLen = o;
}

function takeText(): string {
  textOut.length = outLen;
  return outLen === 0 ? '' : String.fromCharCode.apply(null, textOut);
}

/**
 * Names one message decoder has read, by the offset they start at, with what a walk from there found:
 * a pointer to one of them can take its text instead of walking it again, when the checks the walk
 * would make (first pointer target below the one just followed, hop count, total length) come out the
 * same. One per message: it holds offsets into that buffer only. The first MEMO_NAMES names only, so a
 * lookup is a short scan (a message with thousands of names just walks the rest).
 */
export class NameMemo {
  private readonly offsets: number[] = [];
  private readonly entries: { text: string; hops: number; firstTarget: number; wireLen: number }[] = [];

  add(at: number, text: string, hops: number, firstTarget: number, wireLen: number): void {
    if (this.offsets.length >= MEMO_NAMES) return;
    this.offsets.push(at);
    this.entries.push({ text, hops, firstTarget, wireLen });
  }
  /** The text of the name at `target`, if a walk arriving there with this state would read it whole and succeed. */
  find(target: number, hops: number, wireLen: number): string | undefined {
    const e = this.entries[this.offsets.indexOf(target)];
    if (e === undefined || e.firstTarget >= target || hops + e.hops > MAX_POINTER_HOPS || wireLen + e.wireLen - 1 > MAX_NAME_WIRE)
      return undefined;
    return e.text;
  }
  hopsOf(target: number): number {
    return this.entries[this.offsets.indexOf(target)]!.hops;
  }
  wireLenOf(target: number): number {
    return this.entries[this.offsets.indexOf(target)]!.wireLen;
  }
}
const MEMO_NAMES = 32;
/** Pointers into a name after which the walk stops asking the memo (see walkName). */
const MEMO_HOPS = 2;

/** What the last walkName saw beyond `next`: pointers followed, the first one's target (-1: none), wire length. */
let walkedHops = 0;
let walkedFirstTarget = -1;
let walkedWireLen = 0;

/**
 * Walks a possibly compressed name, writing its labels into the scratch output (wire form or text).
 * The in-place part must end before `limit` (RDLENGTH end for names inside RDATA); with `pointers`
 * false any pointer is an error. Pointers may only go backwards to bytes not yet visited, so loops,
 * forward references and runaway chains are rejected rather than followed. Returns the offset after
 * the name in place.
 */
function walkName(buf: Uint8Array, at: number, limit: number, pointers: boolean, mode: number, memo: NameMemo | null): number {
  let pos = at;
  let bound = Math.min(limit, buf.length);
  let next = -1;
  let hops = 0;
  let wireLen = 1;
  let firstTarget = -1;
  outLen = 0;
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
      if (firstTarget < 0) firstTarget = target;
      lastTarget = target;
      pos = target;
      bound = buf.length;
      // The memo only for the first pointers of a name (where a remembered name is): a lookup scans
      // up to MEMO_NAMES offsets, and a hostile name of 127 pointers paid it on every hop (a 64 KB
      // message of such names decoded 12 times slower than with the plain walk). A name that opens
      // with a pointer was looked up so by decodeName already.
      if (memo !== null && hops <= MEMO_HOPS && !(hops === 1 && next === at + 2)) {
        const tail = memo.find(target, hops, wireLen);
        if (tail !== undefined) {
          if (tail !== '') {
            let o = outLen;
            if (o !== 0) textOut[o++] = DOT;
            for (let i = 0; i < tail.length; i++) textOut[o++] = tail.charCodeAt(i);
            outLen = o;
          }
          walkedHops = hops + memo.hopsOf(target);
          walkedFirstTarget = firstTarget;
          walkedWireLen = wireLen + memo.wireLenOf(target) - 1;
          return next;
        }
      }
      continue;
    }
    if (kind !== 0) throw new WireError('bad-label-type', `label type bits ${(len >> 6).toString(2).padStart(2, '0')} at offset ${pos}`);
    if (len === 0) {
      walkedHops = hops;
      walkedFirstTarget = firstTarget;
      walkedWireLen = wireLen;
      return next < 0 ? pos + 1 : next;
    }
    if (pos + 1 + len > bound) throw new WireError('truncated', `label at offset ${pos} runs past the end of its data`);
    wireLen += len + 1;
    if (wireLen > MAX_NAME_WIRE) throw new WireError('name-too-long', `name at offset ${at} is longer than 255 bytes`);
    if (mode === TEXT) {
      if (outLen !== 0) textOut[outLen++] = DOT;
      pushLabelText(buf, pos + 1, len);
    } else {
      let o = outLen;
      wireOut[o++] = len;
      for (let i = pos + 1; i <= pos + len; i++) wireOut[o++] = buf[i]!;
      outLen = o;
    }
    pos += len + 1;
  }
}

/** Reads a possibly compressed name into its uncompressed wire form (see walkName for the rules). */
export function readNameWire(buf: Uint8Array, at: number, limit: number = buf.length, pointers = true): { wire: Uint8Array; next: number } {
  const next = walkName(buf, at, limit, pointers, WIRE, null);
  wireOut[outLen++] = 0;
  return { wire: wireOut.slice(0, outLen), next };
}

/**
 * Copies a possibly compressed name's uncompressed wire form into `out` at `o` (room for
 * MAX_NAME_WIRE bytes needed); returns the offset after the name in `buf` (see walkName for the
 * rules). `expandedEnd()` then gives the offset after it in `out`.
 */
export function copyNameWire(buf: Uint8Array, at: number, limit: number, pointers: boolean, out: Uint8Array, o: number): number {
  const next = walkName(buf, at, limit, pointers, WIRE, null);
  for (let i = 0; i < outLen; i++) out[o++] = wireOut[i]!;
  out[o++] = 0;
  copiedEnd = o;
  return next;
}
let copiedEnd = 0;
export function expandedEnd(): number {
  return copiedEnd;
}

/** Decodes a (possibly compressed) name from a whole message buffer. Throws WireError. */
export function decodeName(buf: Uint8Array, at: number, memo: NameMemo | null = null): { name: Name; next: number } {
  if (memo !== null && at + 1 < buf.length && (buf[at]! & 0xc0) === 0xc0) {
    // The commonest name in a response: one pointer to a name read before (an owner pointing at the question).
    const target = ((buf[at]! & 0x3f) << 8) | buf[at + 1]!;
    const name = target < at ? memo.find(target, 1, 1) : undefined;
    if (name !== undefined) return { name, next: at + 2 };
  }
  const next = walkName(buf, at, buf.length, true, TEXT, memo);
  const name = takeText();
  memo?.add(at, name, walkedHops, walkedFirstTarget, walkedWireLen);
  return { name, next };
}

/** A name inside RDATA [at, limit), never compressed, as text (ParseError-free: WireError only). */
export function readNameText(buf: Uint8Array, at: number, limit: number): { name: Name; next: number } {
  const next = walkName(buf, at, limit, false, TEXT, null);
  return { name: takeText(), next };
}

export function wireToName(wire: Uint8Array): Name {
  outLen = 0;
  for (let p = 0; p < wire.length && wire[p] !== 0; p += wire[p]! + 1) {
    if (p > 0) textOut[outLen++] = DOT;
    pushLabelText(wire, p + 1, Math.min(wire[p]!, wire.length - p - 1));
  }
  return takeText();
}

function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Beyond ASCII, toLowerCase would fold more than A-Z: the regex below does not.
    if (c >= 0x80) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? s.toLowerCase() : s;
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
