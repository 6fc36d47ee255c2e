// The pure parts of publishing: BIND key files, the UPDATE message and its prerequisites, what each
// answer means, and the rollover's order and timing rules.
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/util/errors';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/message';
import { checkUpdateAnswer } from '../../src/publish/answer';
import { exitCodeOf, PublishError } from '../../src/publish/errors';
import { checkActivate, keysToPublish } from '../../src/publish/rollover';
import { signRequest, type TsigKey } from '../../src/publish/tsig';
import { parseTsigKeys, pickTsigKey } from '../../src/publish/tsig-keyfile';
import { buildIpseckeyUpdate, describeChange } from '../../src/publish/update';
import { time48 } from '../../src/wire/rdata/tsig';
import { unhex } from '../wire/helpers';
import { serverSign } from './tsig-helpers';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
};

describe('TSIG key files (tsig-keygen / named.conf syntax)', () => {
  it('reads what tsig-keygen prints', () => {
    const k = parseTsigKeys(
      'key "publish-key" {\n\talgorithm hmac-sha256;\n\tsecret "OvAwtLceKrzlgwK3tHeTyabWWpJZicsmFlYsGakb3Bk=";\n};\n',
    )[0]!;
    assert.equal(k.name, 'publish-key');
    assert.equal(k.algorithm, 'hmac-sha256');
    assert.equal(Buffer.from(k.secret).toString('base64'), 'OvAwtLceKrzlgwK3tHeTyabWWpJZicsmFlYsGakb3Bk=');
  });

  const b64 = (n: number, fill: number): string => Buffer.alloc(n, fill).toString('base64');

  it('skips comments and other statements, maps hmac-md5 to its wire name, and picks by name', () => {
    const text = `# ours\noptions { directory "/x"; };\n/* two keys */ key a.example. { algorithm HMAC-SHA512; secret "${b64(64, 1)}"; };\n// md5\nkey "b" { secret "${b64(16, 2)}"; algorithm hmac-md5; };`;
    const keys = parseTsigKeys(text);
    assert.deepEqual(
      keys.map((k) => [k.name, k.algorithm]),
      [
        ['a.example', 'hmac-sha512'],
        ['b', 'hmac-md5.sig-alg.reg.int'],
      ],
    );
    assert.equal(pickTsigKey(text, 'B').name, 'b');
    assert.equal(
      code(() => pickTsigKey(text)),
      'tsig-key-name',
    );
    assert.equal(
      code(() => pickTsigKey(text, 'c')),
      'tsig-key-name',
    );
  });

  it('refuses broken files with a code', () => {
    assert.equal(
      code(() => parseTsigKeys('')),
      'tsig-key-file',
    );
    assert.equal(
      code(() => parseTsigKeys('key "k" { algorithm hmac-sha256; };')),
      'tsig-key-file',
    );
    assert.equal(
      code(() => parseTsigKeys('key "k" { algorithm hmac-sha256; secret "not base64!"; };')),
      'tsig-key-file',
    );
    assert.equal(
      code(() => parseTsigKeys('key "k" { algorithm hmac-foo; secret "AAAA"; };')),
      'tsig-algorithm',
    );
    assert.equal(
      code(() => parseTsigKeys('key "k" { algorithm hmac-sha256; secret "AAAA";')),
      'tsig-key-file',
    );
    assert.ok(
      (() => {
        try {
          parseTsigKeys('');
        } catch (e) {
          return e instanceof ConfigError;
        }
        return false;
      })(),
    );
  });

  it('refuses a secret shorter than the hash output (tsig-keygen makes it that long)', () => {
    assert.equal(
      code(() => pickTsigKey(`key "k" { algorithm hmac-sha256; secret "${b64(31, 1)}"; };`)),
      'tsig-key-weak',
    );
    assert.equal(
      code(() => pickTsigKey(`key "k" { algorithm hmac-sha512; secret "${b64(32, 1)}"; };`)),
      'tsig-key-weak',
    );
    assert.equal(
      code(() => pickTsigKey('key "k" { algorithm hmac-sha256; secret "AAAA"; };')),
      'tsig-key-weak',
    );
    assert.equal(pickTsigKey(`key "k" { algorithm hmac-sha256; secret "${b64(32, 1)}"; };`).secret.length, 32);
    assert.equal(pickTsigKey(`key "k" { algorithm hmac-sha1; secret "${b64(20, 1)}"; };`).secret.length, 20);
  });
});

