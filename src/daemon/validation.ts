// The resolver's validation seam filled with the oedns validator: every upstream answer is validated
// from the trust anchors before it is cached or shown to anyone. Bogus and unverifiable answers become
// SERVFAIL with an RFC 8914 extended error that says why; the upstream's AD bit is never believed.
import type { Validator as PipelineValidator } from '../resolver/pipeline';
import type { UpstreamPool } from '../resolver/upstream';
import type { TrustAnchor } from '../dnssec/anchors';
import { createValidator, type NegativeAnchor, type Validator, type ValidatorOptions } from '../dnssec/validator';
import { describeVerdict, Ede, indeterminate } from '../dnssec/verdict';
import { isSubdomain } from '../wire/name';
import { isUsable, proofOf, provenMessage } from '../dnssec/proof';
import type { Message } from '../wire/types';
import { RRClass, Rcode } from '../wire/types';
import type { Logger } from '../util/log';
import { silentLogger } from '../util/log';
import type { NtaSet } from '../trust/nta';

/** The validator's own DS/DNSKEY lookups, through the same upstreams with CD=1 (we judge, not them). */
export function upstreamQuery(upstream: UpstreamPool) {
  return (name: string, type: number): Promise<Message> => upstream.query({ name, type, class: RRClass.IN }, { cd: true });
}

export function dnssecValidatorFor(
  upstream: UpstreamPool,
  anchors: readonly TrustAnchor[],
  negativeAnchor?: ValidatorOptions['negativeAnchor'],
): Validator {
  return createValidator({ anchors, query: upstreamQuery(upstream), negativeAnchor });
}

function servfail(response: Message): Message {
  return { ...response, rcode: Rcode.SERVFAIL, aa: false, ad: false, answers: [], authorities: [], additionals: [] };
}

export function pipelineValidator(validator: Validator, nowSec: () => number, log: Logger = silentLogger): PipelineValidator {
  return {
    prepare: (question) => validator.prefetch(question, nowSec()),
    async validate(question, response) {
      const r = await validator.validate(question, response, nowSec());
      const proof = proofOf(r);
      const v = r.verdict;
      if (v.kind === 'bogus') {
        const text = `DNSSEC bogus: ${describeVerdict(v)}`;
        log.warn({ qname: question.name, qtype: question.type, reason: v.reason, detail: v.detail }, text);
        return { proof, response: servfail(response), ede: { code: v.ede, text } };
      }
      // Failing to fetch the chain, or running out of budget, is not a proof of anything: SERVFAIL
      // rather than unvalidated data. (A name no anchor covers is insecure, answered as unsigned.)
      if (v.kind === 'indeterminate') {
        const text = `DNSSEC indeterminate: ${describeVerdict(v)}`;
        log.warn({ qname: question.name, qtype: question.type, reason: v.reason, detail: v.detail }, text);
        return { proof, response: servfail(response), ede: { code: Ede.DNSSEC_INDETERMINATE, text } };
      }
      if (!isUsable(proof)) return { proof, response };
      // What clients see is what was validated: the proof's RRsets and rcode, nothing else.
      return { proof, response: provenMessage(response, proof) };
    },
  };
}

/**
 * The validator the daemon holds, with two edges of its own: negative trust anchors (RFC 7646), which
 * the validator applies name by name along an answer's chain (only names at or under an NTA count as
 * insecure; a CNAME target outside it is validated as usual), and an inner validator that can be
 * rebuilt with other anchors (RFC 5011 rollover, reload) or with an empty key cache (flush).
 */
export interface DaemonValidation {
  validator: PipelineValidator;
  setAnchors(anchors: readonly TrustAnchor[]): void;
  /** Builds the validator for `anchors` now; the returned function switches to it and cannot fail. */
  prepareAnchors(anchors: readonly TrustAnchor[]): () => void;
  /** A fresh validator with the same anchors: forgets every cached DNSKEY/DS verdict. */
  reset(): void;
  /** ntaSkipped: questions asked under an NTA. */
  stats(): ReturnType<Validator['stats']> & { ntaSkipped: number };
}

export function daemonValidation(
  upstream: UpstreamPool,
  anchors: readonly TrustAnchor[],
  nowSec: () => number,
  ntas: NtaSet,
  log: Logger = silentLogger,
  /** Trust points with no trusted key (RFC 5011 state): their names fail closed (SERVFAIL), never insecure. */
  untrusted: () => readonly string[] = () => [],
): DaemonValidation {
  let current = anchors;
  let dnssec!: Validator;
  let inner!: PipelineValidator;
  let ntaSkipped = 0;
  // Read at each name the validator meets, so an NTA added or ended at run time counts at once.
  const negativeAnchor = (name: string, now: number): NegativeAnchor | undefined => ntas.covering(name, now);
  const prepare = (a: readonly TrustAnchor[]): (() => void) => {
    const v = dnssecValidatorFor(upstream, a, negativeAnchor);
    const p = pipelineValidator(v, nowSec, log);
    return () => {
      current = a;
      dnssec = v;
      inner = p;
    };
  };
  const rebuild = (): void => prepare(current)();
  rebuild();
  return {
    validator: {
      prepare(question) {
        inner.prepare?.(question);
      },
      validate(question, response, ctx) {
        // A trust point with no key fails closed for every name under it, NTA or not.
        const dead = untrusted().find((z) => isSubdomain(question.name, z));
        if (dead !== undefined) {
          const text = `DNSSEC indeterminate: no trusted key for ${dead || '.'} (every key of the RFC 5011 state is revoked or gone; move the state file away and restart to start again from the configured anchors)`;
          log.error({ qname: question.name, trustPoint: dead || '.' }, text);
          const verdict = indeterminate('no-trusted-key', text);
          return Promise.resolve({
            proof: { verdict, rrsets: [], negative: null, rcode: Rcode.SERVFAIL },
            response: servfail(response),
            ede: { code: Ede.DNSSEC_INDETERMINATE, text },
          });
        }
        if (ntas.covering(question.name, nowSec())) ntaSkipped++;
        return inner.validate(question, response, ctx);
      },
    },
    setAnchors: (a) => prepare(a)(),
    prepareAnchors: prepare,
    reset: rebuild,
    stats: () => ({ ...dnssec.stats(), ntaSkipped }),
  };
}
