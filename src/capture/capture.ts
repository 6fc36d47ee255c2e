// Capture mode: the resolver stage that makes sure the IPsec policy for a peer is in place before a
// program gets the peer's address. For an A/AAAA query it asks for the name's IPSECKEY at the same
// time as the address (both through the validating cache), lets policy decide, has the engine install
// the peer, and only then lets the answer go. Everything else passes through untouched.
// Layering: src/capture may import src/resolver, src/peers, src/policy, src/ike-bridge, src/dnssec,
// src/wire and src/util; never autosp, the responder, config or the daemon.
import type { InternalResolver, Stage, QueryContext, Outcome } from '../resolver/pipeline';
import { makeResponse } from '../wire/message';
import { edeName } from '../wire/ede';
import { type Message, type Question, Rcode, type RR, RRClass, RRType } from '../wire/types';
import { cacheKey, type CacheEntry } from '../resolver/cache';
import {
  completeGateway,
  decide,
  type Decision,
  type DecideInput,
  engineFailed,
  matchName,
  foldName,
  type Policy,
  type RefuseRcode,
} from '../policy';
import { decisionFacts, gatewayFacts } from '../policy/decide-input';
import { Ede as EdeCode, type Verdict } from '../dnssec/verdict';
import type { PeerSync } from '../peers';
import { type Logger, silentLogger } from '../util/log';
import { leakGuardFor, minimalAnyAnswer, stripHints } from './address-leaks';

export interface CaptureOptions {
  policy: Policy;
  sync: PeerSync;
  resolver: InternalResolver;
  /** Unix seconds. */
  now: () => number;
  /** Start IKE at install (needed with kernel-libipsec, where trap policies start nothing). */
  initiate?: boolean;
  /** The cached entry under a cache key, unused (Pipeline.peekCached): lets a cache hit skip handle(). */
  peekCached?: (key: string) => CacheEntry | undefined;
  /** Cut a cached answer's life and TTLs to the peer's (Pipeline.shortenCached); absent: answers are rewritten. */
  shorten?: (entry: CacheEntry, ttlSec: number) => CacheEntry;
  /**
   * Peers serve may hold at once. Any signed zone with a wildcard A and IPSECKEY could otherwise make
   * us install one peer per random label; beyond the bound the least recently used serve claim goes.
   */
  maxPeers?: number;
  log?: Logger;
}

/** RFC 8914 extended error attached to a refusal. */
export interface Ede {
  code: number;
  text: string;
}

/** Default bound on serve's peers (the engine benchmark holds 10,000 in charon). */
export const DEFAULT_MAX_PEERS = 16_384;

const RCODES: Record<RefuseRcode, number> = { SERVFAIL: Rcode.SERVFAIL, REFUSED: Rcode.REFUSED, NXDOMAIN: Rcode.NXDOMAIN };

export class Capture {
  readonly counters = {
    captured: 0,
    installed: 0,
    installedUnauthenticated: 0,
    answeredClear: 0,
    refused: 0,
    engineFailures: 0,
    keyLookupFailures: 0,
    /** Answers whose address and key came from the same cache entries as an earlier, applied decision. */
    reused: 0,
    /** serve's peers released to stay within maxPeers. */
    evicted: 0,
    /** ANY answers replaced and HTTPS/SVCB hints taken out for names capture protects. */
    addressLeaksGuarded: 0,
  };
  /**
   * The last decision taken on a cached address answer (keyed by the cached message object) together
   * with the cached key answer it used. While both come back unchanged from the cache, the decision
   * is the same (the lifetimes are absolute: TTLs are aged), so a hit costs neither decide() nor the
   * registry, as long as the engine still holds the peer.
   */
  private memo = new WeakMap<
    Message,
    { keyMsg: Message; keyCacheKey: string; peerName: string; install: boolean; addresses: string[]; authenticated: boolean }
  >();
  /** Cached answers for names capture does not select (checked once per cached message). */
  private notSelected = new WeakSet<Message>();
  /** Refusals by the reason's first words, for `oedns status`. */
  readonly refusals = new Map<string, number>();
  private readonly log: Logger;

