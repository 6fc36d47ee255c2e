import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ipseckeyToKeyObject, ipseckeyToSpkiPem, KeyError, keyObjectToIpseckey, parseRfc3110 } from '../../src/ike-bridge/keys';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KeyError, `expected KeyError, got ${String(e)}`);
    return e.code;
  }
  assert.fail('expected a KeyError');
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const spki = (k: { publicKey: KeyObject }): string => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('keys: IPSECKEY public key field <-> SubjectPublicKeyInfo', () => {
  it('writes RSA in RFC 3110 form: 1-byte exponent length, exponent 65537, modulus', () => {
    const { algorithm, publicKey } = keyObjectToIpseckey(rsa.privateKey);
    assert.equal(algorithm, 2);
    assert.deepEqual([...publicKey.subarray(0, 4)], [3, 1, 0, 1]);
    assert.equal(publicKey.length, 4 + 256);
  });

  it('round-trips RSA to the same SPKI PEM', () => {
    const { publicKey } = keyObjectToIpseckey(rsa.publicKey);
    assert.equal(ipseckeyToSpkiPem(2, publicKey), spki(rsa));
  });

  it('accepts the 3-byte exponent length form (0, then 16 bits)', () => {
    const { publicKey } = keyObjectToIpseckey(rsa.publicKey);
    const long = Buffer.concat([Buffer.from([0, 0, 3]), publicKey.subarray(1)]);
    assert.equal(ipseckeyToSpkiPem(2, long), spki(rsa));
  });

  it('round-trips ECDSA P-256 (x|y, 64 bytes) and Ed25519 (32 bytes)', () => {
    const e = keyObjectToIpseckey(ec.privateKey);
    assert.deepEqual([e.algorithm, e.publicKey.length], [3, 64]);
    assert.equal(ipseckeyToSpkiPem(3, e.publicKey), spki(ec));
    const d = keyObjectToIpseckey(ed.publicKey);
    assert.deepEqual([d.algorithm, d.publicKey.length], [4, 32]);
    assert.equal(ipseckeyToSpkiPem(4, d.publicKey), spki(ed));
  });

  it('gives charon a PEM that node reads back as the same key', () => {
    const pem = ipseckeyToSpkiPem(4, keyObjectToIpseckey(ed.publicKey).publicKey);
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.ok(createPublicKey(pem).equals(ed.publicKey));
  });

  describe('refuses bad keys with typed errors', () => {
    const good = keyObjectToIpseckey(rsa.publicKey).publicKey;
    it('exponent length running past the end', () =>
      assert.equal(
        code(() => parseRfc3110(Buffer.from([200, 1, 0, 1]))),
        'key-malformed',
      ));
    it('exponent filling the whole key (no modulus)', () =>
      assert.equal(
        code(() => parseRfc3110(Buffer.from([3, 1, 0, 1]))),
        'key-malformed',
      ));
    it('empty key', () =>
      assert.equal(
        code(() => parseRfc3110(Buffer.alloc(0))),
        'key-malformed',
      ));
    it('truncated long exponent length', () =>
      assert.equal(
        code(() => parseRfc3110(Buffer.from([0, 1]))),
        'key-malformed',
      ));
    it('even exponent', () =>
      assert.equal(
        code(() => parseRfc3110(Buffer.concat([Buffer.from([1, 4]), good.subarray(4)]))),
        'key-malformed',
      ));
    it('modulus under 1024 bits', () => {
      const small = generateKeyPairSync('rsa', { modulusLength: 768 });
      assert.equal(
        code(() => ipseckeyToKeyObject(2, keyObjectToIpseckey(small.publicKey).publicKey)),
        'key-too-small',
      );
    });
    it('ECDSA of the wrong length', () =>
      assert.equal(
        code(() => ipseckeyToKeyObject(3, Buffer.alloc(63, 1))),
        'key-malformed',
      ));
    it('ECDSA point not on the curve', () =>
      assert.equal(
        code(() => ipseckeyToKeyObject(3, Buffer.alloc(64, 1))),
        'key-malformed',
      ));
    it('Ed25519 of the wrong length', () =>
      assert.equal(
        code(() => ipseckeyToKeyObject(4, Buffer.alloc(31, 1))),
        'key-malformed',
      ));
    it('DSA and unknown algorithms', () => {
      assert.equal(
        code(() => ipseckeyToKeyObject(1, good)),
        'key-unsupported-algorithm',
      );
      assert.equal(
        code(() => ipseckeyToKeyObject(9, good)),
        'key-unsupported-algorithm',
      );
    });
  });
});

describe('keys: public fields read from DER, never from a JWK export', () => {
  // Node 20 writes an Ed25519 JWK under the key's mutex and may run a GC there that destroys the key's
  // generation job, which takes the same mutex: a CI run hung for good that way. The fields now come
  // from the DER export; here they are checked against the JWK of the same key imported from PEM (no
  // generation job behind it, so the JWK export is safe in this test).
  const viaJwk = (k: KeyObject): Buffer => {
    const pem = (k.type === 'private' ? createPublicKey(k) : k).export({ type: 'spki', format: 'pem' });
    const jwk = createPublicKey(pem).export({ format: 'jwk' });
    const b = (s?: string): Buffer => Buffer.from(s!, 'base64url');
    if (jwk.kty === 'RSA') {
      const e = b(jwk.e);
      return Buffer.concat([e.length <= 255 ? Buffer.of(e.length) : Buffer.of(0, e.length >> 8, e.length & 0xff), e, b(jwk.n)]);
    }
    if (jwk.kty === 'EC') {
      const size = jwk.crv === 'P-256' ? 32 : 48;
      const pad = (x: Buffer): Buffer => Buffer.concat([Buffer.alloc(size - x.length), x]);
      return Buffer.concat([pad(b(jwk.x)), pad(b(jwk.y))]);
    }
    return b(jwk.x);
  };

  it('gives the same IPSECKEY field as the JWK for RSA (exponents 3, 65537, 2^32-5), P-256, P-384 and Ed25519 keys', () => {
    const keys: KeyObject[] = [];
    for (let i = 0; i < 3; i++) {
      keys.push(generateKeyPairSync('rsa', { modulusLength: 1024 + 8 * i, publicExponent: [3, 65537, 2 ** 32 - 5][i]! }).publicKey);
    }
    for (let i = 0; i < 20; i++) {
      keys.push(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey); // leading zero bytes in x or y come up
      keys.push(generateKeyPairSync('ed25519').publicKey);
    }
    keys.push(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey);
    for (const k of keys) assert.deepEqual(keyObjectToIpseckey(k).publicKey, viaJwk(k), `${k.asymmetricKeyType}`);
  });

  it('refuses a curve without an IPSECKEY form', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    assert.throws(
      () => keyObjectToIpseckey(k),
      (e: unknown) => e instanceof KeyError && e.code === 'key-unsupported-algorithm',
    );
  });
});
