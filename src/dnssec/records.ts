// The DNSSEC RDATA views and canonical forms the validator reads, taken from src/wire, plus the few
// helpers the validator needs on top: a key tag that never throws (a malformed DNSKEY from upstream must
// become a verdict, not an exception), an RRset canonical form with an explicit (wildcard) owner, and
// wildcard/label arithmetic.
import { canonicalName, encodeName, nameToLabels, labelsToName } from '../wire/name';
import {
  canonicalRdata as wireCanonicalRdata,
  canonicalRRsetWire as wireCanonicalRRsetWire,
  keyTag as wireKeyTag,
  rrsigSignedPrefix as wireRrsigSignedPrefix,
} from '../wire/canonical';
import type { Name, RR } from '../wire/types';

export { decodeDnskey, decodeDs, decodeRrsig, decodeNsec, decodeNsec3, encodeDnskey, encodeDs, decodeTypeBitmap } from '../wire/rdata';
export type { Dnskey, Ds, Rrsig, Nsec, Nsec3 } from '../wire/rdata';

export const DNSKEY_ZONE = 0x0100;
export const DNSKEY_REVOKE = 0x0080;
export const DNSKEY_SEP = 0x0001;
export const NSEC3_OPT_OUT = 0x01;

/** RFC 4034 Appendix B key tag; -1 (matches no RRSIG) for RDATA too short to have one. */
export function keyTag(dnskeyRdata: Uint8Array): number {
  try {
    return wireKeyTag(dnskeyRdata);
  } catch {
    return -1;
  }
}

/** RFC 4034 §6.2 item 3 as corrected by RFC 6840 §5.1 (NSEC keeps its case). */
export function canonicalRdata(type: number, rdata: Uint8Array): Uint8Array {
  try {
    return wireCanonicalRdata(type, rdata);
  } catch {
    return rdata; // malformed: sign over the bytes as they are, the signature check will decide
  }
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

/**
 * RFC 4034 §3.1.8.1 / §6.3: the RRset as signed, with `owner` (e.g. the reconstructed wildcard) in
 * place of the records' own owner name.
 */
export function canonicalRRsetWire(rrs: RR[], ttl: number, owner: Name = rrs[0]!.name): Uint8Array {
  return wireCanonicalRRsetWire(
    rrs.map((r) => (r.name === owner ? r : { ...r, name: owner })),
    ttl,
  );
}

/** RRSIG RDATA without the signature, signer name lowercased (RFC 4034 §3.1.8.1). */
export function rrsigSignedPrefix(rrsigRdata: Uint8Array): Uint8Array {
  return wireRrsigSignedPrefix(rrsigRdata);
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
  return ls.length > 0 && ls[0]!.length === 1 && ls[0]![0] === 0x2a ? ls.length - 1 : ls.length;
}

export function isWildcard(name: Name): boolean {
  const ls = nameToLabels(name);
  return ls.length > 0 && ls[0]!.length === 1 && ls[0]![0] === 0x2a;
}

export { canonicalName };
