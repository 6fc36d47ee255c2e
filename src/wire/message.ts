// Whole DNS messages (RFC 1035 §4) <-> the shared Message shape. Decoding is strict and bounded: any
// malformed input becomes a WireError with a specific code, never another exception, so a server can
// answer FORMERR and a client can discard. RDATA leaves this module raw and uncompressed.
import { randomBytes } from 'node:crypto';
import { WireError } from '../util/errors';
import { decodeName, MAX_NAME_WIRE, NameMemo, writeName } from './name';
import { expandRdata } from './rdata-layout';
import type { Edns, EdnsOption, Header, Message, Name, RR } from './types';

const TYPE_OPT = 41;
const HEADER_LEN = 12;

export type HeaderCounts = Header & { qdcount: number; ancount: number; nscount: number; arcount: number };

export function decodeHeader(buf: Uint8Array): HeaderCounts {
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

function ednsFromOpt(name: string, udpSize: number, ttl: number, buf: Uint8Array, start: number, end: number): Edns {
  if (name !== '') throw new WireError('bad-opt', 'OPT owner name is not the root (RFC 6891 §6.1.2)');
  const options: EdnsOption[] = [];
  let p = start;
  while (p < end) {
    if (p + 4 > end) throw new WireError('bad-opt', 'EDNS option header cut off');
    const code = u16(buf, p);
    const len = u16(buf, p + 2);
    if (p + 4 + len > end) throw new WireError('bad-opt', `EDNS option ${code} runs past the OPT RDATA`);
    options.push({ code, data: buf.slice(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return {
    udpSize,
    extendedRcode: ttl >>> 24,
    version: (ttl >>> 16) & 0xff,
    do: (ttl & 0x8000) !== 0,
    options,
  };
}

/** Strict decoder. WireError codes: truncated, pointer-loop, forward-pointer, pointer-chain, bad-label-type,
 * name-too-long, rdlength, rdata, multiple-opt, bad-opt, trailing-data. */
export function decodeMessage(buf: Uint8Array): Message {
  if (buf.length < HEADER_LEN) throw new WireError('truncated', `message of ${buf.length} bytes is shorter than a header`);
  const flags = (buf[2]! << 8) | buf[3]!;
  const msg: Message = {
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
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  };
  const memo = new NameMemo();
  let p = HEADER_LEN;
  for (let i = u16(buf, 4); i > 0; i--) {
    const { name, next } = decodeName(buf, p, memo);
    if (next + 4 > buf.length) throw new WireError('truncated', `question at offset ${p} is cut off`);
    msg.questions.push({ name, type: u16(buf, next), class: u16(buf, next + 2) });
    p = next + 4;
  }
  let edns: Edns | undefined;
  for (let sec = 0; sec < 3; sec++) {
    const out = sec === 0 ? msg.answers : sec === 1 ? msg.authorities : msg.additionals;
    for (let i = u16(buf, 6 + 2 * sec); i > 0; i--) {
      const { name, next: afterName } = decodeName(buf, p, memo);
      if (afterName + 10 > buf.length) throw new WireError('truncated', `RR header at offset ${afterName} is cut off`);
      const type = u16(buf, afterName);
      const klass = u16(buf, afterName + 2);
      const ttl = u32(buf, afterName + 4);
      const rdlength = u16(buf, afterName + 8);
      const start = afterName + 10;
      const end = start + rdlength;
      if (end > buf.length) throw new WireError('rdlength', `RDLENGTH ${rdlength} at offset ${afterName + 8} runs past the message`);
      p = end;
      if (type === TYPE_OPT) {
        // Its RDATA is read in place: OPT has no names to expand.
        if (sec !== 2) throw new WireError('bad-opt', 'OPT record outside the additional section');
        if (edns) throw new WireError('multiple-opt', 'more than one OPT record (RFC 6891 §6.1.1)');
        edns = ednsFromOpt(name, klass, ttl, buf, start, end);
        continue;
      }
      out.push({ name, type, class: klass, ttl, rdata: expandRdata(type, buf, start, end) });
    }
  }
  if (p !== buf.length) throw new WireError('trailing-data', `${buf.length - p} bytes after the last record`);
  if (edns) {
    msg.edns = edns;
    msg.rcode = (edns.extendedRcode << 4) | msg.rcode;
  }
  return msg;
}

/**
 * Output of one encodeMessage, reused by the next: the message is copied out of it (slice) before
 * encodeMessage returns, so nothing handed out aliases it. Grown when a message needs more.
 */
let scratch = new Uint8Array(4096);

/**
 * Growable output buffer with owner-name compression (exact-case suffix match, so 0x20 case survives).
 * Each name is written uncompressed first, in place; then its suffixes, longest first, are looked up
 * among the suffixes written before (a hash of the suffix's bytes, confirmed byte by byte against the
 * earlier copy), and the first one found becomes a pointer. No key strings, no label arrays.
 */
class Writer {
  buf = scratch;
  len = 0;
  // Suffixes written so far, in output order, three numbers each: offset, hash, and the index of the
  // previous entry with the same hash (-1: none). heads: hash -> its latest entry.
  private readonly heads = new Map<number, number>();
  private readonly entries: number[] = [];
  constructor(private readonly compress: boolean) {}

  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    // Keep the larger scratch for the next message, up to a size worth keeping.
    if (size <= 1 << 17) scratch = b;
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
  name(name: Name): void {
    this.room(MAX_NAME_WIRE);
    const at = this.len;
    const end = writeName(name, this.buf, at);
    if (!this.compress) {
      this.len = end;
      return;
    }
    const buf = this.buf;
    const starts = labelStarts;
    const hashes = suffixHashes;
    let n = 0;
    for (let p = at; buf[p] !== 0; p += buf[p]! + 1) starts[n++] = p;
    let h = 0x811c9dc5;
    for (let k = n - 1; k >= 0; k--) {
      const s = starts[k]!;
      for (let i = s + buf[s]!; i >= s; i--) h = Math.imul(h ^ buf[i]!, 0x01000193);
      hashes[k] = h & 0x3fffffff;
    }
    for (let k = 0; k < n; k++) {
      const hit = this.find(hashes[k]!, starts[k]!);
      if (hit >= 0) {
        const s = starts[k]!;
        buf[s] = 0xc0 | (hit >>> 8);
        buf[s + 1] = hit & 0xff;
        this.len = s + 2;
        this.remember(k, starts, hashes);
        return;
      }
    }
    this.len = end;
    this.remember(n, starts, hashes);
  }
  /** Registers the first `n` suffixes of the name just written (those that start below 0x4000). */
  private remember(n: number, starts: Int32Array, hashes: Int32Array): void {
    for (let k = 0; k < n && starts[k]! < 0x4000; k++) {
      const h = hashes[k]!;
      const prev = this.heads.get(h);
      this.heads.set(h, this.entries.length / 3);
      this.entries.push(starts[k]!, h, prev === undefined ? -1 : prev);
    }
  }
  /** Offset of an earlier copy of the uncompressed suffix at `at`, or -1. */
  private find(h: number, at: number): number {
    const head = this.heads.get(h);
    const ents = this.entries;
    for (let e = head === undefined ? -1 : head; e >= 0; e = ents[3 * e + 2]!) {
      if (this.sameSuffix(ents[3 * e]!, at)) return ents[3 * e]!;
    }
    return -1;
  }
  /** Whether the name written at `old` (pointers followed) is byte for byte the uncompressed name at `at`. */
  private sameSuffix(old: number, at: number): boolean {
    const b = this.buf;
    let p = old;
    let q = at;
    for (;;) {
      let len = b[p]!;
      while (len >= 0xc0) {
        p = ((len & 0x3f) << 8) | b[p + 1]!;
        len = b[p]!;
      }
      if (len !== b[q]) return false;
      if (len === 0) return true;
      for (let i = 1; i <= len; i++) if (b[p + i] !== b[q + i]) return false;
      p += len + 1;
      q += len + 1;
    }
  }
  /** Forget dictionary entries at or beyond `len` (after cutting the output back). */
  truncate(len: number): void {
    this.len = len;
    // Entries are in output order: drop them from the end, unlinking each from its hash chain.
    const ents = this.entries;
    while (ents.length > 0 && ents[ents.length - 3]! >= len) {
      const prev = ents.pop()!;
      const h = ents.pop()!;
      ents.pop();
      if (prev < 0) this.heads.delete(h);
      else this.heads.set(h, prev);
    }
  }
}

/** Per-name scratch of Writer.name: label offsets and suffix hashes, rewritten for every name before use. */
const labelStarts = new Int32Array(128);
const suffixHashes = new Int32Array(128);

function writeRR(w: Writer, rr: RR): void {
  w.name(rr.name);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl >>> 0);
  if (rr.rdata.length > 0xffff) throw new WireError('rdlength', `RDATA of ${rr.rdata.length} bytes does not fit RDLENGTH`);
  w.u16(rr.rdata.length);
  w.bytes(rr.rdata);
}

function optLength(e: Edns): number {
  let n = 11;
  for (const o of e.options) n += 4 + o.data.length;
  return n;
}

function writeOpt(w: Writer, msg: Message): void {
  const e = msg.edns!;
  w.u8(0);
  w.u16(TYPE_OPT);
  w.u16(e.udpSize);
  // The full rcode lives in msg.rcode; its upper 8 bits go here (RFC 6891 §6.1.3).
  w.u8((msg.rcode >>> 4) & 0xff);
  w.u8(e.version);
  w.u16(e.do ? 0x8000 : 0);
  w.u16(optLength(e) - 11);
  for (const o of e.options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
}

function sameRRset(a: RR, b: RR): boolean {
  return a.type === b.type && a.class === b.class && a.name.toLowerCase() === b.name.toLowerCase();
}

/**
 * Encodes a message. Owner and question names are compressed unless `compress: false`; RDATA is written
 * as given (never compressed). With `maxSize`, whole RRsets are dropped from the end (additional, then
 * authority, then answer) and TC set until it fits (RFC 2181 §9, RFC 7766); the OPT record always stays.
 */
export function encodeMessage(msg: Message, opts?: { compress?: boolean; maxSize?: number }): Uint8Array {
  const w = new Writer(opts?.compress ?? true);
  if (msg.rcode > 15 && !msg.edns) throw new WireError('rcode', `rcode ${msg.rcode} needs EDNS`);
  const flagsAt = 2;
  w.u16(msg.id);
  w.u16(0); // flags, patched below
  w.u16(msg.questions.length);
  w.u16(msg.answers.length);
  w.u16(msg.authorities.length);
  w.u16(msg.additionals.length + (msg.edns ? 1 : 0));
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  const afterQuestion = w.len;
  const max = opts?.maxSize;
  // ends[i] = output length after RR i (all sections flattened), kept only when the message may be cut.
  const ends: number[] = [];
  const sections = [msg.answers, msg.authorities, msg.additionals];
  for (const s of sections) {
    for (const rr of s) {
      writeRR(w, rr);
      if (max !== undefined) ends.push(w.len);
    }
  }
  const optLen = msg.edns ? optLength(msg.edns) : 0;
  const counts = [msg.answers.length, msg.authorities.length, msg.additionals.length];
  let tc = msg.tc;
  if (max !== undefined && w.len + optLen > max) {
    tc = true;
    // Cut at the last RRset boundary that fits. all[i]: section and whether RR i starts an RRset.
    const all: { sec: number; setStart: boolean }[] = [];
    sections.forEach((s, sec) => s.forEach((rr, i) => all.push({ sec, setStart: i === 0 || !sameRRset(s[i - 1]!, rr) })));
    let keep = 0;
    for (let i = all.length; i > 0; i--) {
      if (i < all.length && !all[i]!.setStart) continue;
      if (ends[i - 1]! + optLen <= max) {
        keep = i;
        break;
      }
    }
    w.truncate(keep === 0 ? afterQuestion : ends[keep - 1]!);
    counts.fill(0);
    for (let i = 0; i < keep; i++) counts[all[i]!.sec]!++;
  }
  if (msg.edns) writeOpt(w, msg);
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
    // Even header + question + OPT do not fit: send the bare header with TC (the client retries over TCP).
    const bare = out.slice(0, HEADER_LEN);
    bare.fill(0, 4);
    flags |= 0x0200;
    bare[2] = flags >>> 8;
    bare[3] = flags & 0xff;
    return bare;
  }
  return out;
}

function randomId(): number {
  const b = randomBytes(2);
  return (b[0]! << 8) | b[1]!;
}

/**
 * A query for one question, class IN. The id is random unless given (RFC 5452). An OPT record is added
 * when `do` or `udpSize` is given; `udpSize` then defaults to 1232 (DNS flag day 2020).
 */
export function makeQuery(
  name: string,
  type: number,
  opts?: { id?: number; rd?: boolean; do?: boolean; cd?: boolean; udpSize?: number },
): Message {
  const msg: Message = {
    id: opts?.id ?? randomId(),
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: opts?.rd ?? true,
    ra: false,
    z: false,
    ad: false,
    cd: opts?.cd ?? false,
    rcode: 0,
    questions: [{ name, type, class: 1 }],
    answers: [],
    authorities: [],
    additionals: [],
  };
  if (opts?.do !== undefined || opts?.udpSize !== undefined) {
    msg.edns = { udpSize: opts.udpSize ?? 1232, extendedRcode: 0, version: 0, do: opts.do ?? false, options: [] };
  }
  return msg;
}

/**
 * An empty response to `query`: id, questions, opcode, rd and cd copied, qr set. When the query carried
 * EDNS the response does too (udpSize 1232, DO echoed per RFC 3225 §3).
 */
export function makeResponse(query: Message, rcode: number): Message {
  const msg: Message = {
    id: query.id,
    qr: true,
    opcode: query.opcode,
    aa: false,
    tc: false,
    rd: query.rd,
    ra: false,
    z: false,
    ad: false,
    cd: query.cd,
    rcode,
    questions: query.questions.map((q) => ({ ...q })),
    answers: [],
    authorities: [],
    additionals: [],
  };
  if (query.edns) msg.edns = { udpSize: 1232, extendedRcode: rcode >>> 4, version: 0, do: query.edns.do, options: [] };
  return msg;
}
