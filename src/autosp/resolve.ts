// One autosp peer from DNS: its A, AAAA and IPSECKEY, each validated, through policy's decide() with
// owner 'autosp'. The answer says what to install and also what to do with a peer already installed
// when this lookup did not give a key: keep it (a transient failure), release it (the records are
// gone or no longer acceptable) or forget it for every owner (something is bogus: an attack or a
// broken zone; its key must stop being trusted now).
import type { PeerResolution, ResolveOutcome, ResolvePeer } from '../peers/model';
import type { InternalResolver } from '../resolver/pipeline';
import { addressFacts, aged, ipseckeyFacts, type RRsetFacts } from '../policy/answer-facts';
import { isUsable, type Proof, proofOf, provenMessage, verdictOfProof } from '../dnssec/proof';
import { completeGateway, decide, type Decision, defaultPolicy, type IpseckeyLike, type Policy } from '../policy';
import { indeterminate, type Verdict, worst } from '../dnssec/verdict';
import type { QueryFn } from '../dnssec/fetcher';
import type { Validator } from '../dnssec/validator';
import { type Message, type Question, Rcode, RRClass, RRType } from '../wire/types';

export type { PeerResolution, ResolveOutcome, ResolvePeer } from '../peers/model';

export interface PeerResolverOptions {
  /** A validated lookup: the daemon's internal resolver, or validatingLookup() for the CLI. */
  resolver: InternalResolver;
  policy: Policy;
  /** Unix seconds. */
  now?: () => number;
}

/**
 * autosp's policy: the given one, or by default `private` for every name, since naming a peer in
 * advance means wanting it encrypted and authenticated, and nothing less.
 */
export function autospPolicy(p?: Policy): Policy {
  return p ?? { ...defaultPolicy(), default: 'private' };
}

/** The validator over a plain query function, as an InternalResolver (what the CLI uses). */
export function validatingLookup(query: QueryFn, validator: Validator, now: () => number = () => Date.now() / 1000): InternalResolver {
  return {
    async resolve(q: Question) {
      const msg = await query(q.name, q.type);
      const proof = proofOf(await validator.validate(q, msg, Math.floor(now())));
      // Facts are read off the proof; the message only carries the rcode the proof supports.
      return { message: isUsable(proof) ? provenMessage(msg, proof) : msg, proof };
    },
  };
}

type Got = { message: Message; verdict: Verdict; proof?: Proof; age?: number } | { error: string };

function verdictOf(g: Got): Verdict {
  if ('error' in g) return indeterminate('fetch-failed', g.error);
  if (g.verdict.kind === 'secure' || g.verdict.kind === 'insecure') {
    // A validated SERVFAIL/REFUSED is still no answer.
    if (g.message.rcode !== Rcode.NOERROR && g.message.rcode !== Rcode.NXDOMAIN) {
      return indeterminate('upstream-error', `rcode ${g.message.rcode}`);
    }
  }
  return g.verdict;
}

function short(v: Verdict): string {
  return v.kind === 'secure' ? 'secure' : `${v.kind} (${v.reason})`;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

export function createPeerResolver(o: PeerResolverOptions): ResolvePeer {
  const now = o.now ?? (() => Date.now() / 1000);
  const ask = async (name: string, type: number): Promise<Got> => {
    try {
      const r = await o.resolver.resolve({ name, type, class: RRClass.IN });
      return { message: r.message, verdict: verdictOfProof(r.proof), proof: r.proof, age: r.age };
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  };

  return async (name: string): Promise<PeerResolution> => {
    const [a, aaaa, key] = await Promise.all([ask(name, RRType.A), ask(name, RRType.AAAA), ask(name, RRType.IPSECKEY)]);
    const at = Math.floor(now());
    const va = verdictOf(a);
    const v6 = verdictOf(aaaa);
    const vk = verdictOf(key);
    const verdicts = { a: short(va), aaaa: short(v6), ipseckey: short(vk) };
    const result = (outcome: ResolveOutcome, reason: string, extra: Partial<PeerResolution> = {}): PeerResolution =>
      ({ name, outcome, reason, verdicts, at, ...extra });

    const empty: RRsetFacts<string> = { values: [], ttl: Infinity, malformed: 0 };
    const f4 = 'message' in a ? aged(addressFacts(a.proof, RRType.A), a.age) : empty;
    const f6 = 'message' in aaaa ? aged(addressFacts(aaaa.proof, RRType.AAAA), aaaa.age) : empty;
    const addresses = [...f4.values, ...f6.values];
    const ttls = [f4, f6].filter((f) => f.values.length > 0).map((f) => f.ttl);
    const addressVerdict = worst([va, v6]);
    let keys: RRsetFacts<IpseckeyLike> = { values: [], ttl: 0, malformed: 0 };
    let keyVerdict: Verdict | null = vk;
    if ('message' in key && vk.kind !== 'bogus' && vk.kind !== 'indeterminate') {
      keys = aged(ipseckeyFacts(key.proof), key.age);
      if (keys.values.length === 0) keyVerdict = null; // provably (or, unsigned, apparently) none
      else if (keys.owner !== (f4.owner ?? f6.owner ?? keys.owner)) {
        // The key chain must end where the address chain ends, or the key is another name's.
        keyVerdict = indeterminate('owner-mismatch', `the IPSECKEY chain ends at ${keys.owner}`);
      }
    }
    const input = {
      name,
      peerName: f4.owner ?? f6.owner,
      qtype: f4.values.length > 0 || f6.values.length === 0 ? RRType.A : RRType.AAAA,
      addresses,
      addressVerdict,
      addressTtl: ttls.length ? Math.min(...ttls) : 0,
      keys: keys.values,
      keyVerdict,
      keyTtl: keys.ttl,
      sigExpiry: minDefined(minDefined(f4.sigExpiry, f6.sigExpiry), keys.sigExpiry),
      owner: 'autosp' as const,
    };
    let d: Decision = decide(input, o.policy, at);
    if (d.action === 'install' && d.needsGateway) {
      const gname = d.needsGateway;
      const g = await ask(gname, RRType.A);
      const gf = 'message' in g ? aged(addressFacts(g.proof, RRType.A), g.age) : { values: [], ttl: 0, sigExpiry: undefined };
      d = completeGateway(d, { addresses: gf.values, verdict: verdictOf(g), ttl: gf.ttl, sigExpiry: gf.sigExpiry }, input, o.policy, at);
    }
    if (d.action === 'install' || d.action === 'install-unauthenticated') {
      return result('install', d.reason, { peer: d.peer, ttl: d.ttl, level: d.level });
    }
    const anyBogus = [va, v6, vk].some((v) => v.kind === 'bogus');
    const anyIndeterminate = [va, v6, vk].some((v) => v.kind === 'indeterminate');
    if (d.action === 'answer' && d.level === 'clear') return result('clear', d.reason, { level: d.level });
    if (anyBogus) return result('bogus', d.reason, { level: d.level });
    if (anyIndeterminate) return result('transient', d.reason, { level: d.level });
    const reason = addresses.length === 0 && d.action === 'answer' ? `${name} has no address (A/AAAA): nothing to protect` : d.reason;
    return result('refused', reason, { level: d.level });
  };
}
