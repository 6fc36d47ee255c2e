// Hostile client input for the fuzz scenario: datagrams a broken or malicious program might send to
// the local resolver, built from a seeded generator so a failure can be replayed. Each datagram has
// a kind (for the per-kind figures): random bytes, mutated real queries, header games, compression
// pointer loops, over-long names, broken OPT records, oversize messages, sections a query should not
// carry, and responses (which must never be answered: no reflection).
import { Rng } from '../../test/support/rng';

export const DATAGRAM_KINDS = [
  'random',
  'mutated-query',
  'header-games',
  'pointer-loop',
  'long-name',
  'bad-opt',
  'oversize',
  'extra-sections',
  'response',
] as const;
export type DatagramKind = (typeof DATAGRAM_KINDS)[number];

/** Share of each kind in the stream (sums to 1). */
const WEIGHTS: Record<DatagramKind, number> = {
  random: 0.15,
  'mutated-query': 0.3,
  'header-games': 0.1,
  'pointer-loop': 0.1,
  'long-name': 0.05,
  'bad-opt': 0.15,
  oversize: 0.05,
  'extra-sections': 0.05,
  response: 0.05,
};

const QTYPES = [1, 28, 45, 48, 43, 46, 47, 50, 2, 6, 15, 16, 255, 252, 251, 0, 65535, 41, 250, 5, 39];

function nameWire(name: string): Buffer {
  const parts = name.split('.').filter(Boolean);
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length & 0xff]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id & 0xffff, 0);
  h.writeUInt16BE(flags & 0xffff, 2);
  h.writeUInt16BE(qd & 0xffff, 4);
  h.writeUInt16BE(an & 0xffff, 6);
  h.writeUInt16BE(ns & 0xffff, 8);
  h.writeUInt16BE(ar & 0xffff, 10);
  return h;
}

function u16(...xs: number[]): Buffer {
  const b = Buffer.alloc(xs.length * 2);
  xs.forEach((x, i) => b.writeUInt16BE(x & 0xffff, i * 2));
  return b;
}

/** OPT RR: owner, type 41, class = udp size, ttl = ext rcode|version|flags, rdata. */
function opt(o: { owner?: Buffer; udp?: number; ext?: number; version?: number; flags?: number; rdata?: Buffer; rdlen?: number }): Buffer {
  const rdata = o.rdata ?? Buffer.alloc(0);
  const ttl = Buffer.alloc(4);
  ttl[0] = o.ext ?? 0;
  ttl[1] = o.version ?? 0;
  ttl.writeUInt16BE(o.flags ?? 0, 2);
  return Buffer.concat([o.owner ?? Buffer.from([0]), u16(41, o.udp ?? 1232), ttl, u16(o.rdlen ?? rdata.length), rdata]);
}

function option(code: number, data: Buffer, lenOverride?: number): Buffer {
  return Buffer.concat([u16(code, lenOverride ?? data.length), data]);
}

export class HostileStream {
  readonly rng: Rng;
  private readonly cumulative: Array<[number, DatagramKind]>;

  /** `names`: real names (some with answers) to build plausible queries from. */
  constructor(
    seed: number,
    private readonly names: readonly string[],
  ) {
    this.rng = new Rng(seed);
    let acc = 0;
    this.cumulative = DATAGRAM_KINDS.map((k) => [(acc += WEIGHTS[k]), k]);
  }

  private name(): string {
    const r = this.rng;
    // Mostly known names (answered from the cache once seen); one in seven a new name that costs a
    // validated upstream lookup (an NXDOMAIN proof), as a scan through the namespace would. New names
    // cost the daemon ~1 ms each; malformed datagrams ~0.1 ms.
    const roll = r.int(14);
    if (roll < 10) return r.pick(this.names);
    if (roll < 12) return r.pick(this.names).split('.').slice(1).join('.') || 'test';
    if (roll < 13) return `${r.bytes(4).toString('hex')}.${r.pick(this.names)}`;
    return `${r.bytes(3).toString('hex')}.${r.pick(['test', 'example', 'invalid', 'arpa', 'com'])}`;
  }

