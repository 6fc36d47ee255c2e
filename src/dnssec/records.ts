// Typed views of the DNSSEC RDATA the validator reads, and the RFC 4034 §6 canonical forms it signs
// over. Private to src/dnssec: the shared typed decoders in src/wire were not there yet when the
// validator was written; these are small and have the same shapes as the wire contract, so swapping
// them for the src/wire ones later is a change of import.
import { WireError } from '../util/errors';
import { canonicalName, encodeName, nameToLabels, labelsToName, readNameWire, wireToName } from '../wire/name';
import { LAYOUT, walkRdata } from '../wire/rdata-layout';
import type { Name, RR } from '../wire/types';

export interface Dnskey { flags: number; protocol: number; algorithm: number; publicKey: Uint8Array }
export interface Ds { keyTag: number; algorithm: number; digestType: number; digest: Uint8Array }
export interface Rrsig {
  typeCovered: number; algorithm: number; labels: number; originalTtl: number;
  expiration: number; inception: number; keyTag: number; signerName: Name; signature: Uint8Array;
}
export interface Nsec { next: Name; types: number[] }
export interface Nsec3 { hashAlgorithm: number; flags: number; iterations: number; salt: Uint8Array; nextHashed: Uint8Array; types: number[] }

export const DNSKEY_ZONE = 0x0100;
export const DNSKEY_REVOKE = 0x0080;
export const DNSKEY_SEP = 0x0001;
export const NSEC3_OPT_OUT = 0x01;

const u16 = (b: Uint8Array, i: number): number => (b[i] << 8) | b[i + 1];
const u32 = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length < n) throw new WireError('rdata', `${what} RDATA too short`);
}

export function decodeDnskey(r: Uint8Array): Dnskey {
  need(r, 4, 'DNSKEY');
  return { flags: u16(r, 0), protocol: r[2], algorithm: r[3], publicKey: r.subarray(4) };
}

export function encodeDnskey(k: Dnskey): Uint8Array {
  const out = new Uint8Array(4 + k.publicKey.length);
  out[0] = k.flags >> 8; out[1] = k.flags & 0xff; out[2] = k.protocol; out[3] = k.algorithm;
  out.set(k.publicKey, 4);
  return out;
}

export function decodeDs(r: Uint8Array): Ds {
  need(r, 5, 'DS');
  return { keyTag: u16(r, 0), algorithm: r[2], digestType: r[3], digest: r.subarray(4) };
}

export function encodeDs(d: Ds): Uint8Array {
  const out = new Uint8Array(4 + d.digest.length);
  out[0] = d.keyTag >> 8; out[1] = d.keyTag & 0xff; out[2] = d.algorithm; out[3] = d.digestType;
  out.set(d.digest, 4);
  return out;
}

export function decodeRrsig(r: Uint8Array): Rrsig {
  need(r, 19, 'RRSIG');
  const { wire, next } = readNameWire(r, 18, r.length);
  if (wire.length !== next - 18) throw new WireError('rdata-compressed', 'compressed signer name in RRSIG');
  return {
    typeCovered: u16(r, 0), algorithm: r[2], labels: r[3], originalTtl: u32(r, 4),
    expiration: u32(r, 8), inception: u32(r, 12), keyTag: u16(r, 16),
    signerName: wireToName(wire), signature: r.subarray(next),
  };
}

export function decodeTypeBitmap(b: Uint8Array): number[] {
  const types: number[] = [];
  let p = 0;
  let lastWindow = -1;
  while (p < b.length) {
    if (p + 2 > b.length) throw new WireError('rdata', 'type bitmap window header truncated');
    const win = b[p];
    const len = b[p + 1];
    // RFC 4034 §4.1.2: windows ascending, 1..32 bytes each.
    if (win <= lastWindow || len === 0 || len > 32 || p + 2 + len > b.length) throw new WireError('rdata', 'malformed type bitmap');
    lastWindow = win;
    for (let i = 0; i < len; i++) {
      const byte = b[p + 2 + i];
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >> bit)) types.push(win * 256 + i * 8 + bit);
    }
    p += 2 + len;
  }
  return types;
}

export function decodeNsec(r: Uint8Array): Nsec {
  const { wire, next } = readNameWire(r, 0, r.length);
  if (wire.length !== next) throw new WireError('rdata-compressed', 'compressed name in NSEC');
  return { next: wireToName(wire), types: decodeTypeBitmap(r.subarray(next)) };
}

export function decodeNsec3(r: Uint8Array): Nsec3 {
  need(r, 5, 'NSEC3');
  const saltLen = r[4];
  need(r, 6 + saltLen, 'NSEC3');
  const hashLen = r[5 + saltLen];
  const hashAt = 6 + saltLen;
  need(r, hashAt + hashLen, 'NSEC3');
  if (hashLen === 0) throw new WireError('rdata', 'NSEC3 with empty next hashed owner');
  return {
    hashAlgorithm: r[0], flags: r[1], iterations: u16(r, 2), salt: r.subarray(5, 5 + saltLen),
    nextHashed: r.subarray(hashAt, hashAt + hashLen), types: decodeTypeBitmap(r.subarray(hashAt + hashLen)),
  };
}

