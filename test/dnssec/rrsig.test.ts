// RFC 4035 §5.3 checks of one RRset, with hand-built good and bad inputs.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { verifyRrset } from '../../src/dnssec/rrsig';
import { validateKeySet } from '../../src/dnssec/ds';
import { decodeDs } from '../../src/dnssec/records';
import type { Verdict } from '../../src/dnssec/verdict';
import { a, NOW, TestKey } from './signer';

const zone = 'example.test';
const ksk = new TestKey(zone, 15, 257);
const zsk = new TestKey(zone, 13, 256);
const keys = [ksk.dnskey, zsk.dnskey];

function reason(v: Verdict): string {
  return v.kind === 'bogus' ? `${v.reason}/${v.ede}` : v.kind;
}

describe('RRSIG checks (RFC 4035 §5.3)', () => {
  const www = [a('www.example.test', '192.0.2.1'), a('www.example.test', '192.0.2.2')];

  it('accepts a valid signature and reports the key tag', () => {
    const r = verifyRrset(www, [zsk.sign(www)], keys, zone, NOW);
    assert.equal(r.verdict.kind, 'secure');
    assert.equal(r.keyTag, zsk.tag);
  });

  it('accepts any owner-name case and record order (canonical form, RFC 4034 §6)', () => {
    const mixed = [a('WWW.Example.TEST', '192.0.2.2'), a('www.EXAMPLE.test', '192.0.2.1')];
    assert.equal(verifyRrset(mixed, [zsk.sign(www)], keys, 'Example.Test', NOW).verdict.kind, 'secure');
  });

  it('rejects an expired signature with EDE 7', () => {
    const r = verifyRrset(www, [zsk.sign(www, { inception: NOW - 1000, expiration: NOW - 1 })], keys, zone, NOW);
    assert.equal(reason(r.verdict), 'sig-expired/7');
  });

  it('rejects an RRSIG whose inception is in the future with EDE 8', () => {
    const r = verifyRrset(www, [zsk.sign(www, { inception: NOW + 60, expiration: NOW + 1000 })], keys, zone, NOW);
    assert.equal(reason(r.verdict), 'sig-not-yet-valid/8');
  });

  it('judges validity across the 2^32 wrap with serial arithmetic', () => {
    const now = 2 ** 32 + 100;
    const ok = verifyRrset(www, [zsk.sign(www, { inception: 2 ** 32 - 100, expiration: 1000 })], keys, zone, now);
    assert.equal(ok.verdict.kind, 'secure');
    const old = verifyRrset(www, [zsk.sign(www, { inception: 2 ** 32 - 100, expiration: 50 })], keys, zone, now);
    assert.equal(reason(old.verdict), 'sig-expired/7');
  });

  it('rejects a labels field larger than the owner name', () => {
    const r = verifyRrset(www, [zsk.sign(www, { labels: 4 })], keys, zone, NOW);
    assert.equal(reason(r.verdict), 'labels-mismatch/6');
  });

  it('a smaller labels field means wildcard expansion: it verifies against *.<suffix> and says so', () => {
    const wild = [a('*.example.test', '192.0.2.9')];
    const sig = zsk.sign(wild);
    const expanded = [a('host.example.test', '192.0.2.9')];
    const r = verifyRrset(expanded, [{ ...sig, name: 'host.example.test' }], keys, zone, NOW);
    assert.equal(r.verdict.kind, 'secure');
    assert.equal(r.wildcard, '*.example.test');
    // The same signature with its labels field rewritten to hide the expansion no longer verifies.
    const patched = new Uint8Array(sig.rdata);
    patched[3] = 3;
    const lied = verifyRrset(expanded, [{ ...sig, name: 'host.example.test', rdata: patched }], keys, zone, NOW);
    assert.equal(reason(lied.verdict), 'sig-invalid/6');
  });

  it('rejects a signature by a key that is not in the DNSKEY set (EDE 9)', () => {
    const stranger = new TestKey(zone, 13, 256);
    const r = verifyRrset(www, [stranger.sign(www)], keys, zone, NOW);
    assert.equal(reason(r.verdict), 'no-matching-key/9');
    assert.equal(r.verdict.kind === 'bogus' && r.verdict.keyTag, stranger.tag);
  });

  it('rejects a signer name other than the zone', () => {
    const r = verifyRrset(www, [zsk.sign(www, { signer: 'test' })], keys, zone, NOW);
    assert.equal(reason(r.verdict), 'signer-mismatch/6');
  });

  it('rejects a signature that is missing altogether (EDE 10)', () => {
    assert.equal(reason(verifyRrset(www, [], keys, zone, NOW).verdict), 'rrsigs-missing/10'.replace('rrsigs', 'rrsig'));
  });

  it('rejects a signature over different data', () => {
    const sig = zsk.sign(www);
    const r = verifyRrset([a('www.example.test', '192.0.2.1')], [sig], keys, zone, NOW);
    assert.equal(reason(r.verdict), 'sig-invalid/6');
  });

  it('algorithm downgrade: an RRSIG claiming an unknown algorithm is bogus, not insecure', () => {
    const r = verifyRrset(www, [zsk.sign(www, { algorithm: 253 })], keys, zone, NOW);
    assert.equal(r.verdict.kind, 'bogus');
    // and a valid signature next to it still wins
    assert.equal(verifyRrset(www, [zsk.sign(www, { algorithm: 253 }), zsk.sign(www)], keys, zone, NOW).verdict.kind, 'secure');
  });

  it('caps the TTL at the original TTL and the time left on the signature (RFC 4035 §5.3.3)', () => {
    const long = [a('www.example.test', '192.0.2.1', 86400)];
    const r = verifyRrset(long, [zsk.sign(long, { originalTtl: 300 })], keys, zone, NOW);
    // The RRset as served claims 86400 but was signed with 300: the signature covers TTL 300 only.
    assert.equal(r.verdict.kind, 'secure');
    assert.equal(r.ttl, 300);
    const soon = verifyRrset(long, [zsk.sign(long, { expiration: NOW + 42 })], keys, zone, NOW);
    assert.equal(soon.ttl, 42);
  });

  it('tries every key whose tag matches the RRSIG (key tag collision)', () => {
    // Make two keys with the same tag: Ed25519 keys are cheap, and tags collide after a few hundred.
    const seen = new Map<number, TestKey>();
    let pair: [TestKey, TestKey] | undefined;
    for (let i = 0; i < 5000 && !pair; i++) {
      const k = new TestKey(zone, 15, 256, generateKeyPairSync('ed25519'));
      const other = seen.get(k.tag);
      if (other) pair = [other, k];
      else seen.set(k.tag, k);
    }
    assert.ok(pair, 'no key tag collision found');
    const [first, second] = pair;
    const r = verifyRrset(www, [second.sign(www)], [first.dnskey, second.dnskey], zone, NOW);
    assert.equal(r.verdict.kind, 'secure');
  });
});

