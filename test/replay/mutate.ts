// What an attacker on the path (or a broken upstream) does to a response in a replay scenario: strip
// or add records, re-sign with a key of its choosing, change the rcode, copy genuine records from other
// answers. Each mutation is one small function over a copy of the message; the list is in docs/replay.md.
import { canonicalName } from '../../src/wire/name';
import { parseRR } from '../../src/wire/presentation';
import { formatRdata } from '../../src/wire/presentation';
import { typeFromName } from '../../src/wire/types-registry';
import type { Message, Name, RR } from '../../src/wire/types';
import { TransportError } from '../../src/util/errors';
import { computeDsDigest } from '../../src/dnssec/ds';
import { decodeNsec3, encodeDs } from '../../src/wire/rdata';
import { nsec3Hash } from '../../src/dnssec/nsec3';
import { base32hexDecode } from '../../src/dnssec/crypto';
import type { TestKey } from '../dnssec/signer';
import type { Mutation, Reader } from './scenario';
import type { World } from './world';

type Section = 'answers' | 'authorities' | 'additionals';
const SECTIONS: Record<string, Section[]> = {
  answer: ['answers'],
  authority: ['authorities'],
  additional: ['additionals'],
  all: ['answers', 'authorities', 'additionals'],
};

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

export interface MutationContext {
  world: World;
  now: number;
  /** A key by reference: 'zone/role' (a zone's key) or the name of a scenario-level key. */
  key(ref: string): TestKey;
  r: Reader;
  where: string;
}

function covered(r: RR): number {
  return (r.rdata[0]! << 8) | r.rdata[1]!;
}

/** H(name) with the parameters of `n3` (an NSEC3 record), and its owner and next hashes. */
function nsec3Span(n3: RR, name: Name): { h: Buffer; lo: Buffer; hi: Buffer } | null {
  try {
    const d = decodeNsec3(n3.rdata);
    const lo = base32hexDecode(firstLabel(n3.name));
    if (!lo) return null;
    return { h: Buffer.from(nsec3Hash(name, d.salt, d.iterations)), lo: Buffer.from(lo), hi: Buffer.from(d.nextHashed) };
  } catch {
    return null;
  }
}

function firstLabel(n: Name): string {
  return n.split('.')[0]!;
}

/** The owner (an NSEC3 at that owner, for RRSIGs) of `r` matches / covers the hash of `name` (RFC 5155 §1.3). */
function nsec3Relation(all: RR[], r: RR, name: Name): 'match' | 'cover' | null {
  const n3 = r.type === 50 ? r : all.find((x) => x.type === 50 && canonicalName(x.name) === canonicalName(r.name));
  if (!n3) return null;
  const s = nsec3Span(n3, name);
  if (!s) return null;
  if (s.h.equals(s.lo)) return 'match';
  const inside =
    Buffer.compare(s.lo, s.hi) < 0
      ? Buffer.compare(s.lo, s.h) < 0 && Buffer.compare(s.h, s.hi) < 0
      : Buffer.compare(s.lo, s.h) < 0 || Buffer.compare(s.h, s.hi) < 0;
  return inside ? 'cover' : null;
}

/**
 * Record filter from { name?, type?, nsec3-matching?, nsec3-covering? }: type matches the record's type,
 * or for RRSIGs the covered type; the nsec3 fields pick the NSEC3 (and its RRSIGs) whose hash matches or
 * covers the hash of a name, since NSEC3 owners cannot be written in a scenario by hand.
 */
function matcher(
  ctx: MutationContext,
  o: Record<string, unknown>,
  w: string,
  all: () => RR[] = () => [],
): (r: RR, sigsToo: boolean) => boolean {
  const name = o.name === undefined ? undefined : ctx.r.name(o.name, `${w}.name`);
  const type = o.type === undefined ? undefined : ctx.r.type(o.type, `${w}.type`);
  const m3 = o['nsec3-matching'] === undefined ? undefined : ctx.r.name(o['nsec3-matching'], `${w}.nsec3-matching`);
  const c3 = o['nsec3-covering'] === undefined ? undefined : ctx.r.name(o['nsec3-covering'], `${w}.nsec3-covering`);
  return (r, sigsToo) => {
    if (name !== undefined && canonicalName(r.name) !== canonicalName(name)) return false;
    if (m3 !== undefined && nsec3Relation(all(), r, m3) !== 'match') return false;
    if (c3 !== undefined && nsec3Relation(all(), r, c3) !== 'cover') return false;
    if (type === undefined) return true;
    return r.type === type || (sigsToo && r.type === 46 && covered(r) === type);
  };
}

