// A whole response, validated: the answer RRset, every CNAME/DNAME link on the way to it, and the
// NODATA/NXDOMAIN or wildcard proofs (RFC 4035 §5.3–§5.4). Pure: the security status and keys of the
// zone that owns each name come in through `zoneOf` (the chain walk computes them beforehand from the
// names `chainNames` lists).
import { isSubdomain, labelCount, nameEquals, nameToLabels, labelsToName, parentName } from '../wire/name';
import { decodeNameRdata } from '../wire/rdata';
import type { Message, Name, Question, RR } from '../wire/types';
import { decodeNsec, decodeNsec3, decodeRrsig } from './records';
import { NsecRecord, nsecProveNodata, nsecProveNxdomain, nsecProveWildcardAnswer } from './nsec';
import { DEFAULT_NSEC3_LIMITS, Nsec3Budget, Nsec3Limits, Nsec3Record, nsec3ProveNodata, nsec3ProveNxdomain, nsec3ProveWildcardAnswer } from './nsec3';
import { verifyRrset } from './rrsig';
import { groupRRsets, nameLabel, rrsetLabel, sigsFor, typeLabel } from './util';
import { bogus, Ede, indeterminate, SECURE, Verdict, worst } from './verdict';

const T_CNAME = 5, T_DNAME = 39, T_DS = 43, T_NSEC = 47, T_NSEC3 = 50, T_ANY = 255;
/** Longest CNAME/DNAME chain followed in one response (BIND and unbound use 8–16). */
export const MAX_CHAIN = 12;

/** Security status of the zone that owns a name, as the chain walk found it. */
export interface ZoneStatus {
  /** The deepest zone known to enclose the name (for insecure: the last secure zone above the cut). */
  zone: Name;
  verdict: Verdict;
  /** Validated DNSKEY RRs of `zone` when verdict is secure. */
  keys: RR[];
}

export type Negative = null | 'nodata' | 'nxdomain';

/** One step of following qname through the answer section. */
export type Step =
  | { kind: 'answer'; sname: Name; rrs: RR[] }
  | { kind: 'cname'; sname: Name; rrs: RR[]; target: Name }
  | { kind: 'dname'; sname: Name; rrs: RR[]; owner: Name; target: Name }
  | { kind: 'negative'; sname: Name }
  | { kind: 'loop'; sname: Name };

/** Where the records of `sname` (for qtype) must be looked up: the DS of a name lives in its parent. */
export function zoneKey(sname: Name, qtype: number): Name {
  return qtype === T_DS ? parentName(sname) ?? '' : sname;
}

function rrsetAt(answers: RR[], name: Name, type: number): RR[] {
  return answers.filter((r) => r.type === type && nameEquals(r.name, name));
}

/** Replaces the `owner` suffix of `name` with `target` (RFC 6672 §2.2); null when too long. */
export function dnameSubstitute(name: Name, owner: Name, target: Name): Name | null {
  const l = nameToLabels(name);
  const prefix = l.slice(0, l.length - labelCount(owner));
  try {
    return labelsToName([...prefix, ...nameToLabels(target)]);
  } catch {
    return null;
  }
}

/** Follows qname through CNAMEs and DNAMEs in the answer section, without judging anything. */
export function followChain(q: Question, msg: Message): Step[] {
  const steps: Step[] = [];
  const seen = new Set<string>();
  let sname = q.name;
  for (let i = 0; i <= MAX_CHAIN; i++) {
    const key = sname.toLowerCase();
    if (seen.has(key) || i === MAX_CHAIN) {
      steps.push({ kind: 'loop', sname });
      return steps;
    }
    seen.add(key);
    const direct = q.type === T_ANY ? msg.answers.filter((r) => r.type !== 46 && nameEquals(r.name, sname)) : rrsetAt(msg.answers, sname, q.type);
    if (direct.length > 0) {
      steps.push({ kind: 'answer', sname, rrs: direct });
      return steps;
    }
    // A DNAME at an ancestor takes precedence over the synthesised CNAME that accompanies it.
    const dnames = msg.answers.filter((r) => r.type === T_DNAME && isSubdomain(sname, r.name) && !nameEquals(sname, r.name));
    if (dnames.length > 0 && q.type !== T_DNAME) {
      const owner = dnames.sort((a, b) => labelCount(b.name) - labelCount(a.name))[0].name;
      const rrs = rrsetAt(msg.answers, owner, T_DNAME);
      let target: Name | null = null;
      try {
        target = dnameSubstitute(sname, owner, decodeNameRdata(rrs[0].rdata));
      } catch {
        target = null;
      }
      if (target === null) {
        steps.push({ kind: 'negative', sname });
        return steps;
      }
      steps.push({ kind: 'dname', sname, rrs, owner, target });
      sname = target;
      continue;
    }
    const cname = q.type === T_CNAME ? [] : rrsetAt(msg.answers, sname, T_CNAME);
    if (cname.length > 0) {
      let target: Name;
      try {
        target = decodeNameRdata(cname[0].rdata);
      } catch {
        steps.push({ kind: 'loop', sname });
        return steps;
      }
      steps.push({ kind: 'cname', sname, rrs: cname, target });
      sname = target;
      continue;
    }
    steps.push({ kind: 'negative', sname });
    return steps;
  }
  return steps;
}