  /** A well-formed query, possibly with EDNS and DO. */
  query(): Buffer {
    const r = this.rng;
    const withOpt = r.chance(0.6);
    const q = Buffer.concat([
      header(r.int(65536), 0x0100 | (r.chance(0.1) ? 0x0010 : 0), 1, 0, 0, withOpt ? 1 : 0),
      nameWire(this.name()),
      u16(r.pick(QTYPES), r.chance(0.95) ? 1 : r.pick([3, 4, 254, 255, 0])),
    ]);
    return withOpt ? Buffer.concat([q, opt({ flags: r.chance(0.5) ? 0x8000 : 0, udp: r.pick([512, 1232, 4096]) })]) : q;
  }

  next(): { kind: DatagramKind; bytes: Buffer } {
    const x = this.rng.next();
    const kind = this.cumulative.find(([c]) => x < c)?.[1] ?? 'random';
    return { kind, bytes: this.make(kind) };
  }

  make(kind: DatagramKind): Buffer {
    const r = this.rng;
    switch (kind) {
      case 'random':
        return r.bytes(r.chance(0.9) ? r.int(513) : r.int(4097));
      case 'mutated-query': {
        let b: Buffer = Buffer.from(this.query());
        for (let n = 1 + r.int(6); n > 0; n--) b = mutate(r, b);
        return b;
      }
      case 'header-games': {
        const q = this.query();
        const h = q.subarray(0, 12);
        const g = r.int(6);
        if (g === 0)
          h.writeUInt16BE(((r.int(15) + 1) << 11) | 0x0100, 2); // opcodes 1..15
        else if (g === 1)
          h.writeUInt16BE(r.pick([0, 2, 3, 100, 65535]), 4); // qdcount lies
        else if (g === 2)
          h.writeUInt16BE(65535, 6 + 2 * r.int(3)); // an/ns/ar counts lie
        else if (g === 3)
          h.writeUInt16BE(r.int(65536) & ~0x8000, 2); // every flag but QR
        else if (g === 4)
          h.writeUInt16BE(0x0100 | 0x0200, 2); // TC on a query
        else h.writeUInt16BE(0x0100 | (1 + r.int(15)), 2); // RCODE on a query
        return q;
      }
      case 'pointer-loop': {
        const g = r.int(5);
        const tail = u16(1, 1);
        if (g === 0) return Buffer.concat([header(r.int(65536), 0x0100, 1, 0, 0, 0), u16(0xc00c), tail]); // points at itself
        if (g === 1) return Buffer.concat([header(r.int(65536), 0x0100, 1, 0, 0, 0), Buffer.from([1, 0x61]), u16(0xc00c), tail]); // a -> back to a
        if (g === 2) return Buffer.concat([header(r.int(65536), 0x0100, 1, 0, 0, 0), u16(0xc000 | (20 + r.int(4000))), tail]); // beyond the end
        if (g === 3) {
          // 2,000 pointers each to the one before, hidden in the RDATA of a first answer record; the
          // owner of a second record points at the last: a decoder that follows pointers without a
          // bound walks them all.
          const question = Buffer.concat([Buffer.from([0]), tail]); // root, A, IN at offset 12
          const rrHead = Buffer.concat([Buffer.from([0]), u16(65280, 1), Buffer.alloc(4)]); // owner ., private type
          const chainAt = 12 + question.length + rrHead.length + 2;
          const chain: Buffer[] = [u16(0xc000 | 12)];
          for (let i = 1; i < 2000; i++) chain.push(u16(0xc000 | (chainAt + 2 * (i - 1))));
          const rdata = Buffer.concat(chain);
          const last = chainAt + 2 * 1999;
          return Buffer.concat([
            header(r.int(65536), 0x0100, 1, 2, 0, 0),
            question,
            rrHead,
            u16(rdata.length),
            rdata,
            u16(0xc000 | last),
            u16(1, 1),
            Buffer.alloc(4),
            u16(4),
            r.bytes(4),
          ]);
        }
        return Buffer.concat([header(r.int(65536), 0x0100, 1, 0, 0, 0), Buffer.from([r.pick([0x40, 0x41, 0x80, 0xbf])]), r.bytes(8), tail]); // reserved label types
      }
      case 'long-name': {
        const labels: Buffer[] = [];
        const g = r.int(3);
        const count = g === 0 ? 4 : g === 1 ? 5 : 200; // 4 x 63 = 252 (legal), 5 x 63 (too long), 200 x 1
        for (let i = 0; i < count; i++) labels.push(Buffer.concat([Buffer.from([g === 2 ? 1 : 63]), Buffer.alloc(g === 2 ? 1 : 63, 0x61)]));
        return Buffer.concat([header(r.int(65536), 0x0100, 1, 0, 0, 0), ...labels, Buffer.from([0]), u16(1, 1)]);
      }
      case 'bad-opt': {
        const base = Buffer.concat([header(r.int(65536), 0x0100, 1, 0, 0, 1), nameWire(this.name()), u16(1, 1)]);
        const g = r.int(10);
        if (g === 0) return Buffer.concat([base, opt({ owner: nameWire('not.root') })]);
        if (g === 1) {
          base.writeUInt16BE(2, 10);
          return Buffer.concat([base, opt({}), opt({ flags: 0x8000 })]); // two OPTs
        }
        if (g === 2) return Buffer.concat([base, opt({ rdata: Buffer.alloc(8), rdlen: 4000 })]); // rdlen beyond the end
        if (g === 3) return Buffer.concat([base, opt({ rdata: option(10, r.bytes(4), 300) })]); // option longer than rdata
        if (g === 4) return Buffer.concat([base, opt({ version: 1 + r.int(255) })]); // BADVERS
        if (g === 5) return Buffer.concat([base, opt({ udp: r.pick([0, 1, 511, 65535]) })]);
        if (g === 6) return Buffer.concat([base, opt({ rdata: option(10, r.bytes(r.pick([1, 7, 9, 41, 200]))) })]); // cookie of a wrong length
        if (g === 7)
          return Buffer.concat([
            base,
            opt({ rdata: option(8, Buffer.concat([u16(r.pick([0, 3, 65535])), Buffer.from([200, 0]), r.bytes(r.int(20))])) }),
          ]); // ECS nonsense
        if (g === 8)
          return Buffer.concat([
            base,
            opt({ rdata: Buffer.concat(Array.from({ length: 50 }, () => option(r.int(65536), r.bytes(r.int(8))))) }),
          ]);
        // An OPT in the answer section of a query.
        base.writeUInt16BE(0, 10);
        base.writeUInt16BE(1, 6);
        return Buffer.concat([base, opt({})]);
      }
      case 'oversize': {
        const q = this.query();
        return Buffer.concat([q, r.bytes(1500 + r.int(r.chance(0.05) ? 60_000 : 4000))]);
      }
      case 'extra-sections': {
        const n = 1 + r.int(200);
        const rr = Buffer.concat([Buffer.from([0]), u16(1, 1), Buffer.alloc(4), u16(4), r.bytes(4)]);
        const g = r.int(3);
        const base = Buffer.concat([
          header(r.int(65536), 0x0100, 1, g === 0 ? n : 0, g === 1 ? n : 0, g === 2 ? n : 0),
          nameWire(this.name()),
          u16(1, 1),
        ]);
        if (r.chance(0.3)) {
          // A TSIG-looking record that signs nothing.
          base.writeUInt16BE(1, 10);
          return Buffer.concat([base, nameWire('key.test'), u16(250, 255), Buffer.alloc(4), u16(40), r.bytes(40)]);
        }
        return Buffer.concat([base, ...Array.from({ length: n }, () => rr)]);
      }
      case 'response': {
        const q = this.query();
        q.writeUInt16BE(0x8180 | r.int(16), 2); // QR=1: an answer nobody asked for
        return q;
      }
    }
  }
}

/** One random edit of a message. */
export function mutate(r: Rng, b: Buffer): Buffer {
  if (b.length === 0) return r.bytes(1 + r.int(32));
  const at = r.int(b.length);
  switch (r.int(7)) {
    case 0: {
      const c = Buffer.from(b);
      c[at] = c[at]! ^ (1 << r.int(8));
      return c;
    }
    case 1: {
      const c = Buffer.from(b);
      c[at] = r.pick([0, 0xff, 0xc0, 0x3f, 0x40, r.int(256)]);
      return c;
    }
    case 2:
      return Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(16)), b.subarray(at)]);
    case 3:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(8)))]);
    case 4:
      return b.subarray(0, at);
    case 5:
      return Buffer.concat([b, b.subarray(at)]);
    default: {
      const c = Buffer.from(b);
      if (c.length >= 12) c.writeUInt16BE(r.int(65536), 4 + 2 * r.int(4)); // a count that lies
      return c;
    }
  }
}
