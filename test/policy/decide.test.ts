import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import type { PolicyLevel } from '../../src/ike-bridge/engine';
import { RRType } from '../../src/wire/types';
import {
  completeGateway,
  decide,
  engineFailed,
  type DecideInput,
  type Decision,
  Ede,
  type IpseckeyLike,
  keyProblem,
  lifetime,
  parsePolicy,
  type Policy,
  selectKeys,
} from '../../src/policy';
import { bogus, indeterminate, insecure, SECURE, type Verdict } from '../../src/dnssec/verdict';

const NOW = 1_700_000_000;

// Real keys, converted to IPSECKEY public key fields (RFC 3110 / 6605 / 8080) by the bridge's converter.
const toField = (k: KeyObject) => Uint8Array.from(keyObjectToIpseckey(k).publicKey);
const RSA = toField(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const P256 = toField(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
const P384 = toField(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey);
const ED25519 = toField(generateKeyPairSync('ed25519').publicKey);
const rsaKey = () => RSA;
const ecdsaKey = () => P256;
const ed25519Key = () => ED25519;

const rec = (over: Partial<IpseckeyLike> = {}): IpseckeyLike => ({
  precedence: 10,
  gatewayType: 0,
  algorithm: 2,
  gateway: null,
  publicKey: rsaKey(),
  ...over,
});

// Policy reads the validator's own Verdict type (src/dnssec/verdict.ts), built as the validator builds it.
const INSECURE: Verdict = insecure('unsigned-delegation', 'example', 'no DS for example');
const BOGUS: Verdict = bogus('sig-expired', Ede.SIGNATURE_EXPIRED, 'RRSIG expired');
const INDET: Verdict = indeterminate('fetch-failed', 'no answer from upstream');

function pol(level: PolicyLevel, extra = ''): Policy {
  return parsePolicy(`default: ${level}\n${extra}`);
}

function input(over: Partial<DecideInput> = {}): DecideInput {
  return {
    name: 'peer.example',
    qtype: RRType.A,
    addresses: ['192.0.2.10'],
    addressVerdict: SECURE,
    addressTtl: 300,
    keys: [rec()],
    keyVerdict: SECURE,
    keyTtl: 600,
    ...over,
  };
}

const FALLBACK_ON = 'fallback: { any-key: true }\n';

describe('policy/decide', () => {
  describe('level × key verdict (address secure)', () => {
    type Row = [PolicyLevel, string, Verdict | null, string, string?];
    // [level, policy extra, key verdict (null = no IPSECKEY), expected action, rcode]
    const rows: Row[] = [
      ['private', '', SECURE, 'install'],
      ['private', '', INSECURE, 'refuse', 'SERVFAIL'],
      ['private', 'trust-insecure: true\n', INSECURE, 'install'],
      ['private', '', BOGUS, 'refuse', 'SERVFAIL'],
      ['private', '', INDET, 'refuse', 'SERVFAIL'],
      ['private', '', null, 'refuse', 'SERVFAIL'],
      ['private-or-clear', '', SECURE, 'install'],
      ['private-or-clear', '', INSECURE, 'answer'],
      ['private-or-clear', 'trust-insecure: true\n', INSECURE, 'install'],
      ['private-or-clear', '', BOGUS, 'refuse', 'SERVFAIL'],
      ['private-or-clear', '', INDET, 'answer'],
      ['private-or-clear', '', null, 'answer'],
      ['opportunistic', '', SECURE, 'install'],
      ['opportunistic', '', INSECURE, 'answer'],
      ['opportunistic', FALLBACK_ON, INSECURE, 'install-unauthenticated'],
      ['opportunistic', FALLBACK_ON, BOGUS, 'refuse', 'SERVFAIL'],
      ['opportunistic', FALLBACK_ON, INDET, 'install-unauthenticated'],
      ['opportunistic', FALLBACK_ON, null, 'install-unauthenticated'],
      ['opportunistic', `fallback: { trusted-fingerprints: ["${'ab'.repeat(32)}"] }\n`, null, 'install-unauthenticated'],
      ['opportunistic', '', null, 'answer'],
      ['clear', '', SECURE, 'answer'],
      ['clear', '', BOGUS, 'answer'],
      ['clear', '', null, 'answer'],
      ['block', '', SECURE, 'refuse', 'REFUSED'],
      ['block', '', null, 'refuse', 'REFUSED'],
    ];
    for (const [level, extra, kv, action, rcode] of rows) {
      const label = `${level}${extra ? ` (${extra.trim()})` : ''}, key ${kv?.kind ?? 'absent'} → ${action}${rcode ? ` ${rcode}` : ''}`;
      it(label, () => {
        const d = decide(input({ keyVerdict: kv, keys: kv ? [rec()] : [] }), pol(level, extra), NOW);
        assert.equal(d.action, action, d.reason);
        assert.equal(d.level, level);
        if (rcode) assert.equal(d.action === 'refuse' && d.rcode, rcode);
        assert.ok(d.reason.length > 10, 'always a human reason');
        if (d.action === 'install') {
          assert.equal(d.peer.auth.kind, 'pubkey');
          assert.equal(d.peer.owner, 'serve');
        }
        if (d.action === 'install-unauthenticated') assert.equal(d.peer.auth.kind, 'unauthenticated');
      });
    }
  });

  describe('address verdicts', () => {
    const levels: PolicyLevel[] = ['private', 'private-or-clear', 'opportunistic', 'clear'];
    for (const level of levels) {
      it(`${level}: a bogus address is SERVFAIL with its EDE, never installed`, () => {
        const d = decide(input({ addressVerdict: BOGUS }), pol(level, FALLBACK_ON), NOW);
        assert.equal(d.action, 'refuse');
        assert.equal(d.action === 'refuse' && d.rcode, 'SERVFAIL');
        assert.equal(d.action === 'refuse' && d.ede, 7);
        assert.match(d.reason, /bogus/);
      });
      it(`${level}: an address that could not be validated is SERVFAIL (EDE 5)`, () => {
        const d = decide(input({ addressVerdict: INDET }), pol(level), NOW);
        assert.equal(d.action === 'refuse' && d.ede, Ede.DNSSEC_INDETERMINATE);
      });
    }
    it('a secure key still installs for an unsigned address, and says so', () => {
      const d = decide(input({ addressVerdict: INSECURE }), pol('private'), NOW);
      assert.equal(d.action, 'install');
      assert.match(d.reason, /address is unsigned/);
    });
    it('block wins over a bogus address (REFUSED, EDE 15)', () => {
      const d = decide(input({ addressVerdict: BOGUS }), pol('block'), NOW);
      assert.equal(d.action === 'refuse' && d.rcode, 'REFUSED');
      assert.equal(d.action === 'refuse' && d.ede, Ede.BLOCKED);
    });
  });

  describe('bogus never installs', () => {
    const combos: Array<[Verdict, Verdict | null]> = [
      [BOGUS, SECURE],
      [SECURE, BOGUS],
      [BOGUS, BOGUS],
      [BOGUS, null],
      [INSECURE, BOGUS],
    ];
    const levels: PolicyLevel[] = ['private', 'private-or-clear', 'opportunistic', 'clear', 'block'];
    for (const level of levels) {
      for (const [av, kv] of combos) {
        it(`${level}: address ${av.kind}, key ${kv?.kind ?? 'absent'}`, () => {
          const d = decide(input({ addressVerdict: av, keyVerdict: kv }), pol(level, `trust-insecure: true\n${FALLBACK_ON}`), NOW);
          assert.ok(d.action === 'refuse' || d.action === 'answer', `${d.action}: ${d.reason}`);
        });
      }
    }
    it('a bogus key under private carries the validator EDE and says why', () => {
      const d = decide(input({ keyVerdict: bogus('sig-expired', 7, 'RRSIG expired') }), pol('private'), NOW);
      assert.equal(d.action === 'refuse' && d.ede, 7);
      assert.match(d.reason, /IPSECKEY.*bogus.*sig-expired/);
    });
    // A bogus Verdict always carries its EDE (the type requires one): the generic 6 passes through too.
    it('a bogus key with the generic EDE keeps 6 (DNSSEC Bogus)', () => {
      const d = decide(
        input({ keyVerdict: bogus('sig-invalid', Ede.DNSSEC_BOGUS, 'no key verifies the RRSIG') }),
        pol('private-or-clear'),
        NOW,
      );
      assert.equal(d.action === 'refuse' && d.ede, Ede.DNSSEC_BOGUS);
    });
  });

  describe('what is not an install', () => {
    it('answers other query types without installing', () => {
      const d = decide(input({ qtype: RRType.MX }), pol('private'), NOW);
      assert.equal(d.action, 'answer');
      assert.match(d.reason, /A and AAAA/);
    });
    it('blocks every query type', () => {
      assert.equal(decide(input({ qtype: RRType.TXT }), pol('block'), NOW).action, 'refuse');
    });
    it('answers an empty address set: nothing to protect', () => {
      assert.equal(decide(input({ addresses: [] }), pol('private'), NOW).action, 'answer');
    });
    it('under private explains a missing key in the EDE text', () => {
      const d = decide(input({ keyVerdict: null, keys: [] }), pol('private'), NOW);
      assert.equal(d.action === 'refuse' && d.ede, Ede.OTHER);
      assert.match(d.reason, /level private requires a DNSSEC-validated key: peer\.example publishes no IPSECKEY/);
    });
    it('under private an unsigned key is refused and the reason names trust-insecure', () => {
      const d = decide(input({ keyVerdict: INSECURE }), pol('private'), NOW);
      assert.match(d.reason, /unsigned.*trust-insecure is off/);
    });
    it('a secure but empty key set counts as no key', () => {
      assert.equal(decide(input({ keys: [] }), pol('private'), NOW).action, 'refuse');
    });
  });

  describe('key selection', () => {
    it('orders usable keys by precedence, lowest first', () => {
      const d = decide(
        input({
          keys: [
            rec({ precedence: 20, algorithm: 4, publicKey: ed25519Key() }),
            rec({ precedence: 5 }),
            rec({ precedence: 10, algorithm: 3, publicKey: ecdsaKey() }),
          ],
        }),
        pol('private'),
        NOW,
      );
      assert.equal(d.action, 'install');
      if (d.action !== 'install' || d.peer.auth.kind !== 'pubkey') return;
      assert.deepEqual(
        d.peer.auth.keys.map((k) => [k.precedence, k.algorithm]),
        [
          [5, 2],
          [10, 3],
          [20, 4],
        ],
      );
    });
    it('keeps record order among equal precedences', () => {
      const ed = rec({ algorithm: 4, publicKey: ed25519Key() });
      assert.deepEqual(
        selectKeys([rec(), ed]).keys.map((k) => k.algorithm),
        [2, 4],
      );
      assert.deepEqual(
        selectKeys([ed, rec()]).keys.map((k) => k.algorithm),
        [4, 2],
      );
    });
    it('ignores DSA and unknown algorithms with a reason, and uses the rest', () => {
      const d = decide(
        input({ keys: [rec({ precedence: 1, algorithm: 1 }), rec({ precedence: 2, algorithm: 99 }), rec({ precedence: 3 })] }),
        pol('private'),
        NOW,
      );
      assert.equal(d.action, 'install');
      assert.deepEqual(
        d.ignoredKeys.map((k) => [k.index, k.algorithm]),
        [
          [0, 1],
          [1, 99],
        ],
      );
      assert.match(d.ignoredKeys[0]!.reason, /DSA/);
      assert.match(d.ignoredKeys[1]!.reason, /unknown key algorithm 99/);
      assert.match(d.reason, /2 key\(s\) ignored/);
    });
    it('refuses under private when only DSA keys exist, listing why', () => {
      const d = decide(input({ keys: [rec({ algorithm: 1 })] }), pol('private'), NOW);
      assert.equal(d.action, 'refuse');
      assert.match(d.reason, /none of the 1 IPSECKEY record\(s\).*usable/);
      assert.equal(d.ignoredKeys.length, 1);
    });
    const weakRsa = Uint8Array.from([3, 1, 0, 1, 0xc1, ...new Array(63).fill(0xff)]);
    const offCurve = new Uint8Array(64).fill(7);
    const shapes: Array<[string, IpseckeyLike, RegExp | null]> = [
      ['RSA 2048', rec(), null],
      ['RSA 512', rec({ publicKey: weakRsa }), /RSA modulus of 512 bits/],
      ['RSA with exponent overrun', rec({ publicKey: Uint8Array.from([9, 1, 0]) }), /overruns/],
      ['ECDSA P-256', rec({ algorithm: 3, publicKey: P256 }), null],
      ['ECDSA P-384', rec({ algorithm: 3, publicKey: P384 }), null],
      ['ECDSA of 33 bytes', rec({ algorithm: 3, publicKey: new Uint8Array(33) }), /ECDSA key of 33 bytes/],
      ['an ECDSA point off the curve', rec({ algorithm: 3, publicKey: offCurve }), /rejected/],
      ['Ed25519', rec({ algorithm: 4, publicKey: ed25519Key() }), null],
      ['Ed448 (no engine takes it)', rec({ algorithm: 4, publicKey: new Uint8Array(57).fill(1) }), /Ed448 unsupported/],
      ['algorithm 0 (no key)', rec({ algorithm: 0, publicKey: new Uint8Array(0) }), /no public key/],
      ['DSA', rec({ algorithm: 1 }), /DSA/],
    ];
    for (const [title, r, problem] of shapes) {
      it(`${problem ? 'refuses' : 'accepts'} ${title}`, () => {
        const p = keyProblem(r);
        if (problem) assert.match(p ?? '', problem);
        else assert.equal(p, null);
      });
    }
  });

  describe('special addresses', () => {
    it('answers without installing when a name lists only loopback, link-local, multicast or unspecified addresses', () => {
      for (const a of [
        '127.0.0.1',
        '0.0.0.0',
        '169.254.1.1',
        '224.0.0.251',
        '255.255.255.255',
        '::1',
        '::',
        'fe80::1',
        'ff02::1',
        '::ffff:127.0.0.1',
      ]) {
        const d = decide(input({ addresses: [a] }), pol('private'), NOW);
        assert.equal(d.action, 'answer', a);
        assert.match(d.reason, /only local or special addresses/, a);
      }
    });
    it('protects the remote addresses and leaves the special ones out of the peer', () => {
      const d = decide(input({ addresses: ['127.0.0.1', '192.0.2.10', 'fe80::2'] }), pol('private'), NOW);
      assert.deepEqual(d.action === 'install' && d.peer.addresses, ['192.0.2.10']);
    });
  });

  describe('gateways', () => {
    // Gateways other than the host itself only for zones the policy lists (see the refusal tests below).
    const GW = pol('private', 'gateways: [example]\n');
    it('type 0: the host itself', () => {
      const d = decide(input(), GW, NOW);
      assert.deepEqual(d.action === 'install' && d.peer.gateway, { kind: 'none' });
    });
    it('type 1: an IPv4 gateway', () => {
      const d = decide(input({ keys: [rec({ gatewayType: 1, gateway: '198.51.100.1' })] }), GW, NOW);
      assert.deepEqual(d.action === 'install' && d.peer.gateway, { kind: 'address', address: '198.51.100.1' });
      assert.match(d.reason, /via gateway 198\.51\.100\.1/);
    });
    it('type 2: an IPv6 gateway, canonical text', () => {
      const d = decide(input({ keys: [rec({ gatewayType: 2, gateway: '2001:DB8:0:0::1' })] }), GW, NOW);
      assert.deepEqual(d.action === 'install' && d.peer.gateway, { kind: 'address', address: '2001:db8::1' });
    });
    it('type 1 with an IPv6 literal is ignored', () => {
      const d = decide(input({ keys: [rec({ gatewayType: 1, gateway: '2001:db8::1' })] }), GW, NOW);
      assert.equal(d.action, 'refuse');
      assert.match(d.ignoredKeys[0]!.reason, /type 1 needs an IPv4/);
    });
    it('type 3: asks the caller to resolve the gateway name', () => {
      const d = decide(input({ keys: [rec({ gatewayType: 3, gateway: 'GW.Example.' })] }), GW, NOW);
      assert.equal(d.action, 'install');
      assert.equal(d.action === 'install' && d.needsGateway, 'gw.example');
    });
    it('type 3 with an unsafe name is ignored before it reaches anything', () => {
      const d = decide(input({ keys: [rec({ gatewayType: 3, gateway: 'gw.example;rm -rf' })] }), GW, NOW);
      assert.equal(d.action, 'refuse');
      assert.match(d.ignoredKeys[0]!.reason, /gateway name/);
    });
    it('keys behind other gateways become alternatives, grouped and ordered', () => {
      const d = decide(
        input({
          keys: [
            rec({ precedence: 30, gatewayType: 1, gateway: '203.0.113.2' }),
            rec({ precedence: 10, gatewayType: 1, gateway: '203.0.113.1' }),
            rec({ precedence: 20, gatewayType: 1, gateway: '203.0.113.1', algorithm: 4, publicKey: ed25519Key() }),
            rec({ precedence: 15, gatewayType: 3, gateway: 'gw.example' }),
          ],
        }),
        GW,
        NOW,
      );
      assert.equal(d.action, 'install');
      if (d.action !== 'install' || d.peer.auth.kind !== 'pubkey') return;
      assert.deepEqual(d.peer.gateway, { kind: 'address', address: '203.0.113.1' });
      assert.deepEqual(
        d.peer.auth.keys.map((k) => k.precedence),
        [10, 20],
      );
      assert.deepEqual(
        d.alternatives.map((a) => [a.gateway, a.keys.map((k) => k.precedence)]),
        [
          [{ kind: 'name', name: 'gw.example' }, [15]],
          [{ kind: 'address', address: '203.0.113.2' }, [30]],
        ],
      );
    });

    describe('completeGateway', () => {
      const inp = input({ keys: [rec({ gatewayType: 3, gateway: 'gw.example' })] });
      const first = (level: PolicyLevel = 'private'): Decision => decide(inp, pol(level, 'gateways: [example]\n'), NOW);
      it('a secure gateway address completes the install, with the shorter lifetime', () => {
        const d = completeGateway(first(), { addresses: ['198.51.100.9'], verdict: SECURE, ttl: 60 }, inp, GW, NOW);
        assert.equal(d.action, 'install');
        if (d.action !== 'install') return;
        assert.deepEqual(d.peer.gateway, { kind: 'address', address: '198.51.100.9' });
        assert.equal(d.needsGateway, undefined);
        assert.equal(d.ttl, 60);
        assert.equal(d.peer.expiresAt, NOW + 60);
      });
      it('a bogus gateway address never installs', () => {
        const d = completeGateway(
          first('private-or-clear'),
          { addresses: ['198.51.100.9'], verdict: BOGUS, ttl: 60 },
          inp,
          pol('private-or-clear', 'gateways: [example]\n'),
          NOW,
        );
        assert.equal(d.action, 'refuse');
      });
      it('an unresolvable gateway fails closed under private, clear under private-or-clear', () => {
        const gw = { addresses: [], verdict: INDET, ttl: 60 };
        assert.equal(completeGateway(first(), gw, inp, GW, NOW).action, 'refuse');
        assert.equal(
          completeGateway(first('private-or-clear'), gw, inp, pol('private-or-clear', 'gateways: [example]\n'), NOW).action,
          'answer',
        );
      });
      it('leaves a decision without a gateway name alone', () => {
        const d = decide(input(), GW, NOW);
        assert.equal(completeGateway(d, { addresses: ['198.51.100.9'], verdict: SECURE, ttl: 5 }, input(), GW, NOW), d);
      });
    });
    it('refuses a gateway for a name under no zone of "gateways" (any signed name can list any address)', () => {
      const d = decide(input({ keys: [rec({ gatewayType: 1, gateway: '198.51.100.1' })] }), pol('private'), NOW);
      assert.equal(d.action, 'refuse');
      assert.match(d.ignoredKeys[0]!.reason, /gateway 198\.51\.100\.1 is not allowed for peer\.example/);
      const other = decide(
        input({ keys: [rec({ gatewayType: 3, gateway: 'gw.example' })] }),
        pol('private', 'gateways: [other.test]\n'),
        NOW,
      );
      assert.equal(other.action, 'refuse');
    });
    it('a gateway that is the host itself needs no listing', () => {
      const d = decide(input({ keys: [rec({ gatewayType: 1, gateway: '192.0.2.10' })] }), pol('private'), NOW);
      assert.deepEqual(d.action === 'install' && d.peer.gateway, { kind: 'address', address: '192.0.2.10' });
    });
    it('an unlisted gateway falls back to a key for the host itself among the records', () => {
      const d = decide(
        input({ keys: [rec({ precedence: 1, gatewayType: 1, gateway: '198.51.100.1' }), rec({ precedence: 20 })] }),
        pol('private'),
        NOW,
      );
      assert.deepEqual(d.action === 'install' && d.peer.gateway, { kind: 'none' });
    });
  });

  describe('engineFailed', () => {
    it('fails closed under private', () => {
      const d = engineFailed(decide(input(), pol('private'), NOW), 'ENGINE_UNREACHABLE');
      assert.equal(d.action === 'refuse' && d.rcode, 'SERVFAIL');
      assert.match(d.reason, /could not install peer\.example: ENGINE_UNREACHABLE/);
    });
    it('answers in clear under the other levels', () => {
      assert.equal(engineFailed(decide(input(), pol('private-or-clear'), NOW), 'down').action, 'answer');
      const unauth = decide(input({ keyVerdict: null, keys: [] }), pol('opportunistic', FALLBACK_ON), NOW);
      assert.equal(unauth.action, 'install-unauthenticated');
      assert.equal(engineFailed(unauth, 'down').action, 'answer');
    });
    it('leaves decisions that install nothing alone', () => {
      const d = decide(input({ keyVerdict: BOGUS }), pol('private'), NOW);
      assert.equal(engineFailed(d, 'down'), d);
    });
  });

  describe('lifetime', () => {
    const rows: Array<[string, Partial<DecideInput>, string, number]> = [
      ['address TTL', { addressTtl: 100, keyTtl: 600 }, '', 100],
      ['key TTL', { addressTtl: 900, keyTtl: 200 }, '', 200],
      ['RRSIG expiry', { addressTtl: 900, keyTtl: 900, sigExpiry: NOW + 50 }, '', 50],
      ['max-ttl', { addressTtl: 90000, keyTtl: 90000 }, 'max-ttl: 120\n', 120],
      ['at least one second', { addressTtl: 0, keyTtl: 600 }, '', 1],
    ];
    for (const [what, over, extra, ttl] of rows) {
      it(`is bounded by ${what}`, () => {
        const d = decide(input(over), pol('private', extra), NOW);
        assert.equal(d.action === 'install' && d.ttl, ttl);
        assert.equal(d.action === 'install' && d.peer.expiresAt, NOW + ttl);
      });
    }
    it('is never given to a key whose signatures have expired: private refuses (EDE 7), the rest answer in clear', () => {
      for (const sigExpiry of [NOW - 10, NOW]) {
        const d = decide(input({ sigExpiry }), pol('private'), NOW);
        assert.equal(d.action, 'refuse');
        assert.equal(d.action === 'refuse' && d.ede, 7);
        assert.match(d.reason, /expired and must be validated again/);
        assert.equal(decide(input({ sigExpiry }), pol('private-or-clear'), NOW).action, 'answer');
      }
      assert.equal(decide(input({ sigExpiry: NOW + 1 }), pol('private'), NOW).action, 'install');
    });
    it('installs nothing for a peer name that is not a host name, whatever the key', () => {
      for (const peerName of ['_ipsec.example.test', 'a b.example.test', '-x.example.test', 'x-.example.test']) {
        const d = decide(input({ peerName }), pol('private'), NOW);
        assert.equal(d.action, 'refuse', peerName);
        assert.match(d.reason, /cannot be an IKE identity/);
        assert.equal(decide(input({ peerName }), pol('opportunistic', FALLBACK_ON), NOW).action, 'answer', peerName);
      }
      const ok = decide(input({ peerName: 'Host-1.Example.test.' }), pol('private'), NOW);
      assert.equal(ok.action === 'install' && ok.peer.name, 'host-1.example.test');
    });
    it('of an unauthenticated peer ignores the TTL of a key set that does not exist', () => {
      const d = decide(input({ keyVerdict: null, keys: [], keyTtl: 0, addressTtl: 300 }), pol('opportunistic', FALLBACK_ON), NOW);
      assert.equal(d.action === 'install-unauthenticated' && d.ttl, 300);
    });
    it('lifetime() floors fractions', () => assert.equal(lifetime([10.7], undefined, 3600, NOW), 10));
  });

  describe('the peer', () => {
    it('is named in lowercase without the trailing dot, with unique canonical addresses', () => {
      const d = decide(
        input({ name: 'Peer.Example.', addresses: ['2001:DB8::1', '2001:db8:0::1', '192.0.2.10'], owner: 'autosp' }),
        pol('private'),
        NOW,
      );
      assert.equal(d.action, 'install');
      if (d.action !== 'install') return;
      assert.equal(d.peer.name, 'peer.example');
      assert.deepEqual(d.peer.addresses, ['2001:db8::1', '192.0.2.10']);
      assert.equal(d.peer.owner, 'autosp');
      assert.equal(d.peer.level, 'private');
    });
    it('an unauthenticated peer carries the fallback knobs and says it is not authenticated', () => {
      const fp = 'cd'.repeat(32);
      const d = decide(input({ keyVerdict: null, keys: [] }), pol('opportunistic', `fallback: { trusted-fingerprints: ["${fp}"] }\n`), NOW);
      assert.equal(d.action, 'install-unauthenticated');
      if (d.action !== 'install-unauthenticated') return;
      assert.deepEqual(d.peer.auth, { kind: 'unauthenticated', method: 'tofu-cert' });
      assert.deepEqual(d.trustedFingerprints, [fp]);
      assert.equal(d.anyKey, false);
      assert.match(d.reason, /WITHOUT authentication/);
    });
    it('a forged-looking (unsigned) address cannot pull a name under a clear address rule', () => {
      const p = parsePolicy('default: private\nrules:\n  - { address: 203.0.113.0/24, level: clear }\n');
      const signed = decide(input({ addresses: ['203.0.113.5'], keyVerdict: null, keys: [] }), p, NOW);
      assert.equal(signed.action, 'answer', signed.reason);
      const unsigned = decide(input({ addresses: ['203.0.113.5'], addressVerdict: INSECURE, keyVerdict: null, keys: [] }), p, NOW);
      assert.equal(unsigned.action, 'refuse', unsigned.reason);
      assert.equal(unsigned.level, 'private');
    });
    it('an address rule can raise a name to private', () => {
      const p = parsePolicy('default: private-or-clear\nrules:\n  - { address: 192.0.2.0/24, level: private }\n');
      const d = decide(input({ keyVerdict: null, keys: [] }), p, NOW);
      assert.equal(d.action, 'refuse');
      assert.equal(d.level, 'private');
      assert.match(d.why, /192\.0\.2\.0\/24/);
    });
  });
});

describe('policy/decide: the CNAME chain', () => {
  const p = parsePolicy(
    'default: private-or-clear\nrules:\n  - { zone: bank.example, level: private }\n  - { name: cdn.example, level: opportunistic }\n',
  );

  it('the strictest level of every name in the chain applies, whichever end it is on', () => {
    // An alias under a private zone pointing at a CDN: still private.
    const a = decide(
      input({
        name: 'www.bank.example',
        peerName: 'edge.cdn.example',
        chain: ['www.bank.example', 'x.cdn.example', 'edge.cdn.example'],
        keys: [],
        keyVerdict: null,
      }),
      p,
      NOW,
    );
    assert.equal(a.level, 'private');
    assert.equal(a.action, 'refuse', 'private without a key: refused');
    // A harmless alias pointing into the private zone: the target's level applies.
    const b = decide(
      input({
        name: 'short.example',
        peerName: 'host.bank.example',
        chain: ['short.example', 'host.bank.example'],
        keys: [],
        keyVerdict: null,
      }),
      p,
      NOW,
    );
    assert.equal(b.level, 'private');
    assert.match(b.why, /host\.bank\.example is in the CNAME chain of short\.example/);
    // A chain never lowers a level.
    const c = decide(input({ name: 'www.bank.example', chain: ['cdn.example'] }), p, NOW);
    assert.equal(c.level, 'private');
    // Without a chain, as before.
    assert.equal(decide(input({ name: 'short.example' }), p, NOW).level, 'private-or-clear');
  });
});