describe('DNSKEY sets against DS records (RFC 4035 §5.2)', () => {
  const dnskeySigs = () => [ksk.sign(keys)];

  it('accepts a DNSKEY set signed by the key a DS points at', () => {
    const r = validateKeySet({ zone, ds: [decodeDs(ksk.ds().rdata)], keys: [] }, keys, dnskeySigs(), NOW);
    assert.equal(r.verdict.kind, 'secure');
    assert.deepEqual(r.sepTags, [ksk.tag]);
  });

  it('rejects a DS that matches no key (wrong key)', () => {
    const other = new TestKey(zone, 15, 257);
    const r = validateKeySet({ zone, ds: [decodeDs(other.ds().rdata)], keys: [] }, keys, dnskeySigs(), NOW);
    assert.equal(reason(r.verdict), 'ds-mismatch/9');
  });

  it('rejects a DNSKEY set signed only by the ZSK when the DS points at the KSK', () => {
    const r = validateKeySet({ zone, ds: [decodeDs(ksk.ds().rdata)], keys: [] }, keys, [zsk.sign(keys)], NOW);
    assert.equal(r.verdict.kind, 'bogus');
  });

  it('RFC 6840 §5.2: a DS set listing only unknown algorithms makes the zone insecure', () => {
    const ds = { ...decodeDs(ksk.ds().rdata), algorithm: 253 };
    const r = validateKeySet({ zone, ds: [ds], keys: [] }, keys, dnskeySigs(), NOW);
    assert.equal(r.verdict.kind, 'insecure');
    assert.equal(r.verdict.kind === 'insecure' && r.verdict.reason, 'unsupported-algorithm');
  });

  it('a DS set with only an unknown digest type makes the zone insecure', () => {
    const ds = { ...decodeDs(ksk.ds().rdata), digestType: 99 };
    const r = validateKeySet({ zone, ds: [ds], keys: [] }, keys, dnskeySigs(), NOW);
    assert.equal(r.verdict.kind === 'insecure' && r.verdict.reason, 'unsupported-digest');
  });

  it('algorithm downgrade: a DS with a known algorithm next to an unknown one still requires a valid signature', () => {
    const good = decodeDs(ksk.ds().rdata);
    const r = validateKeySet({ zone, ds: [good, { ...good, algorithm: 253 }], keys: [] }, keys, [zsk.sign(keys, { algorithm: 253 })], NOW);
    assert.equal(r.verdict.kind, 'bogus');
  });

  it('accepts an anchor given as a DNSKEY', () => {
    const r = validateKeySet({ zone, ds: [], keys: [ksk.dnskey.rdata] }, keys, dnskeySigs(), NOW);
    assert.equal(r.verdict.kind, 'secure');
  });

  it('ignores a revoked key as a secure entry point (RFC 5011)', () => {
    const revoked = new TestKey(zone, 15, 257 | 0x80);
    const set = [revoked.dnskey, zsk.dnskey];
    const r = validateKeySet({ zone, ds: [decodeDs(revoked.ds().rdata)], keys: [] }, set, [revoked.sign(set)], NOW);
    assert.equal(r.verdict.kind, 'bogus');
  });

  it('reports a missing DNSKEY set', () => {
    const r = validateKeySet({ zone, ds: [decodeDs(ksk.ds().rdata)], keys: [] }, [], [], NOW);
    assert.equal(reason(r.verdict), 'dnskey-missing/9');
  });
});
