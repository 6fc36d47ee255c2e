// VICI wire format (strongSwan src/libcharon/plugins/vici/README.md): pure bytes <-> values.
// Transport frames are a 32-bit big-endian length then a packet; a packet is a type byte, a name for
// the named types, then a message. A message is a flat sequence of typed elements describing a tree.
// Nothing here touches a socket: the client (vici-client.ts) owns I/O.
import { ViciError } from '../util/errors';

export const PacketType = {
  CMD_REQUEST: 0,
  CMD_RESPONSE: 1,
  CMD_UNKNOWN: 2,
  EVENT_REGISTER: 3,
  EVENT_UNREGISTER: 4,
  EVENT_CONFIRM: 5,
  EVENT_UNKNOWN: 6,
  EVENT: 7,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

export const ElementType = {
  SECTION_START: 1,
  SECTION_END: 2,
  KEY_VALUE: 3,
  LIST_START: 4,
  LIST_ITEM: 5,
  LIST_END: 6,
} as const;

/** charon refuses longer frames (vici_socket.h VICI_MESSAGE_SIZE_MAX). */
export const MAX_FRAME = 512 * 1024;
/** Sections nest "to arbitrary levels" per the spec; we cap it so a hostile frame cannot exhaust us. */
export const MAX_DEPTH = 64;

/** Values are blobs; charon itself only sends non-terminated strings, but list-certs data is DER. */
export type ViciScalar = string | Buffer;
export type ViciValue = ViciScalar | ViciScalar[] | ViciSection;
/** A Map keeps insertion order for every key, numeric-looking ones included (plain objects do not). */
export type ViciSection = Map<string, ViciValue>;

/** What encoders accept: Maps or plain objects; numbers and booleans become strings (yes/no). */
export type ViciInputScalar = string | Buffer | number | boolean;
export type ViciInputValue = ViciInputScalar | ViciInputScalar[] | ViciInput | undefined;
export type ViciInput = Map<string, ViciInputValue> | { [key: string]: ViciInputValue };

export type ViciPacket =
  | { type: typeof PacketType.CMD_REQUEST; name: string; message: ViciSection }
  | { type: typeof PacketType.CMD_RESPONSE; message: ViciSection }
  | { type: typeof PacketType.CMD_UNKNOWN }
  | { type: typeof PacketType.EVENT_REGISTER; name: string }
  | { type: typeof PacketType.EVENT_UNREGISTER; name: string }
  | { type: typeof PacketType.EVENT_CONFIRM }
  | { type: typeof PacketType.EVENT_UNKNOWN }
  | { type: typeof PacketType.EVENT; name: string; message: ViciSection };

function malformed(why: string): ViciError {
  return new ViciError('vici-malformed', why);
}

function entries(input: ViciInput): [string, ViciInputValue][] {
  return input instanceof Map ? [...input.entries()] : Object.entries(input);
}

function scalarBytes(v: ViciInputScalar): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'boolean') return Buffer.from(v ? 'yes' : 'no');
  return Buffer.from(String(v), 'utf8');
}

function isSectionInput(v: ViciInputValue): v is ViciInput {
  return v instanceof Map || (typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v));
}

