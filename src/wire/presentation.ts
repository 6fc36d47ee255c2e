// Presentation format (zone-file text) <-> RR, printed the way BIND's dig prints one RR per line
// (+nomultiline, default +split=56), so tests can compare with the real tools line for line. Types without
// a text form here use the RFC 3597 generic form `\# len hex`, which every zone-file reader accepts.
import { ParseError, WireError } from '../util/errors';
import { encodeWith, Reader } from './bytes';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip';
import { encodeName, normalizeName } from './name';
import { decodeTypeBitmap, encodeTypeBitmap } from './rdata/bitmap';
import { ipseckey, type Ipseckey } from './rdata/ipseckey';
import {
  fromBase32hex,
  fromBase64,
  fromHex,
  quote,
  split,
  textToTime,
  timeToText,
  toBase32hex,
  toBase64,
  toHex,
  unescapeBytes,
} from './text';
import { classFromName, className, isTypeName, typeFromName, typeName } from './types-registry';
import type { Name, RR } from './types';
import { tokenize, type Entry, type Token } from './zone-tokens';

type Field =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'period'
  | 'name'
  | 'ipv4'
  | 'ipv6'
  | 'string'
  | 'strings'
  | 'b64'
  | 'hex'
  | 'time'
  | 'type'
  | 'bitmap'
  | 'salt'
  | 'hash32'
  | 'tag'
  | 'value';

const NAME1: Field[] = ['name'];
const PREF_NAME: Field[] = ['u16', 'name'];
const DS_LIKE: Field[] = ['u16', 'u8', 'u8', 'hex'];
const KEY_LIKE: Field[] = ['u16', 'u8', 'u8', 'b64'];

const SPECS: ReadonlyMap<number, readonly Field[]> = new Map<number, readonly Field[]>([
  [1, ['ipv4']],
  [2, NAME1],
  [3, NAME1],
  [4, NAME1],
  [5, NAME1],
  [7, NAME1],
  [8, NAME1],
  [9, NAME1],
  [12, NAME1],
  [39, NAME1],
  [6, ['name', 'name', 'u32', 'period', 'period', 'period', 'period']],
  [13, ['string', 'string']], // HINFO
  [14, ['name', 'name']], // MINFO
  [15, PREF_NAME],
  [18, PREF_NAME],
  [21, PREF_NAME],
  [36, PREF_NAME],
  [16, ['strings']],
  [99, ['strings']],
  [17, ['name', 'name']], // RP
  [28, ['ipv6']],
  [33, ['u16', 'u16', 'u16', 'name']], // SRV
  [35, ['u16', 'u16', 'string', 'string', 'string', 'name']], // NAPTR
  [43, DS_LIKE],
  [59, DS_LIKE],
  [32768, DS_LIKE],
  [32769, DS_LIKE],
  [44, ['u8', 'u8', 'hex']], // SSHFP
  [46, ['type', 'u8', 'u8', 'u32', 'time', 'time', 'u16', 'name', 'b64']], // RRSIG
  [47, ['name', 'bitmap']], // NSEC
  [48, KEY_LIKE],
  [60, KEY_LIKE],
  [49, ['b64']], // DHCID
  [50, ['u8', 'u8', 'u16', 'salt', 'hash32', 'bitmap']], // NSEC3
  [51, ['u8', 'u8', 'u16', 'salt']], // NSEC3PARAM
  [52, ['u8', 'u8', 'u8', 'hex']],
  [53, ['u8', 'u8', 'u8', 'hex']], // TLSA, SMIMEA
  [61, ['b64']], // OPENPGPKEY
  [257, ['u8', 'tag', 'value']], // CAA
]);

const IPSECKEY = 45;

function nameText(n: Name): string {
  return n === '' ? '.' : n + '.';
}

function formatField(f: Field, r: Reader): string {
  switch (f) {
    case 'u8':
      return String(r.u8());
    case 'u16':
      return String(r.u16());
    case 'u32':
    case 'period':
      return String(r.u32());
    case 'name':
      return nameText(r.name());
    case 'ipv4':
      return formatIPv4(r.bytes(4));
    case 'ipv6':
      return formatIPv6(r.bytes(16));
    case 'string':
      return quote(r.charString());
    case 'strings': {
      const parts: string[] = [];
      do parts.push(quote(r.charString()));
      while (!r.done());
      return parts.join(' ');
    }
    case 'b64':
      return split(toBase64(r.rest()));
    case 'hex':
      return split(toHex(r.rest()));
    case 'time':
      return timeToText(r.u32());
    case 'type':
      return typeName(r.u16());
    case 'bitmap': {
      const types = decodeTypeBitmap(r.b, r.p, r.end);
      r.p = r.end;
      return types.map(typeName).join(' ');
    }
    case 'salt': {
      const s = r.charString();
      return s.length === 0 ? '-' : toHex(s);
    }
    case 'hash32':
      return toBase32hex(r.charString());
    case 'tag':
      return Buffer.from(r.charString()).toString('latin1');
    case 'value':
      return quote(r.rest());
  }
}