function sections(ctx: MutationContext, v: unknown, w: string, dflt = 'all'): Section[] {
  const s = v === undefined ? dflt : ctx.r.str(v, w);
  return SECTIONS[s] ?? ctx.r.fail(w, 'expected answer, authority, additional or all');
}

/** `{key:REF}` → that key's DNSKEY RDATA text; `{ds:REF}` → a SHA-256 DS RDATA text for it. */
function expand(ctx: MutationContext, line: string): string {
  return line.replace(/\{(key|ds):([^}]+)\}/g, (_m, kind: string, ref: string) => {
    const k = ctx.key(ref);
    if (kind === 'key') return formatRdata(48, k.dnskey.rdata);
    return formatRdata(
      43,
      encodeDs({ keyTag: k.tag, algorithm: k.alg, digestType: 2, digest: computeDsDigest(k.zone, k.dnskey.rdata, 2)! }),
    );
  });
}

function rrLines(ctx: MutationContext, v: unknown, w: string): RR[] {
  const lines = Array.isArray(v) ? v : [v];
  return lines.map((l, i) => {
    const text = expand(ctx, ctx.r.str(l, `${w}[${i}]`));
    try {
      return parseRR(text, { origin: '', ttl: 3600 });
    } catch (e) {
      ctx.r.fail(`${w}[${i}]`, `bad record '${text}': ${(e as Error).message}`);
    }
  });
}

type Apply = (m: Message, arg: unknown, ctx: MutationContext, w: string) => Message;

