// Shared shapes of the DNS wire layer. Everything above src/wire (resolver, dnssec, policy, ike-bridge)
// speaks in these types. The layer keeps RDATA as raw, uncompressed bytes so that the validator can
// build canonical forms byte-exactly and the cache can rewrite TTLs without re-encoding.
// Layering: src/wire may import only src/util; pure (no I/O, no clock), as eslint.config.mjs enforces.

/**
 * A domain name in presentation form, absolute, without the trailing dot; the root is ''.
 * Labels containing '.', '\\' or non-printable bytes are escaped as in zone files ('\\.', '\\092', '\\DDD').
 * Case is preserved as received; compare with the helpers in name.ts, never with ===.
 */
export type Name = string;

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  SSHFP: 44,
  IPSECKEY: 45,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  TLSA: 52,
  CDS: 59,
  CDNSKEY: 60,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;
export type RRTypeName = keyof typeof RRType;

export const RRClass = { IN: 1, CH: 3, NONE: 254, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
} as const;

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** One resource record with its RDATA as raw bytes (names inside RDATA already decompressed). */
export interface RR {
  name: Name;
  type: number;
  class: number;
  ttl: number;
  rdata: Uint8Array;
}

export interface Question {
  name: Name;
  type: number;
  class: number;
}

export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

/** EDNS(0) OPT pseudo-record, lifted out of the additional section. */
export interface Edns {
  udpSize: number;
  /** Upper 8 bits of the 12-bit rcode. */
  extendedRcode: number;
  version: number;
  /** DNSSEC OK. */
  do: boolean;
  options: EdnsOption[];
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The Z bit (must be zero). */
  z: boolean;
  ad: boolean;
  cd: boolean;
  /** Full rcode: the header's 4 bits combined with EDNS extendedRcode when an OPT is present. */
  rcode: number;
}

export interface Message extends Header {
  questions: Question[];
  answers: RR[];
  authorities: RR[];
  /** Additional records except the OPT, which is in `edns`. */
  additionals: RR[];
  edns?: Edns;
}
