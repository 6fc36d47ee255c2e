import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  decodeMessage,
  decodePacket,
  encodeMessage,
  encodePacket,
  frame,
  PacketType,
  splitFrames,
  toPlain,
  type ViciSection,
} from '../../src/ike-bridge/vici-codec';
import { ViciError } from '../../src/util/errors';

// The encoding example of strongSwan's vici README ("Encoding example"), byte for byte.
const README_EXAMPLE = Buffer.from([
  3,
  4,
  ...Buffer.from('key1'),
  0,
  6,
  ...Buffer.from('value1'),
  1,
  8,
  ...Buffer.from('section1'),
  1,
  11,
  ...Buffer.from('sub-section'),
  3,
  4,
  ...Buffer.from('key2'),
  0,
  6,
  ...Buffer.from('value2'),
  2,
  4,
  5,
  ...Buffer.from('list1'),
  5,
  0,
  5,
  ...Buffer.from('item1'),
  5,
  0,
  5,
  ...Buffer.from('item2'),
  6,
  2,
]);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ViciError, `expected ViciError, got ${String(e)}`);
    return e.code;
  }
  assert.fail('expected a ViciError');
}

describe('vici codec', () => {
  it('encodes the README example to its exact bytes', () => {
    const enc = encodeMessage({ key1: 'value1', section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] } });
    assert.deepEqual(enc, README_EXAMPLE);
  });

  it('decodes the README example and re-encodes it unchanged', () => {
    const msg = decodeMessage(README_EXAMPLE);
    assert.deepEqual(toPlain(msg), { key1: 'value1', section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] } });
    assert.deepEqual(encodeMessage(msg), README_EXAMPLE);
  });

  it('keeps key order, numeric-looking keys included', () => {
    const m = new Map<string, string>([
      ['b', '1'],
      ['10', '2'],
      ['a', '3'],
      ['2', '4'],
    ]);
    const dec = decodeMessage(encodeMessage(m));
    assert.deepEqual([...dec.keys()], ['b', '10', 'a', '2']);
  });

  it('encodes numbers and booleans as strings, skips undefined', () => {
    const enc = encodeMessage({ timeout: 1500, force: true, skip: undefined });
    assert.deepEqual(toPlain(decodeMessage(enc)), { timeout: '1500', force: 'yes' });
  });

  it('round-trips binary values when asked for Buffers', () => {
    const blob = Buffer.from([0, 255, 1, 128]);
    const dec = decodeMessage(encodeMessage({ data: blob, l: [blob] }), { binary: true });
    assert.deepEqual(dec.get('data'), blob);
    assert.deepEqual((dec.get('l') as Buffer[])[0], blob);
  });

  it('encodes a named request packet with its golden bytes', () => {
    const p = encodePacket({ type: PacketType.CMD_REQUEST, name: 'version' });
    assert.deepEqual(p, Buffer.from([0, 7, ...Buffer.from('version')]));
    assert.deepEqual(frame(p), Buffer.from([0, 0, 0, 9, 0, 7, ...Buffer.from('version')]));
  });

  it('encodes event registration and decodes confirm/unknown packets', () => {
    assert.deepEqual(encodePacket({ type: PacketType.EVENT_REGISTER, name: 'log' }), Buffer.from([3, 3, 108, 111, 103]));
    assert.deepEqual(decodePacket(Buffer.from([5])), { type: PacketType.EVENT_CONFIRM });
    assert.deepEqual(decodePacket(Buffer.from([2])), { type: PacketType.CMD_UNKNOWN });
  });

  it('decodes a response and a named event', () => {
    const resp = decodePacket(Buffer.concat([Buffer.from([1]), encodeMessage({ success: 'no', errmsg: 'x' })]));
    assert.equal(resp.type, PacketType.CMD_RESPONSE);
    assert.equal((resp as { message: ViciSection }).message.get('errmsg'), 'x');
    const ev = decodePacket(Buffer.concat([Buffer.from([7, 3]), Buffer.from('log'), encodeMessage({ msg: 'hi' })]));
    assert.deepEqual(ev.type === PacketType.EVENT && [ev.name, ev.message.get('msg')], ['log', 'hi']);
  });

  it('splits frames and keeps the partial rest', () => {
    const a = frame(encodePacket({ type: PacketType.CMD_REQUEST, name: 'stats' }));
    const b = frame(encodePacket({ type: PacketType.EVENT_CONFIRM }));
    const both = Buffer.concat([a, b]);
    const r = splitFrames(both.subarray(0, both.length - 1));
    assert.equal(r.frames.length, 1);
    assert.equal(r.rest.length, b.length - 1);
    assert.equal(splitFrames(both).frames.length, 2);
  });

  describe('rejects malformed input with ViciError vici-malformed', () => {
    const cases: [string, number[]][] = [
      ['unknown element type', [9]],
      ['truncated key name', [3, 5, 97]],
      ['value length overrun', [3, 1, 97, 0, 9, 1]],
      ['section end without start', [2]],
      ['unterminated section', [1, 1, 115]],
      ['list item outside list', [5, 0, 0]],
      ['key/value inside a list', [4, 1, 108, 3, 1, 97, 0, 0, 6]],
      ['unterminated list', [4, 1, 108]],
      ['list end without list', [6]],
      ['duplicate key', [3, 1, 97, 0, 0, 3, 1, 97, 0, 0]],
    ];
    for (const [name, bytes] of cases) {
      it(name, () =>
        assert.equal(
          code(() => decodeMessage(Buffer.from(bytes))),
          'vici-malformed',
        ),
      );
    }
    it('unknown packet type', () =>
      assert.equal(
        code(() => decodePacket(Buffer.from([8]))),
        'vici-malformed',
      ));
    it('truncated packet name', () =>
      assert.equal(
        code(() => decodePacket(Buffer.from([0, 5, 97]))),
        'vici-malformed',
      ));
    it('trailing bytes after a confirm', () =>
      assert.equal(
        code(() => decodePacket(Buffer.from([5, 1]))),
        'vici-malformed',
      ));
    it('sections nested too deep', () => {
      const deep = Buffer.concat(Array.from({ length: 100 }, () => Buffer.from([1, 1, 115])));
      assert.equal(
        code(() => decodeMessage(deep)),
        'vici-malformed',
      );
    });
    it('frame length over 512 KiB', () => {
      assert.equal(
        code(() => splitFrames(Buffer.from([0, 9, 0, 0, 0]))),
        'vici-malformed',
      );
    });
  });

  it('refuses to encode names over 255 bytes and values over 65535 bytes', () => {
    assert.equal(
      code(() => encodeMessage({ ['k'.repeat(256)]: 'v' })),
      'vici-too-long',
    );
    assert.equal(
      code(() => encodeMessage({ k: Buffer.alloc(65536) })),
      'vici-too-long',
    );
  });

  it('fuzz: random and mutated bytes only ever raise ViciError', () => {
    const seeds = [README_EXAMPLE, encodePacket({ type: PacketType.EVENT, name: 'ike-updown', message: { a: { b: ['c'] } } })];
    for (let i = 0; i < 5000; i++) {
      let input: Buffer;
      if (i % 2 === 0) {
        input = randomBytes(1 + (i % 64));
      } else {
        input = Buffer.from(seeds[i % seeds.length]!);
        const flips = 1 + (i % 4);
        for (let f = 0; f < flips; f++) input[(i * 7 + f * 13) % input.length]! ^= 1 << (i % 8);
        if (i % 3 === 0) input = input.subarray(0, i % input.length);
      }
      for (const fn of [() => decodePacket(input), () => decodeMessage(input), () => splitFrames(input)]) {
        try {
          fn();
        } catch (e) {
          assert.ok(e instanceof ViciError, `non-ViciError for ${input.toString('hex')}: ${String(e)}`);
        }
      }
    }
  });
});
