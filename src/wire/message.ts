// Whole DNS messages (RFC 1035 §4) <-> the shared Message shape. Decoding is strict and bounded: any
// malformed input becomes a WireError with a specific code, never another exception, so a server can
// answer FORMERR and a client can discard. RDATA leaves this module raw and uncompressed.
import { randomBytes } from 'node:crypto';
import { WireError } from '../util/errors';
import { decodeName, labelsToWire, nameToLabels } from './name';
import { expandRdata } from './rdata-layout';
import type { Edns, EdnsOption, Header, Message, Question, RR } from './types';

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

interface RawRR extends RR {
  /** Offset just after the owner name, for error messages. */
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

/** Strict decoder. WireError codes: truncated, pointer-loop, forward-pointer, pointer-chain, bad-label-type,
 * name-too-long, rdlength, rdata, multiple-opt, bad-opt, trailing-data. */
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

/** Growable output buffer with owner-name compression (exact-case suffix match, so 0x20 case survives). */
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
  /** Forget dictionary entries at or beyond `len` (after cutting the output back). */
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
  // The full rcode lives in msg.rcode; its upper 8 bits go here (RFC 6891 §6.1.3).
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
    w.name(nameToLabels(q.name));
    w.u16(q.type);
    w.u16(q.class);
  }
  const afterQuestion = w.len;
  const sections = [msg.answers, msg.authorities, msg.additionals];
  // ends[i] = output length after RR i (all sections flattened); setStart marks the first RR of each RRset.
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
    // Cut at the last RRset boundary that fits.
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
