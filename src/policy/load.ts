// Policy text (YAML or JSON) → Policy. Pure: the caller reads the file. Every error names the line,
// the field and why, because a policy file is edited by hand and a vague error wastes an afternoon.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { ConfigError } from '../util/errors';
import type { PolicyLevel } from '../peers/model';
import { parseCidr } from './ip';
import {
  DEFAULT_MAX_TTL,
  type FallbackPolicy,
  isLevel,
  LEVELS,
  nameProblem,
  foldName,
  type Policy,
  type Rule,
  type Selector,
  selectorKey,
  describeSelector,
} from './rules';

export type PolicyFormat = 'yaml' | 'json';

/** Error codes of PolicyError; tests assert these. */
export const PolicyErrorCode = {
  SYNTAX: 'POLICY_SYNTAX',
  UNKNOWN_KEY: 'POLICY_UNKNOWN_KEY',
  BAD_LEVEL: 'POLICY_BAD_LEVEL',
  BAD_CIDR: 'POLICY_BAD_CIDR',
  BAD_NAME: 'POLICY_BAD_NAME',
  BAD_RULE: 'POLICY_BAD_RULE',
  DUPLICATE_RULE: 'POLICY_DUPLICATE_RULE',
  BAD_VALUE: 'POLICY_BAD_VALUE',
  BAD_FINGERPRINT: 'POLICY_BAD_FINGERPRINT',
} as const;

/** A bad policy file. A ConfigError, so CLIs exit 2. */
export class PolicyError extends ConfigError {
  constructor(
    code: string,
    readonly field: string,
    readonly line: number | undefined,
    readonly why: string,
  ) {
    super(code, `policy${line !== undefined ? ` line ${line}` : ''}${field ? `, ${field}` : ''}: ${why}`);
  }
}

const TOP_KEYS = ['default', 'trust-insecure', 'max-ttl', 'fallback', 'gateways', 'rules', 'comment', 'version'];
const FALLBACK_KEYS = ['any-key', 'trusted-fingerprints', 'method'];
const RULE_KEYS = ['name', 'zone', 'address', 'level', 'comment'];
const METHODS: readonly FallbackPolicy['method'][] = ['tofu-cert', 'wellknown-psk', 'null'];
const MAX_TTL_LIMIT = 2147483647; // RFC 2181 §8: TTLs are 31-bit

/** The format a file name suggests; YAML unless it ends in .json. */
export function formatFromPath(path: string): PolicyFormat {
  return /\.json$/i.test(path) ? 'json' : 'yaml';
}

/**
 * Parse a policy document. Without `format`, text starting with `{` is JSON, anything else YAML
 * (JSON is also valid YAML 1.2, so guessing wrong only loses JSON's stricter syntax check).
 * Throws PolicyError (a ConfigError) with one of PolicyErrorCode.
 */
export function parsePolicy(text: string, format?: PolicyFormat): Policy {
  const fmt = format ?? (text.trimStart().startsWith('{') ? 'json' : 'yaml');
  const lc = new LineCounter();
  if (fmt === 'json') {
    try {
      JSON.parse(text);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      // Node 20 does not always give a position; YAML's parser usually finds the same fault with one.
      const pos = /position (\d+)/.exec(msg);
      const y = parseDocument(text, { lineCounter: lc, prettyErrors: false }).errors[0];
      const line = pos ? lineAt(text, Number(pos[1])) : y ? lc.linePos(y.pos[0]).line : undefined;
      throw new PolicyError(PolicyErrorCode.SYNTAX, '', line, `not valid JSON: ${msg}`);
    }
  }
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = lc.linePos(first.pos[0]).line;
    const what = first.code === 'DUPLICATE_KEY' ? 'a key appears twice in the same mapping' : first.message.split('\n')[0];
    throw new PolicyError(PolicyErrorCode.SYNTAX, '', line, `not valid ${fmt.toUpperCase()}: ${what}`);
  }
  const p = new Parser(lc);
  return p.document(doc.contents);
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

class Parser {
  constructor(private readonly lc: LineCounter) {}

