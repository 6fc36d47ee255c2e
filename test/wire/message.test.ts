import assert from 'node:assert/strict';
import { WireError } from '../../src/util/errors';
import { decodeHeader, decodeMessage, encodeMessage, makeQuery, makeResponse } from '../../src/wire/message';
import { encodeName } from '../../src/wire/name';
import type { Message, RR } from '../../src/wire/types';
import { hex, throwsCode, unhex } from './helpers';

// A response for example.com MX built by hand, with compression everywhere a server may use it:
// owner names, the MX exchange and both SOA names point back into the question.
const COMPRESSED_RESPONSE =
  'abcd' +
  '8580' +
  '0001' +
  '0001' +
  '0001' +
  '0001' +
  '076578616d706c6503636f6d00' +
  '000f' +
  '0001' + // 12: example.com MX IN
  'c00c' +
  '000f' +
  '0001' +
  '00000e10' +
  '0009' +
  '000a' +
  '046d61696cc00c' + // MX 10 mail.example.com
  'c00c' +
  '0006' +
  '0001' +
  '00000e10' +
  '0026' +
  '026e73c00c' +
  '0A686f73746d6173746572c00c' +
  '00000001' +
  '00000e10' +
  '00000384' +
  '00093a80' +
  '0000012c' + // SOA ns hostmaster 1 3600 900 604800 300
  '00' +
  '0029' +
  '04d0' +
  '00' +
  '00' +
  '8000' +
  '0000'; // OPT udp 1232 DO

