// What a leaked trust seed still buys, against two real charons (review v11 F7). Whoever knows
// trust-root.seed derives our root key and presents a chain of its own through IKE CERT payloads;
// A's charon has a "corp VPN" conn that pins no CA. The name constraints our root carries (and every
// generation must inherit: strongSwan's constraints plugin) keep such chains from claiming a
// directory-name identity, and a generation minted without them is refused. Host-name identities
// cannot be narrowed (we vouch for any looked-up name): the control case shows such a chain is still
// accepted, which is why the seed is 0600 and `oedns doctor` names conns that pin no CA.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { charonKeyType, privateKeyPemForCharon } from '../../src/ike-bridge/keys';
import { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { deriveTrustCa, issuePeerCert, newGeneration, type TrustCa } from '../../src/ike-bridge/trust-ca';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { type Lab, labUnavailable, labUp } from '../support/lab';

const spki = (k: KeyObject): string => createPublicKey(k).export({ type: 'spki', format: 'pem' }).toString();
const pem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
const derOf = (p: string): Buffer => Buffer.from(readFileSync(p, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');

describe('a chain minted with a leaked trust seed (lab)', function () {
  this.timeout(120_000);
  let lab: Lab | undefined;
  let A: StrongswanEngine | undefined;
  let rawA: ViciClient | undefined;
  let rawB: ViciClient | undefined;
  let dir = '';
  const seed = randomBytes(32);
  const ka = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  let root: TrustCa;

  /** An openssl-signed certificate (what our own code would never make). */
  const opensslCert = (o: {
    subject: string;
    issuerCert: Buffer;
    issuerKey: KeyObject;
    key: KeyObject;
    ext: string;
    name: string;
  }): Buffer => {
    const f = (n: string): string => join(dir, `${o.name}.${n}`);
    writeFileSync(f('key'), o.key.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(f('cakey'), o.issuerKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(f('ca'), pem(o.issuerCert));
    writeFileSync(f('ext'), `[e]\n${o.ext}\n`);
    execFileSync('openssl', ['req', '-new', '-key', f('key'), '-subj', o.subject, '-out', f('csr')], { stdio: 'pipe' });
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        f('csr'),
        '-CA',
        f('ca'),
        '-CAkey',
        f('cakey'),
        '-set_serial',
        '4242',
        '-days',
        '30',
        '-extfile',
        f('ext'),
        '-extensions',
        'e',
        '-out',
        f('crt'),
      ],
      { stdio: 'pipe' },
    );
    return derOf(f('crt'));
  };

  /** B, knowing only the seed, presents `chain` as `id`; true when A's corp-vpn lets it in. */
  const attack = async (id: string, key: KeyObject, ee: Buffer, gen: Buffer, remoteId: string): Promise<boolean> => {
    await rawA!.loadConn('corp-vpn', {
      version: 2,
      remote_addrs: ['%any'],
      proposals: ['aes128-sha256-x25519'],
      local: { auth: 'pubkey', id: 'a.oe.test' },
      remote: { auth: 'pubkey', id: remoteId },
      children: { 'corp-vpn': { mode: 'tunnel', local_ts: ['dynamic'], remote_ts: ['dynamic'], esp_proposals: ['aes128-sha256'] } },
    });
    await rawB!.loadKey(charonKeyType(key), privateKeyPemForCharon(key));
    await rawB!.request('load-cert', { type: 'x509', flag: 'CA', data: gen });
    await rawB!.loadConn('evil', {
      version: 2,
      remote_addrs: [lab!.a.addr],
      proposals: ['aes128-sha256-x25519'],
      send_cert: 'always',
      local: { auth: 'pubkey', id, certs: [ee] },
      remote: { auth: 'pubkey', id: 'a.oe.test', pubkeys: [spki(ka)] },
      children: { evil: { mode: 'tunnel', local_ts: ['dynamic'], remote_ts: ['dynamic'], esp_proposals: ['aes128-sha256'] } },
    });
    try {
      const r = await rawB!.initiate({ child: 'evil', ike: 'evil', timeout: 8000, loglevel: 1 }, { timeoutMs: 12_000 });
      return r.reply.get('success') === 'yes' && (await rawA!.listSas()).some((s) => s.name === 'corp-vpn');
    } catch {
      return false;
    } finally {
      for (const sa of await rawA!.listSas())
        await rawA!.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true }).catch(() => undefined);
      await rawB!.unloadConn('evil').catch(() => undefined);
      await rawA!.unloadConn('corp-vpn').catch(() => undefined);
    }
  };

  before(async function () {
    if (labUnavailable()) return this.skip();
    dir = mkdtempSync(join(tmpdir(), 'oedns-seed-chain-'));
    lab = await labUp();
    A = new StrongswanEngine({
      socketPath: lab.a.vici,
      identity: { id: 'a.oe.test', privateKey: ka },
      checkIntervalMs: 0,
      trustSeed: seed,
    });
    await A.reconcile([], []); // oedns runs on A: its root and generation are in charon
    rawA = new ViciClient({ socketPath: lab.a.vici });
    rawB = new ViciClient({ socketPath: lab.b.vici });
    root = deriveTrustCa(seed, 'a.oe.test');
  });
  after(async () => {
    await A?.close();
    await rawA?.close();
    await rawB?.close();
    await lab?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a certificate for a directory-name identity, from a generation of our root, is refused', async () => {
    const gen = newGeneration(root, 424242n, generateKeyPairSync('ed25519').privateKey);
    const kx = generateKeyPairSync('ed25519').privateKey;
    const ee = opensslCert({
      name: 'dn',
      subject: '/C=CH/O=corp/CN=ceo',
      issuerCert: gen.certDer,
      issuerKey: gen.privateKey,
      key: kx,
      ext: 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature',
    });
    assert.equal(await attack('C=CH, O=corp, CN=ceo', kx, ee, gen.certDer, 'C=CH, O=corp, CN=ceo'), false);
  });

  it('a generation minted without our name constraints is refused, whatever it vouches for', async () => {
    const gk = generateKeyPairSync('ed25519').privateKey;
    const gen = opensslCert({
      name: 'gen',
      subject: '/O=oedns trust/CN=rogue gen',
      issuerCert: root.certDer,
      issuerKey: root.privateKey,
      key: gk,
      ext: 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign',
    });
    const kx = generateKeyPairSync('ed25519').privateKey;
    const ee = opensslCert({
      name: 'ee',
      subject: '/O=oedns trust/CN=ceo.corp.test',
      issuerCert: gen,
      issuerKey: gk,
      key: kx,
      ext: 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:ceo.corp.test',
    });
    assert.equal(await attack('ceo.corp.test', kx, ee, gen, '%any'), false);
  });

  it('control: a host-name identity through a generation with our constraints is still accepted (the seed must stay secret)', async () => {
    const gen = newGeneration(root, 424243n, generateKeyPairSync('ed25519').privateKey);
    const kx = generateKeyPairSync('ed25519').privateKey;
    const ee = issuePeerCert(gen, 'ceo.corp.test', spki(kx));
    assert.equal(await attack('ceo.corp.test', kx, ee.der, gen.certDer, '%any'), true);
  });
});
