// The cache's compact tier: answers kept as bytes (entry-codec.ts) in large slab chunks, found through
// an open-addressing hash table of typed arrays. No JavaScript object exists per entry, so a million
// names cost their bytes plus ~32 bytes of index instead of ~2 KB of heap each (issue 14's memory
// target). The decoded tier in front of it (cache.ts) keeps the hot names; this one keeps the rest.
//
// Space is reclaimed a chunk at a time, oldest first (a segmented FIFO, as log-structured caches do):
// an entry taken out (promoted, replaced, expired) leaves its bytes until its chunk goes. That trades a
// little space for O(1) work per insert and no fragmentation. Time comes in as arguments.
import { randomBytes } from 'node:crypto';
import { QUESTION_OFFSET } from './entry-codec';

export interface CompactLimits {
  maxEntries: number;
  maxBytes: number;
}

export interface CompactHit {
  bytes: Uint8Array;
  storedAt: number;
  ttl: number;
  negative: boolean;
}

/** Record header in a chunk: u16 length of the whole record, u8 flags, u32 entry id. */
const HEAD = 7;
const FLAG_NEGATIVE = 1;
const FLAG_CD = 2;
const EMPTY = -1;

export class CompactStore {
  private readonly chunkSize: number;
  /** Chunks by number; the oldest has the smallest. */
  private readonly chunks = new Map<number, Buffer>();
  private firstChunk = 0;
  private nextChunk = 0;
  private writeAt = 0;
  private current: Buffer | undefined;
  /** Bytes written in each full chunk (the rest of it is not records). */
  private readonly used = new Map<number, number>();
  /** Records moved forward out of a dropped chunk (see newChunk). */
  relocated = 0;
  /** Bytes of the records the index points at (the rest of the slabs is dead copies). */
  private liveBytes = 0;

  private capacity = 0;
  private table = new Int32Array(0);
  private mask = 0;
  private hashOf = new Uint32Array(0);
  private chunkOf = new Uint32Array(0);
  private offsetOf = new Uint32Array(0);
  /** Whole seconds, rounded down: an entry may end up to a second early and age a second more, never less. */
  private storedSecOf = new Uint32Array(0);
  private ttlOf = new Uint32Array(0);
  /** Free ids, as a stack. */
  private free = new Int32Array(0);
  private freeTop = 0;
  private count = 0;

  /** Per store, secret: clients choose the names, and must not be able to choose their slots. */
  private readonly seed = randomBytes(4).readUInt32BE(0);

  constructor(private readonly limits: CompactLimits) {
    // Dropping a chunk evicts at most ~1/16 of the tier, and a chunk is big enough for any entry kept.
    this.chunkSize = Math.max(64 * 1024, Math.min(1024 * 1024, Math.floor(limits.maxBytes / 16)));
  }

  get size(): number {
    return this.count;
  }

  /** Slabs plus index, the figure the byte bound applies to. */
  get bytes(): number {
    return this.chunks.size * this.chunkSize + this.capacity * 24 + this.table.byteLength;
  }

  /** The largest entry kept; bigger answers are not stored compactly. */
  get maxEntryBytes(): number {
    return Math.min(0xffff - HEAD, this.chunkSize >> 2);
  }

  /**
   * Takes the live entry for `key` out of the tier (it is about to live decoded), or undefined.
   * An expired one is removed on sight.
   */
  take(key: string, now: number): CompactHit | undefined {
    const id = this.find(key);
    if (id === EMPTY) return undefined;
    const storedAt = this.storedSecOf[id]! * 1000;
    const ttl = this.ttlOf[id]!;
    const chunk = this.chunks.get(this.chunkOf[id]!)!;
    const off = this.offsetOf[id]!;
    this.remove(id);
    if (now >= storedAt + ttl * 1000) return undefined;
    const len = (chunk[off]! << 8) | chunk[off + 1]!;
    // A copy: the chunk may be reused long before the caller is done with the bytes.
    const bytes = Uint8Array.prototype.slice.call(chunk, off + HEAD, off + len);
    return { bytes, storedAt, ttl, negative: (chunk[off + 2]! & FLAG_NEGATIVE) !== 0 };
  }

  /** Is a live entry held for `key`? */
  has(key: string, now: number): boolean {
    const id = this.find(key);
    return id !== EMPTY && now < this.storedSecOf[id]! * 1000 + this.ttlOf[id]! * 1000;
  }

