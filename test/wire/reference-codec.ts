// A frozen copy of src/wire's message codec as it was before the issue-14 speed work (main at 1020a9e:
// message.ts, and the parts of name.ts and rdata-layout.ts it calls). It is the oracle of the
// differential fuzz (test/wire/codec-differential.test.ts) and the same-run baseline of
// bench/wire-codec.ts; nothing in src/ may use it. Do not "fix" it: its value is that it does not move.
import { ParseError, WireError } from '../../src/util/errors';
import { concat } from '../../src/wire/bytes';
import { canonicalRdata } from '../../src/wire/canonical';
import { DECOMPRESS_TYPES, LAYOUT, type Field } from '../../src/wire/rdata-layout';
import { readTextChar } from '../../src/wire/text';
import type { Edns, EdnsOption, Message, Name, Question, RR } from '../../src/wire/types';

const MAX_LABEL = 63;
const MAX_NAME_WIRE = 255;
const MAX_POINTER_HOPS = 127;
const DOT = 0x2e;
const TYPE_OPT = 41;
const HEADER_LEN = 12;

// ---- name.ts (old) ----

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
      if (++i === name.length) return labels;
    } else i = readTextChar(name, i, cur);
  }
  finish();
  return labels;
}

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

function isSpecial(b: number): boolean {
  return b === 0x22 || b === 0x28 || b === 0x29 || b === 0x2e || b === 0x3b || b === 0x5c || b === 0x40 || b === 0x24;
}

function labelToText(label: Uint8Array): string {
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

function labelsToWire(labels: Uint8Array[], lowercase = false): Uint8Array {
  let len = 1;
  for (const l of labels) len += l.length + 1;
  const out = new Uint8Array(len);
  let p = 0;
  for (const l of labels) {
    out[p++] = l.length;
    if (lowercase) for (const b of l) out[p++] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
    else {
      out.set(l, p);
      p += l.length;
    }
  }
  out[p] = 0;
  return out;
}

export function encodeName(name: Name, opts?: { lowercase?: boolean }): Uint8Array {
  return labelsToWire(nameToLabels(name), opts?.lowercase ?? false);
}

function wireToLabels(wire: Uint8Array): Uint8Array[] {
  const labels: Uint8Array[] = [];
  let p = 0;
  while (p < wire.length && wire[p] !== 0) {
    labels.push(wire.subarray(p + 1, p + 1 + wire[p]!));
    p += wire[p]! + 1;
  }
  return labels;
}

export function wireToName(wire: Uint8Array): Name {
  return wireToLabels(wire).map(labelToText).join('.');
}

function walkName(buf: Uint8Array, at: number, limit: number, pointers: boolean, onLabel: (start: number, len: number) => void): number {
  let pos = at;
  let bound = Math.min(limit, buf.length);
  let next = -1;
  let hops = 0;
  let wireLen = 1;
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

export function decodeName(buf: Uint8Array, at: number): { name: Name; next: number } {
  let name = '';
  const next = walkName(buf, at, buf.length, true, (start, len) => {
    const t = labelToText(buf.subarray(start, start + len));
    name = name === '' ? t : name + '.' + t;
  });
  return { name, next };
}

export function labelsToName(labels: Uint8Array[]): Name {
  return labels.map(labelToText).join('.');
}

function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}

const lowerByte = (b: number): number => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b);

export function canonicalName(name: Name): Name {
  if (!name.includes('\\')) return asciiLower(name.endsWith('.') ? name.slice(0, -1) : name);
  return labelsToName(nameToLabels(name).map((l) => l.map(lowerByte)));
}

// ---- ip.ts (old) ----

export function parseIPv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4) throw new ParseError('bad-address', `'${text}' is not an IPv4 address`);
  return Uint8Array.from(
    parts.map((p) => {
      if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) throw new ParseError('bad-address', `'${text}' is not an IPv4 address`);
      return Number(p);
    }),
  );
}