  constructor(private readonly opts: CaptureOptions) {
    this.log = opts.log ?? silentLogger;
  }

  stage(): Stage {
    return { name: 'capture', handle: (ctx, next) => this.handle(ctx, next), passesCached: (e) => this.passesCached(e) };
  }

  /**
   * The cache-hit path asks whether a cached answer may go out untouched: yes when handle() would let
   * it through unchanged without deciding anything: a name capture does not select, an answer with
   * nothing to protect, or one whose memoized decision still holds (same cached key answer, peer
   * still held for these addresses). Anything else takes handle().
   */
  private passesCached(entry: CacheEntry): boolean {
    const m = entry.message;
    const q0 = m.questions[0];
    if (q0 && leakGuardFor(this.opts.policy, q0) !== 'none') return false;
    if (m.rcode !== Rcode.NOERROR || this.notSelected.has(m)) return true;
    const seen = this.memo.get(m);
    if (!seen) {
      const q = m.questions[0];
      if (q && !this.selects(q)) {
        this.notSelected.add(m);
        return true;
      }
      return false;
    }
    const keyEntry = this.opts.peekCached?.(seen.keyCacheKey);
    if (!keyEntry || keyEntry.message !== seen.keyMsg) return false;
    if (seen.install && !this.stillInstalled(seen)) return false;
    this.counters.captured++;
    this.counters.reused++;
    return true;
  }

  /** Policy may change at run time (SIGHUP); peers already installed live out their lifetime. */
  setPolicy(policy: Policy): void {
    this.opts.policy = policy;
    this.memo = new WeakMap();
    this.notSelected = new WeakSet();
  }

  private selects(q: Question): boolean {
    if (q.class !== RRClass.IN || (q.type !== RRType.A && q.type !== RRType.AAAA)) return false;
    const policy = this.opts.policy;
    // An address rule may still raise a 'clear' name once its address is known.
    return matchName(policy, q.name).level !== 'clear' || policy.rules.some((r) => r.selector.kind === 'address');
  }

  private async handle(ctx: QueryContext, next: () => Promise<Outcome>): Promise<Outcome> {
    const q = ctx.question;
    const guard = leakGuardFor(this.opts.policy, q);
    if (guard === 'minimal-any') {
      this.counters.addressLeaksGuarded++;
      return { kind: 'answer', answer: { message: minimalAnyAnswer(makeResponse(ctx.query, Rcode.NOERROR)), source: 'local' } };
    }
    if (guard === 'strip-hints') return this.withoutHints(await next());
    if (!this.selects(q)) return next();
    this.counters.captured++;
    // Started before the address lookup so that both travel at once.
    const keyLookup = this.opts.resolver.resolve({ name: q.name, type: RRType.IPSECKEY, class: RRClass.IN }).catch((e: unknown) => {
      this.counters.keyLookupFailures++;
      return { error: e instanceof Error ? e.message : String(e) };
    });
    const out = await next();
    // NXDOMAIN, SERVFAIL (bogus included) or a refusal: nothing to protect; the key lookup just ends.
    if (out.kind !== 'answer' || out.answer.message.rcode !== Rcode.NOERROR) return out;
    const key = await keyLookup;
    const seen = this.memo.get(out.answer.message);
    if (seen && !('error' in key) && seen.keyMsg === key.message && (!seen.install || this.stillInstalled(seen))) {
      this.counters.reused++;
      return out;
    }
    // No validator's word on the addresses (a server started without one): nothing here may be read,
    // so a name that must fail closed gets no address at all instead of an unprotected one.
    if (!out.answer.proof) {
      const m = matchName(this.opts.policy, q.name);
      if (m.level === 'private' || m.level === 'block') {
        this.counters.refused++;
        return refusal(ctx, Rcode.SERVFAIL, {
          code: EdeCode.OTHER,
          text: `level ${m.level}: the answer for ${q.name} was not validated (not-validated); no address without a peer`,
        });
      }
      return out;
    }
    const now = this.opts.now();
    const address = { type: q.type, result: { proof: out.answer.proof, age: out.answer.age } };
    const { input } = decisionFacts({ name: q.name, addresses: [address], key });
    if (input.addresses.length === 0) return out;
    const keyVerdict = input.keyVerdict;
    let d = decide(input, this.opts.policy, now);
    const viaGatewayName = d.action === 'install' && d.needsGateway !== undefined;
    if (d.action === 'install' && d.needsGateway) d = await this.withGateway(d, input, now);
    const peerName = input.peerName ?? q.name;
    const failuresBefore = this.counters.engineFailures;
    const result = await this.apply(d, ctx, out, keyVerdict, peerName, now);
    // Remember decisions that let the answer through unchanged: installed peers and clear answers.
    // Gateway decisions depend on a third lookup, so they are taken again each time.
    // An answer let through because the engine failed is not a decision to keep: the next hit tries again.
    const engineFailed = this.counters.engineFailures !== failuresBefore;
    if (
      result.kind === 'answer' &&
      result.answer.message.rcode === Rcode.NOERROR &&
      !('error' in key) &&
      !viaGatewayName &&
      !engineFailed
    ) {
      this.memo.set(result.answer.message, {
        keyMsg: key.message,
        // Where the internal IPSECKEY lookup is cached (CD=0): computed once, checked on every hit.
        keyCacheKey: cacheKey({ name: q.name, type: RRType.IPSECKEY, class: RRClass.IN }, false),
        peerName,
        install: d.action === 'install' || d.action === 'install-unauthenticated',
        addresses: input.addresses,
        authenticated: d.action === 'install',
      });
    }
    return result;
  }