describe('wire/message', () => {
  it('encodes a query with EDNS and DO to the exact bytes', () => {
    const q = makeQuery('example.com', 1, { id: 0x1234, do: true });
    assert.equal(
      hex(encodeMessage(q)),
      '123401000001000000000001' + '076578616d706c6503636f6d00' + '00010001' + '00' + '0029' + '04d0' + '0000' + '8000' + '0000',
    );
    assert.deepEqual(decodeMessage(encodeMessage(q)), q);
  });

  it('gives queries random ids unless one is given', () => {
    const ids = new Set(Array.from({ length: 20 }, () => makeQuery('a', 1).id));
    assert.ok(ids.size > 1);
    assert.equal(makeQuery('a', 1).edns, undefined);
    assert.equal(makeQuery('a', 1, { udpSize: 4096 }).edns?.udpSize, 4096);
  });

  it('decompresses names inside MX and SOA RDATA and lifts OPT into edns', () => {
    const m = decodeMessage(unhex(COMPRESSED_RESPONSE));
    assert.equal(m.id, 0xabcd);
    assert.ok(m.qr && m.aa && m.rd && m.ra && !m.tc);
    assert.deepEqual(m.questions, [{ name: 'example.com', type: 15, class: 1 }]);
    assert.equal(m.answers[0]!.name, 'example.com');
    assert.equal(hex(m.answers[0]!.rdata), '000a' + hex(encodeName('mail.example.com')));
    assert.equal(m.authorities[0]!.type, 6);
    assert.equal(
      hex(m.authorities[0]!.rdata),
      hex(encodeName('ns.example.com')) +
        hex(encodeName('hostmaster.example.com')) +
        '00000001' +
        '00000e10' +
        '00000384' +
        '00093a80' +
        '0000012c',
    );
    assert.deepEqual(m.additionals, []);
    assert.deepEqual(m.edns, { udpSize: 1232, extendedRcode: 0, version: 0, do: true, options: [] });
  });

  it('re-encodes with owner names compressed, RDATA uncompressed, OPT last', () => {
    const m = decodeMessage(unhex(COMPRESSED_RESPONSE));
    const b = encodeMessage(m);
    assert.deepEqual(decodeMessage(b), m);
    // Owner of the answer is a pointer to the question name.
    assert.equal(hex(b.subarray(29, 31)), 'c00c');
    // RDATA of the MX carries the full name, uncompressed.
    assert.ok(hex(b).includes('000a' + hex(encodeName('mail.example.com'))));
    assert.equal(hex(b.subarray(b.length - 11)), '000029' + '04d0' + '00008000' + '0000');
    const flat = encodeMessage(m, { compress: false });
    assert.ok(!hex(flat).includes('c00c'));
    assert.deepEqual(decodeMessage(flat), m);
  });

  it('combines the header rcode with the EDNS extended rcode', () => {
    const q = makeQuery('x', 1, { do: false });
    const r = makeResponse(q, 16); // BADVERS
    const back = decodeMessage(encodeMessage(r));
    assert.equal(back.rcode, 16);
    assert.equal(back.edns?.extendedRcode, 1);
    assert.equal(decodeHeader(encodeMessage(r)).rcode, 0);
    throwsCode(() => encodeMessage({ ...r, edns: undefined }), WireError, 'rcode');
  });

  it('makes a response that copies id, question, opcode, rd and cd', () => {
    const q = makeQuery('Example.com', 45, { id: 7, rd: true, cd: true, do: true });
    const r = makeResponse(q, 3);
    assert.equal(r.id, 7);
    assert.ok(r.qr && r.rd && r.cd);
    assert.deepEqual(r.questions, q.questions);
    assert.equal(r.rcode, 3);
    assert.equal(r.edns?.do, true);
  });

  it('keeps EDNS options and reads all header bits', () => {
    const m: Message = {
      ...makeResponse(makeQuery('a.b', 16, { id: 1, do: false }), 0),
      aa: true,
      tc: true,
      ra: true,
      z: true,
      ad: true,
      opcode: 4,
    };
    m.edns!.options = [
      { code: 10, data: unhex('0102030405060708') },
      { code: 12, data: new Uint8Array(0) },
    ];
    const b = encodeMessage(m);
    const h = decodeHeader(b);
    assert.deepEqual([h.qr, h.aa, h.tc, h.rd, h.ra, h.z, h.ad, h.cd, h.opcode], [true, true, true, true, true, true, true, false, 4]);
    assert.equal(h.arcount, 1);
    assert.deepEqual(decodeMessage(b), m);
  });

  describe('maxSize', () => {
    const rr = (name: string, type: number, n: number): RR => ({ name, type, class: 1, ttl: 60, rdata: new Uint8Array(n).fill(n & 0xff) });
    const big: Message = {
      ...makeResponse(makeQuery('h.example', 45, { id: 9, do: true }), 0),
      answers: [rr('h.example', 45, 200), rr('h.example', 45, 201), rr('h.example', 46, 150)],
      authorities: [rr('example', 99, 100)],
      additionals: [rr('ns.example', 1, 4), rr('ns.example', 1, 5)],
    };
    it('leaves a message that fits alone', () => {
      const full = encodeMessage(big);
      assert.deepEqual(encodeMessage(big, { maxSize: full.length }), full);
    });
    it('drops whole RRsets from the end, keeps OPT and sets TC', () => {
      const full = encodeMessage(big);
      const cut = encodeMessage(big, { maxSize: full.length - 1 });
      assert.ok(cut.length <= full.length - 1);
      const m = decodeMessage(cut);
      assert.ok(m.tc);
      assert.equal(m.answers.length, 3);
      assert.equal(m.authorities.length, 1);
      assert.equal(m.additionals.length, 0, 'both A records go together');
      assert.ok(m.edns);
      const small = decodeMessage(encodeMessage(big, { maxSize: 512 }));
      assert.deepEqual(
        small.answers.map((a) => a.type),
        [45, 45],
        'RRSIG set dropped, IPSECKEY set whole',
      );
      const tiny = encodeMessage(big, { maxSize: 100 });
      const t = decodeMessage(tiny);
      assert.ok(t.tc && t.answers.length === 0 && t.questions.length === 1 && t.edns);
      const bare = encodeMessage(big, { maxSize: 20 });
      assert.equal(bare.length, 12);
      assert.ok(decodeHeader(bare).tc);
    });
  });

  describe('hostile input', () => {
    const good = unhex(COMPRESSED_RESPONSE);
    it('rejects a truncated header and every truncation of a good message', () => {
      throwsCode(() => decodeMessage(unhex('abcd8180')), WireError, 'truncated');
      for (let n = 0; n < good.length; n++) {
        assert.throws(
          () => decodeMessage(good.subarray(0, n)),
          (e: unknown) => e instanceof WireError,
        );
      }
    });
    it('rejects an RDLENGTH that runs past the message', () => {
      const b = unhex('0001800000000001000000000000010001000000000010' + '0a000001');
      throwsCode(() => decodeMessage(b), WireError, 'rdlength');
    });
    it('rejects RDATA whose compressed name does not end at RDLENGTH', () => {
      // MX with RDLENGTH 7 but preference + name take 6 bytes: one unexplained byte.
      const b = unhex('000180000001000100000000' + '016100' + '000f0001' + 'c00c000f000100000e10' + '0007' + '000a' + '0162c00c' + 'ff');
      throwsCode(() => decodeMessage(b), WireError, 'rdlength');
    });
    it('rejects two OPT records', () => {
      const opt = '0000290200000000000000';
      throwsCode(() => decodeMessage(unhex('000100000000000000000002' + opt + opt)), WireError, 'multiple-opt');
    });
    it('rejects OPT outside the additional section and with a non-root owner', () => {
      throwsCode(() => decodeMessage(unhex('000100000000000100000000' + '0000290200000000000000')), WireError, 'bad-opt');
      throwsCode(() => decodeMessage(unhex('000100000000000000000001' + '0161000029020000000000' + '0000')), WireError, 'bad-opt');
    });
    it('rejects bytes after the last record', () => {
      throwsCode(() => decodeMessage(unhex('00010000000000000000000000')), WireError, 'trailing-data');
    });
    it('rejects a question name with a pointer loop', () => {
      throwsCode(() => decodeMessage(unhex('000100000001000000000000' + 'c00c00010001')), WireError, 'pointer-loop');
    });

    it('lets only WireError escape from random and mutated packets (fuzz)', () => {
      // Deterministic PRNG so a failure reproduces.
      let seed = 0x9e3779b9;
      const rnd = (n: number): number => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % n;
      };
      const seeds = [good, encodeMessage(decodeMessage(good)), encodeMessage(makeQuery('a.example', 28, { do: true }))];
      let decoded = 0;
      for (let i = 0; i < 30000; i++) {
        let b: Uint8Array;
        if (i % 5 === 0) {
          b = Uint8Array.from({ length: rnd(80) }, () => rnd(256));
        } else {
          b = Uint8Array.from(seeds[rnd(seeds.length)]!);
          const edits = 1 + rnd(4);
          for (let e = 0; e < edits; e++) {
            const at = rnd(b.length);
            switch (rnd(4)) {
              case 0:
                b[at] = rnd(256);
                break;
              case 1:
                b[at]! ^= 1 << rnd(8);
                break;
              case 2:
                b[at] = [0xc0, 0x3f, 0x40, 0x80, 0xff, 0x00][rnd(6)]!;
                break;
              default:
                b = b.subarray(0, at);
            }
          }
        }
        try {
          const m = decodeMessage(b);
          encodeMessage(m);
          decoded++;
        } catch (e) {
          if (!(e instanceof WireError)) throw new Error(`non-WireError on ${hex(b)}: ${String(e)}`);
        }
      }
      assert.ok(decoded > 0, 'some mutations still decode');
    });
  });
});