// ---- canonical.ts (old; canonicalRdata is src's, unchanged but for how it copies) ----

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function canonicalRRsetWire(rrs: RR[], ttl: number): Uint8Array {
  const items = rrs.map((rr) => ({ rr, rdata: canonicalRdata(rr.type, rr.rdata) }));
  items.sort((x, y) => compareBytes(x.rdata, y.rdata));
  const parts: Uint8Array[] = [];
  let prev: Uint8Array | null = null;
  for (const { rr, rdata } of items) {
    if (prev && compareBytes(prev, rdata) === 0) continue;
    prev = rdata;
    const owner = encodeName(rr.name, { lowercase: true });
    const fixed = new Uint8Array(10);
    const dv = new DataView(fixed.buffer);
    dv.setUint16(0, rr.type);
    dv.setUint16(2, rr.class);
    dv.setUint32(4, ttl >>> 0);
    dv.setUint16(8, rdata.length);
    parts.push(owner, fixed, rdata);
  }
  return concat(parts);
}

export function rrsigSignedPrefix(rrsigRdata: Uint8Array): Uint8Array {
  if (rrsigRdata.length < 18) throw new WireError('rdata', 'RRSIG RDATA is too short');
  const { wire } = readNameWire(rrsigRdata, 18, rrsigRdata.length, false);
  return concat([rrsigRdata.subarray(0, 18), labelsToWire(nameToLabels(wireToName(wire)), true)]);
}

// ---- rdata-layout.ts (old) ----

function walkRdata(
  buf: Uint8Array,
  start: number,
  end: number,
  fields: readonly Field[],
  onName: (wire: Uint8Array) => unknown,
  onBytes: (bytes: Uint8Array) => unknown,
  allowPointers: boolean,
): void {
  let p = start;
  for (const f of fields) {
    if (f === 'name') {
      const { wire, next } = readNameWire(buf, p, end, allowPointers);
      onName(wire);
      p = next;
    } else if (f === 'string') {
      if (p >= end) throw new WireError('rdata', 'character-string runs past RDLENGTH');
      const n = 1 + buf[p]!;
      if (p + n > end) throw new WireError('rdata', 'character-string runs past RDLENGTH');
      onBytes(buf.subarray(p, p + n));
      p += n;
    } else if (f === 'rest') {
      onBytes(buf.subarray(p, end));
      p = end;
    } else {
      if (p + f > end) throw new WireError('rdata', `RDATA shorter than its fixed fields`);
      onBytes(buf.subarray(p, p + f));
      p += f;
    }
  }
  if (p !== end) throw new WireError('rdlength', `RDLENGTH leaves ${end - p} unexplained bytes`);
}

export function expandRdata(type: number, msg: Uint8Array, start: number, end: number): Uint8Array {
  const fields = DECOMPRESS_TYPES.has(type) ? LAYOUT.get(type) : undefined;
  if (!fields) return msg.slice(start, end);
  const parts: Uint8Array[] = [];
  const push = (b: Uint8Array): number => parts.push(b);
  walkRdata(msg, start, end, fields, push, push, true);
  return concat(parts);
}

// ---- message.ts (old) ----

