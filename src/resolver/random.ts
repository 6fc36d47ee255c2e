// Unpredictable query ids and source ports (RFC 5452 §9.2), drawn from the CSPRNG in batches so the
// hot path does not pay one system call per number.
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let at = pool.length;

export function random16(): number {
  if (at + 2 > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  const v = pool.readUInt16BE(at);
  at += 2;
  return v;
}

/** A port in 1024..65535, avoiding the privileged range. */
export function randomPort(): number {
  for (;;) {
    const p = random16();
    if (p >= 1024) return p;
  }
}
