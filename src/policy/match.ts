// Which rule applies to a name, to an address, and to both. Most specific first, and every answer says
// why, because "why did oedns refuse bank.example?" is the first question anyone asks.
import type { PolicyLevel } from '../peers/model';
import { type Cidr, cidrContains, formatAddress, parseAddress } from './ip';
import { describeRule, labelCount, foldName, type Policy, type Rule, strictness, stricter } from './rules';

export interface Match {
  level: PolicyLevel;
  /** The rule that applies; null when the default does. */
  rule: Rule | null;
  why: string;
}

export interface PeerMatch extends Match {
  name: Match;
  /** One entry per address, in input order. */
  addresses: Array<Match & { address: string }>;
}

/**
 * Specificity of a name rule for a name it matches; higher wins. Exact beats everything; then the rule
 * anchored deeper in the tree; at equal depth `*.base` beats `zone base` since it covers less (not the
 * apex). Rules never tie: duplicates are refused when the file is parsed.
 */
function nameScore(rule: Rule, name: string): number | null {
  const s = rule.selector;
  switch (s.kind) {
    case 'name':
      return s.name === name ? 1_000_000 : null;
    case 'wildcard':
      return name.endsWith(`.${s.base}`) ? labelCount(s.base) * 2 + 1 : null;
    case 'zone':
      return name === s.zone || name.endsWith(`.${s.zone}`) ? labelCount(s.zone) * 2 : null;
    case 'address':
      return null;
  }
}

export function matchName(policy: Policy, name: string): Match {
  const n = foldName(name);
  let best: Rule | null = null;
  let bestScore = -1;
  for (const r of policy.rules) {
    const sc = nameScore(r, n);
    if (sc !== null && sc > bestScore) {
      best = r;
      bestScore = sc;
    }
  }
  if (!best) return { level: policy.default, rule: null, why: `no rule matches ${n || '.'}: default level ${policy.default}` };
  const how =
    best.selector.kind === 'name'
      ? 'exact name rule'
      : best.selector.kind === 'wildcard'
        ? 'most specific wildcard rule'
        : 'most specific zone rule';
  return { level: best.level, rule: best, why: `${how}: ${describeRule(best)}${comment(best)}` };
}

/** Longest prefix wins. An unparsable address matches no rule (the caller validated it already). */
export function matchAddress(policy: Policy, address: string): Match {
  const a = parseAddress(address.trim());
  let best: { rule: Rule; cidr: Cidr } | null = null;
  for (const r of policy.rules) {
    if (r.selector.kind !== 'address' || !a) continue;
    const cidr = r.selector.cidr;
    if (cidrContains(cidr, a) && (!best || cidr.prefix > best.cidr.prefix)) best = { rule: r, cidr };
  }
  const shown = a ? formatAddress(a.bytes) : address;
  if (!best) return { level: policy.default, rule: null, why: `no address rule matches ${shown}: default level ${policy.default}` };
  const r = best.rule;
  return { level: r.level, rule: r, why: `${shown} is in ${best.cidr.text}, the longest matching prefix: ${describeRule(r)}${comment(r)}` };
}

/**
 * The level for a name with the addresses it resolved to.
 *
 * - Only one kind of rule applies (or none): that rule (or the default).
 * - Both apply: the stricter level, `block` above all. A name rule says what the user wants for a
 *   service, an address rule what they want for a network; taking the stricter means neither can
 *   quietly weaken the other (a `clear` name pointing into a `private` network stays private, and a
 *   name anyone can publish cannot walk traffic out of a `block`ed range).
 * - Several addresses: the strictest of their rules, since the program may use any of them.
 * - `addressesAuthenticated: false` (the address answer is not DNSSEC-secure): an address rule cannot
 *   lower the default of a name no rule mentions, since the address may be forged.
 */
export function matchPeer(
  policy: Policy,
  name: string,
  addresses: readonly string[],
  opts: { addressesAuthenticated?: boolean } = {},
): PeerMatch {
  const nm = matchName(policy, name);
  const ams = addresses.map((address) => ({ address, ...matchAddress(policy, address) }));
  const withRule = ams.filter((m) => m.rule !== null);
  if (withRule.length === 0) return { ...nm, name: nm, addresses: ams };
  let strictest = withRule[0]!;
  for (const m of withRule) if (strictness(m.level) > strictness(strictest.level)) strictest = m;
  // An address nobody signed may be an attacker's choice: it can raise the level, never lower the
  // default below what the name would get on its own.
  const mayLower = opts.addressesAuthenticated ?? true;
  if (nm.rule === null && (mayLower || strictness(strictest.level) >= strictness(nm.level))) {
    return {
      level: strictest.level,
      rule: strictest.rule,
      why: `${strictest.why} (overrides the default for names)`,
      name: nm,
      addresses: ams,
    };
  }
  if (nm.rule === null) {
    return {
      ...nm,
      why: `${nm.why}; the address rule (${strictest.why}) would lower it, but the address is not DNSSEC-signed`,
      name: nm,
      addresses: ams,
    };
  }
  const level = stricter(nm.level, strictest.level);
  if (level === nm.level && strictness(nm.level) >= strictness(strictest.level)) {
    const why =
      nm.level === strictest.level
        ? `${nm.why}; the address rule agrees (${strictest.why})`
        : `${nm.why}; it is stricter than the address rule (${strictest.why})`;
    return { level, rule: nm.rule, why, name: nm, addresses: ams };
  }
  return {
    level,
    rule: strictest.rule,
    why: `${strictest.why}; it is stricter than the name rule (${nm.why}), and the stricter of the two applies`,
    name: nm,
    addresses: ams,
  };
}

/**
 * `m` (the match for `name`) raised to the strictest level among the other names of its CNAME/DNAME
 * chain, with the reason saying which name set it. Only ever stricter: a chain cannot lower a level.
 */
export function matchChain<T extends Match>(policy: Policy, m: T, name: string, chain: readonly string[]): T {
  let out = m;
  const self = foldName(name);
  for (const raw of chain) {
    const n = foldName(raw);
    if (n === self || n === '') continue;
    const cm = matchName(policy, n);
    if (strictness(cm.level) > strictness(out.level)) {
      out = {
        ...out,
        level: cm.level,
        rule: cm.rule,
        why: `${cm.why} (${n} is in the CNAME chain of ${self}; the strictest level of the chain applies)`,
      };
    }
  }
  return out;
}

function comment(r: Rule): string {
  return r.comment ? ` — ${r.comment}` : '';
}