/** The names whose zone status validateResponse needs (already mapped through zoneKey). */
export function chainNames(q: Question, msg: Message): Name[] {
  return chainTargets(q, msg).map((t) => t.name);
}

/** Signer of the first decodable RRSIG among `sigs` that is `name` or one of its ancestors. */
function signerAbove(sigs: RR[], name: Name): Name | undefined {
  for (const s of sigs) {
    try {
      const signer = decodeRrsig(s.rdata).signerName;
      if (isSubdomain(name, signer)) return signer;
    } catch {
      /* malformed: no hint */
    }
  }
  return undefined;
}

/**
 * Like chainNames, with a hint per name: the signer the response's RRSIGs claim. The chain walk may stop
 * at the hint instead of asking for a DS at every label down to the name (as unbound does): a signer
 * below a cut cannot have signed, so a wrong hint only ever ends in 'signer-mismatch', never in a
 * weaker verdict. Unsigned data gives no hint and gets the full walk.
 */
export function chainTargets(q: Question, msg: Message): Array<{ name: Name; hint?: Name }> {
  const out: Array<{ name: Name; hint?: Name }> = [];
  for (const s of followChain(q, msg)) {
    if (s.kind === 'dname') out.push({ name: s.owner, hint: signerAbove(sigsFor(msg.answers, s.owner, T_DNAME), s.owner) });
    else if (s.kind === 'cname') out.push({ name: s.sname, hint: signerAbove(sigsFor(msg.answers, s.sname, T_CNAME), s.sname) });
    else if (s.kind === 'answer') {
      const name = zoneKey(s.sname, q.type);
      out.push({ name, hint: signerAbove(sigsFor(msg.answers, s.sname, s.rrs[0].type), name) });
    } else {
      const name = zoneKey(s.sname, q.type);
      const denial = msg.authorities.filter((r) => r.type === 46);
      out.push({ name, hint: signerAbove(denial, name) });
    }
  }
  return out;
}

export interface ResponseResult {
  verdict: Verdict;
  negative: Negative;
  /** Verdict of each step, in order (for reports). */
  steps: Array<{ step: Step['kind']; name: Name; verdict: Verdict }>;
  /** Smallest validated TTL, when secure. */
  ttl?: number;
}

export interface ValidateOptions {
  nowSec: number;
  nsec3?: Nsec3Limits;
}

/** Authenticated NSEC and NSEC3 records from `zone` in the authority section. */
function denialRecords(msg: Message, st: ZoneStatus, nowSec: number): { nsec: NsecRecord[]; nsec3: Nsec3Record[]; failure?: Verdict } {
  const nsec: NsecRecord[] = [];
  const nsec3: Nsec3Record[] = [];
  let failure: Verdict | undefined;
  const auth = msg.authorities;
  for (const set of groupRRsets(auth)) {
    if (set.type !== T_NSEC && set.type !== T_NSEC3) continue;
    if (!isSubdomain(set.name, st.zone)) continue; // another zone's denial (e.g. a parent's, for a CNAME target)
    const r = verifyRrset(set.rrs, sigsFor(auth, set.name, set.type), st.keys, st.zone, nowSec);
    if (r.verdict.kind !== 'secure') {
      failure = failure ?? r.verdict;
      continue;
    }
    try {
      if (set.type === T_NSEC) nsec.push({ owner: set.name, ...decodeNsec(set.rrs[0].rdata) });
      else for (const rr of set.rrs) nsec3.push({ owner: rr.name, rd: decodeNsec3(rr.rdata) });
    } catch {
      failure = failure ?? bogus('nsec-proof-failed', Ede.DNSSEC_BOGUS, `malformed ${typeLabel(set.type)} at ${nameLabel(set.name)}`);
    }
  }
  return { nsec, nsec3, failure };
}

/** Chooses NSEC or NSEC3 and runs `withNsec` / `withNsec3`; a forged or missing denial is bogus. */
function prove(
  msg: Message, st: ZoneStatus, o: ValidateOptions, budget: Nsec3Budget, what: string,
  withNsec: (r: NsecRecord[]) => Verdict, withNsec3: (r: Nsec3Record[]) => Verdict,
): Verdict {
  const d = denialRecords(msg, st, o.nowSec);
  let v: Verdict;
  if (d.nsec.length > 0) v = withNsec(d.nsec);
  else if (d.nsec3.length > 0) v = withNsec3(d.nsec3);
  else if (d.failure) return d.failure;
  else return bogus('nsec-missing', Ede.NSEC_MISSING, `${what}: no signed NSEC or NSEC3 records from ${nameLabel(st.zone)}`);
  // A bad signature on some denial record matters only if the valid ones did not prove the claim.
  if (v.kind === 'bogus' && d.failure) return d.failure;
  return v;
}

