// RFC 4034 §4.1.2 type bit maps (shared by NSEC and NSEC3): window blocks in increasing order, each with
// 1..32 bitmap octets.
import { WireError } from '../../util/errors';
import { checkUint } from '../bytes';

export function decodeTypeBitmap(bytes: Uint8Array, at = 0, end = bytes.length): number[] {
  const types: number[] = [];
  let p = at;
  let lastWindow = -1;
  while (p < end) {
    if (p + 2 > end) throw new WireError('bitmap', 'type bit map window header cut off');
    const win = bytes[p]!;
    const len = bytes[p + 1]!;
    if (win <= lastWindow) throw new WireError('bitmap', 'type bit map windows out of order (RFC 4034 §4.1.2)');
    if (len < 1 || len > 32) throw new WireError('bitmap', `type bit map window length ${len} outside 1..32`);
    if (p + 2 + len > end) throw new WireError('bitmap', 'type bit map window runs past RDLENGTH');
    for (let i = 0; i < len; i++) {
      const byte = bytes[p + 2 + i]!;
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >> bit)) types.push(win * 256 + i * 8 + bit);
    }
    lastWindow = win;
    p += 2 + len;
  }
  return types;
}

export function typeBitmapLength(types: number[]): number {
  return encodeTypeBitmap(types).length;
}

export function encodeTypeBitmap(types: number[]): Uint8Array {
  const sorted = [...new Set(types.map((t) => checkUint(t, 16, 'type')))].sort((a, b) => a - b);
  const out: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const win = sorted[i]! >> 8;
    const bits = new Uint8Array(32);
    let len = 0;
    while (i < sorted.length && sorted[i]! >> 8 === win) {
      const low = sorted[i]! & 0xff;
      bits[low >> 3]! |= 0x80 >> (low & 7);
      len = (low >> 3) + 1;
      i++;
    }
    out.push(win, len, ...bits.subarray(0, len));
  }
  return Uint8Array.from(out);
}