function formatIpseckey(r: Reader): string {
  const { value: k, next } = ipseckey.decode(r.b, r.p, r.end);
  r.p = next;
  const gw = k.gatewayType === 0 ? '.' : k.gatewayType === 3 ? nameText(k.gateway!) : k.gateway!;
  const key = k.publicKey.length ? ' ' + split(toBase64(k.publicKey)) : '';
  return `${k.precedence} ${k.gatewayType} ${k.algorithm} ${gw}${key}`;
}

function generic(rdata: Uint8Array): string {
  return rdata.length === 0 ? '\\# 0' : `\\# ${rdata.length} ${split(toHex(rdata))}`;
}

/** RDATA text as BIND prints it; RFC 3597 generic form for other types and for RDATA that does not parse. */
export function formatRdata(type: number, rdata: Uint8Array): string {
  const spec = SPECS.get(type);
  if (!spec && type !== IPSECKEY) return generic(rdata);
  try {
    const r = new Reader(rdata, 0, rdata.length, typeName(type));
    let text: string;
    if (type === IPSECKEY) text = formatIpseckey(r);
    else
      text = spec!
        .map((f) => formatField(f, r))
        .filter((s) => s !== '')
        .join(' ');
    if (!r.done()) return generic(rdata);
    return text;
  } catch (e) {
    if (e instanceof WireError || e instanceof ParseError) return generic(rdata);
    throw e;
  }
}

/**
 * BIND's column layout for dig output (masterdump.c indent()): fields start at columns 24, 32, 40, 48 with
 * tab stops of 8; a field that ends at or past its target column is followed by at least one character,
 * a tab when that crosses a tab stop, else a space.
 */
function pad(out: string[], from: number, to: number): number {
  if (to < from + 1) to = from + 1;
  const tabs = Math.floor(to / 8) - Math.floor(from / 8);
  const spaces = tabs > 0 ? to % 8 : to - from;
  out.push('\t'.repeat(Math.max(tabs, 0)) + ' '.repeat(spaces));
  return to;
}

/** One line, as `dig +nocmd +noall +answer` prints it: `owner.<tab>TTL<tab>IN<tab>TYPE<tab>rdata`. */
export function formatRR(rr: RR): string {
  const out: string[] = [];
  const fields = [nameText(rr.name), String(rr.ttl), className(rr.class), typeName(rr.type)];
  const cols = [24, 32, 40, 48];
  let col = 0;
  fields.forEach((f, i) => {
    out.push(f);
    col = pad(out, col + f.length, cols[i]!);
  });
  return out.join('') + formatRdata(rr.type, rr.rdata);
}

// ---------------------------------------------------------------------------------------------- parsing

class Cursor {
  i = 0;
  constructor(
    readonly tokens: Token[],
    readonly where: string,
  ) {}
  fail(msg: string): never {
    throw new ParseError('bad-rdata', `${this.where}: ${msg}`);
  }
  next(what: string): Token {
    if (this.i >= this.tokens.length) this.fail(`missing ${what}`);
    return this.tokens[this.i++]!;
  }
  word(what: string): string {
    const t = this.next(what);
    if (t.quoted) this.fail(`${what} must not be quoted`);
    return t.text;
  }
  rest(): string {
    const s = this.tokens
      .slice(this.i)
      .map((t) => t.text)
      .join('');
    this.i = this.tokens.length;
    return s;
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
}

function uint(text: string, bits: 8 | 16 | 32, c: Cursor): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 2 ** bits - 1) c.fail(`'${text}' is not a ${bits}-bit number`);
  return Number(text);
}

/** TTLs and SOA timers: seconds, or BIND's unit form such as 1h30m or 2W. */
export function parseTtl(text: string): number {
  if (/^[0-9]+$/.test(text)) {
    const v = Number(text);
    if (v > 0xffffffff) throw new ParseError('bad-ttl', `TTL ${text} out of range`);
    return v;
  }
  const m = /^([0-9]+[wdhms])+$/i.exec(text);
  if (!m) throw new ParseError('bad-ttl', `bad TTL '${text}'`);
  const unit: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const part of text.toLowerCase().match(/[0-9]+[wdhms]/g)!) total += Number(part.slice(0, -1)) * unit[part.slice(-1)]!;
  if (total > 0xffffffff) throw new ParseError('bad-ttl', `TTL ${text} out of range`);
  return total;
}

