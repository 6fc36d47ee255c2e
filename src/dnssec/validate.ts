// A whole response, validated: the answer RRset, every CNAME/DNAME link on the way to it, and the
// NODATA/NXDOMAIN or wildcard proofs (RFC 4035 §5.3–§5.4). Pure: the security status and keys of the
// zone that owns each name come in through `zoneOf` (the chain walk computes them beforehand from the
// names `chainNames` lists).
//
// The result carries exactly the RRsets that were judged (ValidatedRRset): the links of the chain from
// the question name, the final RRset or the denial records, each with its TTL (RFC 4035 §5.3.3) and
// signature expiry. Whatever else the upstream put in the message — an unsigned CNAME appended next to
// a signed answer, an extra address, a stray authority record — is not in it, so it cannot reach the
// cache, a client or the IKE engine. Consumers read these RRsets, never the raw message.
import { isSubdomain, labelCount, nameEquals, nameToLabels, labelsToName, parentName } from '../wire/name';
import { decodeNameRdata, decodeSoa, encodeNameRdata } from '../wire/rdata';
import { RRType, type Message, type Name, type Question, type RR } from '../wire/types';
import { secondsUntil } from './crypto';
import { decodeNsec, decodeNsec3 } from './records';
import { type NsecRecord, nsecProveNodata, nsecProveNxdomain, nsecProveWildcardAnswer } from './nsec';
import { ValidationBudget } from './budget';
import { MAX_DENIAL_RRSETS } from './chain';
import {
  DEFAULT_NSEC3_LIMITS,
  type Nsec3Limits,
  type Nsec3Record,
  nsec3ProveNodata,
  nsec3ProveNxdomain,
  nsec3ProveWildcardAnswer,
} from './nsec3';
import { type RrsetResult, verifyRrset } from './rrsig';
import { groupRRsets, nameLabel, optOutButSignedBy, rrsetLabel, sigsFor, typeLabel } from './util';
import { bogus, Ede, indeterminate, SECURE, type Verdict, worst } from './verdict';

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

/** What part of the proof an RRset is. */
export type RRsetRole = 'cname' | 'dname' | 'answer' | 'denial';

/** One RRset exactly as the validator judged it: the only form in which DNS data leaves the validator. */
export interface ValidatedRRset {
  name: Name;
  type: number;
  class: number;
  /** The records, TTLs capped to `ttl`. No RRSIGs. */
  records: RR[];
  /** The RRSIG that verified (for DO clients); [] for insecure data and synthesised CNAMEs. */
  sigs: RR[];
  /** Seconds the RRset may be kept: RFC 4035 §5.3.3 for secure data, the records' own TTL otherwise. */
  ttl: number;
  /** Unix seconds at which the verifying RRSIG expires (secure data only). */
  sigExpiry?: number;
  security: 'secure' | 'insecure';
  role: RRsetRole;
  /** A CNAME we synthesised from a validated DNAME (RFC 6672 §5.3.1), not a record from upstream. */
  synthesized?: boolean;
}

/** One step of following qname through the answer section. */
export type Step =
  | { kind: 'answer'; sname: Name; rrs: RR[] }
  | { kind: 'cname'; sname: Name; rrs: RR[]; target: Name }
  | { kind: 'dname'; sname: Name; rrs: RR[]; owner: Name; target: Name }
  | { kind: 'negative'; sname: Name }
  | { kind: 'loop'; sname: Name };

/** A step's verdict and the RRsets it vouches for (none unless the verdict is secure or insecure). */
export interface StepResult {
  step: Step['kind'];
  name: Name;
  verdict: Verdict;
  rrsets: ValidatedRRset[];
}