  /**
   * The answer as a program may keep it: no TTL beyond the life of the peer it just made safe (the
   * key's TTL, its signatures or max-ttl may end before the address's TTL). A cached answer's entry is
   * cut so that the cache, the memo and later hits agree.
   */
  private within(out: Outcome & { kind: 'answer' }, lifeSec: number): Outcome {
    const a = out.answer;
    const served = Math.min(...a.message.answers.map((rr) => rr.ttl)) - (a.age ?? 0);
    if (!(served > lifeSec)) return out;
    if (a.entry && a.entry.message === a.message && this.opts.shorten) {
      const entry = this.opts.shorten(a.entry, lifeSec);
      return { kind: 'answer', answer: { ...a, entry, message: entry.message, age: 0 } };
    }
    // Not from the cache (or no way to cut the entry): the reply will not age it, so age it here.
    const cap = (rr: RR): RR => ({ ...rr, ttl: Math.max(0, Math.min(rr.ttl - (a.age ?? 0), lifeSec)) });
    const m = a.message;
    return {
      kind: 'answer',
      answer: {
        ...a,
        entry: undefined,
        age: 0,
        message: { ...m, answers: m.answers.map(cap), authorities: m.authorities.map(cap), additionals: m.additionals.map(cap) },
      },
    };
  }

  /**
   * An HTTPS/SVCB answer without the address hints of names capture protects (src/capture/address-leaks).
   * The changed answer is no longer the validated one: served without proof (no AD) and outside the
   * cache entry, so its TTLs are aged here.
   */
  private withoutHints(out: Outcome): Outcome {
    if (out.kind !== 'answer') return out;
    const a = out.answer;
    const stripped = stripHints(this.opts.policy, a.message);
    if (!stripped) return out;
    this.counters.addressLeaksGuarded++;
    const age = (rr: RR): RR => ({ ...rr, ttl: Math.max(0, rr.ttl - (a.age ?? 0)) });
    const message = {
      ...stripped,
      answers: stripped.answers.map(age),
      authorities: stripped.authorities.map(age),
      additionals: stripped.additionals.map(age),
    };
    return { kind: 'answer', answer: { message, source: a.source, ede: a.ede, age: 0 } };
  }

  /** Keeps serve's peers within maxPeers: a new one pushes out the least recently refreshed. */
  private async makeRoom(peerName: string, now: number): Promise<void> {
    const max = this.opts.maxPeers ?? DEFAULT_MAX_PEERS;
    const reg = this.opts.sync.registry;
    // Fewer names than the bound in all: nothing to count (countOwner walks the registry).
    if (reg.size < max || reg.owners(peerName).includes('serve')) return;
    while (reg.countOwner('serve') >= max) {
      const victim = reg.oldestClaim('serve');
      if (!victim) return;
      this.counters.evicted++;
      this.log.info({ peer: victim, max }, 'capture: peer bound reached, least recently used peer released');
      await this.opts.sync.release(victim, 'serve');
    }
    void now;
  }

