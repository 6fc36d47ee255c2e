// What capture, autosp and the responder need to know about a validated answer, read off its proof
// (never off the upstream's message): the values of the final RRset at the end of the CNAME/DNAME
// chain, the name that owns them, the smallest TTL along the chain, and the earliest signature
// expiry. A record the validator did not vouch for cannot appear here. Pure. In src/policy because
// these are the facts decide() takes, read the same way by capture, autosp and the responder.
import type { Proof } from '../dnssec/proof';
import { isUsable } from '../dnssec/proof';
import { earliestExpiry } from '../dnssec/validate';
import { decodeA, decodeAaaa, decodeIpseckey } from '../wire/rdata';
import { type RR, RRType } from '../wire/types';
import type { IpseckeyLike } from './decide';
import { WireError } from '../util/errors';

export interface RRsetFacts<T> {
  values: T[];
  /** The name that owns the records (lower case, no trailing dot): the query name, or the end of its chain. */
  owner?: string;
  /** Smallest validated TTL among the RRsets used (the final RRset and the links leading to it). */
  ttl: number;
  /** Earliest RRSIG expiration among those RRsets (Unix seconds), when signed. */
  sigExpiry?: number;
  /** Records whose RDATA could not be decoded (hostile or broken): ignored, counted. */
  malformed: number;
  /** Owners of the CNAME/DNAME links before `owner` (lower case): policy applies the strictest level of all. */
  chain?: string[];
}

export const NO_FACTS: RRsetFacts<never> = Object.freeze({ values: [], ttl: 0, malformed: 0 });

function factsOf<T>(proof: Proof | undefined, qtype: number, decode: (rr: RR) => T): RRsetFacts<T> {
  if (!proof || !isUsable(proof)) return { values: [], ttl: 0, malformed: 0 };
  const chain = proof.rrsets.filter((s) => s.role !== 'denial');
  const final = chain.filter((s) => s.role === 'answer' && s.type === qtype);
  if (final.length === 0) return { values: [], ttl: 0, malformed: 0 };
  const values: T[] = [];
  let malformed = 0;
  for (const set of final) {
    for (const rr of set.records) {
      try {
        values.push(decode(rr));
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        malformed++;
      }
    }
  }
  const lower = (n: string): string => n.toLowerCase().replace(/\.$/, '');
  const owner = lower(final[0]!.name);
  const links = [...new Set(chain.filter((s) => s.role !== 'answer').map((s) => lower(s.name)))];
  return { values, owner, ttl: Math.min(...chain.map((s) => s.ttl)), sigExpiry: earliestExpiry(chain), malformed, chain: links };
}

/** A or AAAA (by `qtype`) of a proof. */
export function addressFacts(proof: Proof | undefined, qtype: number): RRsetFacts<string> {
  return factsOf(proof, qtype, (rr) => (qtype === RRType.A ? decodeA(rr.rdata) : decodeAaaa(rr.rdata)));
}

export function ipseckeyFacts(proof: Proof | undefined): RRsetFacts<IpseckeyLike> {
  return factsOf(proof, RRType.IPSECKEY, (rr) => decodeIpseckey(rr.rdata));
}

/** The facts as they stand `age` seconds after they were cached: TTLs count down, expiries do not move. */
export function aged<T>(f: RRsetFacts<T>, age: number | undefined): RRsetFacts<T> {
  return age ? { ...f, ttl: Math.max(0, f.ttl - age) } : f;
}
