// Shared test helpers for the wire layer: hex fixtures and the STYLE.md roundTrip pattern.
import assert from 'node:assert/strict';
import type { Codec } from '../../src/wire/codec';
import { type OednsError } from '../../src/util/errors';

export function unhex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Length, golden bytes, decode, stable re-encode and writing at an offset, for one codec and value. */
export function roundTrip<T>(codec: Codec<T>, value: T, goldenHex: string): void {
  const golden = unhex(goldenHex);
  assert.equal(codec.encodingLength(value), golden.length, 'encodingLength');
  const out = new Uint8Array(golden.length);
  assert.equal(codec.encode(value, out, 0), golden.length, 'encode returns next offset');
  assert.equal(hex(out), hex(golden), 'golden bytes');
  const { value: back, next } = codec.decode(golden, 0, golden.length);
  assert.equal(next, golden.length, 'decode consumes everything');
  assert.deepEqual(back, value, 'decode(encode(v)) = v');
  const again = new Uint8Array(golden.length);
  codec.encode(back, again, 0);
  assert.equal(hex(again), hex(golden), 'stable re-encoding');
  const shifted = new Uint8Array(golden.length + 7);
  assert.equal(codec.encode(value, shifted, 5), golden.length + 5, 'encode at an offset');
  assert.equal(hex(shifted.subarray(5, 5 + golden.length)), hex(golden));
  const framed = new Uint8Array(golden.length + 9);
  framed.set(golden, 4);
  assert.deepEqual(codec.decode(framed, 4, 4 + golden.length), { value, next: 4 + golden.length }, 'decode at an offset');
}

/** Asserts fn throws an OednsError subclass `cls` with `code`. */
export function throwsCode(fn: () => unknown, cls: new (...a: never[]) => OednsError, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}
