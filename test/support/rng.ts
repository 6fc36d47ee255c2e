// A small, fast, seedable PRNG (mulberry32) for tests and benches that generate hostile or random
// input: a seed replays a failure exactly. Not for keys or ids that must be unguessable.
/** Small, fast, seedable PRNG (mulberry32). */
export class Rng {
  constructor(private s: number) {}
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) b.writeUInt32LE((this.next() * 4294967296) >>> 0, i);
    for (; i < n; i++) b[i] = this.int(256);
    return b;
  }
}