  /**
   * Keeps `bytes` (entry-codec output, whose question must be the key's) under `key`; false when the
   * entry is too big. Replaces an entry of the same key; makes room by dropping the oldest chunks.
   */
  put(key: string, bytes: Uint8Array, storedAt: number, ttl: number, negative: boolean): boolean {
    if (bytes.length > this.maxEntryBytes || this.limits.maxEntries <= 0) return false;
    this.delete(key);
    const len = HEAD + bytes.length;
    // Cleaning may fill a new chunk with live records moved forward: go on until one has room. Past
    // one round over every chunk, the oldest are evicted instead (newChunk(false)).
    for (let round = 0; !this.current || this.writeAt + len > this.chunkSize; round++) this.newChunk(round <= this.chunks.size);
    while (this.count >= this.limits.maxEntries && this.chunks.size > 1) this.dropOldestChunk(false);
    if (this.count >= this.limits.maxEntries) return false;
    const id = this.allocId();
    const chunk = this.current;
    const off = this.writeAt;
    chunk[off] = len >>> 8;
    chunk[off + 1] = len & 0xff;
    chunk[off + 2] = (negative ? FLAG_NEGATIVE : 0) | (key.charCodeAt(key.length - 1) === 1 ? FLAG_CD : 0);
    chunk.writeUInt32BE(id, off + 3);
    chunk.set(bytes, off + HEAD);
    this.writeAt += len;
    this.liveBytes += len;
    this.hashOf[id] = hashKey(key, this.seed);
    this.chunkOf[id] = this.nextChunk - 1;
    this.offsetOf[id] = off;
    this.storedSecOf[id] = Math.floor(storedAt / 1000);
    this.ttlOf[id] = ttl;
    this.insert(id);
    this.count++;
    return true;
  }

  delete(key: string): boolean {
    const id = this.find(key);
    if (id === EMPTY) return false;
    this.remove(id);
    return true;
  }

  clear(): void {
    this.chunks.clear();
    this.used.clear();
    this.liveBytes = 0;
    this.current = undefined;
    this.firstChunk = this.nextChunk;
    this.writeAt = 0;
    this.table.fill(EMPTY);
    this.freeTop = 0;
    for (let id = this.capacity - 1; id >= 0; id--) this.free[this.freeTop++] = id;
    this.count = 0;
  }

  /** Removes every entry whose bytes `drop` picks (a flush by name); returns how many. */
  removeWhere(drop: (bytes: Uint8Array) => boolean): number {
    let n = 0;
    for (let slot = 0; slot < this.table.length;) {
      const id = this.table[slot]!;
      if (id !== EMPTY && drop(this.bytesOf(id))) {
        // Removal shifts later entries into this slot: look at it again.
        this.remove(id);
        n++;
        continue;
      }
      slot++;
    }
    return n;
  }

  private bytesOf(id: number): Uint8Array {
    const chunk = this.chunks.get(this.chunkOf[id]!)!;
    const off = this.offsetOf[id]!;
    const len = (chunk[off]! << 8) | chunk[off + 1]!;
    return chunk.subarray(off + HEAD, off + len);
  }

  private newChunk(clean: boolean): void {
    if (this.current) this.used.set(this.nextChunk - 1, this.writeAt);
    // While at most half of the slabs is live, the oldest chunk's live records move forward instead
    // of going (log-structured cleaning): promotions leave dead copies behind, and a client cycling
    // through names must not push every other answer out with them.
    let carried: Buffer[] = [];
    while (this.chunks.size > 0 && (this.chunks.size + 1) * this.chunkSize + this.indexBytes(this.capacity) > this.limits.maxBytes) {
      const cleaning = clean && carried.length === 0 && this.liveBytes * 2 <= this.chunks.size * this.chunkSize;
      const moved = this.dropOldestChunk(cleaning);
      if (moved.length > 0) carried = moved;
    }
    this.current = Buffer.allocUnsafeSlow(this.chunkSize);
    this.chunks.set(this.nextChunk++, this.current);
    this.writeAt = 0;
    for (const rec of carried) {
      const id = rec.readUInt32BE(3);
      rec.copy(this.current, this.writeAt);
      this.chunkOf[id] = this.nextChunk - 1;
      this.offsetOf[id] = this.writeAt;
      this.writeAt += rec.length;
      this.relocated++;
    }
  }

  private indexBytes(capacity: number): number {
    return capacity * 24 + this.table.byteLength;
  }

  /**
   * Drops the oldest chunk. With `relocate`, a chunk at most half live gives its live records back
   * (copies, still indexed: the caller writes them elsewhere and updates their place); otherwise its
   * live entries are evicted.
   */
  private dropOldestChunk(relocate: boolean): Buffer[] {
    while (!this.chunks.has(this.firstChunk) && this.firstChunk < this.nextChunk) this.firstChunk++;
    const n = this.firstChunk;
    const chunk = this.chunks.get(n);
    if (!chunk) return [];
    const end = chunk === this.current ? this.writeAt : (this.used.get(n) ?? 0);
    const live: { id: number; off: number; len: number }[] = [];
    for (let off = 0; off + HEAD <= end;) {
      const len = (chunk[off]! << 8) | chunk[off + 1]!;
      if (len < HEAD) break;
      const id = chunk.readUInt32BE(off + 3);
      // Only if the index still points here: the id may have been freed and reused elsewhere.
      if (id < this.capacity && this.chunkOf[id] === n && this.offsetOf[id] === off && this.isLive(id)) {
        live.push({ id, off, len });
      }
      off += len;
    }
    const keep = relocate && chunk !== this.current;
    const out = keep ? live.map((r) => Buffer.from(chunk.subarray(r.off, r.off + r.len))) : [];
    if (!keep) for (const r of live) this.remove(r.id);
    this.chunks.delete(n);
    this.used.delete(n);
    if (chunk === this.current) this.current = undefined;
    this.firstChunk++;
    return out;
  }

