// Small helpers shared by the validator files: grouping records into RRsets and naming them in messages.
import { canonicalName } from '../wire/name';
import { typeFromName, typeName } from '../wire/types-registry';
import { RRType, type Name, type RR } from '../wire/types';
import { decodeRrsig } from '../wire/rdata';

/** Types a name may own and still have no data: what a NODATA for ANY leaves in a bitmap. */
export const DENIAL_ONLY_TYPES: ReadonlySet<number> = new Set([RRType.RRSIG, RRType.NSEC, RRType.NSEC3]);

export function typeLabel(t: number): string {
  return typeName(t);
}

/** Type number of a mnemonic or TYPEnnn, or undefined. */
export function typeFromLabel(s: string): number | undefined {
  try {
    return typeFromName(s);
  } catch {
    return undefined;
  }
}

export function nameLabel(n: Name): string {
  return n === '' ? '.' : `${n}.`;
}

export function rrsetLabel(owner: Name, type: number): string {
  return `${nameLabel(owner)}/${typeLabel(type)}`;
}

export interface RRset {
  name: Name;
  type: number;
  class: number;
  rrs: RR[];
}

/** Groups records by (owner, type, class) in order of first appearance; RRSIGs are left out. */
export function groupRRsets(rrs: RR[]): RRset[] {
  const map = new Map<string, RRset>();
  for (const rr of rrs) {
    if (rr.type === RRType.RRSIG) continue;
    const key = `${canonicalName(rr.name)}|${rr.type}|${rr.class}`;
    let s = map.get(key);
    if (!s) {
      s = { name: rr.name, type: rr.type, class: rr.class, rrs: [] };
      map.set(key, s);
    }
    s.rrs.push(rr);
  }
  return [...map.values()];
}

/** RRSIGs at `owner` covering `type`. */
export function sigsFor(rrs: RR[], owner: Name, type: number): RR[] {
  const c = canonicalName(owner);
  return rrs.filter(
    (r) => r.type === RRType.RRSIG && r.rdata.length >= 2 && ((r.rdata[0]! << 8) | r.rdata[1]!) === type && canonicalName(r.name) === c,
  );
}

/**
 * The walk met an NSEC3 opt-out span at or above a name (ZoneStatus insecure 'nsec3-opt-out', with the
 * keys of the zone above the span), yet `sigs` (the RRSIGs over the data judged for that name) claim
 * that very zone as signer: then the data is the zone's own (an unsigned delegation's data carries no
 * signature of its parent), and it is judged with the zone's keys, secure or bogus, like Unbound does.
 * Only ever makes a verdict stricter: without such a signature the name stays insecure.
 */
export function optOutButSignedBy(st: { zone: Name; keys: RR[]; verdict: { kind: string; reason?: string } }, sigs: RR[]): boolean {
  if (st.verdict.kind !== 'insecure' || st.verdict.reason !== 'nsec3-opt-out' || st.keys.length === 0) return false;
  const zone = canonicalName(st.zone);
  return sigs.some((r) => {
    if (r.type !== RRType.RRSIG || r.rdata.length < 19) return false;
    try {
      return canonicalName(decodeRrsig(r.rdata).signerName) === zone;
    } catch {
      return false;
    }
  });
}