function isTtl(text: string): boolean {
  return /^[0-9]+$/.test(text) || /^([0-9]+[wdhms])+$/i.test(text);
}

/** A name from zone text: '@' is the origin, names without a final unescaped dot are relative to it. */
export function resolveName(text: string, origin: Name): Name {
  if (text === '@') return origin;
  let bs = 0;
  for (let i = text.length - 2; i >= 0 && text[i] === '\\'; i--) bs++;
  const absolute = text.endsWith('.') && bs % 2 === 0;
  if (absolute) return normalizeName(text);
  return normalizeName(origin === '' ? text : `${text}.${origin}`);
}

class Bytes {
  parts: number[] = [];
  u8(v: number): void {
    this.parts.push(v);
  }
  u16(v: number): void {
    this.parts.push(v >>> 8, v & 0xff);
  }
  u32(v: number): void {
    this.parts.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.parts.push(x);
  }
  charString(b: Uint8Array, c: Cursor): void {
    if (b.length > 255) c.fail('character-string longer than 255 bytes');
    this.u8(b.length);
    this.bytes(b);
  }
}

function parseField(f: Field, c: Cursor, out: Bytes, origin: Name): void {
  switch (f) {
    case 'u8':
      return out.u8(uint(c.word('number'), 8, c));
    case 'u16':
      return out.u16(uint(c.word('number'), 16, c));
    case 'u32':
      return out.u32(uint(c.word('number'), 32, c));
    case 'period':
      return out.u32(parseTtl(c.word('period')));
    case 'name':
      return out.bytes(encodeName(resolveName(c.word('name'), origin)));
    case 'ipv4':
      return out.bytes(parseIPv4(c.word('IPv4 address')));
    case 'ipv6':
      return out.bytes(parseIPv6(c.word('IPv6 address')));
    case 'string':
      return out.charString(unescapeBytes(c.next('string').text), c);
    case 'strings':
      do out.charString(unescapeBytes(c.next('string').text), c);
      while (!c.done());
      return;
    case 'b64':
      return out.bytes(fromBase64(c.rest()));
    case 'hex':
      return out.bytes(fromHex(c.rest()));
    case 'time':
      return out.u32(textToTime(c.word('time')));
    case 'type':
      return out.u16(typeFromName(c.word('type')));
    case 'bitmap': {
      const types: number[] = [];
      while (!c.done()) types.push(typeFromName(c.word('type')));
      return out.bytes(encodeTypeBitmap(types));
    }
    case 'salt': {
      const s = c.word('salt');
      return out.charString(s === '-' ? new Uint8Array(0) : fromHex(s), c);
    }
    case 'hash32':
      return out.charString(fromBase32hex(c.word('hash')), c);
    case 'tag': {
      const t = c.word('tag');
      if (!/^[A-Za-z0-9]+$/.test(t)) c.fail(`bad CAA tag '${t}'`);
      return out.charString(Buffer.from(t, 'latin1'), c);
    }
    case 'value':
      return out.bytes(unescapeBytes(c.next('value').text));
  }
}

function parseIpseckey(c: Cursor, origin: Name): Uint8Array {
  const precedence = uint(c.word('precedence'), 8, c);
  const gatewayType = uint(c.word('gateway type'), 8, c);
  const algorithm = uint(c.word('algorithm'), 8, c);
  const gw = c.word('gateway');
  if (gatewayType > 3) c.fail(`gateway type ${gatewayType} is not defined (RFC 4025 §2.3)`);
  if (gatewayType === 0 && gw !== '.') c.fail("gateway type 0 needs '.' as gateway (RFC 4025 §3.1)");
  const gateway = gatewayType === 0 ? null : gatewayType === 3 ? resolveName(gw, origin) : gw;
  const value: Ipseckey = {
    precedence,
    gatewayType: gatewayType as Ipseckey['gatewayType'],
    algorithm,
    gateway,
    publicKey: fromBase64(c.rest()),
  };
  return encodeWith(ipseckey, value);
}