  private isLive(id: number): boolean {
    let slot = this.hashOf[id]! & this.mask;
    for (;;) {
      const at = this.table[slot]!;
      if (at === EMPTY) return false;
      if (at === id) return true;
      slot = (slot + 1) & this.mask;
    }
  }

  private allocId(): number {
    if (this.freeTop === 0) this.grow();
    return this.free[--this.freeTop]!;
  }

  /** Doubles the per-entry arrays and the table (kept at most half full). */
  private grow(): void {
    const cap = Math.max(1024, this.capacity * 2);
    const copy = (old: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
      const next = new Uint32Array(cap);
      next.set(old);
      return next;
    };
    this.hashOf = copy(this.hashOf);
    this.chunkOf = copy(this.chunkOf);
    this.offsetOf = copy(this.offsetOf);
    this.ttlOf = copy(this.ttlOf);
    this.storedSecOf = copy(this.storedSecOf);
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.freeTop));
    this.free = free;
    for (let id = cap - 1; id >= this.capacity; id--) this.free[this.freeTop++] = id;
    const live: number[] = [];
    for (const id of this.table) if (id !== EMPTY) live.push(id);
    this.capacity = cap;
    this.table = new Int32Array(cap * 2).fill(EMPTY);
    this.mask = cap * 2 - 1;
    for (const id of live) this.insert(id);
  }

  private insert(id: number): void {
    let slot = this.hashOf[id]! & this.mask;
    while (this.table[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.table[slot] = id;
  }

  private find(key: string): number {
    if (this.count === 0) return EMPTY;
    const h = hashKey(key, this.seed);
    let slot = h & this.mask;
    for (;;) {
      const id = this.table[slot]!;
      if (id === EMPTY) return EMPTY;
      if (this.hashOf[id] === h && this.keyMatches(id, key)) return id;
      slot = (slot + 1) & this.mask;
    }
  }

  /** The key is the question as on the wire (name lowercased, type, class) and the CD bit. */
  private keyMatches(id: number, key: string): boolean {
    const chunk = this.chunks.get(this.chunkOf[id]!)!;
    const off = this.offsetOf[id]!;
    const end = off + ((chunk[off]! << 8) | chunk[off + 1]!);
    if (!questionIsKey(chunk, off + HEAD + QUESTION_OFFSET, end, key)) return false;
    return ((chunk[off + 2]! & FLAG_CD) !== 0) === (key.charCodeAt(key.length - 1) === 1);
  }

  /** Linear-probing removal with backward shift, so no tombstones build up. */
  private remove(id: number): void {
    const at = this.chunks.get(this.chunkOf[id]!);
    if (at) this.liveBytes -= (at[this.offsetOf[id]!]! << 8) | at[this.offsetOf[id]! + 1]!;
    let slot = this.hashOf[id]! & this.mask;
    while (this.table[slot] !== id) slot = (slot + 1) & this.mask;
    let hole = slot;
    let next = (hole + 1) & this.mask;
    for (;;) {
      const at = this.table[next]!;
      if (at === EMPTY) break;
      const home = this.hashOf[at]! & this.mask;
      // Move `at` back into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!stays) {
        this.table[hole] = at;
        hole = next;
      }
      next = (next + 1) & this.mask;
    }
    this.table[hole] = EMPTY;
    this.free[this.freeTop++] = id;
    this.count--;
  }
}

/**
 * FNV-1a over the key's char codes (latin1 bytes) from a secret starting state, then murmur3's
 * finalizer. The slot is the hash's low bits, and FNV's low k bits depend only on the state's and the
 * bytes' low k bits: unseeded, names sharing a slot are built in milliseconds (review 14: 65536 of
 * them make every lookup landing in their cluster walk it, ~100x slower). The seed hides the state;
 * the finalizer makes every bit of it count for the slot.
 */
export function hashKey(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Is the question written at `q` (before `end`) the key's, CD bit aside? The key is the question as on
 * the wire, name lowercased (cache.ts cacheKey): only the name's bytes are compared without case.
 */
export function questionIsKey(buf: Uint8Array, q: number, end: number, key: string): boolean {
  const n = key.length - 1;
  if (q + n > end) return false;
  for (let i = 0; i < n; i++) {
    const b = buf[q + i]!;
    const lower = i < n - 4 && b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
    if (lower !== key.charCodeAt(i)) return false;
  }
  return true;
}
