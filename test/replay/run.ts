// Runs one replay scenario: builds its zones, scripts the upstream from them (with the scenario's
// mutations), validates the question's response with the real validator at the pinned `now`, and
// compares the result with the scenario's expectations. No sockets, no clock, no named.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { canonicalName, nameEquals, normalizeName } from '../../src/wire/name';
import { formatRR, parseRdataText, parseZone } from '../../src/wire/presentation';
import { typeFromName, typeName } from '../../src/wire/types-registry';
import type { Message, Name, RR } from '../../src/wire/types';
import { createValidator, type ValidationResult } from '../../src/dnssec/validator';
import { describeVerdict } from '../../src/dnssec/verdict';
import type { TestKey } from '../dnssec/signer';
import { collidingKeys, seededKey } from './keys';
import { applyMutations, type MutationContext } from './mutate';
import { argReader, type Rule, type Scenario } from './scenario';
import { World } from './world';
import { Zone, type ZoneKey } from './zone';

/** The fields of src/dnssec/validate.ts ValidatedRRset the expectations read (structurally: a test's view). */
export interface ValidatedRRsetLike {
  name: Name;
  type: number;
  records: RR[];
  ttl: number;
  security: 'secure' | 'insecure';
  role: 'cname' | 'dname' | 'answer' | 'denial';
}

export interface RunOutcome {
  result: ValidationResult;
  queries: string[];
  verifications: number;
  /** The validator returned no `rrsets`: the scenario's rrsets expectation was not checked. */
  rrsetsPending: boolean;
  /** The upstream's response to the question, as validated. */
  response: Message;
}

// Counting signature verifications: the validator calls node:crypto's verify through the module object
// (CommonJS), so wrapping it here sees every call. Test-only; a KeyTrap scenario bounds the count.
const nodeCrypto = createRequire(__filename)('node:crypto') as { verify: (...a: unknown[]) => boolean };
const realVerify = nodeCrypto.verify;
let verifyCount = 0;
nodeCrypto.verify = (...a: unknown[]): boolean => {
  verifyCount++;
  return realVerify(...a);
};

function buildWorld(s: Scenario): { world: World; key: (ref: string) => TestKey } {
  const zones: Zone[] = [];
  const delegations = new Map<string, { delegate: boolean; ds: Scenario['zones'][number]['ds'] }>();
  for (const z of s.zones) {
    const origin = z.apex === '' ? '.' : `${z.apex}.`;
    const keys: ZoneKey[] = z.signed
      ? z.keys.map((k) => ({ role: k.role, key: seededKey(z.apex, k.alg, k.flags, k.seed), signs: k.signs, unpublished: k.unpublished }))
      : [];
    const dataKey = keys.find((k) => k.signs === 'data' || k.signs === 'all');
    let records: RR[];
    try {
      records = parseZone(z.records, { origin: z.apex, ttl: 3600 });
    } catch (e) {
      throw new Error(`${s.id}: zones.${origin}.records: ${(e as Error).message}`);
    }
    zones.push(
      new Zone({
        apex: z.apex,
        signed: z.signed,
        keys,
        denial:
          z.denial === 'nsec'
            ? { kind: 'nsec' }
            : {
                kind: 'nsec3',
                salt: z.nsec3.salt === '-' ? new Uint8Array() : new Uint8Array(Buffer.from(z.nsec3.salt, 'hex')),
                iterations: z.nsec3.iterations,
                optOut: z.nsec3.optOut,
              },
        validity: z.validity ?? { inception: s.now - 86400, expiration: s.now + 30 * 86400 },
        records,
        extraKeys: z.keytrap && dataKey ? collidingKeys(z.apex, dataKey.key.tag, z.keytrap.keys) : [],
        junkSigs: z.keytrap?.sigs ?? 0,
        junkOnly: z.keytrap ? !z.keytrap.genuine : false,
        overrides: z.sign,
      }),
    );
    delegations.set(canonicalName(z.apex), { delegate: z.delegate, ds: z.ds });
  }
  const world = new World(zones, delegations);
  const key = (ref: string): TestKey => {
    const named = s.keys.get(ref);
    if (named) return seededKey(named.zone, named.alg, named.flags, named.seed);
    const i = ref.lastIndexOf('/');
    if (i < 0) throw new Error(`${s.id}: no key '${ref}' (use ZONE/ROLE or a name under keys:)`);
    const zone = world.zone(ref.slice(0, i) === '.' ? '' : ref.slice(0, i));
    const k = zone?.keyByRole(ref.slice(i + 1));
    if (!k) throw new Error(`${s.id}: no key '${ref}'`);
    return k;
  };
  return { world, key };
}

function ruleMatches(rule: Rule, name: Name, type: number, isQuestion: boolean): boolean {
  if (rule.when === 'question') return isQuestion;
  return (rule.when.name === '*' || nameEquals(rule.when.name, name)) && (rule.when.type === '*' || rule.when.type === type);
}

function responder(s: Scenario): { world: World; respond: (name: Name, type: number, isQuestion: boolean) => Message } {
  const { world, key } = buildWorld(s);
  const r = argReader(s.file);
  const used = s.upstream.map(() => 0);
  const respond = (name: Name, type: number, isQuestion: boolean): Message => {
    let m = world.answer(name, type, s.style);
    s.upstream.forEach((rule, i) => {
      if (!ruleMatches(rule, name, type, isQuestion)) return;
      if (rule.times !== undefined && used[i]! >= rule.times) return;
      used[i]!++;
      const ctx: MutationContext = { world, now: s.now, key, r, where: `upstream[${i}]` };
      m = applyMutations(m, rule.do, ctx);
    });
    return m;
  };
  return { world, respond };
}