class Writer {
  private chunks: Buffer[] = [];
  private size = 0;
  byte(b: number): void {
    this.push(Buffer.of(b));
  }
  name(s: string): void {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new ViciError('vici-too-long', `name longer than 255 bytes: ${s.slice(0, 40)}...`);
    this.push(Buffer.of(b.length));
    this.push(b);
  }
  value(b: Buffer): void {
    if (b.length > 0xffff) throw new ViciError('vici-too-long', `value longer than 65535 bytes (${b.length})`);
    const h = Buffer.alloc(2);
    h.writeUInt16BE(b.length, 0);
    this.push(h);
    this.push(b);
  }
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  done(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

function writeSection(w: Writer, input: ViciInput, depth: number): void {
  if (depth > MAX_DEPTH) throw new ViciError('vici-too-deep', `sections nested deeper than ${MAX_DEPTH}`);
  for (const [key, v] of entries(input)) {
    if (v === undefined) continue; // lets callers write optional options inline
    if (Array.isArray(v)) {
      w.byte(ElementType.LIST_START);
      w.name(key);
      for (const item of v) {
        w.byte(ElementType.LIST_ITEM);
        w.value(scalarBytes(item));
      }
      w.byte(ElementType.LIST_END);
    } else if (isSectionInput(v)) {
      w.byte(ElementType.SECTION_START);
      w.name(key);
      writeSection(w, v, depth + 1);
      w.byte(ElementType.SECTION_END);
    } else {
      w.byte(ElementType.KEY_VALUE);
      w.name(key);
      w.value(scalarBytes(v));
    }
  }
}

/** Encode a message (the part after the packet header). */
export function encodeMessage(input: ViciInput): Buffer {
  const w = new Writer();
  writeSection(w, input, 0);
  return w.done();
}

/**
 * Decode a message. Values come back as Buffers when `binary`, else as UTF-8 strings (what charon
 * sends for everything except certificate/key data).
 */
export function decodeMessage(b: Uint8Array, opts: { binary?: boolean } = {}): ViciSection {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const root: ViciSection = new Map();
  const stack: ViciSection[] = [root];
  let list: ViciScalar[] | null = null;
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > buf.length) throw malformed(`truncated ${what} at offset ${at}`);
  };
  const readName = (): string => {
    need(1, 'name length');
    const len = buf[at]!;
    at += 1;
    need(len, 'name');
    const s = buf.toString('utf8', at, at + len);
    at += len;
    return s;
  };
  const readValue = (): ViciScalar => {
    need(2, 'value length');
    const len = buf.readUInt16BE(at);
    at += 2;
    need(len, 'value');
    const v = buf.subarray(at, at + len);
    at += len;
    return opts.binary ? Buffer.from(v) : v.toString('utf8');
  };
  const define = (key: string, v: ViciValue): void => {
    const cur = stack[stack.length - 1]!;
    if (cur.has(key)) throw malformed(`duplicate key '${key}'`);
    cur.set(key, v);
  };
  while (at < buf.length) {
    const type = buf[at];
    at += 1;
    if (list !== null && type !== ElementType.LIST_ITEM && type !== ElementType.LIST_END) {
      throw malformed(`element type ${type} inside a list`);
    }
    switch (type) {
      case ElementType.SECTION_START: {
        if (stack.length > MAX_DEPTH) throw malformed(`sections nested deeper than ${MAX_DEPTH}`);
        const name = readName();
        const sec: ViciSection = new Map();
        define(name, sec);
        stack.push(sec);
        break;
      }
      case ElementType.SECTION_END:
        if (stack.length === 1) throw malformed('section end without a section');
        stack.pop();
        break;
      case ElementType.KEY_VALUE: {
        const name = readName();
        define(name, readValue());
        break;
      }
      case ElementType.LIST_START: {
        const name = readName();
        list = [];
        define(name, list);
        break;
      }
      case ElementType.LIST_ITEM:
        if (list === null) throw malformed('list item outside a list');
        list.push(readValue());
        break;
      case ElementType.LIST_END:
        if (list === null) throw malformed('list end without a list');
        list = null;
        break;
      default:
        throw malformed(`unknown element type ${type} at offset ${at - 1}`);
    }
  }
  if (list !== null) throw malformed('unterminated list');
  if (stack.length !== 1) throw malformed('unterminated section');
  return root;
}

function isNamed(t: number): boolean {
  return t === PacketType.CMD_REQUEST || t === PacketType.EVENT_REGISTER || t === PacketType.EVENT_UNREGISTER || t === PacketType.EVENT;
}
function hasMessage(t: number): boolean {
  return t === PacketType.CMD_REQUEST || t === PacketType.CMD_RESPONSE || t === PacketType.EVENT;
}

