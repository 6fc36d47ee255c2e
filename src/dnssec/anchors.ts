// Trust anchors: the IANA root KSKs built in, or a file in zone-file presentation (DS / DNSKEY lines,
// any owners) or BIND's `trust-anchors { }` / `trusted-keys { }` / `managed-keys { }` syntax.
// Pure: takes text, returns anchors; reading the file is the caller's job.
import { ConfigError } from '../util/errors';
import { canonicalName, compareCanonical, isSubdomain, labelCount, nameEquals, normalizeName } from '../wire/name';
import type { Name } from '../wire/types';
import { type Ds, encodeDnskey } from './records';
import type { TrustPoint } from './ds';

export type TrustAnchor = TrustPoint;

const hex = (s: string): Uint8Array => {
  const clean = s.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(clean)) throw new ConfigError('trust-anchor', `bad hex digest '${s}'`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
};

const b64 = (s: string): Uint8Array => {
  const clean = s.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(clean)) throw new ConfigError('trust-anchor', 'bad base64 public key');
  return new Uint8Array(Buffer.from(clean, 'base64'));
};

/**
 * The root zone KSKs published by IANA (https://data.iana.org/root-anchors/root-anchors.xml):
 * KSK-2017 (tag 20326) and KSK-2024 (tag 38696), as SHA-256 DS records.
 */
export const ROOT_ANCHORS: readonly TrustAnchor[] = Object.freeze([
  {
    zone: '',
    ds: [
      { keyTag: 20326, algorithm: 8, digestType: 2, digest: hex('E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D') },
      { keyTag: 38696, algorithm: 8, digestType: 2, digest: hex('683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16') },
    ],
    keys: [],
  },
]);

function num(tok: string | undefined, max: number, what: string): number {
  if (tok === undefined || !/^\d+$/.test(tok) || Number(tok) > max) throw new ConfigError('trust-anchor', `bad ${what} '${tok ?? ''}'`);
  return Number(tok);
}

const ALG_MNEMONICS: Record<string, number> = {
  RSASHA1: 5,
  'RSASHA1-NSEC3-SHA1': 7,
  NSEC3RSASHA1: 7,
  RSASHA256: 8,
  RSASHA512: 10,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
};

function alg(tok: string | undefined): number {
  const known = tok === undefined ? undefined : ALG_MNEMONICS[tok.toUpperCase()];
  if (known !== undefined) return known;
  return num(tok, 255, 'algorithm');
}

/** Merges anchors so each owner name appears once. */
function merge(list: Array<{ zone: Name; ds?: Ds; key?: Uint8Array }>): TrustAnchor[] {
  const by = new Map<string, TrustAnchor>();
  for (const a of list) {
    const k = canonicalName(a.zone);
    let t = by.get(k);
    if (!t) {
      t = { zone: a.zone, ds: [], keys: [] };
      by.set(k, t);
    }
    if (a.ds) t.ds.push(a.ds);
    if (a.key) t.keys.push(a.key);
  }
  return [...by.values()];
}

/** Zone-file presentation tokens, one array per logical line (parentheses joined, comments dropped). */
function zoneLines(text: string): string[][] {
  const lines: string[][] = [];
  let cur: string[] = [];
  let depth = 0;
  for (const raw of text.split(/\r?\n/)) {
    let line = '';
    let inQuote = false;
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i];
      if (c === '"') inQuote = !inQuote;
      if (c === ';' && !inQuote) break;
      if (c === '\\' && i + 1 < raw.length) {
        line += c + raw[++i];
        continue;
      }
      if (!inQuote && c === '(') {
        depth++;
        line += ' ';
        continue;
      }
      if (!inQuote && c === ')') {
        depth--;
        line += ' ';
        continue;
      }
      line += c;
    }
    cur.push(
      ...line
        .split(/\s+/)
        .filter((t) => t !== '')
        .map((t) => t.replace(/^"|"$/g, '')),
    );
    if (depth <= 0) {
      if (cur.length) lines.push(cur);
      cur = [];
      depth = 0;
    }
  }
  if (cur.length) lines.push(cur);
  return lines;
}

