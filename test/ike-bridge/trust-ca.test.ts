// The certificates and CRLs by which the strongswan engine vouches for peer keys and revokes them
// (src/ike-bridge/trust-ca.ts): checked with node's X509Certificate and, where installed, openssl.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipseckeyToSpkiPem } from '../../src/ike-bridge/keys';
import { buildCrl, deriveTrustCa, issuedBy, issuePeerCert, keyIdentifier, newGeneration } from '../../src/ike-bridge/trust-ca';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Lines of 64 (a body of an exact multiple of 64 must not leave an empty line: openssl refuses it).
const pem = (der: Buffer, what = 'CERTIFICATE'): string =>
  `-----BEGIN ${what}-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END ${what}-----\n`;

describe('ike-bridge/trust-ca', () => {
  const seed = randomBytes(32);
  const root = deriveTrustCa(seed, 'alice.example');
  const gen = newGeneration(root, 1_700_000_000_123n, generateKeyPairSync('ed25519').privateKey);
  const rsa = createPublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
    .export({ type: 'spki', format: 'pem' })
    .toString();
  // A real Ed25519 point (random bytes are not a valid point half the time, and openssl refuses those).
  const ed = ipseckeyToSpkiPem(
    4,
    Buffer.from(createPublicKey(generateKeyPairSync('ed25519').privateKey).export({ type: 'spki', format: 'der' }).subarray(-32)),
  );

  it('the root is the same for the same seed (an oedns restart keeps it) and another for another seed', () => {
    assert.deepEqual(deriveTrustCa(seed, 'alice.example').certDer, root.certDer);
    assert.notDeepEqual(deriveTrustCa(randomBytes(32), 'alice.example').certDer, root.certDer);
    const x = new X509Certificate(root.certDer);
    assert.ok(x.ca);
    assert.ok(x.verify(root.publicKey), 'self-signed');
    assert.match(x.subject, /O=oedns trust/);
  });

  it('a generation is a CA signed by the root; a peer certificate is an end entity of the generation naming the peer', () => {
    const g = new X509Certificate(gen.certDer);
    assert.ok(g.ca && g.verify(root.publicKey) && g.checkIssued(new X509Certificate(root.certDer)));
    const ee = issuePeerCert(gen, 'Bob.Example.', rsa);
    const x = new X509Certificate(ee.der);
    assert.equal(x.ca, false);
    assert.ok(x.verify(gen.publicKey));
    assert.equal(x.subjectAltName, 'DNS:bob.example');
    assert.equal(x.publicKey.export({ type: 'spki', format: 'pem' }).toString(), rsa);
    assert.equal(issuedBy(gen, ee.der), ee.serial);
    assert.equal(issuedBy(root, ee.der), undefined, "not the root's");
    assert.equal(BigInt(`0x${issuedBy(root, gen.certDer)}`), 1_700_000_000_123n, "a generation's serial is its number");
  });

  it('a peer certificate depends only on (generation, name, key): same bytes again, another serial for another name or key', () => {
    const a = issuePeerCert(gen, 'bob.example', ed);
    assert.deepEqual(issuePeerCert(gen, 'bob.example', ed).der, a.der);
    assert.notEqual(issuePeerCert(gen, 'carol.example', ed).serial, a.serial);
    assert.notEqual(issuePeerCert(gen, 'bob.example', rsa).serial, a.serial);
  });

  it("keyIdentifier() is charon's key id: SHA-1 of the subjectPublicKey bits (PKCS#1 for RSA)", () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const spki = createPublicKey(k).export({ type: 'spki', format: 'der' });
    const pkcs1 = createPublicKey(k).export({ type: 'pkcs1', format: 'der' });
    assert.equal(keyIdentifier(spki).toString('hex'), createHash('sha1').update(pkcs1).digest('hex'));
  });

  it('openssl: the chain verifies, and the CRL revokes exactly the serials it lists', function () {
    if (!hasOpenssl()) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'oedns-trust-'));
    try {
      const bob = issuePeerCert(gen, 'bob.example', rsa);
      const carol = issuePeerCert(gen, 'carol.example', ed);
      writeFileSync(join(dir, 'chain.pem'), pem(root.certDer) + pem(gen.certDer));
      writeFileSync(join(dir, 'bob.pem'), pem(bob.der));
      writeFileSync(join(dir, 'carol.pem'), pem(carol.der));
      const verify = (crl: Buffer | null, who: string): boolean => {
        const files = crl
          ? (writeFileSync(join(dir, 'crl.pem'), pem(crl, 'X509 CRL')), ['-crl_check', '-CRLfile', join(dir, 'crl.pem')])
          : [];
        try {
          execFileSync('openssl', ['verify', '-x509_strict', ...files, '-CAfile', join(dir, 'chain.pem'), join(dir, `${who}.pem`)], {
            stdio: 'pipe',
          });
          return true;
        } catch {
          return false;
        }
      };
      assert.ok(verify(null, 'bob') && verify(null, 'carol'));
      const now = Math.floor(Date.now() / 1000);
      const crl = buildCrl(gen, [bob.serial], 7n, now);
      assert.equal(verify(crl, 'bob'), false, 'revoked');
      assert.equal(verify(crl, 'carol'), true);
      // A newer CRL without bob trusts him again.
      assert.equal(verify(buildCrl(gen, [], 8n, now), 'bob'), true);
      const text = execFileSync('openssl', ['crl', '-noout', '-text', '-in', join(dir, 'crl.pem')], { encoding: 'utf8' });
      assert.match(text, /CRL Number: \s*8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
