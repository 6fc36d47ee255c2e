// A cached answer as bytes: the message in wire form followed by its proof, where each validated RRset
// names its records by their place in the message instead of carrying them again. The compact tier of
// the cache (compact-store.ts) keeps answers this way: about 200 bytes for a signed one-address answer
// instead of the ~2 KB a decoded Message and Proof take on the V8 heap. Pure: data in, data out.
//
// Only what round-trips exactly is encoded. The decoded message and proof equal the ones given (record
// for record, TTL for TTL); anything the format cannot say (a bogus or indeterminate verdict, an
// extended error, a proof record that is not in the message, more than 127 records) returns null, and
// the cache then drops the answer instead of keeping it compactly.
//
// `withoutSigs` leaves out the RRSIGs that verified the proof's RRsets (two thirds of a signed answer's
// bytes). Nothing but a DO client's reply needs them: the verdict, the records, their TTLs and the
// signature expiry stay. The decoded answer then says `sigless`, and the cache must not serve it to a
// client that asked for DNSSEC records (it fetches and validates the answer again instead).
import { encodeMessage, decodeMessage } from '../wire/message';
import { sameBytes } from '../wire/bytes';
import { type Message, type RR } from '../wire/types';
import type { Proof } from '../dnssec/proof';
import type { Negative, RRsetRole, ValidatedRRset } from '../dnssec/validate';
import { type Verdict, SECURE } from '../dnssec/verdict';

const ROLES: readonly RRsetRole[] = ['cname', 'dname', 'answer', 'denial'];
const NEGATIVES: readonly Negative[] = [null, 'nodata', 'nxdomain'];
const NO_TTL = 0xffffffff;
/** Records are named by a 7-bit index; the high bit says a TTL of the proof's own follows. */
const MAX_RECORDS = 127;

export interface DecodedAnswer {
  message: Message;
  proof?: Proof;
  /** The RRSIGs of the proof's RRsets were left out (encodeCachedAnswer's withoutSigs). */
  sigless: boolean;
}

/** The message (without its OPT, which a reply never reuses) and proof as bytes, or null. */
export function encodeCachedAnswer(
  message: Message,
  proof: Proof | undefined,
  /** `sigless`: the answer already came without its RRSIGs (it must stay marked so). */
  opts: { withoutSigs?: boolean; sigless?: boolean } = {},
): Uint8Array | null {
  if (message.rcode > 15) return null;
  const strip = opts.withoutSigs === true && proof !== undefined && proof.rrsets.some((s) => s.sigs.length > 0);
  const sigless = strip || (opts.sigless === true && proof !== undefined);
  if (strip && proof) {
    // By content, not identity: the cache may have copied records to lower their TTLs.
    const sigs = proof.rrsets.flatMap((s) => s.sigs);
    const keep = (rrs: RR[]): RR[] =>
      rrs.filter(
        (rr) => !sigs.some((g) => g.type === rr.type && g.name === rr.name && g.class === rr.class && sameBytes(g.rdata, rr.rdata)),
      );
    message = {
      ...message,
      answers: keep(message.answers),
      authorities: keep(message.authorities),
      additionals: keep(message.additionals),
    };
    proof = { ...proof, rrsets: proof.rrsets.map((s) => ({ ...s, sigs: [] })) };
  }
  const flat = [...message.answers, ...message.authorities, ...message.additionals];
  if (flat.length > MAX_RECORDS) return null;
  const wire = encodeMessage({ ...message, id: 0, edns: undefined });
  const tail = proof ? (plainSecureAnswer(message, proof, flat, sigless) ?? encodeProof(proof, flat, sigless)) : [0];
  if (!tail) return null;
  const out = new Uint8Array(2 + wire.length + tail.length);
  out[0] = wire.length >>> 8;
  out[1] = wire.length & 0xff;
  out.set(wire, 2);
  out.set(tail, 2 + wire.length);
  return out;
}

/** Offset of the message's question name inside encodeCachedAnswer()'s bytes. */
export const QUESTION_OFFSET = 2 + 12;

