// RR type mnemonics (IANA "Resource Record (RR) TYPEs"), with the RFC 3597 TYPEnnn form for the rest.
import { ParseError } from '../util/errors';

export const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'A',
  2: 'NS',
  3: 'MD',
  4: 'MF',
  5: 'CNAME',
  6: 'SOA',
  7: 'MB',
  8: 'MG',
  9: 'MR',
  10: 'NULL',
  11: 'WKS',
  12: 'PTR',
  13: 'HINFO',
  14: 'MINFO',
  15: 'MX',
  16: 'TXT',
  17: 'RP',
  18: 'AFSDB',
  19: 'X25',
  20: 'ISDN',
  21: 'RT',
  22: 'NSAP',
  23: 'NSAP-PTR',
  24: 'SIG',
  25: 'KEY',
  26: 'PX',
  27: 'GPOS',
  28: 'AAAA',
  29: 'LOC',
  30: 'NXT',
  31: 'EID',
  32: 'NIMLOC',
  33: 'SRV',
  34: 'ATMA',
  35: 'NAPTR',
  36: 'KX',
  37: 'CERT',
  38: 'A6',
  39: 'DNAME',
  40: 'SINK',
  41: 'OPT',
  42: 'APL',
  43: 'DS',
  44: 'SSHFP',
  45: 'IPSECKEY',
  46: 'RRSIG',
  47: 'NSEC',
  48: 'DNSKEY',
  49: 'DHCID',
  50: 'NSEC3',
  51: 'NSEC3PARAM',
  52: 'TLSA',
  53: 'SMIMEA',
  55: 'HIP',
  56: 'NINFO',
  57: 'RKEY',
  58: 'TALINK',
  59: 'CDS',
  60: 'CDNSKEY',
  61: 'OPENPGPKEY',
  62: 'CSYNC',
  63: 'ZONEMD',
  64: 'SVCB',
  65: 'HTTPS',
  99: 'SPF',
  104: 'NID',
  105: 'L32',
  106: 'L64',
  107: 'LP',
  108: 'EUI48',
  109: 'EUI64',
  249: 'TKEY',
  250: 'TSIG',
  251: 'IXFR',
  252: 'AXFR',
  253: 'MAILB',
  254: 'MAILA',
  255: 'ANY',
  256: 'URI',
  257: 'CAA',
  258: 'AVC',
  259: 'DOA',
  260: 'AMTRELAY',
  32768: 'TA',
  32769: 'DLV',
};

const BY_NAME = new Map<string, number>(Object.entries(TYPE_NAMES).map(([n, s]) => [s, Number(n)]));

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** Case-insensitive; accepts the RFC 3597 `TYPEnnn` form for any type. Throws ParseError. */
export function typeFromName(text: string): number {
  const up = text.toUpperCase();
  const known = BY_NAME.get(up);
  if (known !== undefined) return known;
  const m = /^TYPE([0-9]{1,5})$/.exec(up);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new ParseError('unknown-type', `unknown RR type '${text}'`);
}

export function isTypeName(text: string): boolean {
  const up = text.toUpperCase();
  return BY_NAME.has(up) || /^TYPE[0-9]{1,5}$/.test(up);
}

const CLASS_NAMES: Readonly<Record<number, string>> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };
const CLASS_BY_NAME = new Map<string, number>(Object.entries(CLASS_NAMES).map(([n, s]) => [s, Number(n)]));

export function className(klass: number): string {
  return CLASS_NAMES[klass] ?? `CLASS${klass}`;
}

/** Returns undefined when `text` is not a class mnemonic (zone-file fields are told apart this way). */
export function classFromName(text: string): number | undefined {
  const up = text.toUpperCase();
  const known = CLASS_BY_NAME.get(up);
  if (known !== undefined) return known;
  const m = /^CLASS([0-9]{1,5})$/.exec(up);
  return m && Number(m[1]) <= 0xffff ? Number(m[1]) : undefined;
}
