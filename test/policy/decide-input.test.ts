// decisionFacts(): validated lookups -> decide()'s input, the one builder capture and autosp share.
// Proofs are built as the validator hands them on (a verdict and the RRsets it judged); the builder
// must read those alone, whatever message travels beside them.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { Proof } from '../../src/dnssec/proof';
import type { ValidatedRRset } from '../../src/dnssec/validate';
import { bogus, Ede, insecure, SECURE, type Verdict } from '../../src/dnssec/verdict';
import { keyObjectToIpseckey } from '../../src/peers/keys';
import { decide, parsePolicy } from '../../src/policy';
import { decisionFacts, gatewayFacts, type LookupResult } from '../../src/policy/decide-input';
import { makeQuery, makeResponse } from '../../src/wire/message';
import { encodeIpseckey, encodeNameRdata } from '../../src/wire/rdata';
import { Rcode, type RR, RRClass, RRType } from '../../src/wire/types';

const NOW = 1_700_000_000;
const key = keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey);
const IPSECKEY = encodeIpseckey({
  precedence: 10,
  gatewayType: 0,
  algorithm: key.algorithm,
  gateway: null,
  publicKey: Uint8Array.from(key.publicKey),
});

interface SetSpec {
  name: string;
  type: number;
  rdatas: Uint8Array[];
  role?: ValidatedRRset['role'];
  ttl?: number;
  sigExpiry?: number;
}

function rrset(s: SetSpec): ValidatedRRset {
  const ttl = s.ttl ?? 300;
  const records: RR[] = s.rdatas.map((rdata) => ({ name: s.name, type: s.type, class: RRClass.IN, ttl, rdata }));
  return {
    name: s.name,
    type: s.type,
    class: RRClass.IN,
    records,
    sigs: [],
    ttl,
    sigExpiry: s.sigExpiry ?? NOW + 3600,
    security: 'secure',
    role: s.role ?? 'answer',
  };
}

function proof(sets: SetSpec[], verdict: Verdict = SECURE, rcode: number = Rcode.NOERROR): Proof {
  const usable = verdict.kind === 'secure' || verdict.kind === 'insecure';
  const rrsets = usable ? sets.map(rrset) : [];
  return { verdict, rrsets, negative: usable && rrsets.length === 0 ? 'nodata' : null, rcode, ttl: 300 };
}

const a = (name: string, ip: number[], extra: Partial<SetSpec> = {}): SetSpec => ({
  name,
  type: RRType.A,
  rdatas: [Uint8Array.from(ip)],
  ...extra,
});
const aaaa = (name: string, extra: Partial<SetSpec> = {}): SetSpec => ({
  name,
  type: RRType.AAAA,
  rdatas: [Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1])],
  ...extra,
});
const ipseckey = (name: string, extra: Partial<SetSpec> = {}): SetSpec => ({ name, type: RRType.IPSECKEY, rdatas: [IPSECKEY], ...extra });
const cname = (name: string, target: string): SetSpec => ({ name, type: RRType.CNAME, rdatas: [encodeNameRdata(target)], role: 'cname' });
const ok = (p: Proof | undefined, age?: number): LookupResult => ({ proof: p, age });
const one = (addr: LookupResult, k: LookupResult) =>
  decisionFacts({ name: 'bob.example', addresses: [{ type: RRType.A, result: addr }], key: k });

