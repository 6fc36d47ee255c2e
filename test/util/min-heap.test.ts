// The heap behind the registry's shunt eviction: pops in order whatever the push order.
import assert from 'node:assert/strict';
import { MinHeap } from '../../src/util/min-heap';

describe('util/min-heap', () => {
  it('pops the least first, for pushes in any order, after reset() and drain()', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 1000;
    const h = new MinHeap<number>((a, b) => a < b);
    const xs = Array.from({ length: 500 }, rnd);
    for (const x of xs) h.push(x);
    assert.equal(h.size, 500);
    const out: number[] = [];
    for (let i = 0; i < 250; i++) out.push(h.pop()!);
    h.reset([...h.drain(), -1, 2000]);
    assert.equal(h.pop(), -1);
    while (h.size > 1) out.push(h.pop()!);
    assert.equal(h.pop(), 2000);
    assert.equal(h.pop(), undefined);
    assert.deepEqual(
      out,
      [...xs].sort((a, b) => a - b),
    );
  });
});
