// What capture mode needs to know about a DNS answer, read off the message: the addresses at the end
// of the CNAME chain, their TTL, the decoded IPSECKEYs, and the earliest RRSIG expiry. Pure.
import { canonicalName } from '../wire/name';
import { decodeA, decodeAaaa, decodeIpseckey, decodeNameRdata, decodeRrsig } from '../wire/rdata';
import { Message, RR, RRType } from '../wire/types';
import type { IpseckeyLike } from '../policy';
import { WireError } from '../util/errors';

export interface RRsetFacts<T> {
  values: T[];
  /** The name that owns the records: the query name, or the end of its CNAME chain. */
  owner?: string;
  /** Smallest TTL among the records used (the final RRset and the CNAMEs leading to it). */
  ttl: number;
  /** Earliest RRSIG expiration among those records (Unix seconds), when signed. */
  sigExpiry?: number;
  /** Records whose RDATA could not be decoded (hostile or broken): ignored, counted. */
  malformed: number;
}

/** RRSIG times are 32-bit serials (RFC 4034 §3.1.5): pick the epoch closest to `nowSec`. */
export function serialToUnix(serial: number, nowSec: number): number {
  const base = nowSec - (nowSec % 2 ** 32);
  let t = base + serial;
  if (t - nowSec > 2 ** 31) t -= 2 ** 32;
  else if (nowSec - t > 2 ** 31) t += 2 ** 32;
  return t;
}

/** The owner names of the CNAME chain starting at `qname` (in order), bounded against loops. */
function chainOwners(msg: Message, qname: string): Set<string> {
  const owners = new Set<string>();
  let cur = canonicalName(qname);
  for (let i = 0; i < 16 && !owners.has(cur); i++) {
    owners.add(cur);
    const c = msg.answers.find((rr) => rr.type === RRType.CNAME && canonicalName(rr.name) === cur);
    if (!c) break;
    try {
      cur = canonicalName(decodeNameRdata(c.rdata));
    } catch {
      break;
    }
  }
  return owners;
}

function factsOf<T>(msg: Message, qname: string, qtype: number, decode: (rr: RR) => T, nowSec: number): RRsetFacts<T> {
  const owners = chainOwners(msg, qname);
  const used = msg.answers.filter((rr) => owners.has(canonicalName(rr.name)) && (rr.type === qtype || rr.type === RRType.CNAME));
  const values: T[] = [];
  let malformed = 0;
  for (const rr of used) {
    if (rr.type !== qtype) continue;
    try {
      values.push(decode(rr));
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      malformed++;
    }
  }
  let ttl = Infinity;
  for (const rr of used) ttl = Math.min(ttl, rr.ttl);
  let sigExpiry: number | undefined;
  for (const rr of msg.answers) {
    if (rr.type !== RRType.RRSIG || !owners.has(canonicalName(rr.name))) continue;
    try {
      const sig = decodeRrsig(rr.rdata);
      if (sig.typeCovered !== qtype && sig.typeCovered !== RRType.CNAME) continue;
      const exp = serialToUnix(sig.expiration, nowSec);
      sigExpiry = sigExpiry === undefined ? exp : Math.min(sigExpiry, exp);
    } catch {
      /* a broken RRSIG was the validator's business; it does not shorten anything here */
    }
  }
  const owner = [...owners].pop() ?? canonicalName(qname);
  return { values, owner, ttl: Number.isFinite(ttl) ? ttl : 0, sigExpiry, malformed };
}

export function addressFacts(msg: Message, qname: string, qtype: number, nowSec: number): RRsetFacts<string> {
  return factsOf(msg, qname, qtype, (rr) => (qtype === RRType.A ? decodeA(rr.rdata) : decodeAaaa(rr.rdata)), nowSec);
}

export function ipseckeyFacts(msg: Message, qname: string, nowSec: number): RRsetFacts<IpseckeyLike> {
  return factsOf(msg, qname, RRType.IPSECKEY, (rr) => decodeIpseckey(rr.rdata) as IpseckeyLike, nowSec);
}
