// Small helpers shared by the validator files: grouping records into RRsets and naming them in messages.
import { canonicalName } from '../wire/name';
import type { Name, RR } from '../wire/types';

const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 39: 'DNAME',
  43: 'DS', 44: 'SSHFP', 45: 'IPSECKEY', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 50: 'NSEC3', 51: 'NSEC3PARAM',
  52: 'TLSA', 59: 'CDS', 60: 'CDNSKEY', 255: 'ANY', 257: 'CAA',
};

export function typeLabel(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

export function typeFromLabel(s: string): number | undefined {
  const up = s.toUpperCase();
  for (const [k, v] of Object.entries(TYPE_NAMES)) if (v === up) return Number(k);
  const m = /^TYPE(\d{1,5})$/.exec(up);
  if (m && Number(m[1]) < 65536) return Number(m[1]);
  return undefined;
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
