// TSIG (RFC 8945) over whole messages: the RDATA codec, signing a request, and every way the check
// of an answer must fail. The server side is a few lines of test code that sign an answer the way §5.3
// says (tsig-helpers.ts); test/publish/publish-named.test.ts checks the same code against BIND itself.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { concat } from '../../src/wire/bytes';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/message';
import { encodeName } from '../../src/wire/name';
import { tsig, time48, readTime48 } from '../../src/wire/rdata/tsig';
import {
  badTimeSkew,
  findTsig,
  signRequest,
  TSIG_ALGORITHMS,
  type TsigAlgorithm,
  type TsigKey,
  verifyResponse,
} from '../../src/publish/tsig';
import { answerTo, serverSign } from './tsig-helpers';
import { hex, roundTrip, unhex } from '../wire/helpers';

const KEY: TsigKey = {
  name: 'publish-key',
  algorithm: 'hmac-sha256',
  secret: new Uint8Array(Buffer.from('OvAwtLceKrzlgwK3tHeTyabWWpJZicsmFlYsGakb3Bk=', 'base64')),
};
const NOW = 1_790_000_000;

describe('TSIG RDATA (RFC 8945 §4.2)', () => {
  it('round-trips with the 48-bit time, MAC, original id, error and other data', () => {
    roundTrip(
      tsig,
      {
        algorithm: 'hmac-sha256',
        timeSigned: 0x0001_6a8f_1234,
        fudge: 300,
        mac: unhex('a1b2c3'),
        originalId: 0xbeef,
        error: 18,
        otherData: unhex('000169000000'),
      },
      '0b686d61632d736861323536 00 00016a8f1234 012c 0003 a1b2c3 beef 0012 0006 000169000000',
    );
  });

  it('writes the algorithm name lowercased and reads 48-bit times beyond 2^32', () => {
    assert.equal(readTime48(time48(2 ** 40 + 5)), 2 ** 40 + 5);
    const out = new Uint8Array(
      tsig.encodingLength({
        algorithm: 'HMAC-SHA256',
        timeSigned: 1,
        fudge: 1,
        mac: new Uint8Array(0),
        originalId: 1,
        error: 0,
        otherData: new Uint8Array(0),
      }),
    );
    tsig.encode(
      { algorithm: 'HMAC-SHA256', timeSigned: 1, fudge: 1, mac: new Uint8Array(0), originalId: 1, error: 0, otherData: new Uint8Array(0) },
      out,
      0,
    );
    assert.equal(Buffer.from(out.subarray(1, 12)).toString(), 'hmac-sha256');
  });

  it('refuses a MAC size that runs past the RDATA', () => {
    const b = unhex('0b686d61632d736861323536 00 00016a8f1234 012c 00ff a1b2');
    assert.throws(() => tsig.decode(b, 0, b.length), { code: 'rdata' });
  });
});

