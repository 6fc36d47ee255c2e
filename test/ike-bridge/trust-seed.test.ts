// The trust seed and the root's bookkeeping across processes (review v11 F7): a seed others can read
// or that exists but cannot be used stops the start (fail closed, with the reason); CRL numbers are
// read back from what charon holds; a root of another seed for our identity is recognised.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharonTrust, ensureTrustSeed, findTrustSeed, type TrustVici } from '../../src/ike-bridge/strongswan-trust';
import { buildCrl, crlInfo, deriveTrustCa, isForeignRootFor, newGeneration } from '../../src/ike-bridge/trust-ca';
import { EngineError } from '../../src/util/errors';

describe('ike-bridge/trust seed and root across restarts', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-seed-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const isTrust = (e: unknown): boolean => e instanceof EngineError && e.code === 'engine-trust';

  it('a new seed is 0600; a seed group or others can read is refused, saying why and how to fix it', () => {
    const p = join(dir, 'trust-root.seed');
    const s = ensureTrustSeed(p);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.deepEqual(ensureTrustSeed(p), s);
    chmodSync(p, 0o640);
    assert.throws(
      () => ensureTrustSeed(p),
      (e: unknown) =>
        isTrust(e) && /mode 0640: group or others can read it/.test((e as Error).message) && /chmod 600/.test((e as Error).message),
    );
  });

  it('a seed that exists but cannot be used stops the start instead of falling back to another root', () => {
    const first = join(dir, 'a', 'trust-root.seed');
    const second = join(dir, 'b', 'trust-root.seed');
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    writeFileSync(second, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    writeFileSync(first, 'c2hvcnQ=\n', { mode: 0o600 }); // "short"
    assert.throws(() => findTrustSeed([first, second]), isTrust);
    rmSync(first);
    assert.equal(findTrustSeed([first, second])!.length, 32, 'the next existing seed is used when the first place holds none');
  });

  it('reads the issuer and number of a CRL (to number on from what charon holds), and tells a root of another seed for our identity', () => {
    const root = deriveTrustCa(randomBytes(32), 'b.oe.test');
    const crl = buildCrl(root, ['0a'], 10n ** 15n + 7n, 1_700_000_000);
    const info = crlInfo(crl)!;
    assert.equal(info.number, 10n ** 15n + 7n);
    assert.ok(info.issuerDer.equals(root.nameDer));
    assert.equal(crlInfo(root.certDer), undefined);
    assert.equal(crlInfo(Buffer.from('not DER')), undefined);
    const other = deriveTrustCa(randomBytes(32), 'b.oe.test');
    const gen = newGeneration(other, 1n, generateKeyPairSync('ed25519').privateKey);
    assert.equal(isForeignRootFor(root, 'b.oe.test', other.certDer), true);
    assert.equal(isForeignRootFor(root, 'b.oe.test', root.certDer), false);
    assert.equal(isForeignRootFor(root, 'b.oe.test', gen.certDer), false, 'a generation is not a root');
    assert.equal(isForeignRootFor(root, 'c.oe.test', other.certDer), false, 'another identity: not ours to judge');
  });

  it('a second load in the same process (our key changed on disk) keeps our own generation: nothing it vouched for is retired', async () => {
    // A charon that keeps the CA certificates and CRLs loaded into it.
    const cas: Buffer[] = [];
    const crls: Buffer[] = [];
    const v: TrustVici = {
      request: async (cmd, msg) => {
        const m = msg as { type?: string; flag?: string; data?: Buffer };
        if (cmd === 'load-cert' && m.type === 'x509' && m.flag === 'CA' && !cas.some((c) => c.equals(m.data!)))
          cas.push(Buffer.from(m.data!));
        if (cmd === 'load-cert' && m.type === 'x509crl') crls.push(Buffer.from(m.data!));
        return new Map([['success', 'yes']]);
      },
      listCaCerts: async () => [...cas],
      listCrls: async () => [...crls],
    };
    const t = new CharonTrust(randomBytes(32), 'b.oe.test');
    await t.load(v);
    const gen = t.generation;
    t.vouch('alice.oe.test', [generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()]);
    t.loaded = false;
    await t.load(v);
    assert.equal(t.generation, gen, 'the generation moved on past our own');
  });

  it('judges only loaded roots (the certificate cache, which IKE peers fill, is flushed first) and numbers on from no forged CRL far ahead', async () => {
    const calls: string[] = [];
    const numbers: bigint[] = [];
    const forged = deriveTrustCa(randomBytes(32), 'b.oe.test');
    let cached = [forged.certDer];
    const t = new CharonTrust(randomBytes(32), 'b.oe.test');
    // A CRL with our issuer name and a number 2^200: anyone with load-cert over VICI can put one there.
    const farCrl = buildCrl(t.root, [], 2n ** 200n, 1_700_000_000);
    const v: TrustVici = {
      request: async (cmd, msg) => {
        calls.push(`${cmd}${(msg as { type?: string }).type ? ` ${(msg as { type?: string }).type}` : ''}`);
        if (cmd === 'flush-certs') cached = [];
        const m = msg as { type?: string; data?: Buffer };
        if (cmd === 'load-cert' && m.type === 'x509crl') numbers.push(crlInfo(m.data!)!.number);
        return new Map([['success', 'yes']]);
      },
      listCaCerts: async () => [...cached],
      listCrls: async () => [farCrl],
    };
    assert.equal(await t.clearForeignRoots(v, 'b.oe.test'), false, 'a root an IKE peer sent is no reason to clear-creds');
    assert.ok(!calls.includes('clear-creds'));
    assert.equal(calls[0], 'flush-certs x509');
    await t.load(v);
    assert.ok(numbers.length > 0);
    assert.ok(
      numbers.every((n) => n < 2n ** 100n),
      `numbered on from the forged CRL: ${numbers.join(', ')}`,
    );
  });
});
