// Adversarial review of the rewritten wire codec (issue 14), against the frozen reference codec: the
// mechanisms the differential fuzz (codec-differential.test.ts) reaches only by chance. The name memo
// (a pointer to a name read before takes its text) at its hop, length and pointer-order limits and past
// its 32 names; the encoder's hashed compression dictionary under hash collisions, mixed case and past
// the 0x4000 pointer limit; names of every byte value through decode, re-encode and DNSSEC canonical
// forms; and scratch buffers (module-level, reused) never showing through in anything handed out.
import assert from 'node:assert/strict';
import { canonicalRdata, canonicalRRsetWire, rrsigSignedPrefix } from '../../src/wire/canonical';
import { decodeMessage, encodeMessage } from '../../src/wire/message';
import { decodeName, encodeName, readNameText, readNameWire } from '../../src/wire/name';
import { expandRdata } from '../../src/wire/rdata-layout';
import type { Message, RR } from '../../src/wire/types';
import * as ref from './reference-codec';

let seed = 0x1badb002;
const rnd = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function outcome(f: () => unknown): string {
  try {
    return 'ok ' + JSON.stringify(f(), (_, v: unknown) => (v instanceof Uint8Array ? `${v.constructor.name}:${hex(v)}` : v));
  } catch (e) {
    return `${(e as Error).constructor.name}/${(e as { code?: string }).code}`;
  }
}

/** Decodes with both codecs; the same structure or the same error. Returns the new one's message, if any. */
function decodeBoth(b: Uint8Array): Message | undefined {
  let m1: Message | undefined;
  let m2: Message | undefined;
  const a = outcome(() => (m1 = decodeMessage(b)));
  const r = outcome(() => (m2 = ref.decodeMessage(b)));
  assert.equal(a, r, `decode ${hex(b)}`);
  if (m1) assert.deepStrictEqual(m1, m2);
  return m1;
}

/** Label bytes that matter to the text form: dots, backslashes, NUL, space, case, high bytes, specials. */
const BYTES = [0x00, 0x2e, 0x5c, 0x20, 0x41, 0x5a, 0x61, 0x7a, 0x7f, 0x80, 0xff, 0x22, 0x28, 0x3b, 0x40, 0x24, 0x30, 0x39, 0x2a];
function labelBytes(len: number): number[] {
  return Array.from({ length: len }, () => (rnd(3) === 0 ? rnd(256) : pick(BYTES)));
}

/**
 * Questions built to meet the memo at its edges: each name is 0-3 labels (some 63 long, so that
 * joining two names crosses 255 bytes) then the root or a pointer to an earlier name start (most often:
 * what the memo holds), a label inside one, the pointer that ends one, or anywhere earlier. Up to 60
 * names, beyond the 32 the memo keeps. Answers (A records) with owners made the same way follow.
 */
function memoMessage(): Uint8Array {
  const out: number[] = [0, 7, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0];
  const starts: number[] = [];
  const inner: number[] = [];
  const ptrs: number[] = [];
  const name = (): void => {
    starts.push(out.length);
    const long = rnd(5) === 0;
    for (let k = rnd(4); k > 0; k--) {
      const len = long ? pick([63, 62, 61, 40]) : pick([1, 1, 2, 3, 10, 63]);
      inner.push(out.length);
      out.push(len, ...labelBytes(len));
    }
    if (starts.length > 1 && rnd(8) !== 0) {
      const r = rnd(20);
      const t =
        r < 12
          ? pick(starts.slice(0, -1))
          : r < 15 && inner.length > 0
            ? pick(inner)
            : r < 18 && ptrs.length > 0
              ? pick(ptrs)
              : rnd(out.length + 1);
      ptrs.push(out.length);
      out.push(0xc0 | ((t >>> 8) & 0x3f), t & 0xff);
    } else out.push(0);
  };
  const nq = 1 + rnd(60);
  for (let i = 0; i < nq; i++) {
    name();
    out.push(0, 1, 0, 1);
  }
  const na = rnd(8);
  for (let i = 0; i < na; i++) {
    name();
    out.push(0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, rnd(256));
  }
  out[4] = nq >>> 8;
  out[5] = nq & 0xff;
  out[7] = na;
  return Uint8Array.from(out);
}

/**
 * n questions: the first a name of one label, each next one label ('x', or a 63-byte label every
 * `longEvery`) then a pointer to the one before. Hop counts and lengths grow by one step per question,
 * so the memo's sums meet 127 hops and 255 bytes exactly, from either side.
 */
