// Differential fuzz of src/wire's message and name codec against the frozen copy from before the speed
// work (reference-codec.ts): random messages, messages built from hostile name shapes (pointer chains,
// pointers into the middle of names and onto pointers, names at the length limits) and mutations of
// both must encode to the same bytes, decode to the same structure, and fail with the same error class
// and code. The decoder reads hostile input, so "faster" may not change a single answer.
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/message';
import { canonicalRRsetWire, rrsigSignedPrefix } from '../../src/wire/canonical';
import { parseAddress, parseIPv4, parseIPv6 } from '../../src/wire/ip';
import { canonicalName, decodeName, encodeName, labelsToName, readNameText, readNameWire, wireToName } from '../../src/wire/name';
import { expandRdata } from '../../src/wire/rdata-layout';
import type { Message, RR } from '../../src/wire/types';
import * as ref from './reference-codec';

let seed = 0x2545f491;
const rnd = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rnd(256));

/** A value or the error it threw, as comparable text: class name, code, and for values their JSON. */
function outcome(f: () => unknown): string {
  try {
    return (
      'ok ' +
      JSON.stringify(f(), (_, v: unknown) => (v instanceof Uint8Array ? `${v.constructor.name}:${Buffer.from(v).toString('hex')}` : v))
    );
  } catch (e) {
    return `${(e as Error).constructor.name}/${(e as { code?: string }).code}`;
  }
}

function same(label: string, now: () => unknown, before: () => unknown): string {
  const a = outcome(now);
  const b = outcome(before);
  assert.equal(a, b, label);
  return a;
}

/** deepStrictEqual too (JSON above ignores property presence such as `edns: undefined` and prototypes). */
function sameMessage(b: Uint8Array): boolean {
  let m1: Message | undefined;
  let m2: Message | undefined;
  const o = same(
    `decode ${Buffer.from(b).toString('hex')}`,
    () => (m1 = decodeMessage(b)),
    () => (m2 = ref.decodeMessage(b)),
  );
  if (o.startsWith('ok')) assert.deepStrictEqual(m1, m2);
  return o.startsWith('ok');
}

const LABELS = ['a', 'B', 'www', 'cap', 'test', 'Example', 'xn--bcher-kva', '*', '_tcp', 'n42', 'x'.repeat(63)];
const ODD = ['a\\.b', 'sp\\032ace', '\\000', '\\255x', 'q\\"', '(p)', 'semi;', 'at@', 'd$', 'é', '\\\\', 'UP\\065'];
function randomName(): string {
  const k = rnd(10);
  if (k === 0) return pick(['', '.', 'com', 'com.']);
  if (k === 1) {
    // Near the 255-byte limit, one side or the other.
    const parts: string[] = [];
    let len = 1;
    const want = 240 + rnd(20);
    while (len < want) {
      const l = 'abcdefghij'.repeat(7).slice(0, 1 + rnd(Math.min(63, want - len)));
      parts.push(l);
      len += l.length + 1;
    }
    return parts.join('.');
  }
  const n = 1 + rnd(5);
  const parts = Array.from({ length: n }, () => (rnd(6) === 0 ? pick(ODD) : pick(LABELS)));
  if (rnd(30) === 0) parts.splice(rnd(n), 0, ''); // an empty label: a ParseError on encode
  return parts.join('.') + (rnd(4) === 0 ? '.' : '');
}

const rr = (name: string, type: number, rdata: Uint8Array): RR => ({
  name,
  type,
  class: rnd(8) === 0 ? 3 : 1,
  ttl: rnd(2) ? 3600 : rnd(2 ** 31) * 2,
  rdata,
});
function nameRdata(): Uint8Array {
  try {
    return encodeName(randomName());
  } catch {
    return encodeName('fallback.example');
  }
}
function randomRR(owner: string): RR {
  switch (rnd(9)) {
    case 0:
      return rr(owner, 1, bytes(4));
    case 1:
      return rr(owner, pick([2, 5, 12, 39]), nameRdata());
    case 2:
      return rr(owner, 15, Uint8Array.from([...bytes(2), ...nameRdata()]));
    case 3:
      return rr(owner, 6, Uint8Array.from([...nameRdata(), ...nameRdata(), ...bytes(20)]));
    case 4:
      return rr(owner, 46, Uint8Array.from([...bytes(18), ...nameRdata(), ...bytes(64)]));
    case 5:
      return rr(owner, 33, Uint8Array.from([...bytes(6), ...nameRdata()]));
    case 6:
      return rr(owner, 35, Uint8Array.from([...bytes(4), 1, 0x55, 0, 2, 0x41, 0x42, ...nameRdata()]));
    case 7:
      return rr(owner, 50, bytes(rnd(40)));
    default:
      return rr(owner, pick([16, 45, 48, 43, 99]), bytes(rnd(70)));
  }
}

