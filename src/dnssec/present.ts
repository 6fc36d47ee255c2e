// Presentation text for `oedns lookup` output. Uses src/wire/presentation's formatRR when that module
// exists; until then a small formatter covering the types lookup shows, with the RFC 3597 generic
// form for the rest.
import type { RR } from '../wire/types';
import { decodeA, decodeAaaa, decodeIpseckey, decodeNameRdata, decodeSoa, decodeTxt } from '../wire/rdata';
import { decodeDnskey, decodeDs, decodeNsec, decodeNsec3, decodeRrsig, keyTag } from './records';
import { base32hex } from './crypto';
import { nameLabel, typeLabel } from './util';

type Formatter = (rr: RR) => string;

function wireFormatter(): Formatter | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const m = require('../wire/presentation') as { formatRR?: Formatter };
    return typeof m.formatRR === 'function' ? m.formatRR : null;
  } catch {
    return null;
  }
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const types = (t: number[]): string => t.map(typeLabel).join(' ');

function rdataText(rr: RR): string {
  const r = rr.rdata;
  switch (rr.type) {
    case 1: return decodeA(r);
    case 28: return decodeAaaa(r);
    case 2: case 5: case 12: case 39: return nameLabel(decodeNameRdata(r));
    case 6: {
      const s = decodeSoa(r);
      return `${nameLabel(s.mname)} ${nameLabel(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case 16: return decodeTxt(r).map((t) => JSON.stringify(Buffer.from(t).toString('latin1'))).join(' ');
    case 43: { const d = decodeDs(r); return `${d.keyTag} ${d.algorithm} ${d.digestType} ${hex(d.digest)}`; }
    case 48: { const k = decodeDnskey(r); return `${k.flags} ${k.protocol} ${k.algorithm} ${b64(k.publicKey)} ; key id = ${keyTag(r)}`; }
    case 46: {
      const s = decodeRrsig(r);
      const t = (x: number): string => new Date(x * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      return `${typeLabel(s.typeCovered)} ${s.algorithm} ${s.labels} ${s.originalTtl} ${t(s.expiration)} ${t(s.inception)} ${s.keyTag} ${nameLabel(s.signerName)} ${b64(s.signature)}`;
    }
    case 47: { const n = decodeNsec(r); return `${nameLabel(n.next)} ${types(n.types)}`; }
    case 50: {
      const n = decodeNsec3(r);
      return `${n.hashAlgorithm} ${n.flags} ${n.iterations} ${n.salt.length ? hex(n.salt) : '-'} ${base32hex(n.nextHashed).toUpperCase()} ${types(n.types)}`;
    }
    case 45: {
      const k = decodeIpseckey(r);
      const gw = k.gateway === null ? '.' : k.gatewayType === 3 ? nameLabel(k.gateway) : k.gateway;
      return `${k.precedence} ${k.gatewayType} ${k.algorithm} ${gw} ${b64(k.publicKey)}`;
    }
    default:
      return `\\# ${r.length}${r.length ? ' ' + hex(r) : ''}`;
  }
}

function fallback(rr: RR): string {
  let text: string;
  try {
    text = rdataText(rr);
  } catch {
    text = `\\# ${rr.rdata.length} ${hex(rr.rdata)}`;
  }
  return `${nameLabel(rr.name)} ${rr.ttl} ${rr.class === 1 ? 'IN' : `CLASS${rr.class}`} ${typeLabel(rr.type)} ${text}`;
}

let chosen: Formatter | undefined;

/** One zone-file line for `rr`. */
export function presentRR(rr: RR): string {
  chosen ??= wireFormatter() ?? fallback;
  try {
    return chosen(rr);
  } catch {
    return fallback(rr);
  }
}