/**
 * Validates `msg` as the answer to `q`. `zoneOf(name)` returns the status computed by the chain walk
 * for each name of `chainNames(q, msg)`. Never throws.
 */
export function validateResponse(q: Question, msg: Message, zoneOf: (name: Name) => ZoneStatus | undefined, o: ValidateOptions): ResponseResult {
  const limits = o.nsec3 ?? DEFAULT_NSEC3_LIMITS;
  const budget = new Nsec3Budget(limits.maxHashes);
  const results: ResponseResult['steps'] = [];
  let negative: Negative = null;
  let ttl = Number.MAX_SAFE_INTEGER;
  if (msg.rcode !== 0 && msg.rcode !== 3) {
    const v = indeterminate('upstream-error', `upstream answered rcode ${msg.rcode}`);
    return { verdict: v, negative: null, steps: [] };
  }
  for (const step of followChain(q, msg)) {
    const keyName = step.kind === 'dname' ? step.owner : step.kind === 'cname' ? step.sname : zoneKey(step.sname, q.type);
    if (step.kind === 'negative') negative = msg.rcode === 3 ? 'nxdomain' : 'nodata';
    if (step.kind === 'loop') {
      results.push({ step: step.kind, name: step.sname, verdict: bogus('cname-chain', Ede.DNSSEC_BOGUS, `CNAME/DNAME chain loops or exceeds ${MAX_CHAIN} links at ${nameLabel(step.sname)}`) });
      break;
    }
    const st = zoneOf(keyName);
    if (!st) {
      results.push({ step: step.kind, name: step.sname, verdict: indeterminate('fetch-failed', `no chain of trust computed for ${nameLabel(keyName)}`) });
      continue;
    }
    if (st.verdict.kind !== 'secure') {
      // Insecure, bogus or indeterminate zones: their records are not judged one by one.
      results.push({ step: step.kind, name: step.sname, verdict: st.verdict });
      continue;
    }
    const v = validateStep(q, msg, step, st, o, limits, budget, (t) => (ttl = Math.min(ttl, t)));
    results.push({ step: step.kind, name: step.sname, verdict: v });
  }
  const verdict = worst(results.map((r) => r.verdict));
  return { verdict, negative, steps: results, ttl: verdict.kind === 'secure' && ttl !== Number.MAX_SAFE_INTEGER ? ttl : undefined };
}

function validateStep(
  q: Question, msg: Message, step: Step, st: ZoneStatus, o: ValidateOptions, limits: Nsec3Limits, budget: Nsec3Budget,
  noteTtl: (t: number) => void,
): Verdict {
  switch (step.kind) {
    case 'answer':
    case 'cname':
    case 'dname': {
      const owner = step.kind === 'dname' ? step.owner : step.sname;
      const sets = step.kind === 'answer' && q.type === T_ANY ? groupRRsets(step.rrs) : [{ rrs: step.rrs, type: step.rrs[0].type }];
      for (const set of sets) {
        const r = verifyRrset(set.rrs, sigsFor(msg.answers, owner, set.type), st.keys, st.zone, o.nowSec);
        if (r.verdict.kind !== 'secure') return r.verdict;
        noteTtl(r.ttl);
        if (r.wildcard) {
          if (step.kind === 'dname') return bogus('labels-mismatch', Ede.DNSSEC_BOGUS, `DNAME at ${nameLabel(owner)} claims wildcard expansion`);
          const w = prove(msg, st, o, budget, `wildcard answer ${rrsetLabel(step.sname, set.type)}`,
            (n) => nsecProveWildcardAnswer(n, step.sname, r.wildcard!, st.zone),
            (n3) => nsec3ProveWildcardAnswer(n3, step.sname, r.wildcard!, st.zone, limits, budget));
          if (w.kind !== 'secure') return w;
        }
      }
      return SECURE;
    }
    case 'negative': {
      const qtype = q.type; // after a CNAME the target is denied for the same type
      if (msg.rcode === 3) {
        return prove(msg, st, o, budget, `NXDOMAIN for ${nameLabel(step.sname)}`,
          (n) => nsecProveNxdomain(n, step.sname, st.zone),
          (n3) => nsec3ProveNxdomain(n3, step.sname, st.zone, limits, budget));
      }
      return prove(msg, st, o, budget, `NODATA for ${rrsetLabel(step.sname, qtype)}`,
        (n) => nsecProveNodata(n, step.sname, qtype, st.zone),
        (n3) => nsec3ProveNodata(n3, step.sname, qtype, st.zone, limits, budget));
    }
    default:
      return bogus('cname-chain', Ede.DNSSEC_BOGUS, 'unexpected step');
  }
}