function parseRdata(type: number, tokens: Token[], origin: Name, where: string): Uint8Array {
  const c = new Cursor(tokens, where);
  if (tokens.length > 0 && !tokens[0]!.quoted && tokens[0]!.text === '\\#') {
    // RFC 3597 §5: \# <length> <hex>...
    c.next('\\#');
    const len = uint(c.word('length'), 16, c);
    const data = fromHex(c.rest());
    if (data.length !== len) c.fail(`generic RDATA says ${len} bytes but has ${data.length}`);
    return data;
  }
  const spec = SPECS.get(type);
  if (!spec && type !== IPSECKEY) c.fail(`no text form for ${typeName(type)}; use the RFC 3597 '\\# len hex' form`);
  let rdata: Uint8Array;
  if (type === IPSECKEY) rdata = parseIpseckey(c, origin);
  else {
    const out = new Bytes();
    for (const f of spec!) parseField(f, c, out, origin);
    rdata = Uint8Array.from(out.parts);
  }
  if (!c.done()) c.fail(`unexpected '${c.tokens[c.i]!.text}' after the RDATA`);
  if (rdata.length > 0xffff) c.fail('RDATA longer than 65535 bytes');
  return rdata;
}

/** Parses the RDATA text of one type (no owner/TTL/class/type in front). */
export function parseRdataText(type: number, text: string, origin: Name = ''): Uint8Array {
  const entries = tokenize(text);
  return parseRdata(
    type,
    entries.flatMap((e) => e.tokens),
    origin,
    typeName(type),
  );
}

interface State {
  origin: Name;
  defaultTtl?: number;
  lastTtl?: number;
  lastClass: number;
  lastOwner?: Name;
}

function parseEntry(e: Entry, st: State, ownerGiven: boolean): RR {
  const t = e.tokens;
  const where = `line ${e.line}`;
  let i = 0;
  let name: Name;
  if (ownerGiven) {
    if (t[0]!.quoted) throw new ParseError('bad-owner', `${where}: quoted owner name`);
    name = resolveName(t[i++]!.text, st.origin);
  } else {
    if (st.lastOwner === undefined) throw new ParseError('no-owner', `${where}: no previous owner name`);
    name = st.lastOwner;
  }
  let ttl: number | undefined;
  let klass: number | undefined;
  for (let k = 0; k < 2 && i < t.length && !t[i]!.quoted; k++) {
    const w = t[i]!.text;
    if (ttl === undefined && isTtl(w)) {
      ttl = parseTtl(w);
      i++;
    } else if (klass === undefined && classFromName(w) !== undefined && !isTypeName(w)) {
      klass = classFromName(w);
      i++;
    } else break;
  }
  if (i >= t.length || t[i]!.quoted) throw new ParseError('no-type', `${where}: missing RR type`);
  const type = typeFromName(t[i++]!.text);
  if (ttl === undefined) ttl = st.defaultTtl ?? st.lastTtl;
  if (ttl === undefined) throw new ParseError('no-ttl', `${where}: no TTL and no $TTL`);
  const rdata = parseRdata(type, t.slice(i), st.origin, `${where} ${typeName(type)}`);
  st.lastOwner = name;
  st.lastTtl = ttl;
  st.lastClass = klass ?? st.lastClass;
  return { name, type, class: st.lastClass, ttl, rdata };
}

/** One RR in zone-file syntax (owner required; TTL and class optional, from ctx). */
export function parseRR(line: string, ctx?: { origin?: Name; ttl?: number; class?: number }): RR {
  const entries = tokenize(line);
  if (entries.length !== 1) throw new ParseError('bad-rr', `expected one RR, found ${entries.length} entries`);
  const st: State = { origin: ctx?.origin ?? '', defaultTtl: ctx?.ttl, lastClass: ctx?.class ?? 1 };
  return parseEntry(entries[0]!, st, true);
}

/**
 * A whole zone file: comments, ( ) continuation, $ORIGIN, $TTL, '@', relative names, omitted owner
 * (leading white space), omitted TTL ($TTL, else the previous RR's) and class, RFC 3597 generic RDATA.
 * $INCLUDE and $GENERATE are refused: this layer does no I/O.
 */
export function parseZone(text: string, ctx?: { origin?: Name; ttl?: number }): RR[] {
  const st: State = { origin: ctx?.origin ?? '', defaultTtl: ctx?.ttl, lastClass: 1 };
  const out: RR[] = [];
  for (const e of tokenize(text)) {
    const first = e.tokens[0]!;
    if (!e.leadingSpace && !first.quoted && first.text.startsWith('$')) {
      const dir = first.text.toUpperCase();
      const arg = e.tokens[1]?.text;
      if (arg === undefined) throw new ParseError('bad-directive', `line ${e.line}: ${dir} needs an argument`);
      if (dir === '$ORIGIN') st.origin = resolveName(arg, st.origin);
      else if (dir === '$TTL') st.defaultTtl = parseTtl(arg);
      else throw new ParseError('unsupported-directive', `line ${e.line}: ${dir} is not supported`);
      continue;
    }
    out.push(parseEntry(e, st, !e.leadingSpace));
  }
  return out;
}
