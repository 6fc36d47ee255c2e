// Small helpers shared by the validator files: grouping records into RRsets and naming them in messages.
import { canonicalName } from '../wire/name';
import { typeFromName, typeName } from '../wire/types-registry';
import type { Name, RR } from '../wire/types';

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
    if (rr.type === 46) continue;
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
  return rrs.filter((r) => r.type === 46 && r.rdata.length >= 2 && ((r.rdata[0] << 8) | r.rdata[1]) === type && canonicalName(r.name) === c);
}