describe('TSIG signing and checking (RFC 8945 §4.3, §5.3)', () => {
  const request = (): { wire: Uint8Array; mac: Uint8Array; id: number } => {
    const q = makeQuery('pub.test', 6, { id: 0x1234, rd: false });
    const signed = signRequest(encodeMessage({ ...q, opcode: 5 }), KEY, NOW);
    return { ...signed, id: 0x1234 };
  };

  it('appends the TSIG as the last additional record and counts it in ARCOUNT', () => {
    const { wire, mac } = request();
    const m = decodeMessage(wire);
    assert.equal(m.additionals.length, 1);
    assert.equal(m.additionals[0]!.type, 250);
    assert.equal(m.additionals[0]!.class, 255);
    const t = findTsig(wire)!;
    assert.equal(t.keyName, 'publish-key');
    assert.equal(t.tsig.timeSigned, NOW);
    assert.equal(t.tsig.originalId, 0x1234);
    assert.equal(hex(t.tsig.mac), hex(mac));
    assert.equal(mac.length, 32);
  });

  it('MACs the message before the TSIG plus the TSIG variables (independent HMAC)', () => {
    const q = makeQuery('pub.test', 6, { id: 7, rd: false });
    const body = encodeMessage({ ...q, opcode: 5 });
    const { mac } = signRequest(body, KEY, NOW);
    const vars = concat([
      encodeName('publish-key'),
      unhex('00ff 00000000'),
      encodeName('hmac-sha256'),
      time48(NOW),
      unhex('012c 0000 0000'),
    ]);
    const want = createHmac('sha256', KEY.secret).update(body).update(vars).digest('hex');
    assert.equal(hex(mac), want);
  });

  it('accepts the answer the server signed over our MAC', () => {
    const r = request();
    const check = verifyResponse(serverSign(answerTo(r.id), KEY, r.mac, NOW + 2), KEY, r.mac, NOW);
    assert.equal(check.ok, true);
  });

  for (const alg of Object.keys(TSIG_ALGORITHMS) as TsigAlgorithm[]) {
    it(`signs and checks with ${alg}`, () => {
      const k = { ...KEY, algorithm: alg };
      const q = makeQuery('pub.test', 6, { id: 9, rd: false });
      const s = signRequest(encodeMessage({ ...q, opcode: 5 }), k, NOW);
      assert.equal(s.mac.length, TSIG_ALGORITHMS[alg].size);
      assert.equal(verifyResponse(serverSign(answerTo(9), k, s.mac, NOW), k, s.mac, NOW).ok, true);
    });
  }

  it('rejects an answer with one byte changed', () => {
    const r = request();
    const a = serverSign(answerTo(r.id), KEY, r.mac, NOW);
    a[3]! ^= 0x05; // flip the rcode: the MAC no longer matches
    assert.deepEqual(verifyResponse(a, KEY, r.mac, NOW), { ok: false, reason: 'bad-mac', tsig: findTsig(a)!.tsig });
  });

  it('rejects an answer signed over another request MAC (a replayed answer)', () => {
    const r = request();
    const other = new Uint8Array(32).fill(7);
    const check = verifyResponse(serverSign(answerTo(r.id), KEY, other, NOW), KEY, r.mac, NOW);
    assert.equal(check.ok ? 'ok' : check.reason, 'bad-mac');
  });

  it('rejects an answer signed with another secret, another key name, or no TSIG', () => {
    const r = request();
    const evil = { ...KEY, secret: new Uint8Array(32) };
    const a = verifyResponse(serverSign(answerTo(r.id), evil, r.mac, NOW), KEY, r.mac, NOW);
    assert.equal(a.ok ? 'ok' : a.reason, 'bad-mac');
    const b = verifyResponse(serverSign(answerTo(r.id), KEY, r.mac, NOW, { keyName: 'other-key' }), KEY, r.mac, NOW);
    assert.equal(b.ok ? 'ok' : b.reason, 'wrong-key');
    assert.deepEqual(verifyResponse(answerTo(r.id), KEY, r.mac, NOW), { ok: false, reason: 'unsigned' });
  });

  it('rejects a good MAC signed outside the fudge and says by how much', () => {
    const r = request();
    const check = verifyResponse(serverSign(answerTo(r.id), KEY, r.mac, NOW + 301), KEY, r.mac, NOW);
    assert.equal(check.ok ? 'ok' : check.reason, 'bad-time');
    assert.equal(!check.ok && check.reason === 'bad-time' ? check.skew : 0, 301);
  });

  it('refuses a truncated MAC, even to the half §5.2.2.1 allows: our requests carry the full one', () => {
    const r = request();
    for (const macLen of [31, 16, 10]) {
      const short = verifyResponse(serverSign(answerTo(r.id), KEY, r.mac, NOW, { macLen }), KEY, r.mac, NOW);
      assert.equal(short.ok ? 'ok' : short.reason, 'short-mac', `${macLen} bytes`);
    }
  });

  it('reads the server clock from a BADTIME answer (§5.2.3)', () => {
    const r = request();
    const a = serverSign(answerTo(r.id, 9), KEY, r.mac, NOW + 4000, { error: 18, other: time48(NOW + 4000) });
    const check = verifyResponse(a, KEY, r.mac, NOW);
    assert.ok('tsig' in check);
    assert.equal(badTimeSkew(check.tsig, NOW), 4000);
  });

  it('checks the MAC with the original id when a forwarder changed the header id', () => {
    const r = request();
    const a = serverSign(answerTo(r.id), KEY, r.mac, NOW);
    a[0] = 0x55;
    a[1] = 0x66;
    assert.equal(verifyResponse(a, KEY, r.mac, NOW).ok, true);
  });
});