export function decodeCachedAnswer(bytes: Uint8Array): DecodedAnswer {
  const wireLen = (bytes[0]! << 8) | bytes[1]!;
  const message = decodeMessage(bytes.subarray(2, 2 + wireLen));
  const r = new Reader(bytes, 2 + wireLen);
  const head = r.u8();
  const kind = head & 0x7f;
  const sigless = (head & 0x80) !== 0;
  if (kind === 0) return { message, sigless };
  const flat = [...message.answers, ...message.authorities, ...message.additionals];
  if (kind === PLAIN_SECURE) {
    const ttl = r.u32();
    const sigExpiry = r.u32();
    const n = r.u8();
    const q = message.questions[0]!;
    const copy = (rr: RR): RR => ({ ...rr });
    const set: ValidatedRRset = {
      name: q.name,
      type: q.type,
      class: q.class,
      records: flat.slice(0, n).map(copy),
      sigs: flat.slice(n).map(copy),
      ttl,
      sigExpiry,
      security: 'secure',
      role: 'answer',
    };
    return { message, proof: { verdict: SECURE, rrsets: [set], negative: null, rcode: message.rcode, ttl }, sigless };
  }
  const verdict: Verdict = kind === 1 ? SECURE : ({ kind: 'insecure', ...(JSON.parse(r.text()) as object) } as Verdict);
  const negative = NEGATIVES[r.u8()] ?? null;
  const rcode = r.u8();
  const ttl = r.u32();
  const rrsets: ValidatedRRset[] = [];
  for (let n = r.u8(); n > 0; n--) {
    const bits = r.u8();
    const type = r.u16();
    const cls = r.u16();
    const setTtl = r.u32();
    const sigExpiry = bits & 0x20 ? r.u32() : undefined;
    const ownName = bits & 0x10 ? undefined : r.text();
    const nRecords = r.u8();
    const nSigs = r.u8();
    const records = r.records(nRecords, flat);
    const sigs = r.records(nSigs, flat);
    const set: ValidatedRRset = {
      name: ownName ?? records[0]!.name,
      type,
      class: cls,
      records,
      sigs,
      ttl: setTtl,
      security: bits & 0x04 ? 'insecure' : 'secure',
      role: ROLES[bits & 0x03]!,
    };
    if (sigExpiry !== undefined) set.sigExpiry = sigExpiry;
    if (bits & 0x08) set.synthesized = true;
    rrsets.push(set);
  }
  const proof: Proof = ttl === NO_TTL ? { verdict, rrsets, negative, rcode } : { verdict, rrsets, negative, rcode, ttl };
  return { message, proof, sigless };
}

/** The commonest proof, in 10 bytes: one secure RRset answering the question, the whole message. */
const PLAIN_SECURE = 3;

/**
 * A secure answer of one RRset for the question itself: its records then its RRSIGs make up the whole
 * message, TTLs as in the message, its TTL the proof's. Everything else about it follows from the
 * message, so only the TTL, the signature expiry and the record count are written. null: another shape.
 */
function plainSecureAnswer(m: Message, p: Proof, flat: readonly RR[], sigless: boolean): number[] | null {
  const q = m.questions[0];
  const s = p.rrsets[0];
  if (!q || !s || p.rrsets.length !== 1 || p.verdict.kind !== 'secure' || p.negative !== null || p.rcode !== m.rcode) return null;
  if (s.role !== 'answer' || s.security !== 'secure' || s.synthesized || s.name !== q.name || s.type !== q.type || s.class !== q.class)
    return null;
  if (s.ttl !== p.ttl || s.sigExpiry === undefined || !(Number.isInteger(s.ttl) && s.ttl >= 0 && s.ttl < 2 ** 32)) return null;
  if (!(Number.isInteger(s.sigExpiry) && s.sigExpiry >= 0 && s.sigExpiry < 2 ** 32)) return null;
  const own = [...s.records, ...s.sigs];
  if (own.length !== flat.length || m.answers.length !== flat.length || s.records.length > 255) return null;
  const same = (a: RR, b: RR): boolean =>
    a.name === b.name && a.type === b.type && a.class === b.class && a.ttl === b.ttl && sameBytes(a.rdata, b.rdata);
  for (let i = 0; i < own.length; i++) if (!same(own[i]!, flat[i]!)) return null;
  const out = [PLAIN_SECURE | (sigless ? 0x80 : 0)];
  u32(out, s.ttl);
  u32(out, s.sigExpiry);
  out.push(s.records.length);
  return out;
}