  private line(node: unknown): number | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lc.linePos(range[0]).line : undefined;
  }

  private fail(code: string, field: string, node: unknown, why: string): never {
    throw new PolicyError(code, field, this.line(node), why);
  }

  document(root: YamlNode | null): Policy {
    if (root === null || root === undefined) {
      this.fail(PolicyErrorCode.BAD_VALUE, '', null, 'the document is empty (expected a mapping with at least "default")');
    }
    const top = this.mapping(root, '(top level)');
    this.checkKeys(top, TOP_KEYS, '');
    const warnings: string[] = [];

    const version = top.get('version', true);
    if (version !== undefined && !(isScalar(version) && version.value === 1)) {
      this.fail(PolicyErrorCode.BAD_VALUE, 'version', version, 'only version 1 exists');
    }
    const comment = top.get('comment', true);
    if (comment !== undefined) this.string(comment, 'comment');

    const defNode = top.get('default', true);
    const def: PolicyLevel = defNode === undefined ? 'private-or-clear' : this.level(defNode, 'default');

    const trustInsecure = this.bool(top.get('trust-insecure', true), 'trust-insecure', false);
    if (trustInsecure) {
      warnings.push(
        'trust-insecure is on: IPSECKEYs from unsigned zones are trusted, so anyone on the path ' +
          'between this host and those zones can make it accept their key',
      );
    }

    const maxTtlNode = top.get('max-ttl', true);
    const maxTtl = maxTtlNode === undefined ? DEFAULT_MAX_TTL : this.duration(maxTtlNode, 'max-ttl');

    const fallback = this.fallback(top.get('fallback', true));
    if (fallback.anyKey) {
      warnings.push(
        'fallback.any-key is on: "opportunistic" names without a secure key are encrypted with ' +
          'whatever key the peer shows; this defeats passive eavesdropping only, not an active attacker',
      );
    }

    const gateways = this.gateways(top.get('gateways', true));
    if (gateways.length > 0) {
      warnings.push(
        `gateways: names under ${gateways.join(', ')} may send their traffic through any security gateway ` +
          'their IPSECKEY names; list only zones whose DNS you trust with that',
      );
    }

    const rules = this.rules(top.get('rules', true));
    if (
      !rules.some((r) => r.level === 'opportunistic') &&
      def !== 'opportunistic' &&
      (fallback.anyKey || fallback.trustedFingerprints.length > 0)
    ) {
      warnings.push('fallback is configured but no rule (nor the default) uses level "opportunistic", so it is never used');
    }
    return { default: def, trustInsecure, maxTtl, fallback, gateways, rules, warnings };
  }

  private mapping(node: unknown, field: string): YAMLMap {
    if (!isMap(node)) this.fail(PolicyErrorCode.BAD_VALUE, field, node, 'expected a mapping (key: value pairs)');
    return node;
  }

  private checkKeys(map: YAMLMap, allowed: readonly string[], prefix: string): void {
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key !== 'string' || !allowed.includes(key)) {
        const k = String(key);
        const hint = closest(k, allowed);
        this.fail(
          PolicyErrorCode.UNKNOWN_KEY,
          prefix + k,
          pair.key,
          `unknown key "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${allowed.join(', ')}`,
        );
      }
    }
  }

  private string(node: unknown, field: string): string {
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.fail(PolicyErrorCode.BAD_VALUE, field, node, 'expected a string');
    }
    return (node as { value: string }).value;
  }

  private bool(node: unknown, field: string, dflt: boolean): boolean {
    if (node === undefined) return dflt;
    if (!isScalar(node) || typeof node.value !== 'boolean') {
      this.fail(PolicyErrorCode.BAD_VALUE, field, node, 'expected true or false');
    }
    return (node as { value: boolean }).value;
  }

  private level(node: unknown, field: string): PolicyLevel {
    const v = isScalar(node) ? node.value : undefined;
    if (!isLevel(v)) {
      const hint = typeof v === 'string' ? closest(v, LEVELS) : undefined;
      this.fail(
        PolicyErrorCode.BAD_LEVEL,
        field,
        node,
        `unknown level ${JSON.stringify(v ?? null)}${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of ${LEVELS.join(', ')}`,
      );
    }
    return v;
  }

  /** Seconds as an integer, or a string with a unit: `90s`, `30m`, `1h`, `1d`. */
  private duration(node: unknown, field: string): number {
    const v = isScalar(node) ? node.value : undefined;
    let secs: number | undefined;
    if (typeof v === 'number' && Number.isInteger(v)) secs = v;
    else if (typeof v === 'string') {
      const m = /^\s*([0-9]+)\s*(s|m|h|d)?\s*$/.exec(v);
      if (m) secs = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
    }
    if (secs === undefined || secs < 1 || secs > MAX_TTL_LIMIT) {
      this.fail(
        PolicyErrorCode.BAD_VALUE,
        field,
        node,
        `expected a whole number of seconds from 1 to ${MAX_TTL_LIMIT} (or e.g. "30m", "1h"), got ${JSON.stringify(v ?? null)}`,
      );
    }
    return secs;
  }

  private gateways(node: unknown): string[] {
    if (node === undefined || node === null) return [];
    if (!isSeq(node)) this.fail(PolicyErrorCode.BAD_VALUE, 'gateways', node, 'expected a list of zones');
    return node.items.map((item, i) => {
      const field = `gateways[${i}]`;
      const raw = this.string(item, field);
      const n = foldName(raw);
      const problem = nameProblem(n);
      if (problem) this.fail(PolicyErrorCode.BAD_NAME, field, item, `"${raw}" ${problem}`);
      return n;
    });
  }

  private fallback(node: unknown): FallbackPolicy {
    const out: FallbackPolicy = { anyKey: false, trustedFingerprints: [], method: 'tofu-cert' };
    if (node === undefined) return out;
    const map = this.mapping(node, 'fallback');
    this.checkKeys(map, FALLBACK_KEYS, 'fallback.');
    out.anyKey = this.bool(map.get('any-key', true), 'fallback.any-key', false);
    const methodNode = map.get('method', true);
    if (methodNode !== undefined) {
      const m = isScalar(methodNode) ? methodNode.value : undefined;
      if (!(METHODS as readonly unknown[]).includes(m)) {
        this.fail(
          PolicyErrorCode.BAD_VALUE,
          'fallback.method',
          methodNode,
          `unknown method ${JSON.stringify(m ?? null)}; expected one of ${METHODS.join(', ')}`,
        );
      }
      out.method = m as FallbackPolicy['method'];
    }
    const fpNode = map.get('trusted-fingerprints', true);
    if (fpNode !== undefined) {
      if (!isSeq(fpNode)) this.fail(PolicyErrorCode.BAD_VALUE, 'fallback.trusted-fingerprints', fpNode, 'expected a list');
      const seen = new Set<string>();
      (fpNode as YAMLSeq).items.forEach((item, i) => {
        const field = `fallback.trusted-fingerprints[${i}]`;
        const raw = this.string(item, field);
        const fp = raw
          .trim()
          .toLowerCase()
          .replace(/^sha256:/, '')
          .replace(/:/g, '');
        if (!/^[0-9a-f]{64}$/.test(fp)) {
          this.fail(
            PolicyErrorCode.BAD_FINGERPRINT,
            field,
            item,
            'expected a SHA-256 fingerprint: 64 hex digits, colons and a "sha256:" prefix allowed',
          );
        }
        if (seen.has(fp)) this.fail(PolicyErrorCode.BAD_FINGERPRINT, field, item, 'listed twice');
        seen.add(fp);
        out.trustedFingerprints.push(fp);
      });
    }
    if (out.method !== 'tofu-cert' && out.trustedFingerprints.length > 0) {
      this.fail(
        PolicyErrorCode.BAD_VALUE,
        'fallback.trusted-fingerprints',
        fpNode,
        `fingerprints only mean something with method tofu-cert (method is ${out.method})`,
      );
    }
    return out;
  }

  private rules(node: unknown): Rule[] {
    if (node === undefined || (isScalar(node) && node.value === null)) return [];
    if (!isSeq(node)) this.fail(PolicyErrorCode.BAD_VALUE, 'rules', node, 'expected a list of rules');
    const out: Rule[] = [];
    const seen = new Map<string, Rule>();
    node.items.forEach((item, index) => {
      const field = `rules[${index}]`;
      const map = this.mapping(item, field);
      this.checkKeys(map, RULE_KEYS, `${field}.`);
      const selectors = (['name', 'zone', 'address'] as const).filter((k) => map.has(k));
      if (selectors.length !== 1) {
        this.fail(
          PolicyErrorCode.BAD_RULE,
          field,
          item,
          selectors.length === 0
            ? 'a rule needs one of "name", "zone" or "address"'
            : `a rule selects by one thing only, found ${selectors.join(' and ')}`,
        );
      }
      const kind = selectors[0]!;
      const selNode = map.get(kind, true);
      const selector = this.selector(kind, selNode, `${field}.${kind}`);
      const levelNode = map.get('level', true);
      if (levelNode === undefined) this.fail(PolicyErrorCode.BAD_RULE, field, item, 'a rule needs a "level"');
      const level = this.level(levelNode, `${field}.level`);
      const commentNode = map.get('comment', true);
      const rule: Rule = { index, selector, level, line: this.line(item) };
      if (commentNode !== undefined) rule.comment = this.string(commentNode, `${field}.comment`);
      const key = selectorKey(selector);
      const prev = seen.get(key);
      if (prev) {
        this.fail(
          PolicyErrorCode.DUPLICATE_RULE,
          field,
          item,
          `duplicate rule for ${describeSelector(selector)}: already rules[${prev.index}]` +
            `${prev.line !== undefined ? ` on line ${prev.line}` : ''}`,
        );
      }
      seen.set(key, rule);
      out.push(rule);
    });
    return out;
  }

  private selector(kind: 'name' | 'zone' | 'address', node: unknown, field: string): Selector {
    const raw = this.string(node, field);
    if (kind === 'address') {
      const r = parseCidr(raw.trim());
      if (!r.ok) this.fail(PolicyErrorCode.BAD_CIDR, field, node, `bad address or CIDR "${raw}": ${r.why}`);
      return { kind: 'address', cidr: r.cidr };
    }
    let n = foldName(raw);
    let wildcard = false;
    if (kind === 'name' && n.startsWith('*.')) {
      wildcard = true;
      n = n.slice(2);
    }
    if (n.includes('*')) {
      this.fail(
        PolicyErrorCode.BAD_NAME,
        field,
        node,
        kind === 'name'
          ? `"${raw}": "*" is allowed only as the whole first label ("*.example.com")`
          : `"${raw}": a zone rule already covers everything below it; write it without "*"`,
      );
    }
    const problem = nameProblem(n);
    if (problem) this.fail(PolicyErrorCode.BAD_NAME, field, node, `"${raw}" ${problem}`);
    if (kind === 'zone') return { kind: 'zone', zone: n };
    return wildcard ? { kind: 'wildcard', base: n } : { kind: 'name', name: n };
  }
}

/** The allowed key nearest to a typo, if it is close enough to be a useful hint. */
function closest(k: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(k.toLowerCase().replace(/_/g, '-'), a);
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
