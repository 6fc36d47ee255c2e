// Addresses reach programs through more than A and AAAA answers: HTTPS/SVCB records carry ipv4hint
// and ipv6hint (browsers connect to them before, or instead of, an A lookup; RFC 9460 §7.3), and an
// ANY answer lists the A/AAAA records themselves. Capture only installs peers on A/AAAA lookups, so
// for names it protects these must not hand out an address: found by a review, an HTTPS lookup gave a
// `private` name's address out while its A lookup failed closed. Pure: message and policy in, message out.
import { matchAddress, matchName, type Policy } from '../policy';
import { formatAddress } from '../policy/ip';
import { decodeName } from '../wire/name';
import { type Message, type RR, RRClass, RRType } from '../wire/types';

const SVCB = 64;
const HTTPS = 65;
const ANY = 255;
const HINFO = 13;
/** SvcParamKeys ipv4hint (4) and ipv6hint (6), RFC 9460 §14.3.2. */
const HINT_KEYS = new Set([4, 6]);

/** What a question needs: nothing, an RFC 8482 answer instead of ANY, or hints taken out. */
export type LeakGuard = 'none' | 'minimal-any' | 'strip-hints';

/** Is a name (or address) one that capture protects, i.e. not plain `clear`? */
function protectedName(policy: Policy, name: string): boolean {
  return matchName(policy, name).level !== 'clear';
}

function hasAddressRules(policy: Policy): boolean {
  return policy.rules.some((r) => r.selector.kind === 'address' && r.level !== 'clear');
}

/** Decided from the question alone, so the cache-hit path can ask it before anything else. */
export function leakGuardFor(policy: Policy, q: { name: string; type: number; class: number }): LeakGuard {
  if (q.class !== RRClass.IN) return 'none';
  if (q.type === ANY) return protectedName(policy, q.name) || hasAddressRules(policy) ? 'minimal-any' : 'none';
  // The hints of an HTTPS/SVCB answer may belong to a CNAME target or a TargetName under another
  // policy: every answer of these types is checked record by record (stripHints).
  if (q.type === HTTPS || q.type === SVCB) return 'strip-hints';
  return 'none';
}

/**
 * RFC 8482 §4.2: one synthesized HINFO "RFC8482" "" instead of the name's records. Not validated
 * data, so no AD (the caller serves it without a proof).
 */
export function minimalAnyAnswer(response: Message): Message {
  const rdata = new Uint8Array([7, ...Buffer.from('RFC8482'), 0]);
  const q = response.questions[0]!;
  const hinfo: RR = { name: q.name, type: HINFO, class: RRClass.IN, ttl: 3600, rdata };
  return { ...response, ad: false, aa: false, rcode: 0, answers: [hinfo], authorities: [], additionals: [] };
}

interface SvcbParts {
  target: string;
  params: Array<{ key: number; value: Uint8Array }>;
  prefix: Uint8Array;
}

/** SvcPriority, TargetName, SvcParams; null when the RDATA does not parse (then it is dropped whole). */
function parseSvcb(rdata: Uint8Array): SvcbParts | null {
  try {
    if (rdata.length < 3) return null;
    const { name, next } = decodeName(rdata, 2);
    const params: SvcbParts['params'] = [];
    let at = next;
    while (at < rdata.length) {
      if (at + 4 > rdata.length) return null;
      const key = (rdata[at]! << 8) | rdata[at + 1]!;
      const len = (rdata[at + 2]! << 8) | rdata[at + 3]!;
      if (at + 4 + len > rdata.length) return null;
      params.push({ key, value: rdata.subarray(at + 4, at + 4 + len) });
      at += 4 + len;
    }
    return { target: name, params, prefix: rdata.subarray(0, next) };
  } catch {
    return null;
  }
}

/** The addresses a hint value lists (4 bytes each for ipv4hint, 16 for ipv6hint). */
function hintAddresses(key: number, value: Uint8Array): string[] {
  const size = key === 4 ? 4 : 16;
  const out: string[] = [];
  for (let i = 0; i + size <= value.length; i += size) out.push(formatAddress(value.subarray(i, i + size)));
  return out;
}