function encodeProof(p: Proof, flat: readonly RR[], sigless: boolean): number[] | null {
  const out: number[] = [];
  const v = p.verdict;
  const mark = sigless ? 0x80 : 0;
  if (v.kind === 'secure') out.push(1 | mark);
  else if (v.kind === 'insecure') {
    out.push(2 | mark);
    if (!text(out, JSON.stringify({ reason: v.reason, at: v.at, detail: v.detail }))) return null;
  } else return null;
  const neg = NEGATIVES.indexOf(p.negative);
  if (neg < 0 || p.rcode > 255 || p.rrsets.length > 255) return null;
  out.push(neg, p.rcode);
  if (p.ttl !== undefined && !(Number.isInteger(p.ttl) && p.ttl >= 0 && p.ttl < NO_TTL)) return null;
  u32(out, p.ttl ?? NO_TTL);
  out.push(p.rrsets.length);
  for (const s of p.rrsets) {
    const sameName = s.records.length > 0 && s.records[0]!.name === s.name;
    const hasExpiry = s.sigExpiry !== undefined;
    if (hasExpiry && !(Number.isInteger(s.sigExpiry) && s.sigExpiry! >= 0 && s.sigExpiry! < 2 ** 32)) return null;
    if (!(Number.isInteger(s.ttl) && s.ttl >= 0 && s.ttl < 2 ** 32)) return null;
    const role = ROLES.indexOf(s.role);
    if (role < 0 || s.records.length > 255 || s.sigs.length > 255) return null;
    out.push(role | (s.security === 'insecure' ? 0x04 : 0) | (s.synthesized ? 0x08 : 0) | (sameName ? 0x10 : 0) | (hasExpiry ? 0x20 : 0));
    out.push(s.type >>> 8, s.type & 0xff, s.class >>> 8, s.class & 0xff);
    u32(out, s.ttl);
    if (hasExpiry) u32(out, s.sigExpiry!);
    if (!sameName && !text(out, s.name)) return null;
    out.push(s.records.length, s.sigs.length);
    for (const rr of [...s.records, ...s.sigs]) {
      const i = flat.findIndex((m) => m.name === rr.name && m.type === rr.type && m.class === rr.class && sameBytes(m.rdata, rr.rdata));
      if (i < 0) return null;
      if (flat[i]!.ttl === rr.ttl) out.push(i);
      else {
        if (!(Number.isInteger(rr.ttl) && rr.ttl >= 0 && rr.ttl < 2 ** 32)) return null;
        out.push(i | 0x80);
        u32(out, rr.ttl);
      }
    }
  }
  return out;
}

function u32(out: number[], v: number): void {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function text(out: number[], s: string): boolean {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) return false;
  out.push(b.length >>> 8, b.length & 0xff, ...b);
  return true;
}

class Reader {
  constructor(
    private readonly b: Uint8Array,
    private p: number,
  ) {}

  u8(): number {
    return this.b[this.p++]!;
  }

  u16(): number {
    const v = (this.b[this.p]! << 8) | this.b[this.p + 1]!;
    this.p += 2;
    return v;
  }

  u32(): number {
    const v = ((this.b[this.p]! << 24) | (this.b[this.p + 1]! << 16) | (this.b[this.p + 2]! << 8) | this.b[this.p + 3]!) >>> 0;
    this.p += 4;
    return v;
  }

  text(): string {
    const n = this.u16();
    const s = Buffer.from(this.b.buffer, this.b.byteOffset + this.p, n).toString('utf8');
    this.p += n;
    return s;
  }

  /** Copies, so that a record handed out is never the message's own object (callers may change TTLs). */
  records(n: number, flat: readonly RR[]): RR[] {
    const out: RR[] = [];
    for (let k = 0; k < n; k++) {
      const i = this.u8();
      const m = flat[i & 0x7f]!;
      out.push({ name: m.name, type: m.type, class: m.class, ttl: i & 0x80 ? this.u32() : m.ttl, rdata: m.rdata });
    }
    return out;
  }
}
