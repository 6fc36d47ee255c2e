// Byte-level helpers the hot path uses on messages it already holds as bytes: read the header,
// answer FORMERR/NOTIMP to bytes that do not decode, and find where the TTLs sit in an encoded
// response so that a cached answer is served by patching id and TTLs instead of re-encoding.
// Not a codec: src/wire owns decoding and encoding.
import { WireError } from '../util/errors';

export const HEADER_LEN = 12;
const OPT = 41;

/** A 12-byte response header for a query that could not be (or need not be) decoded. */
export function headerOnlyResponse(query: Uint8Array, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_LEN);
  out[0] = query[0] ?? 0;
  out[1] = query[1] ?? 0;
  // QR=1, keep OPCODE and RD from the query; AA, TC, RA, Z, AD, CD clear.
  out[2] = 0x80 | ((query[2] ?? 0) & 0x79);
  out[3] = rcode & 0x0f;
  return out;
}

export interface Layout {
  /** Offset just past the question section. */
  questionEnd: number;
  /** Offsets of the 32-bit TTL of every RR except the OPT pseudo-RR. */
  ttlOffsets: number[];
  /** Offset and length of the OPT RR, if any (it must be the only one; RFC 6891 §6.1.1). */
  optAt: number;
  optLen: number;
}

/** Walks an encoded message (names may be compressed) and notes where TTLs and the OPT RR are. */
export function layout(buf: Uint8Array): Layout {
  if (buf.length < HEADER_LEN) throw new WireError('truncated', 'message shorter than its header');
  const qd = (buf[4]! << 8) | buf[5]!;
  const rrs = ((buf[6]! << 8) | buf[7]!) + ((buf[8]! << 8) | buf[9]!) + ((buf[10]! << 8) | buf[11]!);
  let at = HEADER_LEN;
  for (let i = 0; i < qd; i++) at = skipName(buf, at) + 4;
  const questionEnd = at;
  const ttlOffsets: number[] = [];
  let optAt = -1;
  let optLen = 0;
  for (let i = 0; i < rrs; i++) {
    const start = at;
    at = skipName(buf, at);
    if (at + 10 > buf.length) throw new WireError('truncated', 'RR header past end of message');
    const type = (buf[at]! << 8) | buf[at + 1]!;
    const rdlen = (buf[at + 8]! << 8) | buf[at + 9]!;
    const end = at + 10 + rdlen;
    if (end > buf.length) throw new WireError('rdlength', 'RDATA past end of message');
    if (type === OPT) {
      optAt = start;
      optLen = end - start;
    } else ttlOffsets.push(at + 4);
    at = end;
  }
  if (at > buf.length) throw new WireError('truncated', 'question past end of message');
  return { questionEnd, ttlOffsets, optAt, optLen };
}

function skipName(buf: Uint8Array, at: number): number {
  for (let hops = 0; hops < 128; hops++) {
    if (at >= buf.length) throw new WireError('truncated', 'name past end of message');
    const len = buf[at]!;
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2;
    if (len & 0xc0) throw new WireError('bad-label', 'unknown label type');
    at += len + 1;
  }
  throw new WireError('name-too-long', 'too many labels');
}

/** Length of the single question (name + type + class) starting at offset 12, or -1. */
export function questionLength(buf: Uint8Array): number {
  try {
    return skipName(buf, HEADER_LEN) + 4 - HEADER_LEN;
  } catch {
    return -1;
  }
}