function parseZoneFormat(text: string): TrustAnchor[] {
  const out: Array<{ zone: Name; ds?: Ds; key?: Uint8Array }> = [];
  let origin: Name = '';
  for (const toks of zoneLines(text)) {
    if (toks[0]!.toUpperCase() === '$ORIGIN') {
      origin = normalizeName(toks[1] ?? '.');
      continue;
    }
    if (toks[0]!.startsWith('$')) continue;
    let owner = toks[0]!;
    let i = 1;
    // Optional TTL and class, in either order.
    for (let n = 0; n < 2 && i < toks.length; n++) {
      if (/^\d+$/.test(toks[i]!) || /^(IN|CH|HS)$/i.test(toks[i]!)) i++;
    }
    const type = (toks[i] ?? '').toUpperCase();
    const rd = toks.slice(i + 1);
    owner = owner === '@' ? origin : owner.endsWith('.') ? owner : origin ? `${owner}.${origin}` : owner;
    let zone: Name;
    try {
      zone = normalizeName(owner);
    } catch {
      throw new ConfigError('trust-anchor', `bad owner name '${toks[0]}'`);
    }
    if (type === 'DS') {
      out.push({
        zone,
        ds: {
          keyTag: num(rd[0], 65535, 'key tag'),
          algorithm: alg(rd[1]),
          digestType: num(rd[2], 255, 'digest type'),
          digest: hex(rd.slice(3).join('')),
        },
      });
    } else if (type === 'DNSKEY') {
      const flags = num(rd[0], 65535, 'flags');
      out.push({
        zone,
        key: encodeDnskey({ flags, protocol: num(rd[1], 255, 'protocol'), algorithm: alg(rd[2]), publicKey: b64(rd.slice(3).join('')) }),
      });
    } else {
      throw new ConfigError('trust-anchor', `only DS and DNSKEY records can be trust anchors (got '${toks.join(' ').slice(0, 60)}')`);
    }
  }
  return merge(out);
}

/**
 * named.conf comments (/* *\/, //, #) taken out, but never inside a quoted string: base64 keys contain
 * "//" (about one RSA-2048 key in twelve), and cutting there changed the key (a flaky island-of-trust
 * test showed it: oedns computed another key tag than delv from the same file).
 */
export function stripConfComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      out += ' ';
      i = end < 0 ? text.length : end + 2;
    } else if ((c === '/' && text[i + 1] === '/') || c === '#') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** BIND named.conf statements: trust-anchors, managed-keys (initial-key/-ds, static-key/-ds) and trusted-keys. */
function parseBindFormat(text: string): TrustAnchor[] {
  const noComments = stripConfComments(text);
  const out: Array<{ zone: Name; ds?: Ds; key?: Uint8Array }> = [];
  const block = /(trust-anchors|managed-keys|trusted-keys)\s*\{([\s\S]*?)\}\s*;/g;
  let m: RegExpExecArray | null;
  let found = false;
  while ((m = block.exec(noComments))) {
    found = true;
    const legacy = m[1] === 'trusted-keys';
    for (const stmt of m[2]!.split(';')) {
      const toks = stmt.match(/"[^"]*"|\S+/g);
      if (!toks) continue;
      const zone = normalizeName(toks[0].replace(/"/g, ''));
      let kind = legacy ? 'static-key' : toks[1];
      const rest = (legacy ? toks.slice(1) : toks.slice(2)).map((t) => t.replace(/"/g, ''));
      if (kind === 'static-key' || kind === 'initial-key') {
        out.push({
          zone,
          key: encodeDnskey({
            flags: num(rest[0], 65535, 'flags'),
            protocol: num(rest[1], 255, 'protocol'),
            algorithm: alg(rest[2]),
            publicKey: b64(rest.slice(3).join('')),
          }),
        });
      } else if (kind === 'static-ds' || kind === 'initial-ds') {
        out.push({
          zone,
          ds: {
            keyTag: num(rest[0], 65535, 'key tag'),
            algorithm: alg(rest[1]),
            digestType: num(rest[2], 255, 'digest type'),
            digest: hex(rest.slice(3).join('')),
          },
        });
      } else {
        kind = kind ?? '';
        throw new ConfigError('trust-anchor', `unknown anchor kind '${kind}' for ${toks[0]}`);
      }
    }
  }
  if (!found) throw new ConfigError('trust-anchor', 'no trust-anchors { } block found');
  return merge(out);
}

/** Parses a trust anchor file. Throws ConfigError (code 'trust-anchor') when nothing usable is in it. */
export function parseTrustAnchors(text: string): TrustAnchor[] {
  const bind = /\b(trust-anchors|managed-keys|trusted-keys)\s*\{/.test(text);
  let anchors: TrustAnchor[];
  try {
    anchors = bind ? parseBindFormat(text) : parseZoneFormat(text);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError('trust-anchor', (e as Error).message);
  }
  if (anchors.length === 0) throw new ConfigError('trust-anchor', 'no DS or DNSKEY trust anchors in the file');
  return anchors;
}

/** The anchor closest to (deepest above) `name`, if any covers it. */
export function closestAnchor(anchors: readonly TrustAnchor[], name: Name): TrustAnchor | undefined {
  let best: TrustAnchor | undefined;
  for (const a of anchors) {
    if (isSubdomain(name, a.zone) && (!best || labelCount(a.zone) > labelCount(best.zone))) best = a;
  }
  return best;
}

export function anchorFor(anchors: readonly TrustAnchor[], zone: Name): TrustAnchor | undefined {
  return anchors.find((a) => nameEquals(a.zone, zone));
}

export { compareCanonical };