export type PacketInput =
  | { type: typeof PacketType.CMD_REQUEST | typeof PacketType.EVENT; name: string; message?: ViciInput }
  | { type: typeof PacketType.CMD_RESPONSE; message?: ViciInput }
  | { type: typeof PacketType.EVENT_REGISTER | typeof PacketType.EVENT_UNREGISTER; name: string }
  | { type: typeof PacketType.CMD_UNKNOWN | typeof PacketType.EVENT_CONFIRM | typeof PacketType.EVENT_UNKNOWN };

/** Encode a packet (without the transport length). */
export function encodePacket(p: PacketInput): Buffer {
  const w = new Writer();
  w.byte(p.type);
  if ('name' in p) w.name(p.name);
  const head = w.done();
  if (!hasMessage(p.type)) return head;
  const msg = encodeMessage(('message' in p && p.message) || {});
  return Buffer.concat([head, msg]);
}

/** Decode one packet (the bytes of one transport frame). */
export function decodePacket(b: Uint8Array, opts: { binary?: boolean } = {}): ViciPacket {
  if (b.length < 1) throw malformed('empty packet');
  const type = b[0]!;
  if (type > PacketType.EVENT) throw malformed(`unknown packet type ${type}`);
  let at = 1;
  let name = '';
  if (isNamed(type)) {
    if (b.length < 2) throw malformed('truncated packet name');
    const len = b[1]!;
    if (2 + len > b.length) throw malformed('truncated packet name');
    name = Buffer.from(b.buffer, b.byteOffset + 2, len).toString('utf8');
    at = 2 + len;
  }
  if (!hasMessage(type)) {
    if (at !== b.length) throw malformed(`trailing bytes after packet type ${type}`);
    if (isNamed(type)) return { type: type as typeof PacketType.EVENT_REGISTER, name };
    return { type: type as typeof PacketType.CMD_UNKNOWN };
  }
  const message = decodeMessage(b.subarray(at), opts);
  if (type === PacketType.CMD_RESPONSE) return { type, message };
  return { type: type as typeof PacketType.EVENT, name, message };
}

/** Prefix a packet with its transport length. */
export function frame(packet: Buffer): Buffer {
  if (packet.length > MAX_FRAME) throw new ViciError('vici-too-long', `packet of ${packet.length} bytes exceeds ${MAX_FRAME}`);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(packet.length, 0);
  return Buffer.concat([h, packet]);
}

/**
 * Cut complete frames off the front of a receive buffer. Returns their payloads and the unconsumed
 * rest; a length over MAX_FRAME is an error (the stream cannot be resynchronised after it).
 */
export function splitFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  while (buf.length - at >= 4) {
    const len = buf.readUInt32BE(at);
    if (len > MAX_FRAME) throw new ViciError('vici-malformed', `frame length ${len} exceeds ${MAX_FRAME}`);
    if (buf.length - at - 4 < len) break;
    frames.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return { frames, rest: buf.subarray(at) };
}

/** Plain-object view of a decoded section, for reading (order of numeric-looking keys may change). */
export type PlainValue = string | string[] | PlainSection;
export interface PlainSection {
  [key: string]: PlainValue;
}
export function toPlain(sec: ViciSection): PlainSection {
  const out: PlainSection = {};
  for (const [k, v] of sec) {
    if (v instanceof Map) out[k] = toPlain(v);
    else if (Array.isArray(v)) out[k] = v.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x));
    else out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : v;
  }
  return out;
}

/** Read a scalar as a string, or undefined when absent or not a scalar. */
export function str(sec: ViciSection | undefined, key: string): string | undefined {
  const v = sec?.get(key);
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}
export function section(sec: ViciSection | undefined, key: string): ViciSection | undefined {
  const v = sec?.get(key);
  return v instanceof Map ? v : undefined;
}
export function list(sec: ViciSection | undefined, key: string): string[] {
  const v = sec?.get(key);
  return Array.isArray(v) ? v.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x)) : [];
}
