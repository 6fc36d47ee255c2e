// The one place where validated lookups become decide()'s input: capture (one address lookup, the
// type the program asked), autosp and the responder through autosp's resolver (A and AAAA) read the
// same facts the same way, so a fix to how they are read (the CNAME chain, the owner check, aged
// TTLs) reaches every caller at once. Reads only the validator's Proof of each lookup, never a raw
// message: a record the validator did not vouch for cannot reach a decision. Pure.
import { isUsable, type Proof, verdictOfProof } from '../dnssec/proof';
import { indeterminate, type Verdict, worst } from '../dnssec/verdict';
import { typeName } from '../wire/types-registry';
import { Rcode, RRType } from '../wire/types';
import type { PeerOwner } from '../peers/model';
import { addressFacts, aged, ipseckeyFacts, type RRsetFacts } from './answer-facts';
import type { DecideInput, IpseckeyLike } from './decide';

/**
 * One lookup as a decision may read it: the validator's proof (absent when no validator ran: nothing
 * in it is trusted) and the seconds its answer sat in a cache; or why no answer came.
 */
export type LookupResult = { proof?: Proof; age?: number } | { error: string };

export interface PeerLookups {
  /** The name asked for (before any CNAME). */
  name: string;
  /** The address lookups judged together: capture's one, autosp's A and AAAA (A first). */
  addresses: { type: number; result: LookupResult }[];
  /** The name's IPSECKEY lookup. */
  key: LookupResult;
  /** Who asks; decide()'s default ('serve') when absent. */
  owner?: PeerOwner;
}

export interface DecisionFacts {
  input: DecideInput;
  /** Each lookup's own verdict, before they are combined: addresses in the order given, then the key. */
  verdicts: { addresses: Verdict[]; key: Verdict };
}

/** What completeGateway() takes about a gateway named in an IPSECKEY (type 3). */
export interface GatewayFacts {
  addresses: string[];
  verdict: Verdict;
  ttl: number;
  sigExpiry?: number;
}

/**
 * A lookup's verdict: the proof's, 'fetch-failed' when no answer came. A usable proof stands for
 * NOERROR or NXDOMAIN only (the validator makes any other rcode indeterminate); checked again here
 * because a validated SERVFAIL or REFUSED would still be no answer.
 */
export function lookupVerdict(r: LookupResult, what: string): Verdict {
  if ('error' in r) return indeterminate('fetch-failed', `${what} lookup failed: ${r.error}`);
  const v = verdictOfProof(r.proof);
  if (r.proof && isUsable(r.proof) && r.proof.rcode !== Rcode.NOERROR && r.proof.rcode !== Rcode.NXDOMAIN) {
    return indeterminate('upstream-error', `the ${what} lookup failed (rcode ${r.proof.rcode})`);
  }
  return v;
}

const NONE: RRsetFacts<never> = Object.freeze({ values: [], ttl: 0, malformed: 0 });

function minDefined(vs: (number | undefined)[]): number | undefined {
  const d = vs.filter((v): v is number => v !== undefined);
  return d.length ? Math.min(...d) : undefined;
}

/** The facts of `l` as decide() takes them; the caller adds the policy and `now`. */
export function decisionFacts(l: PeerLookups): DecisionFacts {
  const addressVerdicts = l.addresses.map((a) => lookupVerdict(a.result, typeName(a.type)));
  // A cached answer's TTLs are as stored: aged, or every hit would stretch the peer's lifetime.
  const read = l.addresses.map((a) => ('error' in a.result ? NONE : aged(addressFacts(a.result.proof, a.type), a.result.age)));
  const owner = read.find((f) => f.owner !== undefined)?.owner;
  // A and AAAA follow the same chain too: addresses at another end (a chain that changed between two
  // cached answers, or an old signed CNAME replayed for one type) belong to another name and must not
  // be protected with this one's key. That lookup counts as unsure, as a key at another end does.
  const facts = read.map((f, i) => {
    if (f.owner === undefined || f.owner === owner) return f;
    addressVerdicts[i] = indeterminate(
      'owner-mismatch',
      `the ${typeName(l.addresses[i]!.type)} chain ends at ${f.owner}, the ${typeName(l.addresses[0]!.type)} chain at ${owner}`,
    );
    return NONE;
  });
  const withValues = facts.filter((f) => f.values.length > 0);
  const first = l.addresses[facts.findIndex((f) => f.values.length > 0)] ?? l.addresses[0];

  const kv = lookupVerdict(l.key, 'IPSECKEY');
  let keys: RRsetFacts<IpseckeyLike> = NONE;
  // null: the name provably (or, unsigned, apparently) has no key.
  let keyVerdict: Verdict | null = kv;
  if (!('error' in l.key) && kv.kind !== 'bogus' && kv.kind !== 'indeterminate') {
    keys = aged(ipseckeyFacts(l.key.proof), l.key.age);
    if (keys.values.length === 0) keyVerdict = null;
    else if (owner !== undefined && keys.owner !== owner) {
      // Both lookups follow the same CNAME chain; keys that end elsewhere (a chain that changed
      // between two cached answers) belong to another name and must not authenticate this one.
      keyVerdict = indeterminate('owner-mismatch', `the IPSECKEY chain ends at ${keys.owner}, the address chain at ${owner}`);
    }
  }
  const chain = [...new Set(facts.flatMap((f) => f.chain ?? []))];
  return {
    input: {
      name: l.name,
      peerName: owner,
      qtype: first?.type ?? RRType.A,
      addresses: facts.flatMap((f) => f.values),
      addressVerdict: worst(addressVerdicts),
      addressTtl: withValues.length ? Math.min(...withValues.map((f) => f.ttl)) : 0,
      keys: keys.values,
      keyVerdict,
      keyTtl: keys.ttl,
      sigExpiry: minDefined([...facts.map((f) => f.sigExpiry), keys.sigExpiry]),
      ...(chain.length ? { chain } : {}),
      ...(l.owner ? { owner: l.owner } : {}),
    },
    verdicts: { addresses: addressVerdicts, key: kv },
  };
}

/** The gateway's A lookup (IPSECKEY gateway type 3) as completeGateway() takes it. */
export function gatewayFacts(name: string, r: LookupResult): GatewayFacts {
  const f = 'error' in r ? NONE : aged(addressFacts(r.proof, RRType.A), r.age);
  return { addresses: f.values, verdict: lookupVerdict(r, `gateway ${name} A`), ttl: f.ttl, sigExpiry: f.sigExpiry };
}