describe('policy/decide-input: validated lookups to a DecideInput', () => {
  it('reads addresses and keys off the proof only, never off a message travelling with it', () => {
    // What capture hands over carries the message too: a forged address and key in it must not count.
    const forged = {
      ...makeResponse(makeQuery('bob.example', RRType.A), Rcode.NOERROR),
      answers: [{ name: 'bob.example', type: RRType.A, class: RRClass.IN, ttl: 9999, rdata: Uint8Array.from([203, 0, 113, 66]) }],
    };
    const addr = { message: forged, proof: proof([a('bob.example', [192, 0, 2, 10])]) };
    const keyNone = {
      message: { ...forged, answers: [{ name: 'bob.example', type: RRType.IPSECKEY, class: RRClass.IN, ttl: 9999, rdata: IPSECKEY }] },
      proof: proof([]),
    };
    const { input } = one(addr, keyNone);
    assert.deepEqual(input.addresses, ['192.0.2.10']);
    assert.equal(input.addressTtl, 300);
    assert.deepEqual(input.keys, []);
    assert.equal(input.keyVerdict, null, 'a validated NODATA: the name has no key, whatever the message says');
  });

  it("no validator's word (no proof): nothing read, the address verdict is not-validated", () => {
    const { input, verdicts } = one(ok(undefined), ok(undefined));
    assert.deepEqual(input.addresses, []);
    assert.equal(input.addressVerdict.kind === 'indeterminate' && input.addressVerdict.reason, 'not-validated');
    assert.equal(verdicts.key.kind === 'indeterminate' && verdicts.key.reason, 'not-validated');
    assert.deepEqual(input.keys, []);
  });

  it('a secure address and key: values, owner, aged TTLs, the earliest signature expiry', () => {
    const { input } = one(
      ok(proof([a('bob.example', [192, 0, 2, 10], { ttl: 600, sigExpiry: NOW + 900 })]), 100),
      ok(proof([ipseckey('bob.example', { ttl: 120, sigExpiry: NOW + 500 })]), 20),
    );
    assert.equal(input.name, 'bob.example');
    assert.equal(input.peerName, 'bob.example');
    assert.equal(input.qtype, RRType.A);
    assert.equal(input.addressTtl, 500);
    assert.equal(input.keyTtl, 100);
    assert.equal(input.sigExpiry, NOW + 500);
    assert.equal(input.keys.length, 1);
    assert.equal(input.keyVerdict?.kind, 'secure');
    assert.equal(input.addressVerdict.kind, 'secure');
    assert.equal(input.owner, undefined, 'no owner given: decide() takes its default');
    assert.equal(input.chain, undefined);
  });

  it('A and AAAA together (autosp): both addresses, the worst verdict, the smaller TTL of those with values', () => {
    const unsigned = insecure('unsigned-delegation', 'example', 'no DS for example');
    const f = decisionFacts({
      name: 'bob.example',
      addresses: [
        { type: RRType.A, result: ok(proof([a('bob.example', [192, 0, 2, 10], { ttl: 400 })])) },
        { type: RRType.AAAA, result: ok(proof([aaaa('bob.example', { ttl: 200 })], unsigned)) },
      ],
      key: ok(proof([ipseckey('bob.example')])),
      owner: 'autosp',
    });
    assert.deepEqual(f.input.addresses, ['192.0.2.10', '2001:db8::1']);
    assert.equal(f.input.addressTtl, 200);
    assert.equal(f.input.addressVerdict.kind, 'insecure');
    assert.deepEqual(
      f.verdicts.addresses.map((v) => v.kind),
      ['secure', 'insecure'],
    );
    assert.equal(f.input.owner, 'autosp');
    assert.equal(f.input.qtype, RRType.A);
    // Only AAAA has values: the decision is about AAAA.
    const v6 = decisionFacts({
      name: 'bob.example',
      addresses: [
        { type: RRType.A, result: ok(proof([])) },
        { type: RRType.AAAA, result: ok(proof([aaaa('bob.example', { ttl: 200 })])) },
      ],
      key: ok(proof([])),
    });
    assert.equal(v6.input.qtype, RRType.AAAA);
    assert.equal(v6.input.addressTtl, 200);
  });

  it('a failed lookup is fetch-failed; a bogus key gives no keys and stays bogus', () => {
    const failed = one(ok(proof([a('bob.example', [192, 0, 2, 10])])), { error: 'timeout' });
    const kv = failed.input.keyVerdict;
    assert.ok(
      kv?.kind === 'indeterminate' && kv.reason === 'fetch-failed' && /IPSECKEY lookup failed: timeout/.test(kv.detail),
      JSON.stringify(kv),
    );
    const forged = one(
      ok(proof([a('bob.example', [192, 0, 2, 10])])),
      ok(proof([ipseckey('bob.example')], bogus('sig-invalid', Ede.DNSSEC_BOGUS, 'bad signature'))),
    );
    assert.equal(forged.input.keyVerdict?.kind, 'bogus');
    assert.deepEqual(forged.input.keys, []);
    const noAddr = decisionFacts({
      name: 'bob.example',
      addresses: [
        { type: RRType.A, result: { error: 'refused' } },
        { type: RRType.AAAA, result: ok(proof([])) },
      ],
      key: ok(proof([])),
    });
    assert.equal(noAddr.input.addressVerdict.kind, 'indeterminate');
    assert.deepEqual(noAddr.input.addresses, []);
  });

  it('a usable proof that stands for neither NOERROR nor NXDOMAIN is no answer', () => {
    const { input } = one(
      ok(proof([a('bob.example', [192, 0, 2, 10])])),
      ok(proof([], insecure('unsigned-delegation', 'example', 'unsigned'), Rcode.REFUSED)),
    );
    assert.ok(input.keyVerdict?.kind === 'indeterminate' && input.keyVerdict.reason === 'upstream-error', JSON.stringify(input.keyVerdict));
  });

  it("keys whose chain ends elsewhere than the address chain are another name's", () => {
    const { input } = one(
      ok(proof([a('bob.example', [192, 0, 2, 10])])),
      ok(proof([cname('bob.example', 'eve.example'), ipseckey('eve.example')])),
    );
    assert.ok(input.keyVerdict?.kind === 'indeterminate' && input.keyVerdict.reason === 'owner-mismatch', JSON.stringify(input.keyVerdict));
  });

  // Found by an adversarial review: only the key's chain end was compared with the addresses', so an A
  // chain ending at bob and an AAAA chain ending at eve (the chain changed between two cached answers,
  // or an old signed CNAME replayed for one type) installed bob's key for eve's address.
  it("an AAAA whose chain ends elsewhere than the A's is another name's: not installed with this key", () => {
    const policy = parsePolicy('default: opportunistic\n', 'yaml');
    const { input, verdicts } = decisionFacts({
      name: 'www.example',
      addresses: [
        { type: RRType.A, result: ok(proof([cname('www.example', 'bob.example'), a('bob.example', [192, 0, 2, 10])])) },
        { type: RRType.AAAA, result: ok(proof([cname('www.example', 'eve.example'), aaaa('eve.example')])) },
      ],
      key: ok(proof([cname('www.example', 'bob.example'), ipseckey('bob.example')])),
      owner: 'autosp',
    });
    assert.deepEqual(input.addresses, ['192.0.2.10']);
    assert.ok(
      verdicts.addresses[1]?.kind === 'indeterminate' && verdicts.addresses[1].reason === 'owner-mismatch',
      JSON.stringify(verdicts.addresses[1]),
    );
    const d = decide(input, policy, NOW);
    assert.notEqual(d.action === 'install' && d.peer.addresses.includes('2001:db8::1'), true, JSON.stringify(d));
  });

  it("through a CNAME chain: the peer is the chain's end, every link reaches decide() for both callers", () => {
    const chain = [cname('short.example', 'mid.bank.example'), cname('mid.bank.example', 'host.example')];
    const policy = parsePolicy('default: opportunistic\nrules:\n  - { zone: bank.example, level: private }\n', 'yaml');
    const capture = decisionFacts({
      name: 'short.example',
      addresses: [{ type: RRType.A, result: ok(proof([...chain, a('host.example', [192, 0, 2, 10])])) }],
      key: ok(proof([...chain])),
    });
    assert.equal(capture.input.peerName, 'host.example');
    assert.deepEqual(capture.input.chain, ['short.example', 'mid.bank.example']);
    const autosp = decisionFacts({
      name: 'short.example',
      addresses: [
        { type: RRType.A, result: ok(proof([...chain, a('host.example', [192, 0, 2, 10])])) },
        { type: RRType.AAAA, result: ok(proof([...chain, aaaa('host.example')])) },
      ],
      key: ok(proof([...chain])),
      owner: 'autosp',
    });
    assert.deepEqual(autosp.input.chain, ['short.example', 'mid.bank.example']);
    // mid.bank.example is private: no key, so no address, however lax the name asked for is.
    for (const { input } of [capture, autosp]) {
      const d = decide(input, policy, NOW);
      assert.equal(d.level, 'private');
      assert.equal(d.action, 'refuse');
    }
  });

  it("gateway facts: the gateway's validated A, or fetch-failed", () => {
    const g = gatewayFacts('gw.example', ok(proof([a('gw.example', [198, 51, 100, 1], { ttl: 60 })]), 10));
    assert.deepEqual(g.addresses, ['198.51.100.1']);
    assert.equal(g.ttl, 50);
    assert.equal(g.verdict.kind, 'secure');
    const none = gatewayFacts('gw.example', { error: 'timeout' });
    assert.deepEqual(none.addresses, []);
    assert.ok(none.verdict.kind === 'indeterminate' && none.verdict.reason === 'fetch-failed' && /gw\.example/.test(none.verdict.detail));
  });
});
