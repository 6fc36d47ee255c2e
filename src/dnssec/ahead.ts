// Which public-key checks a response is about to need, so that they can be made ahead on the thread
// pool (crypto.ts verifyAhead) while the main thread goes on: the three P-256 checks of a new name
// (its answer, its key answer, the denial of its DS) cost ~115 µs each and were made one after the
// other on the one JavaScript thread. The planning is pure: it works from the response and the zone keys the
// walk proved. Nothing here judges anything: validateResponse and classifyDsResponse still make every
// decision, and a check made ahead is used only for exactly the bytes it was made on.
import { isSubdomain, nameEquals } from '../wire/name';
import { RRType, type Message, type Name, type Question } from '../wire/types';
import type { ValidationBudget } from './budget';
import { verifyAhead } from './crypto';
import { MAX_DENIAL_RRSETS, type SecureZone } from './chain';
import { likelyCheck, type LikelyCheck } from './rrsig';
import { groupRRsets, sigsFor } from './util';
import { followChain, zoneKey, type ZoneStatus } from './validate';

/** Checks planned for one response at most (each RRset gives at most one). */
export const MAX_AHEAD = 8;

/** The checks validateResponse(q, msg, zoneOf) will most likely make, for zones proven secure. */
export function responseChecks(q: Question, msg: Message, zoneOf: (name: Name) => ZoneStatus | undefined, nowSec: number): LikelyCheck[] {
  if (msg.rcode !== 0 && msg.rcode !== 3) return [];
  const out: LikelyCheck[] = [];
  const add = (c: LikelyCheck | null): void => {
    if (c && out.length < MAX_AHEAD) out.push(c);
  };
  let last: ZoneStatus | undefined;
  let negative = false;
  for (const step of followChain(q, msg)) {
    if (step.kind === 'loop') return out;
    const keyName = step.kind === 'dname' ? step.owner : step.kind === 'cname' ? step.sname : zoneKey(step.sname, q.type);
    const st = zoneOf(keyName);
    if (!st || st.verdict.kind !== 'secure') continue;
    last = st;
    if (step.kind === 'negative') {
      negative = true;
      continue;
    }
    if (step.kind === 'answer' && q.type === RRType.ANY) continue;
    const owner = step.kind === 'dname' ? step.owner : step.sname;
    add(likelyCheck(step.rrs, sigsFor(msg.answers, owner, step.rrs[0]!.type), st.keys, st.zone, nowSec));
  }
  if (!last) return out;
  // Denials (a negative answer, or the proof beside a wildcard expansion) and a negative answer's SOA.
  let denials = 0;
  for (const set of groupRRsets(msg.authorities)) {
    const denial = set.type === RRType.NSEC || set.type === RRType.NSEC3;
    if (!(denial || (negative && set.type === RRType.SOA && nameEquals(set.name, last.zone))) || !isSubdomain(set.name, last.zone))
      continue;
    if (denial && denials++ >= MAX_DENIAL_RRSETS) continue;
    add(likelyCheck(set.rrs, sigsFor(msg.authorities, set.name, set.type), last.keys, last.zone, nowSec));
  }
  return out;
}

/** The checks classifyDsResponse(parent, child, msg) will most likely make. */
export function dsChecks(parent: SecureZone, child: Name, msg: Message, nowSec: number): LikelyCheck[] {
  if (msg.rcode !== 0 && msg.rcode !== 3) return [];
  for (const type of [RRType.DS, RRType.CNAME]) {
    const rrs = msg.answers.filter((r) => r.type === type && nameEquals(r.name, child));
    if (rrs.length > 0) {
      const c = likelyCheck(rrs, sigsFor(msg.answers, child, type), parent.keys, parent.zone, nowSec);
      return c ? [c] : [];
    }
  }
  const out: LikelyCheck[] = [];
  for (const set of groupRRsets(msg.authorities)) {
    if ((set.type !== RRType.NSEC && set.type !== RRType.NSEC3) || !isSubdomain(set.name, parent.zone)) continue;
    if (out.length >= MAX_DENIAL_RRSETS) break;
    const c = likelyCheck(set.rrs, sigsFor(msg.authorities, set.name, set.type), parent.keys, parent.zone, nowSec);
    if (c) out.push(c);
  }
  return out;
}

/**
 * Makes `checks` on the thread pool, all at once; resolves when all are done (never rejects). Each is
 * charged to `budget` now (a wrong guess is work too, and the response chose what is guessed); those the
 * budget has no room for are not made ahead. A success found later by verifyRrset is not charged again.
 */
export function checkAhead(checks: readonly LikelyCheck[], budget: ValidationBudget): Promise<unknown> | undefined {
  const n = budget.takeAhead(checks.length);
  if (n === 0) return undefined;
  return Promise.all(checks.slice(0, n).map((c) => verifyAhead(c.alg, c.key, c.data, c.sig)));
}
