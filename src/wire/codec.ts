// The shape every typed RDATA codec has (see STYLE.md §2): no hidden state, offsets passed and returned.
export interface Codec<T> {
  encodingLength(v: T): number;
  /** Writes `v` at `at`; returns the offset after it. */
  encode(v: T, out: Uint8Array, at: number): number;
  /** Reads a value from [at, end); `end` is the RDLENGTH bound and is never read past. */
  decode(b: Uint8Array, at: number, end: number): { value: T; next: number };
}
