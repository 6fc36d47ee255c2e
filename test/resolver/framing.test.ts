import assert from 'node:assert/strict';
import { FrameReader, frame } from '../../src/resolver/framing';

describe('resolver/framing (RFC 7766 length prefix)', () => {
  it('reassembles a message split across chunks, even inside the length field', () => {
    const r = new FrameReader();
    const f = frame(Buffer.from('hello world'));
    assert.deepEqual(r.push(f.subarray(0, 1)), []);
    assert.deepEqual(r.push(f.subarray(1, 5)), []);
    const out = r.push(f.subarray(5));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.toString(), 'hello world');
    assert.equal(r.pending, 0);
  });

  it('splits several messages that arrive in one chunk, in order', () => {
    const r = new FrameReader();
    const chunk = Buffer.concat([
      frame(Buffer.from('a')),
      frame(Buffer.alloc(0)),
      frame(Buffer.from('ccc')),
      frame(Buffer.from('dd')).subarray(0, 3),
    ]);
    const out = r.push(chunk);
    assert.deepEqual(
      out.map((b) => b.toString()),
      ['a', '', 'ccc'],
    );
    assert.equal(r.pending, 3);
    assert.deepEqual(
      r.push(Buffer.from('d')).map((b) => b.toString()),
      ['dd'],
    );
  });

  it('refuses to frame a message over 65535 bytes', () => {
    assert.throws(() => frame(new Uint8Array(70_000)), RangeError);
  });
});
