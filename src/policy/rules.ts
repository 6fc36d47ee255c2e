// The parsed policy: a default level, knobs, and rules selecting names or addresses. Plain data, built
// by load.ts and read by match.ts and decide.ts; nothing here does I/O.
import type { PolicyLevel } from '../peers/model';
import type { Cidr } from './ip';

export const LEVELS: readonly PolicyLevel[] = ['private', 'private-or-clear', 'opportunistic', 'clear', 'block'];

export function isLevel(s: unknown): s is PolicyLevel {
  return typeof s === 'string' && (LEVELS as readonly string[]).includes(s);
}

/**
 * How much protection a level demands, from nothing to everything. Used when a name rule and an
 * address rule both apply: the stricter wins, so neither kind of rule can silently weaken the other.
 * `opportunistic` sits above `private-or-clear` because it adds unauthenticated encryption.
 */
const STRICTNESS: Record<PolicyLevel, number> = {
  clear: 0,
  'private-or-clear': 1,
  opportunistic: 2,
  private: 3,
  block: 4,
};

export function strictness(level: PolicyLevel): number {
  return STRICTNESS[level];
}

export function stricter(a: PolicyLevel, b: PolicyLevel): PolicyLevel {
  return STRICTNESS[b] > STRICTNESS[a] ? b : a;
}

export type Selector =
  /** Exactly this name. */
  | { kind: 'name'; name: string }
  /** `*.base`: one or more labels below base, not base itself. */
  | { kind: 'wildcard'; base: string }
  /** The zone apex and everything below it. */
  | { kind: 'zone'; zone: string }
  | { kind: 'address'; cidr: Cidr };

export interface Rule {
  /** Position in the file's rules list, from 0. */
  index: number;
  selector: Selector;
  level: PolicyLevel;
  /** Line in the policy file, from 1, when known. */
  line?: number;
  /** Free text from the file, shown by `policy explain`. */
  comment?: string;
}

/** BTNS fallback (RFC 5386/5387) for `opportunistic` names without a secure key. */
export interface FallbackPolicy {
  /** Accept whatever key the peer shows (learnt on first use). Encrypts, authenticates nothing. */
  anyKey: boolean;
  /** SHA-256 certificate fingerprints, lowercase hex without colons, accepted without DNSSEC. */
  trustedFingerprints: string[];
  /** How the engine builds the unauthenticated SA. */
  method: 'tofu-cert' | 'wellknown-psk' | 'null';
}

export interface Policy {
  default: PolicyLevel;
  /** Trust IPSECKEYs from unsigned zones. Off: anyone on the path could forge them. */
  trustInsecure: boolean;
  /** Upper bound, in seconds, on how long an installed peer lives without a refresh. */
  maxTtl: number;
  fallback: FallbackPolicy;
  /**
   * Zones whose names may route their traffic through a security gateway their IPSECKEY names
   * (RFC 4025 gateway types 1-3, other than the host itself). Empty by default: any signed name can
   * list any addresses, so a gateway from an arbitrary zone would let it pull those addresses' traffic
   * into a tunnel it ends.
   */
  gateways: string[];
  rules: Rule[];
  /** Things that are allowed but weaken security; `policy check` prints them. */
  warnings: string[];
}

export const DEFAULT_MAX_TTL = 3600;

/** The policy in force when no file is given: encrypt where DNSSEC proves a key, clear otherwise. */
export function defaultPolicy(): Policy {
  return {
    default: 'private-or-clear',
    trustInsecure: false,
    maxTtl: DEFAULT_MAX_TTL,
    fallback: { anyKey: false, trustedFingerprints: [], method: 'tofu-cert' },
    gateways: [],
    rules: [],
    warnings: [],
  };
}

/** May `name` (normalized) use an IPSECKEY security gateway? Only under a zone listed in `gateways`. */
export function gatewayAllowed(policy: Policy, name: string): boolean {
  return policy.gateways.some((z) => name === z || name.endsWith(`.${z}`));
}

/** May `opportunistic` names without a secure key fall back to unauthenticated encryption? */
export function fallbackAllowed(f: FallbackPolicy): boolean {
  return f.anyKey || f.trustedFingerprints.length > 0;
}

/**
 * The form policy compares names in: case folded (RFC 4343), no trailing dot, root ''. Not validated
 * (nameProblem() says what is wrong with a rule's name); src/wire/name.ts's normalizeName is another
 * thing: it validates presentation text and keeps the case.
 */
export function foldName(s: string): string {
  let n = s.trim().toLowerCase();
  if (n.endsWith('.') && n !== '.') n = n.slice(0, -1);
  return n === '.' ? '' : n;
}

/** Why a (normalized) name is not acceptable in a rule, or null. */
export function nameProblem(n: string): string | null {
  if (n === '') return 'the root is not a rule (use "default")';
  if (n.length > 253) return 'longer than 253 characters';
  for (const label of n.split('.')) {
    if (label.length === 0) return 'has an empty label';
    if (label.length > 63) return `label "${label.slice(0, 20)}…" is longer than 63 characters`;
    if (!/^[a-z0-9_-]+$/.test(label)) return `label "${label}" has characters other than letters, digits, "-" and "_"`;
  }
  return null;
}

/**
 * Why `n` (lower case, no trailing dot) is not an LDH hostname (RFC 952/1123: letters, digits and
 * inner hyphens, labels of 1–63, at most 253 in all), or null. Peer names become IKE identities and
 * engine conn names, so nothing else may pass.
 */
export function hostnameProblem(n: string): string | null {
  if (n === '') return 'the root is not a host name';
  if (n.length > 253) return 'longer than 253 characters';
  for (const label of n.split('.')) {
    if (label.length === 0) return 'has an empty label';
    if (label.length > 63) return `label "${label.slice(0, 20)}…" is longer than 63 characters`;
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(label)) return `label "${label.slice(0, 63)}" is not letters, digits and inner hyphens`;
  }
  return null;
}

export function labelCount(n: string): number {
  return n === '' ? 0 : n.split('.').length;
}

/** The rule as one would write it, e.g. `zone example.org`. */
export function describeSelector(s: Selector): string {
  switch (s.kind) {
    case 'name':
      return `name ${s.name}`;
    case 'wildcard':
      return `name *.${s.base}`;
    case 'zone':
      return `zone ${s.zone}`;
    case 'address':
      return `address ${s.cidr.text}`;
  }
}

export function describeRule(r: Rule): string {
  const where = r.line !== undefined ? ` (rules[${r.index}], line ${r.line})` : ` (rules[${r.index}])`;
  return `${describeSelector(r.selector)} → ${r.level}${where}`;
}

/** A key identifying what a rule selects, to find duplicates. */
export function selectorKey(s: Selector): string {
  switch (s.kind) {
    case 'name':
      return `name:${s.name}`;
    case 'wildcard':
      return `wildcard:${s.base}`;
    case 'zone':
      return `zone:${s.zone}`;
    case 'address':
      return `address:${s.cidr.text}`;
  }
}