interface HeaderCounts {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  z: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

function decodeHeader(buf: Uint8Array): HeaderCounts {
  if (buf.length < HEADER_LEN) throw new WireError('truncated', `message of ${buf.length} bytes is shorter than a header`);
  const flags = (buf[2]! << 8) | buf[3]!;
  return {
    id: (buf[0]! << 8) | buf[1]!,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    z: (flags & 0x0040) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: (buf[4]! << 8) | buf[5]!,
    ancount: (buf[6]! << 8) | buf[7]!,
    nscount: (buf[8]! << 8) | buf[9]!,
    arcount: (buf[10]! << 8) | buf[11]!,
  };
}

function u16(buf: Uint8Array, p: number): number {
  return (buf[p]! << 8) | buf[p + 1]!;
}
function u32(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
}

interface RawRR extends RR {
  at: number;
}

function readRR(buf: Uint8Array, at: number): { rr: RawRR; next: number } {
  const { name, next: afterName } = decodeName(buf, at);
  if (afterName + 10 > buf.length) throw new WireError('truncated', `RR header at offset ${afterName} is cut off`);
  const type = u16(buf, afterName);
  const klass = u16(buf, afterName + 2);
  const ttl = u32(buf, afterName + 4);
  const rdlength = u16(buf, afterName + 8);
  const start = afterName + 10;
  const end = start + rdlength;
  if (end > buf.length) throw new WireError('rdlength', `RDLENGTH ${rdlength} at offset ${afterName + 8} runs past the message`);
  const rdata = expandRdata(type, buf, start, end);
  return { rr: { name, type, class: klass, ttl, rdata, at: afterName }, next: end };
}

function ednsFromOpt(opt: RawRR): Edns {
  if (opt.name !== '') throw new WireError('bad-opt', 'OPT owner name is not the root (RFC 6891 §6.1.2)');
  const options: EdnsOption[] = [];
  const d = opt.rdata;
  let p = 0;
  while (p < d.length) {
    if (p + 4 > d.length) throw new WireError('bad-opt', 'EDNS option header cut off');
    const code = u16(d, p);
    const len = u16(d, p + 2);
    if (p + 4 + len > d.length) throw new WireError('bad-opt', `EDNS option ${code} runs past the OPT RDATA`);
    options.push({ code, data: d.slice(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return {
    udpSize: opt.class,
    extendedRcode: opt.ttl >>> 24,
    version: (opt.ttl >>> 16) & 0xff,
    do: (opt.ttl & 0x8000) !== 0,
    options,
  };
}

export function decodeMessage(buf: Uint8Array): Message {
  const h = decodeHeader(buf);
  let p = HEADER_LEN;
  const questions: Question[] = [];
  for (let i = 0; i < h.qdcount; i++) {
    const { name, next } = decodeName(buf, p);
    if (next + 4 > buf.length) throw new WireError('truncated', `question at offset ${p} is cut off`);
    questions.push({ name, type: u16(buf, next), class: u16(buf, next + 2) });
    p = next + 4;
  }
  const section = (count: number, allowOpt: boolean): RR[] => {
    const out: RR[] = [];
    for (let i = 0; i < count; i++) {
      const { rr, next } = readRR(buf, p);
      p = next;
      if (rr.type === TYPE_OPT) {
        if (!allowOpt) throw new WireError('bad-opt', 'OPT record outside the additional section');
        if (edns) throw new WireError('multiple-opt', 'more than one OPT record (RFC 6891 §6.1.1)');
        edns = ednsFromOpt(rr);
        continue;
      }
      out.push({ name: rr.name, type: rr.type, class: rr.class, ttl: rr.ttl, rdata: rr.rdata });
    }
    return out;
  };
  let edns: Edns | undefined;
  const answers = section(h.ancount, false);
  const authorities = section(h.nscount, false);
  const additionals = section(h.arcount, true);
  if (p !== buf.length) throw new WireError('trailing-data', `${buf.length - p} bytes after the last record`);
  const { qdcount: _q, ancount: _a, nscount: _n, arcount: _r, ...header } = h;
  const msg: Message = { ...header, questions, answers, authorities, additionals };
  if (edns) {
    msg.edns = edns;
    msg.rcode = (edns.extendedRcode << 4) | h.rcode;
  }
  return msg;
}

class Writer {
  buf = new Uint8Array(512);
  len = 0;
  private dict = new Map<string, number>();
  constructor(private readonly compress: boolean) {}

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number): void {
    this.room(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }
  u32(v: number): void {
    this.u16((v >>> 16) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  name(labels: Uint8Array[]): void {
    if (!this.compress) {
      this.bytes(labelsToWire(labels));
      return;
    }
    for (let i = 0; i < labels.length; i++) {
      const key = Buffer.from(labelsToWire(labels.slice(i))).toString('latin1');
      const hit = this.dict.get(key);
      if (hit !== undefined) {
        this.u16(0xc000 | hit);
        return;
      }
      if (this.len < 0x4000) this.dict.set(key, this.len);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }
  truncate(len: number): void {
    this.len = len;
    for (const [k, v] of this.dict) if (v >= len) this.dict.delete(k);
  }
}

function writeRR(w: Writer, rr: RR): void {
  w.name(nameToLabels(rr.name));
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl >>> 0);
  if (rr.rdata.length > 0xffff) throw new WireError('rdlength', `RDATA of ${rr.rdata.length} bytes does not fit RDLENGTH`);
  w.u16(rr.rdata.length);
  w.bytes(rr.rdata);
}

function optRecord(msg: Message): Uint8Array {
  const e = msg.edns!;
  const w = new Writer(false);
  w.u8(0);
  w.u16(TYPE_OPT);
  w.u16(e.udpSize);
  w.u8((msg.rcode >>> 4) & 0xff);
  w.u8(e.version);
  w.u16(e.do ? 0x8000 : 0);
  let rdlen = 0;
  for (const o of e.options) rdlen += 4 + o.data.length;
  w.u16(rdlen);
  for (const o of e.options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
  return w.buf.slice(0, w.len);
}

function sameRRset(a: RR, b: RR): boolean {
  return a.type === b.type && a.class === b.class && a.name.toLowerCase() === b.name.toLowerCase();
}

export function encodeMessage(msg: Message, opts?: { compress?: boolean; maxSize?: number }): Uint8Array {
  const w = new Writer(opts?.compress ?? true);
  if (msg.rcode > 15 && !msg.edns) throw new WireError('rcode', `rcode ${msg.rcode} needs EDNS`);
  const flagsAt = 2;
  w.u16(msg.id);
  w.u16(0);
  w.u16(msg.questions.length);
  w.u16(msg.answers.length);
  w.u16(msg.authorities.length);
  w.u16(msg.additionals.length + (msg.edns ? 1 : 0));
  for (const q of msg.questions) {
    w.name(nameToLabels(q.name));
    w.u16(q.type);
    w.u16(q.class);
  }
  const afterQuestion = w.len;
  const sections = [msg.answers, msg.authorities, msg.additionals];
  const all: { rr: RR; sec: number; setStart: boolean }[] = [];
  sections.forEach((s, sec) => s.forEach((rr, i) => all.push({ rr, sec, setStart: i === 0 || !sameRRset(s[i - 1]!, rr) })));
  const ends: number[] = [];
  for (const x of all) {
    writeRR(w, x.rr);
    ends.push(w.len);
  }
  const opt = msg.edns ? optRecord(msg) : new Uint8Array(0);
  let keep = all.length;
  let tc = msg.tc;
  const max = opts?.maxSize;
  if (max !== undefined && w.len + opt.length > max) {
    tc = true;
    keep = 0;
    for (let i = all.length; i > 0; i--) {
      if (i < all.length && !all[i]!.setStart) continue;
      if (ends[i - 1]! + opt.length <= max) {
        keep = i;
        break;
      }
    }
    w.truncate(keep === 0 ? afterQuestion : ends[keep - 1]!);
  }
  w.bytes(opt);
  const counts = [0, 0, 0];
  for (let i = 0; i < keep; i++) counts[all[i]!.sec]!++;
  const out = w.buf.slice(0, w.len);
  let flags =
    (msg.qr ? 0x8000 : 0) |
    ((msg.opcode & 0xf) << 11) |
    (msg.aa ? 0x0400 : 0) |
    (tc ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) |
    (msg.ra ? 0x0080 : 0) |
    (msg.z ? 0x0040 : 0) |
    (msg.ad ? 0x0020 : 0) |
    (msg.cd ? 0x0010 : 0) |
    (msg.rcode & 0xf);
  out[flagsAt] = flags >>> 8;
  out[flagsAt + 1] = flags & 0xff;
  out[6] = counts[0]! >>> 8;
  out[7] = counts[0]! & 0xff;
  out[8] = counts[1]! >>> 8;
  out[9] = counts[1]! & 0xff;
  const ar = counts[2]! + (msg.edns ? 1 : 0);
  out[10] = ar >>> 8;
  out[11] = ar & 0xff;
  if (max !== undefined && out.length > max) {
    const bare = out.slice(0, HEADER_LEN);
    bare.fill(0, 4);
    flags |= 0x0200;
    bare[2] = flags >>> 8;
    bare[3] = flags & 0xff;
    return bare;
  }
  return out;
}