/** Where the records of `sname` (for qtype) must be looked up: the DS of a name lives in its parent. */
export function zoneKey(sname: Name, qtype: number): Name {
  return qtype === RRType.DS ? (parentName(sname) ?? '') : sname;
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
    const direct =
      q.type === RRType.ANY
        ? msg.answers.filter((r) => r.type !== RRType.RRSIG && nameEquals(r.name, sname))
        : rrsetAt(msg.answers, sname, q.type);
    if (direct.length > 0) {
      steps.push({ kind: 'answer', sname, rrs: direct });
      return steps;
    }
    // A DNAME at an ancestor takes precedence over the synthesised CNAME that accompanies it.
    const dnames = msg.answers.filter((r) => r.type === RRType.DNAME && isSubdomain(sname, r.name) && !nameEquals(sname, r.name));
    if (dnames.length > 0 && q.type !== RRType.DNAME) {
      const owner = dnames.sort((a, b) => labelCount(b.name) - labelCount(a.name))[0]!.name;
      const rrs = rrsetAt(msg.answers, owner, RRType.DNAME);
      let target: Name | null;
      try {
        target = dnameSubstitute(sname, owner, decodeNameRdata(rrs[0]!.rdata));
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
    const cname = q.type === RRType.CNAME ? [] : rrsetAt(msg.answers, sname, RRType.CNAME);
    if (cname.length > 0) {
      let target: Name;
      try {
        target = decodeNameRdata(cname[0]!.rdata);
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
  // Each name gets the full walk from its anchor, label by label. The signer name an RRSIG claims is
  // never used as a shortcut: a walk that stopped there would not see an unsigned cut below it.
  return followChain(q, msg).map((s) => (s.kind === 'dname' ? s.owner : s.kind === 'cname' ? s.sname : zoneKey(s.sname, q.type)));
}

export interface ResponseResult {
  verdict: Verdict;
  negative: Negative;
  /** Each step of the chain with its verdict and the RRsets it vouches for, in order. */
  steps: StepResult[];
  /** Smallest validated TTL (negative answers: also the SOA MINIMUM, RFC 9077), when secure. */
  ttl?: number;
}

export interface ValidateOptions {
  nowSec: number;
  nsec3?: Nsec3Limits;
  /** The response's work budget (the one the chain walk used: ChainFetcher.budgetFor(ctx)). */
  budget?: ValidationBudget;
}

/** Types that may share an owner with a CNAME (RFC 2181 §10.1, RFC 4035 §2.5). */
const BESIDE_CNAME: ReadonlySet<number> = new Set([RRType.CNAME, RRType.RRSIG, RRType.NSEC, RRType.NSEC3]);

/** A CNAME and other data at one owner: a zone cannot hold that, so the response was tampered with. */
function cnameConflict(answers: RR[], name: Name): string | null {
  let hasCname = false;
  let other: number | null = null;
  for (const r of answers) {
    if (!nameEquals(r.name, name)) continue;
    if (r.type === RRType.CNAME) hasCname = true;
    else if (!BESIDE_CNAME.has(r.type)) other = r.type;
  }
  return hasCname && other !== null
    ? `${nameLabel(name)} has a CNAME and ${typeLabel(other)} records in one answer (RFC 2181 §10.1)`
    : null;
}

function minTtl(rrs: RR[]): number {
  return rrs.length ? Math.min(...rrs.map((r) => r.ttl)) : 0;
}

/**
 * The RRset's records capped to `ttl`, each once: an RRset has no duplicates (RFC 2181 §5) and the
 * signed canonical form has none (RFC 4034 §6.3), so a repeated record is not a second one to cache,
 * serve or install.
 */
function capTtl(rrs: RR[], ttl: number): RR[] {
  const seen = new Set<string>();
  const out: RR[] = [];
  for (const r of rrs) {
    const k = Buffer.from(r.rdata.buffer, r.rdata.byteOffset, r.rdata.length).toString('latin1');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(r.ttl > ttl ? { ...r, ttl } : r);
  }
  return out;
}

/** A verified RRset as a ValidatedRRset (TTL and expiry from the signature that verified). */
function secureSet(rrs: RR[], r: RrsetResult, role: RRsetRole, nowSec: number): ValidatedRRset {
  return {
    name: rrs[0]!.name,
    type: rrs[0]!.type,
    class: rrs[0]!.class,
    records: capTtl(rrs, r.ttl),
    sigs: r.sig ? capTtl([r.sig], r.ttl) : [],
    ttl: r.ttl,
    sigExpiry: r.expiration === undefined ? undefined : Math.floor(nowSec) + secondsUntil(r.expiration, nowSec),
    security: 'secure',
    role,
  };
}

/**
 * Records from a provably unsigned zone: passed on as they came, minus any RRSIGs, with one TTL (a
 * TTL with the top bit set counts as zero, RFC 2181 §8).
 */
function insecureSet(rrs: RR[], role: RRsetRole): ValidatedRRset {
  const low = minTtl(rrs);
  const ttl = low >= 0x80000000 ? 0 : low;
  return {
    name: rrs[0]!.name,
    type: rrs[0]!.type,
    class: rrs[0]!.class,
    records: capTtl(rrs, ttl),
    sigs: [],
    ttl,
    security: 'insecure',
    role,
  };
}

/** The CNAME a DNAME implies for `sname` (RFC 6672 §3.1), with the DNAME's TTL and security. */
function synthesizedCname(sname: Name, target: Name, dname: ValidatedRRset): ValidatedRRset {
  const rr: RR = { name: sname, type: RRType.CNAME, class: dname.class, ttl: dname.ttl, rdata: encodeNameRdata(target) };
  return { ...dname, name: sname, type: RRType.CNAME, records: [rr], sigs: [], role: 'cname', synthesized: true };
}

interface Denial {
  nsec: NsecRecord[];
  nsec3: Nsec3Record[];
  /** The verified NSEC/NSEC3 RRsets, as handed on. */
  sets: ValidatedRRset[];
  failure?: Verdict;
}

/** Authenticated NSEC and NSEC3 records from `zone` in the authority section. */
function denialRecords(msg: Message, st: ZoneStatus, nowSec: number, budget: ValidationBudget): Denial {
  const d: Denial = { nsec: [], nsec3: [], sets: [] };
  const auth = msg.authorities;
  let checked = 0;
  for (const set of groupRRsets(auth)) {
    if (set.type !== RRType.NSEC && set.type !== RRType.NSEC3) continue;
    if (!isSubdomain(set.name, st.zone)) continue; // another zone's denial (e.g. a parent's, for a CNAME target)
    // No proof needs more than three NSEC3 or two NSEC RRsets: filler beyond a few only buys work.
    if (checked++ >= MAX_DENIAL_RRSETS) break;
    const r = verifyRrset(set.rrs, sigsFor(auth, set.name, set.type), st.keys, st.zone, nowSec, budget);
    if (r.verdict.kind !== 'secure') {
      d.failure = d.failure ?? r.verdict;
      continue;
    }
    try {
      if (set.type === RRType.NSEC) d.nsec.push({ owner: set.name, ...decodeNsec(set.rrs[0]!.rdata) });
      else for (const rr of set.rrs) d.nsec3.push({ owner: rr.name, rd: decodeNsec3(rr.rdata) });
      d.sets.push(secureSet(set.rrs, r, 'denial', nowSec));
    } catch {
      d.failure = d.failure ?? bogus('nsec-proof-failed', Ede.DNSSEC_BOGUS, `malformed ${typeLabel(set.type)} at ${nameLabel(set.name)}`);
    }
  }
  return d;
}

/** Chooses NSEC or NSEC3 and runs `withNsec` / `withNsec3`; a forged or missing denial is bogus. */
function prove(
  msg: Message,
  st: ZoneStatus,
  o: ValidateOptions,
  what: string,
  withNsec: (r: NsecRecord[]) => Verdict,
  withNsec3: (r: Nsec3Record[]) => Verdict,
): { verdict: Verdict; sets: ValidatedRRset[] } {
  const d = denialRecords(msg, st, o.nowSec, o.budget!);
  let v: Verdict;
  if (d.nsec.length > 0) v = withNsec(d.nsec);
  else if (d.nsec3.length > 0) v = withNsec3(d.nsec3);
  else if (d.failure) return { verdict: d.failure, sets: [] };
  else
    return {
      verdict: bogus('nsec-missing', Ede.NSEC_MISSING, `${what}: no signed NSEC or NSEC3 records from ${nameLabel(st.zone)}`),
      sets: [],
    };
  // A bad signature on some denial record matters only if the valid ones did not prove the claim.
  if (v.kind === 'bogus' && d.failure) return { verdict: d.failure, sets: [] };
  return { verdict: v, sets: v.kind === 'secure' || v.kind === 'insecure' ? d.sets : [] };
}

/** The SOA of the zone in a negative answer, verified: it carries the negative TTL (RFC 2308 §5). */
function zoneSoa(msg: Message, st: ZoneStatus, nowSec: number, budget: ValidationBudget): ValidatedRRset | undefined {
  const soa = rrsetAt(msg.authorities, st.zone, RRType.SOA);
  if (soa.length !== 1) return undefined;
  const r = verifyRrset(soa, sigsFor(msg.authorities, st.zone, RRType.SOA), st.keys, st.zone, nowSec, budget);
  return r.verdict.kind === 'secure' ? secureSet(soa, r, 'denial', nowSec) : undefined;
}

/** The deepest SOA above `sname` in an unsigned negative answer (it still tells clients how long to cache). */
function insecureSoa(msg: Message, sname: Name): ValidatedRRset | undefined {
  const soas = msg.authorities.filter((r) => r.type === RRType.SOA && isSubdomain(sname, r.name));
  if (soas.length === 0) return undefined;
  const deepest = soas.sort((a, b) => labelCount(b.name) - labelCount(a.name))[0]!;
  return insecureSet([deepest], 'denial');
}

function soaMinimum(set: ValidatedRRset): number {
  try {
    return decodeSoa(set.records[0]!.rdata).minimum;
  } catch {
    return 0;
  }
}

/**
 * Validates `msg` as the answer to `q`. `zoneOf(name)` returns the status computed by the chain walk
 * for each name of `chainNames(q, msg)`. Never throws.
 */
export function validateResponse(
  q: Question,
  msg: Message,
  zoneOf: (name: Name) => ZoneStatus | undefined,
  o: ValidateOptions,
): ResponseResult {
  const limits = o.nsec3 ?? DEFAULT_NSEC3_LIMITS;
  const budget = o.budget ?? new ValidationBudget({ maxNsec3Hashes: limits.maxHashes });
  o = { ...o, budget };
  const results: StepResult[] = [];
  let negative: Negative = null;
  if (msg.rcode !== 0 && msg.rcode !== 3) {
    const v = indeterminate('upstream-error', `upstream answered rcode ${msg.rcode}`);
    // As a step, not only as the verdict: the caller combines steps (validator.ts, over every response
    // of a chain), and no step at all would combine to secure: a forged NOTAUTH a proven NODATA.
    return { verdict: v, negative: null, steps: [{ step: 'negative', name: q.name, verdict: v, rrsets: [] }] };
  }
  const chain = followChain(q, msg);
  const fail = (step: Step, v: Verdict): ResponseResult => ({
    verdict: v,
    negative: null,
    steps: [...results, { step: step.kind, name: step.sname, verdict: v, rrsets: [] }],
  });
  for (const step of chain) {
    if (step.kind === 'loop') {
      return fail(
        step,
        bogus('cname-chain', Ede.DNSSEC_BOGUS, `CNAME/DNAME chain loops or exceeds ${MAX_CHAIN} links at ${nameLabel(step.sname)}`),
      );
    }
    const conflict = step.kind === 'answer' || step.kind === 'cname' ? cnameConflict(msg.answers, step.sname) : null;
    if (conflict) return fail(step, bogus('cname-chain', Ede.DNSSEC_BOGUS, conflict));
    if (step.kind === 'dname') {
      // RFC 6672 §5.3.1: the CNAME sent with a DNAME must be exactly its substitution.
      const sent = rrsetAt(msg.answers, step.sname, RRType.CNAME);
      let target: Name | null;
      try {
        target = sent.length === 1 ? decodeNameRdata(sent[0]!.rdata) : null;
      } catch {
        target = null;
      }
      if (sent.length > 0 && (target === null || !nameEquals(target, step.target))) {
        return fail(
          step,
          bogus(
            'cname-chain',
            Ede.DNSSEC_BOGUS,
            `the CNAME at ${nameLabel(step.sname)} is not the substitution of the DNAME at ${nameLabel(step.owner)} (RFC 6672 §5.3.1)`,
          ),
        );
      }
    }
    if (step.kind === 'answer' && msg.rcode === 3) {
      // The rcode is part of the proof: NXDOMAIN for a name the same message answers is a forgery.
      return fail(step, bogus('rcode-mismatch', Ede.DNSSEC_BOGUS, `NXDOMAIN with an answer for ${rrsetLabel(step.sname, q.type)}`));
    }
    if (step.kind === 'negative') negative = msg.rcode === 3 ? 'nxdomain' : 'nodata';
    const keyName = step.kind === 'dname' ? step.owner : step.kind === 'cname' ? step.sname : zoneKey(step.sname, q.type);
    const found = zoneOf(keyName);
    // Data the zone above an opt-out span signed itself is that zone's: judged, not waved through.
    const st = found && optOutButSignedBy(found, stepSigs(msg, step)) ? { ...found, verdict: SECURE } : found;
    if (!st) {
      results.push({
        step: step.kind,
        name: step.sname,
        verdict: indeterminate('fetch-failed', `no chain of trust computed for ${nameLabel(keyName)}`),
        rrsets: [],
      });
      continue;
    }
    if (st.verdict.kind === 'insecure') {
      results.push({ step: step.kind, name: step.sname, verdict: st.verdict, rrsets: insecureStep(q, msg, step) });
      continue;
    }
    if (st.verdict.kind !== 'secure') {
      results.push({ step: step.kind, name: step.sname, verdict: st.verdict, rrsets: [] });
      continue;
    }
    const r = validateStep(q, msg, step, st, o, limits, budget);
    results.push({
      step: step.kind,
      name: step.sname,
      verdict: r.verdict,
      rrsets: r.verdict.kind === 'secure' || r.verdict.kind === 'insecure' ? r.rrsets : [],
    });
  }
  const verdict = worst(results.map((r) => r.verdict));
  return { verdict, negative, steps: results, ttl: verdict.kind === 'secure' ? proofTtl(results) : undefined };
}

/** Smallest TTL over every RRset the steps vouch for (negative answers: also the SOA MINIMUM, RFC 9077). */
export function proofTtl(steps: readonly StepResult[]): number | undefined {
  let ttl: number | undefined;
  for (const s of steps) {
    for (const set of s.rrsets) {
      ttl = ttl === undefined ? set.ttl : Math.min(ttl, set.ttl);
      if (set.type === RRType.SOA && set.role === 'denial') ttl = Math.min(ttl, soaMinimum(set));
    }
  }
  return ttl;
}

/** The RRSIGs that would vouch for a step: at its owner in the answer, or the denial's in the authority. */
function stepSigs(msg: Message, step: Step): RR[] {
  if (step.kind === 'negative') return msg.authorities.filter((r) => r.type === RRType.RRSIG);
  const owner = step.kind === 'dname' ? step.owner : step.sname;
  return msg.answers.filter((r) => r.type === RRType.RRSIG && nameEquals(r.name, owner));
}

/** The RRsets of a step in a provably unsigned zone: the chain's own records, nothing else. */
function insecureStep(q: Question, msg: Message, step: Step): ValidatedRRset[] {
  switch (step.kind) {
    case 'answer':
      return groupRRsets(step.rrs).map((s) => insecureSet(s.rrs, 'answer'));
    case 'cname':
      return [insecureSet(step.rrs, 'cname')];
    case 'dname': {
      const d = insecureSet(step.rrs, 'dname');
      return [d, synthesizedCname(step.sname, step.target, d)];
    }
    case 'negative': {
      const soa = insecureSoa(msg, step.sname);
      return soa ? [soa] : [];
    }
    default:
      return [];
  }
}

function validateStep(
  q: Question,
  msg: Message,
  step: Step,
  st: ZoneStatus,
  o: ValidateOptions,
  limits: Nsec3Limits,
  budget: ValidationBudget,
): { verdict: Verdict; rrsets: ValidatedRRset[] } {
  switch (step.kind) {
    case 'answer':
    case 'cname':
    case 'dname': {
      const owner = step.kind === 'dname' ? step.owner : step.sname;
      const role: RRsetRole = step.kind;
      const sets = step.kind === 'answer' && q.type === RRType.ANY ? groupRRsets(step.rrs) : [{ rrs: step.rrs, type: step.rrs[0]!.type }];
      const out: ValidatedRRset[] = [];
      for (const set of sets) {
        const r = verifyRrset(set.rrs, sigsFor(msg.answers, owner, set.type), st.keys, st.zone, o.nowSec, budget);
        if (r.verdict.kind !== 'secure') return { verdict: r.verdict, rrsets: [] };
        out.push(secureSet(set.rrs, r, role, o.nowSec));
        if (r.wildcard) {
          if (step.kind === 'dname')
            return {
              verdict: bogus('labels-mismatch', Ede.DNSSEC_BOGUS, `DNAME at ${nameLabel(owner)} claims wildcard expansion`),
              rrsets: [],
            };
          const wildcard = r.wildcard;
          const w = prove(
            msg,
            st,
            o,
            `wildcard answer ${rrsetLabel(step.sname, set.type)}`,
            (n) => nsecProveWildcardAnswer(n, step.sname, wildcard, st.zone),
            (n3) => nsec3ProveWildcardAnswer(n3, step.sname, wildcard, st.zone, limits, budget),
          );
          if (w.verdict.kind !== 'secure') return { verdict: w.verdict, rrsets: w.verdict.kind === 'insecure' ? [...out, ...w.sets] : [] };
          out.push(...w.sets);
        }
      }
      if (step.kind === 'dname') out.push(synthesizedCname(step.sname, step.target, out[0]!));
      return { verdict: SECURE, rrsets: out };
    }
    case 'negative': {
      const qtype = q.type; // after a CNAME the target is denied for the same type
      const p =
        msg.rcode === 3
          ? prove(
              msg,
              st,
              o,
              `NXDOMAIN for ${nameLabel(step.sname)}`,
              (n) => nsecProveNxdomain(n, step.sname, st.zone),
              (n3) => nsec3ProveNxdomain(n3, step.sname, st.zone, limits, budget),
            )
          : prove(
              msg,
              st,
              o,
              `NODATA for ${rrsetLabel(step.sname, qtype)}`,
              (n) => nsecProveNodata(n, step.sname, qtype, st.zone),
              (n3) => nsec3ProveNodata(n3, step.sname, qtype, st.zone, limits, budget),
            );
      if (p.verdict.kind !== 'secure' && p.verdict.kind !== 'insecure') return { verdict: p.verdict, rrsets: [] };
      const soa = zoneSoa(msg, st, o.nowSec, budget);
      return { verdict: p.verdict, rrsets: soa ? [...p.sets, soa] : p.sets };
    }
    default:
      return { verdict: bogus('cname-chain', Ede.DNSSEC_BOGUS, 'unexpected step'), rrsets: [] };
  }
}

/** Unix seconds of the earliest signature expiry among `sets` (undefined when none is signed). */
export function earliestExpiry(sets: readonly ValidatedRRset[]): number | undefined {
  let min: number | undefined;
  for (const s of sets) if (s.sigExpiry !== undefined && (min === undefined || s.sigExpiry < min)) min = s.sigExpiry;
  return min;
}