/** The upstream's answer to one question, as the scenario builds it (for dump.ts). */
export function answerFor(s: Scenario, name: string, type: string, isQuestion: boolean): Message {
  return responder(s).respond(normalizeName(name), /^\d+$/.test(type) ? Number(type) : typeFromName(type), isQuestion);
}

export async function runScenario(s: Scenario): Promise<RunOutcome> {
  const { world, respond } = responder(s);
  const queries: string[] = [];
  const validator = createValidator({
    anchors: s.anchors.map((a) => world.anchorFor(a)),
    query: async (name, type) => {
      queries.push(`${name || '.'} ${typeName(type)}`);
      return respond(name, type, false);
    },
  });
  const response = respond(s.query.name, s.query.type, true);
  const before = verifyCount;
  const result = await validator.validate({ name: s.query.name, type: s.query.type, class: 1 }, response, s.now);
  const rrsetsPending = !('rrsets' in result);
  return { result, queries, verifications: verifyCount - before, rrsetsPending, response };
}

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** What the validator said, for failure messages. */
function explain(s: Scenario, o: RunOutcome): string {
  const v = o.result.verdict;
  const lines = [
    `scenario ${s.id}${s.rfc ? ` (${s.rfc})` : ''}: got ${describeVerdict(v)}`,
    `rcode ${RCODE_NAMES[o.result.rcode] ?? o.result.rcode}, negative ${o.result.negative}`,
    `steps: ${o.result.steps.map((x) => `${x.step} ${x.name || '.'} ${x.verdict.kind}${x.verdict.kind === 'secure' ? '' : `/${x.verdict.reason}`}`).join(', ')}`,
    `queries: ${o.queries.join(', ')}`,
    `signature verifications: ${o.verifications}`,
  ];
  const rrsets = (o.result as unknown as { rrsets?: ValidatedRRsetLike[] }).rrsets ?? [];
  lines.push('rrsets:', ...rrsets.map((x) => `  ${x.role} ${x.security} ttl ${x.ttl}: ${x.records.map(formatRR).join(' | ')}`));
  return lines.join('\n');
}

/** `<role> <security> <owner|*> <TYPE> [ttl<=N] [rdata [| rdata]...]` against one validated RRset. */
function rrsetMatches(spec: string, x: ValidatedRRsetLike, s: Scenario): boolean {
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(?:ttl<=(\d+)\s*)?(.*)$/.exec(spec.trim());
  if (!m) throw new Error(`${s.id}: expect.rrsets: '${spec}' is not '<role> <security> <owner> <TYPE> [ttl<=N] [rdata | ...]'`);
  const [, role, security, owner = '', typeText = '', ttlMax, rest = ''] = m;
  const type = typeFromName(typeText);
  if (x.role !== role || x.security !== security || x.type !== type) return false;
  if (owner !== '*' && !nameEquals(x.name, owner)) return false;
  // RFC 4035 §5.3.3: the RRset's TTL and every record's TTL.
  if (ttlMax !== undefined && (x.ttl > Number(ttlMax) || x.records.some((r) => r.ttl > Number(ttlMax)))) return false;
  if (rest === '') return true;
  const want = rest
    .split('|')
    .map((t) => Buffer.from(parseRdataText(type, t.trim(), '')).toString('hex'))
    .sort();
  const have = x.records.map((rr) => Buffer.from(rr.rdata).toString('hex')).sort();
  return want.length === have.length && want.every((w, i) => w === have[i]);
}

/** Asserts every expectation of the scenario that the validator's current output can answer. */
export function checkOutcome(s: Scenario, o: RunOutcome): void {
  const e = s.expect;
  const v = o.result.verdict;
  const why = (): string => explain(s, o);
  assert.ok(e.verdict.includes(v.kind), `verdict: expected ${e.verdict.join(' or ')}, got ${v.kind}\n${why()}`);
  if (e.reason !== undefined) assert.equal(v.reason, e.reason, `reason\n${why()}`);
  if (e.ede !== undefined) assert.equal(v.kind === 'bogus' ? v.ede : undefined, e.ede, `EDE\n${why()}`);
  if (e.rcode !== undefined) assert.equal(o.result.rcode, e.rcode, `rcode\n${why()}`);
  if (e.negative !== undefined) assert.equal(o.result.negative, e.negative, `negative\n${why()}`);
  if (e.ttlMax !== undefined)
    assert.ok(o.result.ttl !== undefined && o.result.ttl <= e.ttlMax, `result.ttl ${o.result.ttl}, bound ${e.ttlMax}\n${why()}`);
  if (e.maxVerifications !== undefined)
    assert.ok(o.verifications <= e.maxVerifications, `${o.verifications} signature verifications, budget ${e.maxVerifications}\n${why()}`);
  const rrsets = (o.result as unknown as { rrsets?: ValidatedRRsetLike[] }).rrsets;
  if (e.rrsets && rrsets) {
    const left = [...rrsets];
    for (const spec of e.rrsets) {
      const i = left.findIndex((x) => rrsetMatches(spec, x, s));
      assert.ok(i >= 0, `no validated RRset matches '${spec}'\n${why()}`);
      left.splice(i, 1);
    }
    assert.equal(left.length, 0, `validated RRsets beyond the expected ones\n${why()}`);
  }
  if (e.absent) {
    // What the validator hands on as validated: its rrsets (only those; oedns lookup prints them).
    const shown: RR[] = (rrsets ?? []).flatMap((x) => x.records);
    for (const bad of e.absent) {
      const hit = shown.find((x) => formatRR(x).toLowerCase().includes(bad.toLowerCase()));
      assert.ok(!hit, `'${bad}' is in the validated data: ${hit ? formatRR(hit) : ''}\n${why()}`);
    }
  }
}
