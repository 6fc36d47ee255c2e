// Turns a response Message into the bytes one client gets. Cached answers keep encoded templates
// (one per EDNS/DO variant) together with the offsets of their TTLs, so a cache hit costs one copy
// plus a few byte patches (id, flags, question case, TTLs) instead of an encode.
import { type Message, type RR, RRType } from '../wire/types';
import { encodeMessage } from '../wire/message';
import { HEADER_LEN, layout } from './raw';

/** What the reply depends on, taken from the client's query. */
export interface ClientView {
  /** The client sent an OPT RR: we answer with one, else without. */
  edns: boolean;
  /** DNSSEC OK: without it RRSIG/NSEC/NSEC3 are left out (RFC 4035 §3.2.1). */
  do: boolean;
}

export interface Template {
  bytes: Uint8Array;
  ttlOffsets: number[];
  /** TTL of each RR at template time, parallel to ttlOffsets. */
  ttls: number[];
  questionEnd: number;
}

const DNSSEC_TYPES: ReadonlySet<number> = new Set([RRType.RRSIG, RRType.NSEC, RRType.NSEC3]);

/**
 * The response content shaped for a client: DNSSEC records dropped unless DO, our OPT when the client
 * used EDNS. Header id/RD/CD are patched per query later; AA is cleared (we are not the authority).
 */
export function shapeForClient(msg: Message, view: ClientView, ourUdpSize: number, ad = false): Message {
  const qtype = msg.questions[0]?.type ?? 0;
  const keep = (rr: RR): boolean => view.do || !DNSSEC_TYPES.has(rr.type) || rr.type === qtype;
  return {
    ...msg,
    qr: true,
    aa: false,
    tc: false,
    ra: true,
    z: false,
    ad,
    answers: view.do ? msg.answers : msg.answers.filter(keep),
    authorities: view.do ? msg.authorities : msg.authorities.filter(keep),
    additionals: view.do ? msg.additionals : msg.additionals.filter(keep),
    edns: view.edns ? { udpSize: ourUdpSize, extendedRcode: msg.rcode >> 4, version: 0, do: view.do, options: [] } : undefined,
  };
}

export function buildTemplate(shaped: Message): Template {
  const bytes = encodeMessage({ ...shaped, id: 0, rd: false, cd: false });
  const lay = layout(bytes);
  const ttls = lay.ttlOffsets.map((o) => ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0);
  return { bytes, ttlOffsets: lay.ttlOffsets, ttls, questionEnd: lay.questionEnd };
}

/**
 * A copy of the template for one query: id, RD and CD from the query, the question bytes as the client
 * wrote them (so the 0x20 case pattern comes back unchanged; same length, as the names are equal), and
 * every TTL lowered by `elapsed` seconds.
 */
export function fillTemplate(t: Template, query: Uint8Array, queryQuestionEnd: number, elapsed: number): Buffer {
  const out = Buffer.allocUnsafe(t.bytes.length);
  out.set(t.bytes);
  out[0] = query[0]!;
  out[1] = query[1]!;
  out[2] = (out[2]! & ~0x01) | (query[2]! & 0x01);
  out[3] = (out[3]! & ~0x10) | (query[3]! & 0x10);
  if (queryQuestionEnd === t.questionEnd) out.set(query.subarray(HEADER_LEN, queryQuestionEnd), HEADER_LEN);
  if (elapsed > 0) {
    const offs = t.ttlOffsets;
    for (let i = 0; i < offs.length; i++) {
      const ttl = t.ttls[i]! - elapsed;
      out.writeUInt32BE(ttl > 0 ? ttl : 0, offs[i]);
    }
  }
  return out;
}
