// Canonical forms for DNSSEC signing and verification, RFC 4034 §6, as corrected by RFC 6840 §5.1.
import { WireError } from '../util/errors';
import { concat } from './bytes';
import { encodeName, readNameWire } from './name';
import { LAYOUT, walkRdata } from './rdata-layout';
import type { RR } from './types';

const TYPE_NSEC = 47;
const TYPE_A6 = 38;

/**
 * Types whose RDATA names are lowercased in canonical form. RFC 4034 §6.2 item 3 lists NS, MD, MF, CNAME,
 * SOA, MB, MG, MR, PTR, HINFO, MINFO, MX, RP, AFSDB, RT, SIG, PX, NXT, NAPTR, KX, SRV, DNAME, A6, RRSIG and
 * NSEC. RFC 6840 §5.1 ("Errors in Canonical Form Type Code List") corrects it: names in NSEC RDATA are NOT
 * lowercased, names in RRSIG RDATA are. HINFO carries no names, so listing it changes nothing.
 */
export const LOWERCASE_RDATA_TYPES: ReadonlySet<number> = new Set([...LAYOUT.keys()].filter((t) => t !== TYPE_NSEC).concat([TYPE_A6]));

function lower(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b);
  // Length octets are at most 63, below 'A' (0x41), so lowercasing every byte of a wire name is safe.
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i]! |= 0x20;
  return out;
}

/** RDATA in canonical form: names lowercased for the types above, other RDATA unchanged (a copy). */
export function canonicalRdata(type: number, rdata: Uint8Array): Uint8Array {
  if (!LOWERCASE_RDATA_TYPES.has(type)) return new Uint8Array(rdata);
  if (type === TYPE_A6) return canonicalA6(rdata);
  const parts: Uint8Array[] = [];
  walkRdata(
    rdata,
    0,
    rdata.length,
    LAYOUT.get(type)!,
    (w) => parts.push(lower(w)),
    (b) => parts.push(b),
    false,
  );
  return concat(parts);
}

/** A6 (RFC 2874 §3.1.1): prefix length, address suffix, then a prefix name only when the length is > 0. */
function canonicalA6(rdata: Uint8Array): Uint8Array {
  if (rdata.length < 1) throw new WireError('rdata', 'A6 RDATA is empty');
  const plen = rdata[0]!;
  if (plen > 128) throw new WireError('rdata', `A6 prefix length ${plen} > 128`);
  const suffixLen = Math.ceil((128 - plen) / 8);
  if (1 + suffixLen > rdata.length) throw new WireError('rdata', 'A6 RDATA too short');
  const head = rdata.subarray(0, 1 + suffixLen);
  if (plen === 0) {
    if (rdata.length !== 1 + suffixLen) throw new WireError('rdlength', 'A6 RDATA has trailing bytes');
    return Uint8Array.from(rdata);
  }
  const { wire, next } = readNameWire(rdata, 1 + suffixLen, rdata.length, false);
  if (next !== rdata.length) throw new WireError('rdlength', 'A6 prefix name does not end the RDATA');
  return concat([head, lower(wire)]);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * The RRset as signed (RFC 4034 §3.1.8.1 and §6.3): each RR as lowercased owner | type | class | `ttl` |
 * RDLENGTH | canonical RDATA, sorted by canonical RDATA as unsigned octet strings, duplicates dropped
 * (RFC 4034 §6.3). Owner, type and class are taken from each RR; the validator passes the wildcard
 * owner ('*.' + closest encloser) when the RRSIG labels field says the answer was expanded.
 */
export function canonicalRRsetWire(rrs: RR[], ttl: number): Uint8Array {
  const items = rrs.map((rr) => ({ rr, rdata: canonicalRdata(rr.type, rr.rdata) }));
  items.sort((x, y) => compareBytes(x.rdata, y.rdata));
  // One buffer, sized first; the owner's wire form is built once per distinct owner text (one per set).
  const owners: Uint8Array[] = [];
  let size = 0;
  let prev: Uint8Array | null = null;
  let lastName: string | null = null;
  let lastOwner: Uint8Array | null = null;
  for (const it of items) {
    if (prev && compareBytes(prev, it.rdata) === 0) {
      owners.push(EMPTY);
      continue;
    }
    prev = it.rdata;
    if (it.rr.name !== lastName || lastOwner === null) {
      lastName = it.rr.name;
      lastOwner = encodeName(it.rr.name, { lowercase: true });
    }
    owners.push(lastOwner);
    size += lastOwner.length + 10 + it.rdata.length;
  }
  const out = new Uint8Array(size);
  let o = 0;
  const t = ttl >>> 0;
  for (let i = 0; i < items.length; i++) {
    const owner = owners[i]!;
    if (owner === EMPTY) continue;
    const { rr, rdata } = items[i]!;
    out.set(owner, o);
    o += owner.length;
    out[o++] = (rr.type >>> 8) & 0xff;
    out[o++] = rr.type & 0xff;
    out[o++] = (rr.class >>> 8) & 0xff;
    out[o++] = rr.class & 0xff;
    out[o++] = t >>> 24;
    out[o++] = (t >>> 16) & 0xff;
    out[o++] = (t >>> 8) & 0xff;
    out[o++] = t & 0xff;
    out[o++] = (rdata.length >>> 8) & 0xff;
    out[o++] = rdata.length & 0xff;
    out.set(rdata, o);
    o += rdata.length;
  }
  return out;
}
const EMPTY = new Uint8Array(0);

/** RRSIG RDATA without the signature, signer name lowercased: the first part of the signed data (RFC 4034 §3.1.8.1). */
export function rrsigSignedPrefix(rrsigRdata: Uint8Array): Uint8Array {
  if (rrsigRdata.length < 18) throw new WireError('rdata', 'RRSIG RDATA is too short');
  const { wire } = readNameWire(rrsigRdata, 18, rrsigRdata.length, false);
  const out = new Uint8Array(18 + wire.length);
  out.set(rrsigRdata.subarray(0, 18));
  // Length octets are at most 63, below 'A': lowercasing every byte of the wire name is safe.
  for (let i = 0; i < wire.length; i++) out[18 + i] = wire[i]! >= 0x41 && wire[i]! <= 0x5a ? wire[i]! | 0x20 : wire[i]!;
  return out;
}

/** RFC 4034 Appendix B key tag; algorithm 1 (RSA/MD5) uses the low bits of the modulus (B.1). */
export function keyTag(dnskeyRdata: Uint8Array): number {
  if (dnskeyRdata.length < 4) throw new WireError('rdata', 'DNSKEY RDATA is too short for a key tag');
  if (dnskeyRdata[3] === 1) {
    const n = dnskeyRdata.length;
    if (n < 7) throw new WireError('rdata', 'RSA/MD5 DNSKEY too short for a key tag');
    return (dnskeyRdata[n - 3]! << 8) | dnskeyRdata[n - 2]!;
  }
  let ac = 0;
  for (let i = 0; i < dnskeyRdata.length; i++) ac += i & 1 ? dnskeyRdata[i]! : dnskeyRdata[i]! << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}