function hintsProtected(policy: Policy, owner: string, p: SvcbParts): boolean {
  // TargetName "." means the owner itself (RFC 9460 §2.5).
  const target = p.target === '.' || p.target === '' ? owner : p.target;
  if (protectedName(policy, owner) || protectedName(policy, target)) return true;
  // Only an address rule raises a hint address; the default level is the names' business (above).
  return p.params.some(
    (x) =>
      HINT_KEYS.has(x.key) &&
      hintAddresses(x.key, x.value).some((a) => {
        const m = matchAddress(policy, a);
        return m.rule !== null && m.level !== 'clear';
      }),
  );
}

/**
 * The parameters without the hints; `mandatory` (key 0) loses them too, or the record would name keys
 * it lacks and be malformed (RFC 9460 §8: clients drop it), and goes when nothing is left in it.
 */
function withoutHints(p: SvcbParts): Uint8Array {
  const kept: SvcbParts['params'] = [];
  for (const x of p.params) {
    if (HINT_KEYS.has(x.key)) continue;
    if (x.key !== 0) {
      kept.push(x);
      continue;
    }
    const keys: number[] = [];
    for (let i = 0; i + 1 < x.value.length; i += 2) keys.push((x.value[i]! << 8) | x.value[i + 1]!);
    const left = keys.filter((k) => !HINT_KEYS.has(k));
    if (left.length > 0) kept.push({ key: 0, value: new Uint8Array(left.flatMap((k) => [k >> 8, k & 0xff])) });
  }
  const size = p.prefix.length + kept.reduce((n, x) => n + 4 + x.value.length, 0);
  const out = new Uint8Array(size);
  out.set(p.prefix, 0);
  let at = p.prefix.length;
  for (const x of kept) {
    out[at] = x.key >> 8;
    out[at + 1] = x.key & 0xff;
    out[at + 2] = x.value.length >> 8;
    out[at + 3] = x.value.length & 0xff;
    out.set(x.value, at + 4);
    at += 4 + x.value.length;
  }
  return out;
}

/**
 * The response with ipv4hint/ipv6hint taken out of every HTTPS/SVCB record whose owner, target or
 * hinted addresses policy protects, or null when nothing had to change. The changed RRsets lose their
 * RRSIGs (they no longer match), so the caller must serve the result without AD. Unparsable SVCB
 * RDATA of a protected name is dropped whole rather than passed on unread.
 */
export function stripHints(policy: Policy, response: Message): Message | null {
  const changedOwners = new Map<string, Set<number>>();
  const answers: RR[] = [];
  let changed = false;
  for (const rr of response.answers) {
    if ((rr.type !== SVCB && rr.type !== HTTPS) || rr.class !== RRClass.IN) {
      answers.push(rr);
      continue;
    }
    const parts = parseSvcb(rr.rdata);
    const mark = (): void => {
      changed = true;
      const key = rr.name.toLowerCase();
      const types = changedOwners.get(key) ?? new Set<number>();
      types.add(rr.type);
      changedOwners.set(key, types);
    };
    if (!parts) {
      if (protectedName(policy, rr.name)) mark();
      else answers.push(rr);
      continue;
    }
    if (!parts.params.some((x) => HINT_KEYS.has(x.key)) || !hintsProtected(policy, rr.name, parts)) {
      answers.push(rr);
      continue;
    }
    mark();
    answers.push({ ...rr, rdata: withoutHints(parts) });
  }
  if (!changed) return null;
  const covers = (rr: RR): boolean => {
    if (rr.type !== RRType.RRSIG || rr.rdata.length < 2) return false;
    const covered = (rr.rdata[0]! << 8) | rr.rdata[1]!;
    return changedOwners.get(rr.name.toLowerCase())?.has(covered) ?? false;
  };
  return { ...response, ad: false, answers: answers.filter((rr) => !covers(rr)) };
}