  /**
   * The engine (as it acknowledged) still holds a conn for the peer that covers every address of this
   * answer, with no drop shunt on them: checked, not assumed from "some material is applied".
   */
  private stillInstalled(m: { peerName: string; addresses: string[]; authenticated: boolean }): boolean {
    return this.opts.sync.holds(m.peerName, m.addresses, m.authenticated);
  }

  /** IPSECKEY gateway type 3: the gateway's own address must be found and validated too. */
  private async withGateway(d: Decision & { action: 'install' }, input: DecideInput, now: number): Promise<Decision> {
    const gname = d.needsGateway!;
    const r = await this.opts.resolver
      .resolve({ name: gname, type: RRType.A, class: RRClass.IN })
      .catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));
    return completeGateway(d, gatewayFacts(gname, r), input, this.opts.policy, now);
  }

  private async apply(
    d: Decision,
    ctx: QueryContext,
    out: Outcome & { kind: 'answer' },
    keyVerdict: Verdict | null,
    peerName: string,
    now: number,
  ): Promise<Outcome> {
    const name = ctx.question.name;
    if (d.action === 'install' || d.action === 'install-unauthenticated') {
      // Through a CNAME, the peer (and its IKE identity) is the name that owns the address and key.
      const peer = { ...d.peer, name: peerName, initiate: this.opts.initiate ?? false };
      try {
        await this.makeRoom(peerName, now);
        const r = await this.opts.sync.upsert(peer);
        if (d.action === 'install') this.counters.installed++;
        else this.counters.installedUnauthenticated++;
        // Only a change is news: a cached answer for a peer already held must not cost a log line
        // per query (a synchronous write: ~6 % of a cache hit's time in bench/capture.ts).
        const fields = { peer: name, change: r.change, level: d.level, ttl: d.ttl };
        if (r.change === 'added' || r.change === 'replaced') this.log.info(fields, d.reason);
        else this.log.debug(fields, d.reason);
        return this.within(out, d.ttl);
      } catch (e) {
        this.counters.engineFailures++;
        d = engineFailed(d, e instanceof Error ? e.message : String(e));
        this.log.warn({ peer: name, level: d.level }, d.reason);
      }
    }
    if (d.action === 'refuse') {
      // A key that turned bogus must stop being trusted now, not when its old lifetime ends: our own
      // claim goes (a drop shunt covers its private addresses); other owners' claims stay, and they
      // look the name up again themselves (PeerSync.onInvalidated).
      // Only for the peer's own name: through an alias the bogus key chain may end anywhere (no proof
      // says where), and one lookup of another name must not act on this peer.
      if (keyVerdict?.kind === 'bogus' && peerName === foldName(name)) {
        await this.opts.sync.invalidate(peerName, 'serve').catch(() => undefined);
      }
      this.counters.refused++;
      // Counted by kind (level and extended error), never by the reason's text: that names the peer,
      // and refused names must not grow the map (the bound stays as a backstop).
      const tag = `level ${d.level}, ${edeName(d.ede)}`;
      const key = this.refusals.has(tag) || this.refusals.size < MAX_REFUSAL_KINDS ? tag : 'other';
      this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
      this.log.info({ qname: name, rcode: d.rcode, ede: d.ede }, d.reason);
      return refusal(ctx, RCODES[d.rcode], { code: d.ede, text: d.reason });
    }
    if (d.action === 'answer') this.counters.answeredClear++;
    return out;
  }
}

/** Distinct refusal reasons counted for `oedns status`; more are counted under "other". */
export const MAX_REFUSAL_KINDS = 64;

export function refusal(ctx: QueryContext, rcode: number, ede: Ede): Outcome {
  return { kind: 'answer', answer: { message: makeResponse(ctx.query, rcode), source: 'local', ede } };
}