describe('the IPSECKEY UPDATE (RFC 2136)', () => {
  const A = unhex('0a 00 04 ' + '11'.repeat(32));
  const B = unhex('0a 00 04 ' + '22'.repeat(32));

  it('with nothing there: prerequisite "RRset does not exist", then adds', () => {
    const m = buildIpseckeyUpdate({ zone: 'pub.test', name: 'h.pub.test', ttl: 600, seen: [], want: [A] }, 77);
    const back = decodeMessage(encodeMessage(m));
    assert.equal(back.opcode, 5);
    assert.deepEqual(back.questions, [{ name: 'pub.test', type: 6, class: 1 }]);
    assert.deepEqual(
      back.answers.map((r) => [r.name, r.type, r.class, r.ttl, r.rdata.length]),
      [['h.pub.test', 45, 254, 0, 0]],
    );
    assert.deepEqual(
      back.authorities.map((r) => [r.type, r.class, r.ttl]),
      [[45, 1, 600]],
    );
  });

  it('with records there: prerequisite "RRset is exactly these", delete the RRset, add ours', () => {
    const m = buildIpseckeyUpdate({ zone: 'pub.test', name: 'h.pub.test', ttl: 60, seen: [A, B, A], want: [B] }, 1);
    assert.deepEqual(
      m.answers.map((r) => [r.class, r.ttl, Buffer.from(r.rdata).toString('hex')]),
      [
        [1, 0, Buffer.from(A).toString('hex')],
        [1, 0, Buffer.from(B).toString('hex')],
      ],
    );
    assert.deepEqual(
      m.authorities.map((r) => [r.class, r.rdata.length]),
      [
        [255, 0],
        [1, B.length],
      ],
    );
    const d = describeChange({ zone: 'pub.test', name: 'h.pub.test', ttl: 60, seen: [A, B], want: [B] });
    assert.deepEqual([d.removed.length, d.kept.length, d.added.length], [1, 1, 0]);
  });
});