const APPLY: Record<string, Apply> = {
  /** Remove RRSIGs (all, or those at `name` / covering `type`) from `section`. */
  'strip-rrsig': (m, arg, ctx, w) => {
    const o = ctx.r.obj(arg, w, ['name', 'type', 'section']);
    const hit = matcher(ctx, o, w);
    const out = { ...m };
    for (const s of sections(ctx, o.section, `${w}.section`)) out[s] = m[s].filter((r) => !(r.type === 46 && hit(r, true)));
    return out;
  },
  /** Remove records matching `name`/`type` (their RRSIGs too with `sigs: true`). */
  drop: (m, arg, ctx, w) => {
    const o = ctx.r.obj(arg, w, ['name', 'type', 'section', 'sigs', 'nsec3-matching', 'nsec3-covering']);
    const hit = matcher(ctx, o, w, () => [...m.answers, ...m.authorities, ...m.additionals]);
    const sigs = ctx.r.bool(o.sigs, `${w}.sigs`, false);
    // Without a type, everything at the name goes; with one, its RRSIGs go only when `sigs` says so.
    const gone = (r: RR): boolean => (r.type === 46 && o.type !== undefined && o.type !== 'RRSIG' ? sigs && hit(r, true) : hit(r, false));
    const out = { ...m };
    for (const s of sections(ctx, o.section, `${w}.section`)) out[s] = m[s].filter((r) => !gone(r));
    return out;
  },
  /** Add records given in presentation format (to the answer section unless `section` says otherwise). */
  append: (m, arg, ctx, w) => {
    const o = Array.isArray(arg) || typeof arg === 'string' ? { rrs: arg } : ctx.r.obj(arg, w, ['section', 'rrs']);
    const s = sections(ctx, o.section, `${w}.section`, 'answer')[0]!;
    return { ...m, [s]: [...m[s], ...rrLines(ctx, o.rrs, `${w}.rrs`)] };
  },
  rcode: (m, arg, ctx, w) => {
    const s = ctx.r.str(arg, w);
    const rcode = RCODES[s] ?? ctx.r.fail(w, `unknown rcode '${s}'`);
    return { ...m, rcode };
  },
  /** Replace the records of `name`/`type` (not their RRSIGs) with `rrs`. */
  replace: (m, arg, ctx, w) => {
    const o = ctx.r.obj(arg, w, ['name', 'type', 'section', 'rrs']);
    const hit = matcher(ctx, { name: o.name, type: o.type }, w);
    const s = sections(ctx, o.section, `${w}.section`, 'answer')[0]!;
    const list = m[s];
    const at = list.findIndex((r) => r.type !== 46 && hit(r, false));
    if (at < 0) ctx.r.fail(w, `nothing to replace at ${String(o.name)} ${String(o.type)}`);
    const kept = list.filter((r) => !(r.type !== 46 && hit(r, false)));
    kept.splice(at, 0, ...rrLines(ctx, o.rrs, `${w}.rrs`));
    return { ...m, [s]: kept };
  },
  /**
   * Sign the RRset `name`/`type` as it now stands in the message with `key` (a genuine zone key makes a
   * genuine signature; Ed25519 gives the very bytes the zone's signer would). `replace: true` drops the
   * RRset's other RRSIGs; `labels` < the owner's makes a wildcard-style signature.
   */
  sign: (m, arg, ctx, w) => {
    const o = ctx.r.obj(arg, w, ['name', 'type', 'key', 'section', 'signer', 'labels', 'inception', 'expiration', 'replace', 'owner']);
    const name = ctx.r.name(o.name, `${w}.name`);
    const type = ctx.r.type(o.type, `${w}.type`);
    const s = sections(ctx, o.section, `${w}.section`, 'answer')[0]!;
    const rrs = m[s].filter((r) => r.type === type && canonicalName(r.name) === canonicalName(name));
    if (rrs.length === 0) ctx.r.fail(w, `no ${String(o.type)} at ${String(o.name)} to sign`);
    const k = ctx.key(ctx.r.str(o.key, `${w}.key`));
    const sig = k.sign(rrs, {
      signer: o.signer === undefined ? undefined : ctx.r.name(o.signer, `${w}.signer`),
      labels: o.labels === undefined ? undefined : ctx.r.num(o.labels, `${w}.labels`),
      inception: o.inception === undefined ? ctx.now - 86400 : ctx.r.time(o.inception, `${w}.inception`, ctx.now),
      expiration: o.expiration === undefined ? ctx.now + 30 * 86400 : ctx.r.time(o.expiration, `${w}.expiration`, ctx.now),
    });
    const replace = ctx.r.bool(o.replace, `${w}.replace`, false);
    const list = replace
      ? m[s].filter((r) => !(r.type === 46 && covered(r) === type && canonicalName(r.name) === canonicalName(name)))
      : [...m[s]];
    return { ...m, [s]: [...list, sig] };
  },
  /** Copy records (with their RRSIGs) from the genuine answer to another question: `from: NAME TYPE`. */
  copy: (m, arg, ctx, w) => {
    const o = ctx.r.obj(arg, w, ['from', 'section', 'to', 'type', 'name', 'nsec3-matching', 'nsec3-covering']);
    const parts = ctx.r.str(o.from, `${w}.from`).trim().split(/\s+/);
    if (parts.length !== 2) ctx.r.fail(`${w}.from`, "expected 'NAME TYPE'");
    const src = ctx.world.answer(ctx.r.name(parts[0], `${w}.from`), ctx.r.type(parts[1], `${w}.from`));
    const hit = matcher(
      ctx,
      { name: o.name, type: o.type, 'nsec3-matching': o['nsec3-matching'], 'nsec3-covering': o['nsec3-covering'] },
      w,
      () => [...src.answers, ...src.authorities],
    );
    const from = sections(ctx, o.section, `${w}.section`, 'authority');
    const to = sections(ctx, o.to ?? o.section, `${w}.to`, 'authority')[0]!;
    const picked = from.flatMap((s) => src[s].filter((r) => hit(r, true)));
    return { ...m, [to]: [...m[to], ...picked] };
  },
  /** Set the TTL of matching records. */
  ttl: (m, arg, ctx, w) => {
    const o = ctx.r.obj(arg, w, ['name', 'type', 'ttl', 'section']);
    const hit = matcher(ctx, o, w);
    const ttl = ctx.r.num(o.ttl, `${w}.ttl`);
    const out = { ...m };
    for (const s of sections(ctx, o.section, `${w}.section`)) out[s] = m[s].map((r) => (hit(r, false) ? { ...r, ttl } : r));
    return out;
  },
  /** Header bits the upstream sets (AD, say, which a validator must not believe). */
  flags: (m, arg, ctx, w) => {
    const o = ctx.r.obj(arg, w, ['ad', 'aa', 'tc']);
    return { ...m, ad: ctx.r.bool(o.ad, `${w}.ad`, m.ad), aa: ctx.r.bool(o.aa, `${w}.aa`, m.aa), tc: ctx.r.bool(o.tc, `${w}.tc`, m.tc) };
  },
  /** The upstream does not answer at all. */
  fail: (_m, arg, ctx, w) => {
    throw new TransportError('timeout', `replay: ${ctx.r.str(arg, w)}`);
  },
};

export function applyMutations(msg: Message, list: Mutation[], ctx: MutationContext): Message {
  let m: Message = { ...msg, answers: [...msg.answers], authorities: [...msg.authorities], additionals: [...msg.additionals] };
  list.forEach((mut, i) => {
    const [op, arg] = Object.entries(mut)[0]!;
    m = APPLY[op]!(m, arg, ctx, `${ctx.where}.do[${i}].${op}`);
  });
  return m;
}

export function typeNumber(s: string): number {
  return typeFromName(s);
}
export type { Name };