function randomMessage(): Message {
  const names = Array.from({ length: 1 + rnd(4) }, randomName);
  // Owners repeat (RRsets, compression) and change case (0x20 survives: compression is exact-case).
  const owner = (): string => {
    const n = pick(names);
    return rnd(5) === 0 ? n.toUpperCase() : n;
  };
  const m = makeQuery(names[0]!, pick([1, 28, 45, 48, 43, 6]), { id: rnd(65536), do: rnd(2) === 0, udpSize: rnd(3) ? 1232 : undefined });
  m.qr = rnd(4) !== 0;
  m.aa = rnd(2) === 0;
  m.rcode = rnd(6) === 0 ? 3 : rnd(20) === 0 && m.edns ? 16 + rnd(20) : 0;
  if (rnd(10) === 0) m.questions.push({ name: owner(), type: 1, class: 1 });
  const section = (): RR[] => Array.from({ length: rnd(5) }, () => randomRR(owner()));
  m.answers = section();
  m.authorities = section();
  m.additionals = section();
  if (m.edns && rnd(3) === 0)
    m.edns.options = [
      { code: 10, data: bytes(8) },
      { code: rnd(65536), data: bytes(rnd(5)) },
    ];
  return m;
}

function mutate(src: Uint8Array): Uint8Array {
  let b = Uint8Array.from(src);
  for (let e = 1 + rnd(4); e > 0 && b.length > 0; e--) {
    const at = rnd(b.length);
    switch (rnd(6)) {
      case 0:
        b[at] = rnd(256);
        break;
      case 1:
        b[at]! ^= 1 << rnd(8);
        break;
      case 2:
        b[at] = pick([0xc0, 0x3f, 0x40, 0x80, 0xff, 0x00, 0x01]);
        break;
      case 3: {
        // A pointer to somewhere at or before here: onto labels, into their middle, onto other pointers.
        if (at + 1 >= b.length) break;
        const t = rnd(at + 2);
        b[at] = 0xc0 | (t >>> 8);
        b[at + 1] = t & 0xff;
        break;
      }
      case 4:
        b = b.subarray(0, at);
        break;
      default:
        b = Uint8Array.from([...b.subarray(0, at), ...bytes(1 + rnd(3)), ...b.subarray(at)]);
    }
  }
  return b;
}

/**
 * A message of raw name shapes: questions and owners made of labels and pointers to earlier offsets
 * (name starts, label starts inside names, pointers, anywhere), so that pointer chains, long names and
 * the decoder's reuse of names already read meet every check it makes.
 */