describe('what the answer to an UPDATE means', () => {
  const KEY: TsigKey = { name: 'k', algorithm: 'hmac-sha256', secret: new Uint8Array(32).fill(1) };
  const sent = { zone: 'pub.test', name: 'h.pub.test', key: KEY, requestMac: new Uint8Array(32), timeSigned: 1000, fudge: 300 };
  const answer = (rcode: number): Uint8Array => encodeMessage({ ...makeQuery('pub.test', 6, { id: 1 }), qr: true, opcode: 5, rcode });

  it('maps each error rcode to a code and exit status, and never to success', () => {
    const cases: Array<[number, string, number]> = [
      [5, 'update-refused', 3],
      [9, 'update-notauth', 3],
      [10, 'update-notzone', 3],
      [4, 'update-notimp', 3],
      [1, 'update-formerr', 3],
      [2, 'update-servfail', 3],
      [8, 'publish-conflict', 4],
      [7, 'publish-conflict', 4],
      [6, 'publish-conflict', 4],
    ];
    for (const [rcode, want, exit] of cases) {
      const got = code(() => checkUpdateAnswer(answer(rcode), sent, 1000));
      assert.equal(got, want, `rcode ${rcode}`);
      assert.equal(exitCodeOf(got), exit);
    }
  });

  it('does not believe an unsigned success: the outcome is unknown (exit 7)', () => {
    let err: unknown;
    try {
      checkUpdateAnswer(answer(0), sent, 1000);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PublishError);
    assert.equal(err.code, 'tsig-response-unsigned');
    assert.equal(err.changed, 'unknown');
    assert.equal(exitCodeOf(err.code), 7);
  });

  it('a success signed by someone else is not believed either', () => {
    // Signed as a request with another key: a TSIG is there, but not over our MAC with our key.
    const forged = signRequest(answer(0), { ...KEY, secret: new Uint8Array(32).fill(2) }, 1000).wire;
    assert.equal(
      code(() => checkUpdateAnswer(forged, sent, 1000)),
      'tsig-response-bad',
    );
  });

  const outcome = (wire: Uint8Array): { code: string; changed: unknown; authenticated: unknown; message: string; skew: unknown } => {
    try {
      checkUpdateAnswer(wire, sent, 1000);
    } catch (e) {
      assert.ok(e instanceof PublishError, String(e));
      return { code: e.code, changed: e.changed, authenticated: e.detail.authenticated, message: e.message, skew: e.detail.skew };
    }
    return { code: 'applied', changed: true, authenticated: true, message: '', skew: undefined };
  };
  const MAY_BE_FORGED = /may not be the server's/;

  it('an error answer signed by the server over our request: nothing was applied', () => {
    for (const [rcode, want] of [
      [5, 'update-refused'],
      [8, 'publish-conflict'],
      [9, 'update-notauth'],
    ] as const) {
      const o = outcome(serverSign(answer(rcode), KEY, sent.requestMac, 1000));
      assert.deepEqual([o.code, o.changed, o.authenticated], [want, false, true], `rcode ${rcode}`);
      assert.doesNotMatch(o.message, MAY_BE_FORGED);
    }
  });

  it('an error answer not signed over our request keeps its code, but the zone may have changed (an on-path forgery after the server applied it)', () => {
    const empty = (rcode: number, error: number): Uint8Array => serverSign(answer(rcode), KEY, sent.requestMac, 1000, { error, macLen: 0 });
    const cases: Array<[string, Uint8Array, string]> = [
      ['unsigned REFUSED', answer(5), 'update-refused'],
      ['unsigned NXRRSET', answer(8), 'publish-conflict'],
      ['REFUSED + TSIG with an empty MAC and no error', empty(5, 0), 'update-refused'],
      ['REFUSED signed over another request', serverSign(answer(5), KEY, new Uint8Array(32).fill(3), 1000), 'update-refused'],
      [
        'REFUSED signed with another secret',
        serverSign(answer(5), { ...KEY, secret: new Uint8Array(32).fill(2) }, sent.requestMac, 1000),
        'update-refused',
      ],
      ['BADKEY with rcode REFUSED (not the NOTAUTH a server sends)', empty(5, 17), 'tsig-badkey'],
    ];
    for (const [what, wire, want] of cases) {
      const o = outcome(wire);
      assert.deepEqual([o.code, o.changed, o.authenticated], [want, 'unknown', false], what);
      assert.match(o.message, MAY_BE_FORGED, what);
    }
  });

  it('unsigned BADKEY/BADSIG with NOTAUTH (what a server that cannot check us sends): no forgery note, still not authenticated', () => {
    for (const [error, want] of [
      [17, 'tsig-badkey'],
      [16, 'tsig-badsig'],
    ] as const) {
      const o = outcome(serverSign(answer(9), KEY, sent.requestMac, 1000, { error, macLen: 0 }));
      assert.deepEqual([o.code, o.changed, o.authenticated], [want, 'unknown', false]);
      assert.doesNotMatch(o.message, MAY_BE_FORGED);
      assert.equal(exitCodeOf(o.code), 3);
    }
  });

  it('BADTIME is believed (with the skew) only when signed; an unsigned one says nothing about the clocks', () => {
    const signed = outcome(serverSign(answer(9), KEY, sent.requestMac, 1000, { error: 18, other: time48(5000) }));
    assert.deepEqual([signed.code, signed.changed, signed.authenticated, signed.skew], ['tsig-badtime', false, true, 4000]);
    // The server signs with its own clock, far outside our window: the MAC over our request still proves it.
    const serverClock = outcome(serverSign(answer(9), KEY, sent.requestMac, 5000, { error: 18, other: time48(5000) }));
    assert.deepEqual([serverClock.code, serverClock.changed, serverClock.skew], ['tsig-badtime', false, 4000]);
    const unsigned = outcome(serverSign(answer(9), KEY, sent.requestMac, 1000, { error: 18, other: time48(99999), macLen: 0 }));
    assert.deepEqual(
      [unsigned.code, unsigned.changed, unsigned.authenticated, unsigned.skew],
      ['tsig-badtime', 'unknown', false, undefined],
    );
    assert.match(unsigned.message, MAY_BE_FORGED);
  });

  it('a success signed over our request is applied', () => {
    assert.equal(outcome(serverSign(answer(0), KEY, sent.requestMac, 1000)).code, 'applied');
  });
});

