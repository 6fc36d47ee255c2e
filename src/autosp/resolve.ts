// One autosp peer from DNS: its A, AAAA and IPSECKEY, each validated, through policy's decide() with
// owner 'autosp'. The answer says what to install and also what to do with a peer already installed
// when this lookup did not give a key: keep it (a transient failure), release it (the records are
// gone or no longer acceptable) or forget it for every owner (something is bogus: an attack or a
// broken zone; its key must stop being trusted now).
import type { PeerResolution, ResolveOutcome, ResolvePeer } from '../peers/model';
import type { InternalResolver } from '../resolver/pipeline';
import { decisionFacts, gatewayFacts, type LookupResult } from '../policy/decide-input';
import { isUsable, proofOf, provenMessage } from '../dnssec/proof';
import { completeGateway, decide, type Decision, defaultPolicy, type Policy } from '../policy';
import type { Verdict } from '../dnssec/verdict';
import type { QueryFn } from '../dnssec/fetcher';
import type { Validator } from '../dnssec/validator';
import { type Question, RRClass, RRType } from '../wire/types';

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

function short(v: Verdict): string {
  return v.kind === 'secure' ? 'secure' : `${v.kind} (${v.reason})`;
}

export function createPeerResolver(o: PeerResolverOptions): ResolvePeer {
  const now = o.now ?? (() => Date.now() / 1000);
  const ask = async (name: string, type: number): Promise<LookupResult> => {
    try {
      const r = await o.resolver.resolve({ name, type, class: RRClass.IN });
      // Only the proof (and the answer's age) goes on: facts are read off it, never off the message.
      return { proof: r.proof, age: r.age };
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  };

  return async (name: string): Promise<PeerResolution> => {
    const [a, aaaa, key] = await Promise.all([ask(name, RRType.A), ask(name, RRType.AAAA), ask(name, RRType.IPSECKEY)]);
    const at = Math.floor(now());
    const { input, verdicts: lookups } = decisionFacts({
      name,
      addresses: [
        { type: RRType.A, result: a },
        { type: RRType.AAAA, result: aaaa },
      ],
      key,
      owner: 'autosp',
    });
    const [va, v6] = lookups.addresses as [Verdict, Verdict];
    const vk = lookups.key;
    const verdicts = { a: short(va), aaaa: short(v6), ipseckey: short(vk) };
    const result = (outcome: ResolveOutcome, reason: string, extra: Partial<PeerResolution> = {}): PeerResolution => ({
      name,
      outcome,
      reason,
      verdicts,
      at,
      ...extra,
    });

    let d: Decision = decide(input, o.policy, at);
    if (d.action === 'install' && d.needsGateway) {
      const gname = d.needsGateway;
      d = completeGateway(d, gatewayFacts(gname, await ask(gname, RRType.A)), input, o.policy, at);
    }
    if (d.action === 'install' || d.action === 'install-unauthenticated') {
      return result('install', d.reason, { peer: d.peer, ttl: d.ttl, level: d.level });
    }
    const anyBogus = [va, v6, vk].some((v) => v.kind === 'bogus');
    const anyIndeterminate = [va, v6, vk].some((v) => v.kind === 'indeterminate');
    if (d.action === 'answer' && d.level === 'clear') return result('clear', d.reason, { level: d.level });
    if (anyBogus) return result('bogus', d.reason, { level: d.level });
    if (anyIndeterminate) return result('transient', d.reason, { level: d.level });
    const reason = input.addresses.length === 0 && d.action === 'answer' ? `${name} has no address (A/AAAA): nothing to protect` : d.reason;
    return result('refused', reason, { level: d.level });
  };
}
