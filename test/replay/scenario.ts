// Replay scenario files (test/replay/scenarios/*.yaml): reading one into checked, typed values. The
// format is described in docs/replay.md; a mistake in a file is an error naming the file and the field,
// so a scenario can never pass by being misread.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parse } from 'yaml';
import { normalizeName } from '../../src/wire/name';
import { typeFromName } from '../../src/wire/types-registry';
import type { Name } from '../../src/wire/types';
import { type KeyAlg } from './keys';
import type { DsSpec, UpstreamStyle } from './world';

export interface KeyDecl {
  role: string;
  alg: KeyAlg;
  flags: number;
  signs: 'dnskey' | 'data' | 'all' | 'none';
  seed: string;
  unpublished: boolean;
}

export interface ZoneDecl {
  apex: Name;
  signed: boolean;
  keys: KeyDecl[];
  denial: 'nsec' | 'nsec3';
  nsec3: { salt: string; iterations: number; optOut: boolean };
  validity?: { inception: number; expiration: number };
  ds: DsSpec[];
  delegate: boolean;
  keytrap?: { keys: number; sigs: number; genuine: boolean };
  sign: Array<{ name: Name; type: number; key?: string; inception?: number; expiration?: number }>;
  records: string;
}

export interface NamedKey {
  zone: Name;
  alg: KeyAlg;
  flags: number;
  seed: string;
}

export type Mutation = Record<string, unknown>;

export interface Rule {
  /** 'question' (only the response handed to validate()), or a name and type ('*' for any) the validator asks. */
  when: 'question' | { name: Name | '*'; type: number | '*' };
  do: Mutation[];
  /** Only the first N responses the rule matches are changed (a damaged answer that a retry gets whole). */
  times?: number;
}

export type VerdictKind = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export interface Expect {
  /** One kind, or several that are all acceptable (a budget may end in bogus or indeterminate). */
  verdict: VerdictKind[];
  reason?: string;
  ede?: number;
  rcode?: number;
  negative?: 'nodata' | 'nxdomain' | null;
  rrsets?: string[];
  absent?: string[];
  maxVerifications?: number;
  /** Upper bound for result.ttl (how long the validated answer may be kept). */
  ttlMax?: number;
}