function ladder(n: number, firstLen: number, longEvery: number, barePointerEvery: number): Uint8Array {
  const out: number[] = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  let prev = out.length;
  out.push(firstLen, ...Array<number>(firstLen).fill(0x41), 0, 0, 1, 0, 1);
  for (let i = 1; i < n; i++) {
    const at = out.length;
    if (barePointerEvery > 0 && i % barePointerEvery === 0) {
      // A name that is only a pointer: read through the memo without being added to it.
    } else if (longEvery > 0 && i % longEvery === 0) out.push(63, ...Array<number>(63).fill(0x62));
    else out.push(1, 0x78);
    out.push(0xc0 | (prev >>> 8), prev & 0xff, 0, 1, 0, 1);
    prev = at;
  }
  out[4] = n >>> 8;
  out[5] = n & 0xff;
  return Uint8Array.from(out);
}

describe('wire codec review: name memo, compression dictionary, canonical forms, scratch (against the reference)', function () {
  this.timeout(180_000);

  it('memo: questions and owners pointing at names read before, into them and at their pointers, decode as the reference does', () => {
    const codes = new Map<string, number>();
    let ok = 0;
    for (let i = 0; i < 30000; i++) {
      const b = memoMessage();
      if (decodeBoth(b)) ok++;
      else {
        const c = outcome(() => decodeMessage(b));
        codes.set(c, (codes.get(c) ?? 0) + 1);
      }
    }
    assert.ok(ok > 1500, `${ok} decoded`);
    for (const c of ['pointer-loop', 'name-too-long', 'forward-pointer', 'truncated'])
      assert.ok(
        [...codes.keys()].some((k) => k.endsWith('/' + c)),
        `no ${c} among ${[...codes.keys()].join(' ')}`,
      );
  });

  it('memo: ladders of names meet 127 hops and 255 bytes exactly, through memo entries and bare pointers', () => {
    const seen = new Set<string>();
    for (const n of [2, 31, 32, 33, 63, 64, 100, 126, 127, 128, 129, 140, 200])
      for (const firstLen of [1, 63])
        for (const longEvery of [0, 3, 17, 40])
          for (const bare of [0, 2, 3, 5]) {
            const b = ladder(n, firstLen, longEvery, bare);
            decodeBoth(b);
            seen.add(outcome(() => decodeMessage(b)).slice(0, 40));
          }
    // Both limits were met (some ladders end in each error) and some ladders decoded whole.
    const all = [...seen].join(' ');
    assert.match(all, /WireError\/name-too-long/);
    assert.match(all, /WireError\/pointer-chain/);
    assert.match(all, /^ok |\sok /);
  });

  it('memo: a pointer onto a remembered name whose own pointer targets lie after the new target is a loop, as in a full walk', () => {
    // q1 'a' at 12; q2 at 19: label 'b' then a pointer to 20 (q2's own label byte, inside q2). Read fresh
    // q2 is "b" + the name at 20... which is a label then a pointer forward-or-loop: each case by both.
    for (let t = 12; t < 40; t++) {
      const b = Uint8Array.from([
        0,
        1,
        0,
        0,
        0,
        3,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0x61,
        0,
        0,
        1,
        0,
        1,
        1,
        0x62,
        0xc0,
        t,
        0,
        1,
        0,
        1,
        0xc0,
        19,
        0,
        1,
        0,
        1,
      ]);
      decodeBoth(b);
    }
  });

  it('scratch: names, RDATA and messages handed out stay as they were after later decodes and encodes', () => {
    const keep: { value: unknown; snapshot: string }[] = [];
    const hold = (value: unknown): void => {
      keep.push({ value, snapshot: outcome(() => value) });
    };
    for (let i = 0; i < 3000; i++) {
      const b = memoMessage();
      try {
        hold(decodeMessage(b));
      } catch {
        /* errors hold nothing */
      }
      const w = Uint8Array.from([3, 0x41, 0x62, 0x63, 0, 1, 0x5c, 0xc0, 0]);
      hold(readNameWire(w, 0, w.length, false));
      hold(readNameWire(w, 5, w.length, true));
      hold(encodeName(pick(['a.b.c', 'X\\.y.Z', '\\000.\\255', 'ab\\ cd', ''])));
      hold(expandRdata(15, Uint8Array.from([0, 10, 2, 0x4d, 0x58, 0]), 0, 6));
      hold(encodeMessage(decodeMessage(Uint8Array.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, rnd(256) & 0x3f, 0, 0, 1, 0, 1]))));
      hold(rrsigSignedPrefix(Uint8Array.from([...Array<number>(18).fill(rnd(256)), 1, 0x41 + rnd(26), 0])));
      hold(canonicalRdata(2, Uint8Array.from([2, 0x41 + rnd(26), 0x5a, 0])));
    }
    for (const { value, snapshot } of keep)
      assert.equal(
        outcome(() => value),
        snapshot,
      );
  });

  it('decoded names of every byte value re-encode (compressed, flat, cut) to the reference bytes', () => {
    for (let i = 0; i < 20000; i++) {
      const b = memoMessage();
      let m: Message;
      let r: Message;
      try {
        m = decodeMessage(b);
        r = ref.decodeMessage(b);
      } catch {
        continue;
      }
      // 0x20 case: flip the case of some owners' letters (text), so suffixes match only partly.
      const flip = (rr: RR): RR => ({
        ...rr,
        name: rr.name.replace(/[a-zA-Z]/g, (c) => (rnd(3) ? c : c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())),
      });
      if (rnd(2)) {
        m = { ...m, answers: m.answers.map(flip) };
        r = { ...r, answers: m.answers };
      }
      const opts = pick([undefined, { compress: false }, { maxSize: 12 + rnd(400) }]);
      const e1 = outcome(() => encodeMessage(m, opts));
      assert.equal(
        e1,
        outcome(() => ref.encodeMessage(r, opts)),
        `encode of decoded ${hex(b)}`,
      );
      if (e1.startsWith('ok')) decodeBoth(encodeMessage(m, opts));
    }
  });

  it('compression dictionary: names whose suffix hashes collide are told apart byte by byte', () => {
    // The dictionary's hash (FNV-1a over the suffix's bytes, last label first, to 30 bits), as message.ts
    // computes it: used here only to find colliding names, whose encodings must still match the reference.
    const hashOf = (wire: Uint8Array): number => {
      const starts: number[] = [];
      for (let p = 0; wire[p] !== 0; p += wire[p]! + 1) starts.push(p);
      let h = 0x811c9dc5;
      for (let k = starts.length - 1; k >= 0; k--) {
        const s = starts[k]!;
        for (let i = s + wire[s]!; i >= s; i--) h = Math.imul(h ^ wire[i]!, 0x01000193);
      }
      return h & 0x3fffffff;
    };
    const byHash = new Map<number, string>();
    const pairs: [string, string][] = [];
    const alpha = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-';
    for (let i = 0; pairs.length < 12 && i < 400000; i++) {
      const n =
        Array.from({ length: 1 + rnd(2) }, () => Array.from({ length: 1 + rnd(7) }, () => alpha[rnd(alpha.length)]).join('')).join('.') +
        pick(['', '.com', '.Com', '.example.org']);
      const h = hashOf(encodeName(n));
      const other = byHash.get(h);
      if (other !== undefined && other !== n) pairs.push([other, n]);
      else byHash.set(h, n);
    }
    assert.ok(pairs.length >= 4, `only ${pairs.length} colliding pairs found`);
    for (const [x, y] of pairs) {
      for (let k = 0; k < 20; k++) {
        const names = [x, y, `sub.${x}`, `sub.${y}`, x.toUpperCase(), y];
        const m: Message = {
          ...ref.decodeMessage(Uint8Array.from([0, 9, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1])),
          questions: [{ name: pick(names), type: 1, class: 1 }],
        };
        m.answers = Array.from({ length: 1 + rnd(8) }, () => ({
          name: pick(names),
          type: 1,
          class: 1,
          ttl: 60,
          rdata: Uint8Array.of(10, 0, 0, rnd(256)),
        }));
        const a = encodeMessage(m);
        assert.equal(hex(a), hex(ref.encodeMessage(m)), `${x} / ${y}`);
        assert.deepStrictEqual(
          decodeMessage(a).answers.map((rr) => rr.name),
          m.answers.map((rr) => rr.name),
        );
      }
    }
  });

  it('compression dictionary: names written around offset 0x4000 (pointers cannot reach past it) and cuts there', () => {
    for (let i = 0; i < 300; i++) {
      const base = pick(['example.com', 'a.b.c.d', 'Example.COM', 'x\\.y.z']);
      const m: Message = ref.decodeMessage(Uint8Array.from([0, 9, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]));
      m.questions = [{ name: base, type: 16, class: 1 }];
      const fill = 16000 + rnd(600);
      let used = 30;
      while (used < fill + 800) {
        const big = rnd(3) === 0;
        const rd = big ? new Uint8Array(200 + rnd(3000)) : Uint8Array.of(10, 0, 0, rnd(256));
        const name = pick([base, `w${rnd(30)}.${base}`, `Q${rnd(5)}.w${rnd(30)}.${base}`, `w${rnd(30)}.${base.toUpperCase()}`]);
        m.answers.push({ name, type: big ? 16 : 1, class: 1, ttl: 60, rdata: rd });
        used += name.length + 12 + rd.length;
      }
      const opts = pick([undefined, { maxSize: 0x3f00 + rnd(0x300) }, { maxSize: 0x4000 + rnd(0x2000) }]);
      const a = outcome(() => encodeMessage(m, opts));
      assert.equal(
        a,
        outcome(() => ref.encodeMessage(m, opts)),
      );
      if (a.startsWith('ok')) decodeBoth(encodeMessage(m, opts));
    }
  });

  it('canonical RRset wire and RRSIG signed data: escaped, mixed-case owners and names of every byte value', () => {
    const wireName = (): number[] => {
      const out: number[] = [];
      let len = 1;
      for (let k = rnd(5); k > 0; k--) {
        const l = pick([1, 2, 5, 63]);
        if (len + l + 1 > 255) break;
        out.push(l, ...labelBytes(l));
        len += l + 1;
      }
      out.push(0);
      return out;
    };
    for (let i = 0; i < 20000; i++) {
      const ownerWire = Uint8Array.from(wireName());
      const owner = ref.wireToName(ownerWire);
      const variants = [owner, owner.toUpperCase(), owner.replace(/[a-z]/g, (c) => (rnd(2) ? c.toUpperCase() : c)), owner + '.'];
      const set: RR[] = Array.from({ length: 1 + rnd(5) }, () => {
        const type = pick([1, 2, 5, 6, 15, 46, 47, 39, 12, 33]);
        const name = Uint8Array.from(wireName());
        const rdata =
          type === 1
            ? Uint8Array.of(1, 2, 3, rnd(3))
            : type === 6
              ? Uint8Array.from([...name, ...wireName(), ...new Array<number>(20).fill(rnd(2))])
              : type === 15
                ? Uint8Array.from([0, rnd(2), ...name])
                : type === 33
                  ? Uint8Array.from([0, 1, 0, 2, 0, rnd(2), ...name])
                  : type === 46
                    ? Uint8Array.from([0, 1, 8, 2, 0, 0, 0, 60, 1, 2, 3, 4, 5, 6, 7, 8, 0, rnd(2), ...name, 9, 9])
                    : type === 47
                      ? Uint8Array.from([...name, 0, 1, 0x40])
                      : name;
        return { name: pick(variants), type, class: 1, ttl: 60, rdata };
      });
      const ttl = rnd(2 ** 32);
      assert.equal(
        outcome(() => canonicalRRsetWire(set, ttl)),
        outcome(() => ref.canonicalRRsetWire(set, ttl)),
        JSON.stringify(set.map((r) => [r.name, r.type, hex(r.rdata)])),
      );
      const sig = Uint8Array.from([...Array.from({ length: 18 }, () => rnd(256)), ...wireName(), ...labelBytes(rnd(30))]);
      const cut = rnd(4) === 0 ? sig.subarray(0, rnd(sig.length + 1)) : sig;
      assert.equal(
        outcome(() => rrsigSignedPrefix(cut)),
        outcome(() => ref.rrsigSignedPrefix(cut)),
        hex(cut),
      );
      // The text the validator works with reads back to the same wire name, lowercased or not.
      assert.equal(
        outcome(() => encodeName(owner, { lowercase: true })),
        outcome(() => ref.encodeName(owner, { lowercase: true })),
      );
      assert.equal(
        outcome(() => readNameText(ownerWire, 0, ownerWire.length)),
        outcome(() => ({ name: owner, next: ownerWire.length })),
      );
      assert.equal(
        outcome(() => decodeName(ownerWire, 0).name),
        outcome(() => ref.decodeName(ownerWire, 0).name),
      );
    }
  });
});