function hostileNames(): Uint8Array {
  const out: number[] = [0, 1, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const starts: number[] = [];
  const labelStarts: number[] = [];
  const nq = 1 + rnd(4);
  const nr = rnd(200) === 0 ? 130 : rnd(6);
  const writeName = (): void => {
    starts.push(out.length);
    // Some names long, so that a pointer onto another long name crosses the 255-byte limit.
    const long = rnd(6) === 0;
    for (let k = long ? 2 + rnd(3) : rnd(4); k > 0; k--) {
      const len = long ? 50 + rnd(14) : rnd(12) === 0 ? pick([63, 64, 0x41, 60]) : 1 + rnd(5);
      labelStarts.push(out.length);
      out.push(len & 0xff, ...Array.from({ length: len & 0x3f }, () => pick([0x61, 0x41, 0x2e, 0x20, 0x5c, 0xff, 0x7a])));
    }
    const r = rnd(10);
    if (r < 6 && starts.length > 1) {
      const t = r < 3 ? pick(starts.slice(0, -1)) : r < 5 && labelStarts.length ? pick(labelStarts) : rnd(out.length + 2);
      out.push(0xc0 | ((t >>> 8) & 0x3f), t & 0xff);
    } else out.push(0);
  };
  for (let i = 0; i < nq; i++) {
    writeName();
    out.push(0, 1, 0, 1);
  }
  for (let i = 0; i < nr; i++) {
    writeName();
    const rd = rnd(3) === 0 ? [0, 0] : [0, 4, 1, 2, 3, 4];
    out.push(0, rd.length === 2 ? 2 : 1, 0, 1, 0, 0, 0, 60, ...rd);
    if (rd.length === 2) {
      // An NS whose RDATA is one pointer: expanded into the answer.
      const t = pick(starts);
      out[out.length - 1] = 2;
      out.push(0xc0 | ((t >>> 8) & 0x3f), t & 0xff);
    }
  }
  out[5] = nq;
  out[6] = nr >>> 8;
  out[7] = nr & 0xff;
  return Uint8Array.from(out);
}

/** A question name that is a chain of `n` pointers, each to the previous question (n = 128 breaks the hop limit). */
function pointerChain(n: number): Uint8Array {
  const out: number[] = [0, 1, 0, 0, 0, n + 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1];
  let prev = 12;
  for (let i = 0; i < n; i++) {
    const at = out.length;
    out.push(0xc0 | (prev >>> 8), prev & 0xff, 0, 1, 0, 1);
    prev = at;
  }
  return Uint8Array.from(out);
}

describe('wire codec: new against the frozen reference (differential fuzz)', function () {
  this.timeout(120_000);

  it('random messages encode to the same bytes (compressed, flat, cut to a size) and decode alike', () => {
    let ok = 0;
    for (let i = 0; i < 4000; i++) {
      const m = randomMessage();
      const opts = [undefined, { compress: false }, { maxSize: 60 + rnd(600) }, { maxSize: 12 + rnd(40) }][rnd(4)];
      const o = same(
        `encode #${i}`,
        () => encodeMessage(m, opts),
        () => ref.encodeMessage(m, opts),
      );
      if (!o.startsWith('ok')) continue;
      const b = ref.encodeMessage(m, opts);
      // A Node Buffer too, as datagrams arrive: RDATA slices of it stay Buffers with both.
      if (sameMessage(rnd(4) === 0 ? Buffer.from(b) : b)) ok++;
      for (let k = 0; k < 4; k++) sameMessage(mutate(b));
    }
    assert.ok(ok > 3000, `${ok} decoded`);
  });

  it('hostile name shapes and their mutations decode alike or fail with the same code', () => {
    let ok = 0;
    const codes = new Set<string>();
    for (let i = 0; i < 8000; i++) {
      const b = rnd(4) === 0 ? mutate(hostileNames()) : hostileNames();
      if (sameMessage(b)) ok++;
      else codes.add(outcome(() => decodeMessage(b)));
    }
    for (const n of [1, 2, 126, 127, 128, 200]) sameMessage(pointerChain(n));
    assert.ok(ok > 1000, `${ok} decoded`);
    // The fuzz reached each of the name checks, not only the easy ones.
    for (const c of ['truncated', 'forward-pointer', 'pointer-loop', 'bad-label-type', 'name-too-long', 'trailing-data'])
      assert.ok(
        [...codes].some((x) => x.endsWith(`/${c}`)),
        `no ${c} among ${[...codes].join(' ')}`,
      );
    assert.equal(
      outcome(() => decodeMessage(pointerChain(128))),
      'WireError/pointer-chain',
    );
  });

  it('name readers agree on random bytes: compressed, in RDATA bounds, without pointers', () => {
    for (let i = 0; i < 20000; i++) {
      const b = rnd(3) === 0 ? bytes(1 + rnd(40)) : mutate(hostileNames());
      if (b.length === 0) continue;
      const at = rnd(b.length);
      const limit = at + rnd(b.length - at + 1);
      const hex = Buffer.from(b).toString('hex');
      same(
        `decodeName ${hex} @${at}`,
        () => decodeName(b, at),
        () => ref.decodeName(b, at),
      );
      same(
        `readNameWire ${hex} @${at}..${limit}`,
        () => readNameWire(b, at, limit, true),
        () => ref.readNameWire(b, at, limit, true),
      );
      same(
        `readNameText ${hex} @${at}..${limit}`,
        () => readNameText(b, at, limit),
        () => {
          const { wire, next } = ref.readNameWire(b, at, limit, false);
          return { name: ref.wireToName(wire), next };
        },
      );
      const type = pick([2, 5, 6, 15, 33, 35, 14, 1]);
      same(
        `expandRdata ${type} ${hex} @${at}..${limit}`,
        () => expandRdata(type, b, at, limit),
        () => ref.expandRdata(type, b, at, limit),
      );
    }
  });

  it('encodeName agrees on random presentation names, as given and lowercased', () => {
    for (let i = 0; i < 20000; i++) {
      const n =
        rnd(3) === 0
          ? Array.from({ length: rnd(12) }, () => pick(['a', 'Z', '.', '\\', '0', '9', '\\.', '\\0', 'é', ' ', '-'])).join('')
          : randomName();
      const lc = rnd(2) === 0;
      same(
        `encodeName ${JSON.stringify(n)}`,
        () => encodeName(n, { lowercase: lc }),
        () => ref.encodeName(n, { lowercase: lc }),
      );
    }
  });

  it('the name, address and canonical-form helpers agree: text, labels, IPv4, RRset and RRSIG signed data', () => {
    for (let i = 0; i < 20000; i++) {
      const n = randomName();
      same(
        `canonicalName ${JSON.stringify(n)}`,
        () => canonicalName(n),
        () => ref.canonicalName(n),
      );
      const cased = n.replace(/[a-z]/g, (c) => (rnd(2) ? c.toUpperCase() : c)) + (rnd(8) === 0 ? 'É' : '');
      same(
        `canonicalName ${JSON.stringify(cased)}`,
        () => canonicalName(cased),
        () => ref.canonicalName(cased),
      );
      const labels = Array.from({ length: rnd(4) }, () => bytes(rnd(6)));
      same(
        'labelsToName',
        () => labelsToName(labels),
        () => ref.labelsToName(labels),
      );
      const w = rnd(2) ? bytes(rnd(20)) : Uint8Array.from([...bytes(rnd(3)).map((x) => x & 7), 0]);
      same(
        `wireToName ${Buffer.from(w).toString('hex')}`,
        () => wireToName(w),
        () => ref.wireToName(w),
      );
      const ip = pick([
        () =>
          Array.from({ length: 3 + rnd(3) }, () => pick(['0', '1', '01', '255', '256', '999', '1000', '', 'a', String(rnd(300))])).join(
            '.',
          ),
        () => `${rnd(256)}.${rnd(256)}.${rnd(256)}.${rnd(256)}`,
        () => pick(['::1', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4\n', '1..2.3', '١.2.3.4', '+1.2.3.4', '1e2.1.1.1']),
      ])();
      same(
        `parseIPv4 ${JSON.stringify(ip)}`,
        () => parseIPv4(ip),
        () => ref.parseIPv4(ip),
      );
      const addr = rnd(4) === 0 ? pick(['::1', '::ffff:1.2.3.4', '2001:db8::1', '::ffff:01.2.3.4', 'fe80::1%eth0', ':::']) : ip;
      same(
        `parseAddress ${JSON.stringify(addr)}`,
        () => parseAddress(addr),
        () => {
          // parseAddress as main wrote it, on the old parseIPv4: IPv4 first (it threw for anything else), then IPv6.
          try {
            return { bytes: ref.parseIPv4(addr), family: 4 };
          } catch {
            /* not IPv4 */
          }
          try {
            const v6 = parseIPv6(addr);
            const mapped = v6.subarray(0, 10).every((x) => x === 0) && v6[10] === 0xff && v6[11] === 0xff;
            return mapped ? { bytes: v6.slice(12), family: 4 } : { bytes: v6, family: 6 };
          } catch {
            return null;
          }
        },
      );
      const owner = randomName();
      const set = Array.from({ length: 1 + rnd(4) }, () => {
        const r = randomRR(rnd(3) ? owner : owner.toUpperCase());
        return rnd(4) === 0 ? { ...r, type: 1, rdata: Uint8Array.of(10, 0, 0, rnd(2)) } : r;
      });
      const ttl = rnd(2) ? 3600 : rnd(2 ** 32);
      same(
        `canonicalRRsetWire #${i}`,
        () => canonicalRRsetWire(set, ttl),
        () => ref.canonicalRRsetWire(set, ttl),
      );
      const sig = rnd(3) ? Uint8Array.from([...bytes(18), ...nameRdata(), ...bytes(rnd(70))]) : bytes(rnd(40));
      same(
        `rrsigSignedPrefix ${Buffer.from(sig).toString('hex')}`,
        () => rrsigSignedPrefix(sig),
        () => ref.rrsigSignedPrefix(sig),
      );
    }
  });
});