export interface Scenario {
  file: string;
  id: string;
  behaviour: string;
  rfc?: string;
  open?: string;
  now: number;
  anchors: Name[];
  keys: Map<string, NamedKey>;
  zones: ZoneDecl[];
  query: { name: Name; type: number };
  style: UpstreamStyle;
  upstream: Rule[];
  expect: Expect;
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

class Reader {
  constructor(readonly file: string) {}
  fail(where: string, msg: string): never {
    throw new Error(`${this.file}: ${where}: ${msg}`);
  }
  obj(v: unknown, where: string, allowed: string[]): Record<string, unknown> {
    if (v === null || v === undefined) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(where, 'expected a mapping');
    for (const k of Object.keys(v)) if (!allowed.includes(k)) this.fail(where, `unknown field '${k}' (known: ${allowed.join(', ')})`);
    return v as Record<string, unknown>;
  }
  str(v: unknown, where: string): string {
    if (typeof v !== 'string' || v === '') this.fail(where, 'expected a string');
    return v;
  }
  num(v: unknown, where: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(where, 'expected a whole number');
    return v;
  }
  bool(v: unknown, where: string, dflt: boolean): boolean {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') this.fail(where, 'expected true or false');
    return v;
  }
  list(v: unknown, where: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(where, 'expected a list');
    return v;
  }
  name(v: unknown, where: string): Name {
    const s = this.str(v, where);
    try {
      return normalizeName(s);
    } catch (e) {
      this.fail(where, `bad name '${s}': ${(e as Error).message}`);
    }
  }
  type(v: unknown, where: string): number {
    const s = this.str(v, where);
    try {
      return typeFromName(s);
    } catch {
      this.fail(where, `unknown type '${s}'`);
    }
  }
  /** ISO date, Unix seconds, or `now`/`now-1d`/`now+30d` relative to the scenario's `now`. */
  time(v: unknown, where: string, now?: number): number {
    if (typeof v === 'number') return this.num(v, where);
    const s = this.str(v, where);
    const rel = /^now(?:([+-])(\d+)([smhd]))?$/.exec(s);
    if (rel) {
      if (now === undefined) this.fail(where, "'now' is not known yet");
      if (!rel[1]) return now;
      const unit = { s: 1, m: 60, h: 3600, d: 86400 }[rel[3] as 's' | 'm' | 'h' | 'd'];
      return now + (rel[1] === '+' ? 1 : -1) * Number(rel[2]) * unit;
    }
    const t = Date.parse(s);
    if (!Number.isFinite(t)) this.fail(where, `bad time '${s}'`);
    return Math.floor(t / 1000);
  }
  alg(v: unknown, where: string): KeyAlg {
    if (v === undefined) return 'ED25519';
    if (v !== 'ED25519' && v !== 'ECDSAP256SHA256')
      this.fail(where, `algorithm must be ED25519 or ECDSAP256SHA256 (deterministic keys), got '${String(v)}'`);
    return v;
  }
}

function parseKeys(r: Reader, v: unknown, apex: Name, zoneAlg: KeyAlg): KeyDecl[] {
  if (v === undefined) {
    return [
      { role: 'ksk', alg: zoneAlg, flags: 257, signs: 'dnskey', seed: `${apex || '.'}/ksk`, unpublished: false },
      { role: 'zsk', alg: zoneAlg, flags: 256, signs: 'data', seed: `${apex || '.'}/zsk`, unpublished: false },
    ];
  }
  return r.list(v, `zones.${apex || '.'}.keys`).map((k, i) => {
    const w = `zones.${apex || '.'}.keys[${i}]`;
    const o = r.obj(k, w, ['role', 'alg', 'flags', 'signs', 'seed', 'unpublished']);
    const role = r.str(o.role, `${w}.role`);
    const dflt =
      role === 'ksk'
        ? { flags: 257, signs: 'dnskey' }
        : role === 'csk'
          ? { flags: 257, signs: 'all' }
          : role === 'zsk'
            ? { flags: 256, signs: 'data' }
            : { flags: 256, signs: 'none' };
    const signs = (o.signs ?? dflt.signs) as KeyDecl['signs'];
    if (!['dnskey', 'data', 'all', 'none'].includes(signs)) r.fail(`${w}.signs`, 'expected dnskey, data, all or none');
    return {
      role,
      alg: r.alg(o.alg ?? zoneAlg, `${w}.alg`),
      flags: o.flags === undefined ? dflt.flags : r.num(o.flags, `${w}.flags`),
      signs,
      seed: o.seed === undefined ? `${apex || '.'}/${role}` : r.str(o.seed, `${w}.seed`),
      unpublished: r.bool(o.unpublished, `${w}.unpublished`, false),
    };
  });
}

function parseDs(r: Reader, v: unknown, w: string): DsSpec[] {
  if (v === undefined) return [{ digest: 2 }];
  if (v === 'none') return [];
  return r.list(v, w).map((d, i) => {
    const o = r.obj(d, `${w}[${i}]`, ['digest', 'key', 'wrong', 'algorithm']);
    return {
      digest: r.num(o.digest, `${w}[${i}].digest`),
      key: o.key === undefined ? undefined : r.str(o.key, `${w}[${i}].key`),
      wrong: r.bool(o.wrong, `${w}[${i}].wrong`, false),
      algorithm: o.algorithm === undefined ? undefined : r.num(o.algorithm, `${w}[${i}].algorithm`),
    };
  });
}

function parseZone(r: Reader, apexText: string, v: unknown, now: number): ZoneDecl {
  const apex = r.name(apexText, `zones.${apexText}`);
  const w = `zones.${apexText}`;
  const o = r.obj(v, w, ['signed', 'alg', 'keys', 'denial', 'nsec3', 'validity', 'ds', 'delegate', 'keytrap', 'sign', 'records']);
  const alg = r.alg(o.alg, `${w}.alg`);
  const denial = o.denial === undefined ? 'nsec' : o.denial;
  if (denial !== 'nsec' && denial !== 'nsec3') r.fail(`${w}.denial`, 'expected nsec or nsec3');
  const n3 = r.obj(o.nsec3, `${w}.nsec3`, ['salt', 'iterations', 'opt-out']);
  const validity =
    o.validity === undefined
      ? undefined
      : (() => {
          const x = r.obj(o.validity, `${w}.validity`, ['inception', 'expiration']);
          return {
            inception: r.time(x.inception, `${w}.validity.inception`, now),
            expiration: r.time(x.expiration, `${w}.validity.expiration`, now),
          };
        })();
  const kt =
    o.keytrap === undefined
      ? undefined
      : (() => {
          const x = r.obj(o.keytrap, `${w}.keytrap`, ['keys', 'sigs', 'genuine']);
          return {
            keys: r.num(x.keys, `${w}.keytrap.keys`),
            sigs: r.num(x.sigs, `${w}.keytrap.sigs`),
            genuine: r.bool(x.genuine, `${w}.keytrap.genuine`, true),
          };
        })();
  return {
    apex,
    signed: r.bool(o.signed, `${w}.signed`, true),
    keys: parseKeys(r, o.keys, apex, alg),
    denial,
    nsec3: {
      salt: n3.salt === undefined ? '-' : String(n3.salt),
      iterations: n3.iterations === undefined ? 0 : r.num(n3.iterations, `${w}.nsec3.iterations`),
      optOut: r.bool(n3['opt-out'], `${w}.nsec3.opt-out`, false),
    },
    validity,
    ds: parseDs(r, o.ds, `${w}.ds`),
    delegate: r.bool(o.delegate, `${w}.delegate`, true),
    keytrap: kt,
    sign: r.list(o.sign, `${w}.sign`).map((s, i) => {
      const x = r.obj(s, `${w}.sign[${i}]`, ['name', 'type', 'key', 'inception', 'expiration']);
      return {
        name: r.name(x.name, `${w}.sign[${i}].name`),
        type: r.type(x.type, `${w}.sign[${i}].type`),
        key: x.key === undefined ? undefined : r.str(x.key, `${w}.sign[${i}].key`),
        inception: x.inception === undefined ? undefined : r.time(x.inception, `${w}.sign[${i}].inception`, now),
        expiration: x.expiration === undefined ? undefined : r.time(x.expiration, `${w}.sign[${i}].expiration`, now),
      };
    }),
    records: o.records === undefined ? '' : r.str(o.records, `${w}.records`),
  };
}

/** "name TYPE" */
function parseQuestion(r: Reader, v: unknown, w: string, wild: boolean): { name: Name | '*'; type: number | '*' } {
  const parts = r.str(v, w).trim().split(/\s+/);
  if (parts.length !== 2) r.fail(w, `expected 'NAME TYPE', got '${String(v)}'`);
  return {
    name: wild && parts[0] === '*' ? '*' : r.name(parts[0], w),
    type: wild && parts[1] === '*' ? '*' : r.type(parts[1], w),
  };
}

const MUTATIONS = ['strip-rrsig', 'drop', 'append', 'rcode', 'sign', 'replace', 'copy', 'ttl', 'fail', 'flags'];

export function loadScenario(file: string): Scenario {
  const r = new Reader(basename(file));
  const doc = r.obj(parse(readFileSync(file, 'utf8')), 'top level', [
    'behaviour',
    'rfc',
    'open',
    'now',
    'anchors',
    'keys',
    'zones',
    'query',
    'upstream-style',
    'upstream',
    'expect',
  ]);
  const now = r.time(doc.now, 'now');
  const keys = new Map<string, NamedKey>();
  for (const [k, v] of Object.entries(r.obj(doc.keys, 'keys', Object.keys((doc.keys as object) ?? {})))) {
    const o = r.obj(v, `keys.${k}`, ['zone', 'alg', 'flags', 'seed']);
    keys.set(k, {
      zone: r.name(o.zone, `keys.${k}.zone`),
      alg: r.alg(o.alg, `keys.${k}.alg`),
      flags: o.flags === undefined ? 256 : r.num(o.flags, `keys.${k}.flags`),
      seed: o.seed === undefined ? `named/${k}` : r.str(o.seed, `keys.${k}.seed`),
    });
  }
  const zonesObj = r.obj(doc.zones, 'zones', Object.keys((doc.zones as object) ?? {}));
  const zones = Object.entries(zonesObj).map(([apex, v]) => parseZone(r, apex, v, now));
  if (!zones.some((z) => z.apex === '')) r.fail('zones', "a scenario needs a root zone ('.')");
  const q = parseQuestion(r, doc.query, 'query', false) as { name: Name; type: number };
  const style = (doc['upstream-style'] === undefined ? 'recursive' : doc['upstream-style']) as UpstreamStyle;
  if (style !== 'recursive' && style !== 'authoritative') r.fail('upstream-style', 'expected recursive or authoritative');
  const upstream: Rule[] = r.list(doc.upstream, 'upstream').map((u, i) => {
    const o = r.obj(u, `upstream[${i}]`, ['when', 'do', 'times']);
    const when = o.when === undefined || o.when === 'question' ? 'question' : parseQuestion(r, o.when, `upstream[${i}].when`, true);
    const dos = r.list(o.do, `upstream[${i}].do`).map((m, j) => {
      const mo = r.obj(m, `upstream[${i}].do[${j}]`, MUTATIONS);
      if (Object.keys(mo).length !== 1) r.fail(`upstream[${i}].do[${j}]`, 'one mutation per list item');
      return mo;
    });
    const times = o.times === undefined ? undefined : r.num(o.times, `upstream[${i}].times`);
    return times === undefined ? { when, do: dos } : { when, do: dos, times };
  });
  const e = r.obj(doc.expect, 'expect', [
    'verdict',
    'reason',
    'ede',
    'rcode',
    'negative',
    'rrsets',
    'absent',
    'max-verifications',
    'ttl-max',
  ]);
  const verdicts = (Array.isArray(e.verdict) ? e.verdict : [e.verdict]).map((x, i) => r.str(x, `expect.verdict[${i}]`));
  for (const verdict of verdicts)
    if (!['secure', 'insecure', 'bogus', 'indeterminate'].includes(verdict))
      r.fail('expect.verdict', 'expected secure, insecure, bogus or indeterminate');
  if (verdicts.length === 0) r.fail('expect.verdict', 'missing');
  let rcode: number | undefined;
  if (e.rcode !== undefined) rcode = RCODES[r.str(e.rcode, 'expect.rcode')] ?? r.fail('expect.rcode', `unknown rcode ${String(e.rcode)}`);
  if (e.negative !== undefined && e.negative !== null && e.negative !== 'nodata' && e.negative !== 'nxdomain')
    r.fail('expect.negative', 'expected nodata, nxdomain or null');
  return {
    file,
    id: basename(file).replace(/\.ya?ml$/, ''),
    behaviour: r.str(doc.behaviour, 'behaviour'),
    rfc: doc.rfc === undefined ? undefined : r.str(doc.rfc, 'rfc'),
    open: doc.open === undefined ? undefined : r.str(doc.open, 'open'),
    now,
    anchors: doc.anchors === undefined ? [''] : r.list(doc.anchors, 'anchors').map((a, i) => r.name(a, `anchors[${i}]`)),
    keys,
    zones,
    query: q,
    style,
    upstream,
    expect: {
      verdict: verdicts as VerdictKind[],
      reason: e.reason === undefined ? undefined : r.str(e.reason, 'expect.reason'),
      ede: e.ede === undefined ? undefined : r.num(e.ede, 'expect.ede'),
      rcode,
      negative: e.negative as Expect['negative'],
      rrsets: e.rrsets === undefined ? undefined : r.list(e.rrsets, 'expect.rrsets').map((x, i) => r.str(x, `expect.rrsets[${i}]`)),
      absent: e.absent === undefined ? undefined : r.list(e.absent, 'expect.absent').map((x, i) => r.str(x, `expect.absent[${i}]`)),
      maxVerifications: e['max-verifications'] === undefined ? undefined : r.num(e['max-verifications'], 'expect.max-verifications'),
      ttlMax: e['ttl-max'] === undefined ? undefined : r.num(e['ttl-max'], 'expect.ttl-max'),
    },
  };
}

/** Reader for the mutation arguments (mutate.ts), with the same error style. */
export function argReader(file: string): Reader {
  return new Reader(basename(file));
}
export type { Reader };
