// RFC 1035 §4.2.2 / RFC 7766 §8: over TCP every DNS message is preceded by its length in two bytes.
// A reader that accepts arbitrary chunks (a message may arrive split, or several in one chunk).

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Feeds bytes in; returns every complete message now available, in order. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    while (this.buffered >= 2) {
      const head = this.peek(2);
      const len = (head[0]! << 8) | head[1]!;
      if (this.buffered < 2 + len) break;
      const frame = this.take(2 + len);
      out.push(frame.subarray(2));
    }
    return out;
  }

  /** Bytes held for an incomplete message. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    const frame = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return frame;
  }
}

/** Prefixes a message with its two-byte length. Messages over 65535 bytes cannot be framed. */
export function frame(msg: Uint8Array): Buffer {
  if (msg.length > 0xffff) throw new RangeError(`DNS message of ${msg.length} bytes does not fit a TCP frame`);
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  out.set(msg, 2);
  return out;
}