describe('rollover order and timing', () => {
  // Fingerprints of the keys in the directory (stand-ins: only equality matters).
  const K1 = 'k1';
  const K2 = 'k2';
  const K3 = 'k3';
  const added = { step: 'added' as const, name: 'h.pub.test', at: 1000, waitSec: 300, current: K1, next: K2 };
  const activated = { step: 'activated' as const, name: 'h.pub.test', at: 2000, waitSec: 300, current: K2, old: K1 };

  it('a plain publish refuses while a rollover is under way', () => {
    assert.deepEqual(keysToPublish('replace', { current: K1 }, 0, false), ['current']);
    assert.equal(
      code(() => keysToPublish('replace', { current: K1, next: K2 }, 0, false)),
      'rollover-state',
    );
    assert.equal(
      code(() => keysToPublish('replace', { current: K2, old: K1 }, 0, false)),
      'rollover-state',
    );
  });

  it('--add needs a next key and publishes both', () => {
    assert.equal(
      code(() => keysToPublish('add', { current: K1 }, 0, false)),
      'rollover-no-next',
    );
    assert.deepEqual(keysToPublish('add', { current: K1, next: K2 }, 0, false), ['current', 'next']);
  });

  it('--add refuses while an old key is kept, even with --force (it would drop the old key from DNS at once)', () => {
    const d = { current: K2, next: K3, old: K1, state: activated };
    assert.equal(
      code(() => keysToPublish('add', d, 2001, false)),
      'rollover-state',
    );
    assert.equal(
      code(() => keysToPublish('add', d, 9999, true)),
      'rollover-state',
    );
  });

  it('activate waits a TTL after the add was seen published', () => {
    assert.equal(
      code(() => checkActivate({ current: K1, next: K2 }, 5000, false)),
      'rollover-not-published',
    );
    assert.equal(
      code(() => checkActivate({ current: K1, next: K2, state: added }, 1299, false)),
      'rollover-too-early',
    );
    assert.equal(exitCodeOf('rollover-too-early'), 8);
    assert.doesNotThrow(() => checkActivate({ current: K1, next: K2, state: added }, 1300, false));
    assert.doesNotThrow(() => checkActivate({ current: K1, next: K2 }, 0, true));
    assert.equal(
      code(() => checkActivate({ current: K1, state: added }, 5000, true)),
      'rollover-no-next',
    );
  });

  it('activate refuses a next (or current) key that is not the one the add published', () => {
    // keygen --next --force after the add: host.next.key.pem was never published.
    assert.equal(
      code(() => checkActivate({ current: K1, next: K3, state: added }, 5000, false)),
      'rollover-not-published',
    );
    assert.equal(
      code(() => checkActivate({ current: K3, next: K2, state: added }, 5000, false)),
      'rollover-not-published',
    );
    // A state from before fingerprints were kept describes no key.
    assert.equal(
      code(() => checkActivate({ current: K1, next: K2, state: { ...added, current: undefined, next: undefined } }, 5000, false)),
      'rollover-not-published',
    );
  });

  it('activate refuses while an old key is kept, even with --force (the old private key would go)', () => {
    assert.equal(
      code(() => checkActivate({ current: K2, next: K3, old: K1, state: { ...added, current: K2, next: K3 } }, 9999, false)),
      'rollover-state',
    );
    assert.equal(
      code(() => checkActivate({ current: K2, next: K3, old: K1 }, 9999, true)),
      'rollover-state',
    );
  });

  it('--withdraw-old waits a TTL after activation and needs an old key', () => {
    assert.equal(
      code(() => keysToPublish('withdraw-old', { current: K2, state: activated }, 9999, false)),
      'rollover-no-old',
    );
    assert.equal(
      code(() => keysToPublish('withdraw-old', { current: K2, old: K1, state: activated }, 2100, false)),
      'rollover-too-early',
    );
    assert.deepEqual(keysToPublish('withdraw-old', { current: K2, old: K1, state: activated }, 2300, false), ['current']);
    assert.deepEqual(keysToPublish('withdraw-old', { current: K2, old: K1, state: activated }, 2100, true), ['current']);
  });

  it('--withdraw-old refuses when the keys are not the ones the activation recorded', () => {
    assert.equal(
      code(() => keysToPublish('withdraw-old', { current: K3, old: K1, state: activated }, 2300, false)),
      'rollover-state',
    );
    assert.equal(
      code(() => keysToPublish('withdraw-old', { current: K2, old: K3, state: activated }, 2300, false)),
      'rollover-state',
    );
  });
});
