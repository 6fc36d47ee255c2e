// The RFC 2136 UPDATE that replaces the IPSECKEY RRset at one name, as one message (a server applies
// it whole or not at all, §3.7). Its prerequisites (§2.4) say what we saw there before: the exact
// RRset, or that there was none. If anyone changed it in between, the server answers NXRRSET or
// YXRRSET and changes nothing, so a concurrent edit is never overwritten unseen. Pure: data in, data out.
import { RRClass, RRType, type Message, type Name, type RR } from '../wire/types';

export interface IpseckeyChange {
  zone: Name;
  name: Name;
  /** TTL of the records we add. */
  ttl: number;
  /** RDATA of the IPSECKEY RRset at `name` as last read from the primary; [] = none there. */
  seen: Uint8Array[];
  /** RDATA the RRset must hold afterwards (never empty: withdrawing everything is not ours to do). */
  want: Uint8Array[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Same RDATA set, order and duplicates ignored. */
export function sameRdataSet(a: Uint8Array[], b: Uint8Array[]): boolean {
  const x = new Set(a.map(hex));
  const y = new Set(b.map(hex));
  return x.size === y.size && [...x].every((k) => y.has(k));
}

/** What the change does, for --dry-run and the report. */
export function describeChange(c: IpseckeyChange): { removed: Uint8Array[]; added: Uint8Array[]; kept: Uint8Array[] } {
  const seen = new Set(c.seen.map(hex));
  const want = new Set(c.want.map(hex));
  return {
    removed: c.seen.filter((r) => !want.has(hex(r))),
    added: c.want.filter((r) => !seen.has(hex(r))),
    kept: c.want.filter((r) => seen.has(hex(r))),
  };
}

function dedupe(rs: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return rs.filter((r) => !seen.has(hex(r)) && (seen.add(hex(r)), true));
}

/**
 * The UPDATE message (not yet signed). Zone section: the zone's SOA (§2.3). Prerequisites: the RRset
 * exists with exactly the seen RDATA (value-dependent, §2.4.2), or does not exist (§2.4.3). Update:
 * delete the RRset (§2.5.2), then add every wanted record with our TTL (§2.5.1); the server nets
 * out what stays, and the TTL of the whole RRset becomes ours.
 */
export function buildIpseckeyUpdate(c: IpseckeyChange, id: number): Message {
  const pre: RR[] =
    c.seen.length === 0
      ? [{ name: c.name, type: RRType.IPSECKEY, class: RRClass.NONE, ttl: 0, rdata: new Uint8Array(0) }]
      : dedupe(c.seen).map((rdata) => ({ name: c.name, type: RRType.IPSECKEY, class: RRClass.IN, ttl: 0, rdata }));
  const upd: RR[] = [
    ...(c.seen.length ? [{ name: c.name, type: RRType.IPSECKEY, class: RRClass.ANY, ttl: 0, rdata: new Uint8Array(0) }] : []),
    ...dedupe(c.want).map((rdata) => ({ name: c.name, type: RRType.IPSECKEY, class: RRClass.IN, ttl: c.ttl, rdata })),
  ];
  return {
    id,
    qr: false,
    opcode: 5, // UPDATE
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name: c.zone, type: RRType.SOA, class: RRClass.IN }],
    answers: pre,
    authorities: upd,
    additionals: [],
  };
}