/** RFC 4034 Appendix B key tag (algorithm 1 has its own rule). */
export function keyTag(dnskeyRdata: Uint8Array): number {
  if (dnskeyRdata.length >= 4 && dnskeyRdata[3] === 1) {
    const n = dnskeyRdata.length;
    return n >= 3 ? u16(dnskeyRdata, n - 3) : 0;
  }
  let ac = 0;
  for (let i = 0; i < dnskeyRdata.length; i++) ac += i & 1 ? dnskeyRdata[i] : dnskeyRdata[i] << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** RFC 4034 §6.2 item 3 as corrected by RFC 6840 §5.1 (NSEC keeps its case). */
export function canonicalRdata(type: number, rdata: Uint8Array): Uint8Array {
  const fields = type === 47 ? undefined : LAYOUT.get(type);
  if (!fields) return rdata;
  const parts: Uint8Array[] = [];
  try {
    walkRdata(rdata, 0, rdata.length, fields, (w) => parts.push(lowerWire(w)), (b) => parts.push(b), false);
  } catch {
    return rdata; // malformed: sign over the bytes as they are, the signature check will decide
  }
  return concat(parts);
}

function lowerWire(w: Uint8Array): Uint8Array {
  const out = new Uint8Array(w);
  let p = 0;
  while (p < out.length && out[p] !== 0) {
    const len = out[p];
    for (let i = p + 1; i <= p + len && i < out.length; i++) if (out[i] >= 0x41 && out[i] <= 0x5a) out[i] |= 0x20;
    p += len + 1;
  }
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * RFC 4034 §3.1.8.1 / §6.3: the RRset as signed: owner (lowercased, given explicitly so a wildcard
 * owner can be passed), type, class, original TTL, RDATA canonical, sorted, duplicates dropped.
 */
export function canonicalRRsetWire(rrs: RR[], ttl: number, owner: Name = rrs[0].name): Uint8Array {
  const ownerWire = encodeName(owner, { lowercase: true });
  const rdatas = rrs.map((r) => canonicalRdata(r.type, r.rdata)).sort(compareBytes);
  const parts: Uint8Array[] = [];
  let prev: Uint8Array | null = null;
  for (const rd of rdatas) {
    if (prev && compareBytes(prev, rd) === 0) continue;
    prev = rd;
    const hdr = new Uint8Array(10);
    const t = rrs[0].type;
    const c = rrs[0].class;
    hdr[0] = t >> 8; hdr[1] = t & 0xff; hdr[2] = c >> 8; hdr[3] = c & 0xff;
    hdr[4] = (ttl >>> 24) & 0xff; hdr[5] = (ttl >>> 16) & 0xff; hdr[6] = (ttl >>> 8) & 0xff; hdr[7] = ttl & 0xff;
    hdr[8] = rd.length >> 8; hdr[9] = rd.length & 0xff;
    parts.push(ownerWire, hdr, rd);
  }
  return concat(parts);
}

/** RRSIG RDATA without the signature, signer name lowercased (RFC 4034 §3.1.8.1). */
export function rrsigSignedPrefix(rrsigRdata: Uint8Array): Uint8Array {
  const { wire, next } = readNameWire(rrsigRdata, 18, rrsigRdata.length);
  return concat([rrsigRdata.subarray(0, 18), lowerWire(wire)]).subarray(0, 18 + (next - 18));
}

/** The wire form used in digests: lowercased, uncompressed. */
export function canonicalWire(name: Name): Uint8Array {
  return encodeName(name, { lowercase: true });
}

/** '*.' + the rightmost `labels` labels of `owner` (RFC 4035 §5.3.2 reconstruction). */
export function wildcardOf(owner: Name, labels: number): Name {
  const ls = nameToLabels(owner);
  return labelsToName([Uint8Array.of(0x2a), ...ls.slice(ls.length - labels)]);
}

/** The rightmost `n` labels of `name`. */
export function suffixOf(name: Name, n: number): Name {
  const ls = nameToLabels(name);
  return labelsToName(ls.slice(Math.max(0, ls.length - n)));
}

/** Owner label count as RRSIG counts it: root 0, a leading '*' label not counted (RFC 4034 §3.1.3). */
export function rrsigLabelCount(owner: Name): number {
  const ls = nameToLabels(owner);
  return ls.length > 0 && ls[0].length === 1 && ls[0][0] === 0x2a ? ls.length - 1 : ls.length;
}

export function isWildcard(name: Name): boolean {
  const ls = nameToLabels(name);
  return ls.length > 0 && ls[0].length === 1 && ls[0][0] === 0x2a;
}

export { canonicalName };
