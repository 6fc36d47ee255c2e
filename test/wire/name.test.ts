import assert from 'node:assert/strict';
import { ParseError, WireError } from '../../src/util/errors';
import {
  canonicalName,
  compareCanonical,
  decodeName,
  encodeName,
  isSubdomain,
  labelCount,
  labelsToName,
  nameEquals,
  nameToLabels,
  normalizeName,
  parentName,
} from '../../src/wire/name';
import { hex, throwsCode, unhex } from './helpers';

describe('wire/name', () => {
  it('encodes names to uncompressed wire form, with or without the trailing dot', () => {
    assert.equal(hex(encodeName('www.Example.com')), '03777777074578616d706c6503636f6d00');
    assert.equal(hex(encodeName('www.Example.com.')), '03777777074578616d706c6503636f6d00');
    assert.equal(hex(encodeName('www.Example.com', { lowercase: true })), '03777777076578616d706c6503636f6d00');
    assert.equal(hex(encodeName('')), '00');
    assert.equal(hex(encodeName('.')), '00');
  });

  it('reads RFC 1035 escapes and prints special and non-printable bytes as BIND does', () => {
    const labels = nameToLabels('a\\.b.c\\092d.\\000\\255 x');
    assert.deepEqual(
      labels.map((l) => hex(l)),
      ['612e62', '635c64', '00ff2078'],
    );
    assert.equal(labelsToName(labels), 'a\\.b.c\\\\d.\\000\\255\\032x');
    assert.equal(labelsToName([Uint8Array.from([0x22, 0x28, 0x29, 0x3b, 0x40, 0x24, 0x41])]), '\\"\\(\\)\\;\\@\\$A');
  });

  it('keeps every byte value through text and back', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const labels = [all.subarray(0, 63), all.subarray(63, 126), all.subarray(126, 189), all.subarray(189, 250)];
    const text = labelsToName(labels);
    assert.deepEqual(nameToLabels(text).map(hex), labels.map(hex));
  });

  it('rejects bad presentation names with ParseError codes', () => {
    throwsCode(() => nameToLabels('a'.repeat(64) + '.com'), ParseError, 'label-too-long');
    throwsCode(() => nameToLabels(Array(128).fill('a').join('.')), ParseError, 'name-too-long');
    throwsCode(() => nameToLabels('a..b'), ParseError, 'empty-label');
    throwsCode(() => nameToLabels('a\\25'), ParseError, 'bad-escape');
    throwsCode(() => nameToLabels('a\\256'), ParseError, 'bad-escape');
    throwsCode(() => nameToLabels('a\\'), ParseError, 'bad-escape');
    // 4 labels of 63 + root = 257 bytes > 255; 3 of 63 and one of 61 = 255 exactly.
    const l63 = 'a'.repeat(63);
    throwsCode(() => encodeName([l63, l63, l63, l63].join('.')), ParseError, 'name-too-long');
    assert.equal(encodeName([l63, l63, l63, 'a'.repeat(61)].join('.')).length, 255);
  });

  it('compares case-insensitively and orders canonically (RFC 4034 §6.1 example)', () => {
    assert.ok(nameEquals('WWW.example.COM', 'www.Example.com.'));
    assert.ok(nameEquals('\\065.b', 'a.B'));
    assert.ok(!nameEquals('a.b', 'a.c'));
    assert.equal(canonicalName('WwW.ExAmple.'), 'www.example');
    const ordered = [
      'example',
      'a.example',
      'yljkjljk.a.example',
      'Z.a.example',
      'zABC.a.EXAMPLE',
      'z.example',
      '\\001.z.example',
      '*.z.example',
      '\\200.z.example',
    ];
    const shuffled = [...ordered].reverse();
    shuffled.sort(compareCanonical);
    assert.deepEqual(shuffled, ordered);
    assert.equal(compareCanonical('A.example', 'a.EXAMPLE'), 0);
  });

  it('answers subdomain, parent and label questions', () => {
    assert.ok(isSubdomain('a.b.Example', 'example'));
    assert.ok(isSubdomain('example', 'example'));
    assert.ok(isSubdomain('example', ''));
    assert.ok(!isSubdomain('badexample', 'example'));
    assert.ok(!isSubdomain('example', 'a.example'));
    assert.equal(parentName('a.b.c'), 'b.c');
    assert.equal(parentName('c'), '');
    assert.equal(parentName(''), null);
    assert.equal(labelCount(''), 0);
    assert.equal(labelCount('*.a.example'), 3);
    assert.equal(normalizeName('Example.COM.'), 'Example.COM');
    assert.equal(normalizeName('.'), '');
    assert.equal(normalizeName('a\\046b.'), 'a\\.b');
  });

  it('reads plain names on a fast path that agrees with the escape-aware one', () => {
    // Plain text and the same name with escapes must give the same answers.
    assert.ok(isSubdomain('A.Example.', 'example'));
    assert.ok(isSubdomain('a.example', 'EXAMPLE.'));
    assert.ok(isSubdomain('a.example', '.'));
    assert.ok(!isSubdomain('', 'example'));
    assert.ok(!isSubdomain('xa.example', 'a.example'));
    assert.ok(isSubdomain('b.a\\.x.example', 'a\\.x.example'));
    // As text it ends in '.x.example', but its labels are b, 'a.x', example.
    assert.ok(!isSubdomain('b.a\\.x.example', 'x.example'));
    assert.ok(isSubdomain('a.\\065.example', 'a.example'));
    assert.equal(labelCount('a.b.c.'), 3);
    assert.equal(labelCount('.'), 0);
    assert.equal(labelCount('a\\.b.c'), 2);
    assert.deepEqual(
      nameToLabels('Ab.c.').map((l) => [...l]),
      [[0x41, 0x62], [0x63]],
    );
    assert.deepEqual(nameToLabels('a\\.b.c'), nameToLabels('a\\046b.c'));
    for (const bad of ['a..b', '.a', 'a..', `${'x'.repeat(64)}.example`, `${'abcdefg.'.repeat(32)}x`]) {
      assert.throws(() => nameToLabels(bad), ParseError, bad);
      assert.throws(() => isSubdomain(bad, 'example'), ParseError, bad);
      assert.throws(() => labelCount(bad), ParseError, bad);
    }
  });

  describe('decodeName on hostile input', () => {
    // 12 bytes of header padding so offsets look like a real message.
    const pad = '000000000000000000000000';
    it('follows a backward pointer', () => {
      // 12: "example" root; 21: "www" + pointer to 12.
      const buf = unhex(pad + '076578616d706c6500' + '03777777' + 'c00c');
      assert.deepEqual(decodeName(buf, 21), { name: 'www.example', next: 27 });
    });
    it('rejects a pointer to itself', () => {
      throwsCode(() => decodeName(unhex(pad + 'c00c'), 12), WireError, 'pointer-loop');
    });
    it('rejects a pointer back into the name being read', () => {
      throwsCode(() => decodeName(unhex(pad + '0161c00c'), 12), WireError, 'pointer-loop');
    });
    it('follows a chain of pointers, each to an earlier name', () => {
      // 12: "example" root; 21: "www" + pointer to 12; 27: "a" + pointer to 21.
      const buf = unhex(pad + '076578616d706c6500' + '03777777' + 'c00c' + '0161' + 'c015');
      assert.equal(decodeName(buf, 27).name, 'a.www.example');
    });
    it('rejects a loop of backward pointers through a label that spans the first pointer', () => {
      // 12: a 9-byte label covering offsets 13-21, where 20 holds a pointer to 12; 22: pointer to 12.
      const buf = unhex(pad + '09' + '61616161616161' + 'c00c' + 'c00c');
      throwsCode(() => decodeName(buf, 20), WireError, 'pointer-loop');
    });
    it('rejects a forward pointer', () => {
      throwsCode(() => decodeName(unhex(pad + 'c00e0161' + '00'), 12), WireError, 'forward-pointer');
    });
    it('rejects a long pointer chain', () => {
      // 200 pointers each to the previous one, the first to a root label.
      const b = new Uint8Array(13 + 400);
      let target = 12;
      for (let i = 0; i < 200; i++) {
        const at = 13 + i * 2;
        b[at] = 0xc0 | (target >> 8);
        b[at + 1] = target & 0xff;
        target = at;
      }
      throwsCode(() => decodeName(b, target), WireError, 'pointer-chain');
      assert.equal(decodeName(b, 13 + 50 * 2).name, '');
    });
    it('rejects label types 01 and 10', () => {
      throwsCode(() => decodeName(unhex(pad + '4161'), 12), WireError, 'bad-label-type');
      throwsCode(() => decodeName(unhex(pad + '8161'), 12), WireError, 'bad-label-type');
    });
    it('rejects names over 255 bytes, also when assembled through pointers', () => {
      const l = '3f' + '61'.repeat(63);
      throwsCode(() => decodeName(unhex(pad + l + l + l + l + '00'), 12), WireError, 'name-too-long');
      // 3 labels + pointer to a 4th: 12: [l l 00] then [l l c00c] -> 256+ bytes.
      const first = pad + l + l + '00';
      const secondAt = 12 + 128 + 1;
      throwsCode(() => decodeName(unhex(first + l + l + 'c00c'), secondAt), WireError, 'name-too-long');
    });
    it('rejects truncated names and pointers', () => {
      throwsCode(() => decodeName(unhex(pad + '03777777'), 12), WireError, 'truncated');
      throwsCode(() => decodeName(unhex(pad + '0377777703'), 12), WireError, 'truncated');
      throwsCode(() => decodeName(unhex(pad + 'c0'), 12), WireError, 'truncated');
      throwsCode(() => decodeName(unhex(pad), 12), WireError, 'truncated');
    });
  });
});
