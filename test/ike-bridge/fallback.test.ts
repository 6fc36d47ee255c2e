// Unit tests of the BTNS fallback: certificates (made and checked), TOFU verdicts, the pin store,
// learning from charon's cert list (a scripted fake), the conns built for each method, and how the
// result is shown. The real exchange is in fallback-lab.test.ts.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import forge from 'node-forge';
import pino from 'pino';
import {
  certFingerprint,
  type CertInfo,
  checkPeerCert,
  createSelfSignedCert,
  derToPem,
  parseCert,
  pemToDer,
} from '../../src/ike-bridge/cert';
import type { Peer } from '../../src/ike-bridge/engine';
import {
  checkFallbackMethod,
  ensureHostCert,
  fallbackPlaces,
  findHostCert,
  HOST_CERT_FILE,
  PIN_FILE,
  strongswanFallback,
  TofuCerts,
  WELLKNOWN_PSK,
} from '../../src/ike-bridge/fallback';
import { execRunner, LibreswanEngine } from '../../src/ike-bridge/libreswan';
import { buildConn, type ConnOptions, leavesStaleTrust, sameKeys } from '../../src/ike-bridge/peer-config';
import { type CertTrustPolicy, emptyPinState, findPinFile, judgeCert, type PinState, PinStore } from '../../src/ike-bridge/tofu';
import type { ViciSection } from '../../src/ike-bridge/vici-codec';
import { formatStatus } from '../../src/control/status';
import { OednsError } from '../../src/util/errors';
import { silentLogger } from '../../src/util/log';

const NOW = 1_800_000_000; // 2027-01-15
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;

const make = (id: string, key: KeyObject = ed, now = NOW, days?: number): CertInfo =>
  parseCert(pemToDer(createSelfSignedCert(id, key, { now, serial: randomBytes(12), days })));

const code =
  (c: string) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof OednsError, String(e));
    assert.equal(e.code, c, e.message);
    return true;
  };

/** A cert made with node-forge's own API (RSA only): to get CA:TRUE or no extensions at all. */
function forgeCert(id: string, exts: object[]): Buffer {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 1024, e: 0x10001 });
  const c = forge.pki.createCertificate();
  c.publicKey = keys.publicKey;
  c.serialNumber = '01';
  c.validity.notBefore = new Date((NOW - 86400) * 1000);
  c.validity.notAfter = new Date((NOW + 86400) * 1000);
  c.setSubject([{ name: 'commonName', value: id }]);
  c.setIssuer([{ name: 'commonName', value: id }]);
  c.setExtensions(exts);
  c.sign(keys.privateKey, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(c)).getBytes(), 'binary');
}

describe('fallback: self-signed certificates', () => {
  for (const [type, key] of [
    ['RSA', rsa],
    ['ECDSA P-256', p256],
    ['Ed25519', ed],
  ] as const) {
    it(`${type}: v3, CA:FALSE, SAN = the identity, validly self-signed, passes the pin checks`, () => {
      const c = make('Alice.OE.test.', key);
      assert.deepEqual(
        [c.version, c.hasBasicConstraints, c.isCA, c.canSignCerts, c.dnsNames, c.subject, c.selfSigned],
        [3, true, false, false, ['alice.oe.test'], 'CN=alice.oe.test', true],
      );
      assert.equal(c.notAfter - NOW, 3650 * 86400);
      assert.equal(c.fingerprint, certFingerprint(c.der));
      checkPeerCert(c, 'alice.oe.test', NOW);
    });
  }

  it('PEM round trip', () => {
    const c = make('a.oe.test');
    assert.deepEqual(pemToDer(derToPem(c.der)), c.der);
  });

  it('refuses to make a cert with an unsupported key or a bad name', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    assert.throws(() => createSelfSignedCert('a.oe.test', p384, { now: NOW, serial: randomBytes(12) }), code('cert-key-type'));
    assert.throws(() => createSelfSignedCert('a b', ed, { now: NOW, serial: randomBytes(12) }), code('cert-bad-id'));
  });

  it('a CA:TRUE cert is refused (pinned, charon would trust it as a CA for any name)', () => {
    const der = forgeCert('alice.oe.test', [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'alice.oe.test' }] },
    ]);
    const c = parseCert(der);
    assert.equal(c.isCA, true);
    assert.throws(() => checkPeerCert(c, 'alice.oe.test', NOW), code('cert-ca'));
  });

  it('a cert without basicConstraints, or whose keyUsage may sign certs, is refused', () => {
    const none = parseCert(forgeCert('alice.oe.test', [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'alice.oe.test' }] }]));
    assert.throws(() => checkPeerCert(none, 'alice.oe.test', NOW), code('cert-ca'));
    const ku = parseCert(
      forgeCert('alice.oe.test', [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', keyCertSign: true, digitalSignature: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'alice.oe.test' }] },
      ]),
    );
    assert.equal(ku.canSignCerts, true);
    assert.throws(() => checkPeerCert(ku, 'alice.oe.test', NOW), code('cert-ca'));
  });

  it('a cert whose SAN is not the claimed identity is refused (CN alone does not count)', () => {
    assert.throws(() => checkPeerCert(make('carol.oe.test'), 'alice.oe.test', NOW), code('cert-id-mismatch'));
    const cnOnly = parseCert(forgeCert('alice.oe.test', [{ name: 'basicConstraints', cA: false }]));
    assert.throws(() => checkPeerCert(cnOnly, 'alice.oe.test', NOW), code('cert-id-mismatch'));
  });

  it('expired, not yet valid, weak key, broken signature, not a cert', () => {
    assert.throws(() => checkPeerCert(make('a.oe.test', ed, NOW, 1), 'a.oe.test', NOW + 2 * 86400), code('cert-expired'));
    assert.throws(() => checkPeerCert(make('a.oe.test', ed, NOW), 'a.oe.test', NOW - 7200), code('cert-not-yet-valid'));
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    assert.throws(() => checkPeerCert(make('a.oe.test', weak), 'a.oe.test', NOW), code('cert-key'));
    const c = make('a.oe.test', rsa);
    const bad = Buffer.from(c.der);
    bad[bad.length - 1]! ^= 1;
    assert.throws(() => checkPeerCert(parseCert(bad), 'a.oe.test', NOW), code('cert-signature'));
    assert.throws(() => parseCert(Buffer.from('not a certificate')), code('cert-malformed'));
  });
});

describe('fallback: TOFU verdicts (judgeCert)', () => {
  const alice1 = make('alice.oe.test');
  const alice2 = make('alice.oe.test');
  const anyKey: CertTrustPolicy = { anyKey: true, trustedFingerprints: [] };
  const strict: CertTrustPolicy = { anyKey: false, trustedFingerprints: [] };
  const pinned = (c: CertInfo): PinState => ({
    version: 1,
    pins: {
      'alice.oe.test': {
        name: 'alice.oe.test',
        fingerprint: c.fingerprint,
        der: c.der.toString('base64'),
        firstSeen: NOW - 100,
        lastSeen: NOW - 100,
        source: 'any-key',
      },
    },
  });

  it('any-key: the first certificate is pinned, quietly', () => {
    const v = judgeCert(emptyPinState(), 'Alice.oe.test.', alice1, anyKey, NOW);
    assert.ok(v.accept);
    assert.deepEqual(
      [v.pin.name, v.pin.fingerprint, v.pin.source, v.pin.firstSeen, v.changed, v.warning],
      ['alice.oe.test', alice1.fingerprint, 'any-key', NOW, false, undefined],
    );
  });

  it('without any-key, an unknown certificate is refused unless its fingerprint is trusted', () => {
    const v = judgeCert(emptyPinState(), 'alice.oe.test', alice1, strict, NOW);
    assert.deepEqual([v.accept, !v.accept && v.code], [false, 'tofu-cert-untrusted']);
    const colons = alice1.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:');
    const t = judgeCert(emptyPinState(), 'alice.oe.test', alice1, { anyKey: false, trustedFingerprints: [colons] }, NOW);
    assert.ok(t.accept);
    assert.equal(t.pin.source, 'trusted-fingerprint');
  });

  it('the pinned certificate is accepted again (firstSeen kept)', () => {
    const v = judgeCert(pinned(alice1), 'alice.oe.test', alice1, strict, NOW);
    assert.ok(v.accept);
    assert.deepEqual([v.changed, v.pin.firstSeen, v.pin.lastSeen, v.warning], [false, NOW - 100, NOW, undefined]);
  });

  it('a changed certificate is refused with a loud warning', () => {
    const v = judgeCert(pinned(alice1), 'alice.oe.test', alice2, strict, NOW);
    assert.equal(v.accept, false);
    if (v.accept) return;
    assert.equal(v.code, 'tofu-cert-changed');
    assert.match(v.warning!, /CERTIFICATE OF alice\.oe\.test HAS CHANGED/);
    assert.ok(v.warning!.includes(alice1.fingerprint) && v.warning!.includes(alice2.fingerprint));
    assert.match(v.warning!, /man in the middle/);
  });

  it('any-key accepts a changed certificate but still warns and re-pins', () => {
    const v = judgeCert(pinned(alice1), 'alice.oe.test', alice2, anyKey, NOW);
    assert.ok(v.accept);
    assert.deepEqual([v.changed, v.pin.fingerprint, v.pin.firstSeen], [true, alice2.fingerprint, NOW]);
    assert.match(v.warning!, /HAS CHANGED.*any-key/s);
  });

  it('a changed certificate that is in trusted-fingerprints is accepted, with the warning', () => {
    const v = judgeCert(pinned(alice1), 'alice.oe.test', alice2, { anyKey: false, trustedFingerprints: [alice2.fingerprint] }, NOW);
    assert.ok(v.accept);
    assert.match(v.warning!, /HAS CHANGED.*trusted-fingerprints/s);
  });

  it('any-key never bypasses the certificate checks (CA:TRUE, wrong name)', () => {
    const ca = parseCert(
      forgeCert('alice.oe.test', [
        { name: 'basicConstraints', cA: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'alice.oe.test' }] },
      ]),
    );
    const v = judgeCert(emptyPinState(), 'alice.oe.test', ca, { anyKey: true, trustedFingerprints: [ca.fingerprint] }, NOW);
    assert.deepEqual([v.accept, !v.accept && v.code], [false, 'cert-ca']);
    const w = judgeCert(emptyPinState(), 'alice.oe.test', make('carol.oe.test'), anyKey, NOW);
    assert.deepEqual([w.accept, !w.accept && w.code], [false, 'cert-id-mismatch']);
  });
});

describe('fallback: pin store and host certificate files', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-pins-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('pins persist (mode 0600), can be forgotten, and a missing file is an empty store', () => {
    const path = join(dir, 'pins.json');
    const s = new PinStore(path);
    assert.equal(s.get('alice.oe.test'), undefined);
    const c = make('alice.oe.test');
    const v = judgeCert(s.snapshot, 'alice.oe.test', c, { anyKey: true, trustedFingerprints: [] }, NOW);
    assert.ok(v.accept);
    s.put(v.pin);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = new PinStore(path);
    assert.equal(again.get('ALICE.oe.test.')?.fingerprint, c.fingerprint);
    assert.equal(again.forget('alice.oe.test'), true);
    assert.equal(new PinStore(path).get('alice.oe.test'), undefined);
  });

  it('a corrupt pin file is an error, not an empty store (that would re-open first use)', () => {
    const path = join(dir, 'pins.json');
    writeFileSync(path, '{"version":1,"pins":{"a":{"name":"b"}}}');
    assert.throws(() => new PinStore(path), code('tofu-store'));
    writeFileSync(path, 'garbage');
    assert.throws(() => new PinStore(path), code('tofu-store'));
  });

  it('strongswanFallback: cert and pin file next to the key for tofu-cert; nothing for psk or an unused fallback; null refused', () => {
    const key = join(dir, 'host.key.pem');
    const base = {
      certPaths: fallbackPlaces(key, join(dir, 'state'), HOST_CERT_FILE),
      pinFile: findPinFile(fallbackPlaces(key, join(dir, 'state'), PIN_FILE)),
      identity: 'a.oe.test',
      privateKey: ed,
      log: silentLogger,
      nowSec: NOW,
    };
    assert.equal(base.pinFile, join(dir, 'tofu-pins.json'));
    const t = strongswanFallback({ ...base, fallback: { method: 'tofu-cert', anyKey: true, trustedFingerprints: [] } });
    assert.ok(t.tofu);
    assert.equal(parseCert(pemToDer(readFileSync(join(dir, 'host.cert.pem'), 'utf8'))).dnsNames[0], 'a.oe.test');
    assert.deepEqual(strongswanFallback({ ...base, fallback: { method: 'tofu-cert', anyKey: false, trustedFingerprints: [] } }), {});
    assert.deepEqual(strongswanFallback({ ...base, fallback: { method: 'wellknown-psk', anyKey: true, trustedFingerprints: [] } }), {});
    assert.throws(
      () => strongswanFallback({ ...base, fallback: { method: 'null', anyKey: true, trustedFingerprints: [] } }),
      code('fallback-null-unsupported'),
    );
  });

  it('ensureHostCert makes the cert once, keeps it, and remakes it for another key', () => {
    const path = join(dir, 'host.cert.pem');
    const first = ensureHostCert(path, rsa, 'a.oe.test', NOW);
    assert.equal(readFileSync(path, 'utf8'), first);
    assert.equal(ensureHostCert(path, rsa, 'a.oe.test', NOW + 86400), first);
    const other = ensureHostCert(path, ed, 'a.oe.test', NOW);
    assert.notEqual(other, first);
    assert.equal(parseCert(pemToDer(other)).publicKey.asymmetricKeyType, 'ed25519');
    assert.notEqual(ensureHostCert(path, ed, 'a.oe.test', NOW + 3640 * 86400), other, 'renewed near expiry');
  });

  it('a service that cannot write next to the key keeps its cert and pins in its state directory (review 20)', () => {
    // The key's directory stands in for a root-owned /etc/oedns: nothing can be created below a file.
    writeFileSync(join(dir, 'etc'), '');
    const key = join(dir, 'etc', 'host.key.pem');
    const state = join(dir, 'state');
    mkdirSync(state);
    const certPaths = fallbackPlaces(key, state, HOST_CERT_FILE);
    const pinFile = findPinFile(fallbackPlaces(key, state, PIN_FILE));
    assert.equal(pinFile, join(state, 'tofu-pins.json'));
    const t = strongswanFallback({
      fallback: { method: 'tofu-cert', anyKey: true, trustedFingerprints: [] },
      certPaths,
      pinFile,
      identity: 'a.oe.test',
      privateKey: rsa,
      log: silentLogger,
      nowSec: NOW,
    });
    assert.ok(t.tofu);
    const written = readFileSync(join(state, 'host.cert.pem'), 'utf8');
    assert.equal(findHostCert(certPaths, rsa, 'a.oe.test', NOW + 86400), written, 'found there at the next start, not made anew');
    // Nowhere writable: in memory, with a warning, never a failed start.
    const nowhere = [join(dir, 'etc', 'a.pem'), join(dir, 'etc', 'b.pem')];
    assert.throws(() => findHostCert(nowhere, rsa, 'a.oe.test', NOW));
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => warnings.push(JSON.parse(l).msg) });
    const pem = findHostCert(nowhere, rsa, 'a.oe.test', NOW, log, true);
    assert.equal(parseCert(pemToDer(pem)).dnsNames[0], 'a.oe.test');
    assert.match(warnings.join('\n'), /could not be written anywhere; using it from memory/);
  });

  it('findHostCert takes a good cert from the first place that has one; a stale one elsewhere is not rewritten', () => {
    const a = join(dir, 'a.pem');
    const b = join(dir, 'b.pem');
    const old = ensureHostCert(a, ed, 'a.oe.test', NOW); // for another key
    const good = ensureHostCert(b, rsa, 'a.oe.test', NOW);
    assert.equal(findHostCert([a, b], rsa, 'a.oe.test', NOW), good);
    assert.equal(readFileSync(a, 'utf8'), old);
  });

  it('findHostCert does not block on a FIFO nor follow a link planted at a cert path', () => {
    const fifo = join(dir, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    const pem = findHostCert([fifo], rsa, 'a.oe.test', NOW);
    assert.ok(lstatSync(fifo).isFile(), 'replaced by our cert');
    assert.equal(readFileSync(fifo, 'utf8'), pem);
  });

  it('findHostCert makes a new cert over a socket planted at a cert path (open says ENXIO), not a failed start', async () => {
    const sock = join(dir, 'sock.pem');
    const srv = createServer();
    await new Promise<void>((res) => srv.listen(sock, res));
    try {
      const pem = findHostCert([sock, join(dir, 'b.pem')], rsa, 'a.oe.test', NOW, undefined, true);
      assert.ok(lstatSync(sock).isFile(), 'replaced by our cert');
      assert.equal(readFileSync(sock, 'utf8'), pem);
    } finally {
      await new Promise((res) => srv.close(res));
    }
  });

  it('ensureHostCert replaces a link planted at its path, never writes through it', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'do not touch\n', { mode: 0o600 });
    const path = join(dir, 'host.cert.pem');
    symlinkSync(victim, path);
    const pem = ensureHostCert(path, rsa, 'a.oe.test', NOW);
    assert.equal(readFileSync(victim, 'utf8'), 'do not touch\n');
    assert.ok(lstatSync(path).isFile());
    assert.equal(readFileSync(path, 'utf8'), pem);
    assert.equal(statSync(path).mode & 0o777, 0o644);
  });
});

describe('fallback: learning certificates from charon (list-certs)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-learn-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake VICI client: list-certs answers these DERs; records other commands. */
  function source(ders: Buffer[]): {
    calls: string[];
    listCerts: () => Promise<ViciSection[]>;
    call: (cmd: string) => Promise<ViciSection>;
  } {
    const calls: string[] = [];
    return {
      calls,
      listCerts: async () =>
        ders.map(
          (d) =>
            new Map<string, Buffer | string>([
              ['type', 'X509'],
              ['flag', 'NONE'],
              ['data', d],
            ]) as ViciSection,
        ),
      call: async (cmd: string) => {
        calls.push(cmd);
        return new Map([['success', 'yes']]);
      },
    };
  }
  const capture = (): { log: pino.Logger; lines: { level: number; msg: string }[] } => {
    const lines: { level: number; msg: string }[] = [];
    return {
      lines,
      log: pino(
        { level: 'warn' },
        {
          write: (l: string) => {
            const o = JSON.parse(l);
            lines.push({ level: o.level, msg: o.msg });
          },
        },
      ),
    };
  };

  it('pins the cert naming the peer, ignores certs for other names and our own, refuses CA:TRUE, flushes the cache', async () => {
    const ours = createSelfSignedCert('b.oe.test', rsa, { now: NOW, serial: randomBytes(12) });
    const alice = make('alice.oe.test', ed, Math.floor(Date.now() / 1000));
    const carol = make('carol.oe.test', ed, Math.floor(Date.now() / 1000));
    const ca = forgeCert('alice.oe.test', [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'alice.oe.test' }] },
    ]);
    const store = new PinStore(join(dir, 'pins.json'));
    const t = new TofuCerts(ours, store, { anyKey: true, trustedFingerprints: [] }, silentLogger, () => NOW);
    const src = source([pemToDer(ours), carol.der, ca, alice.der]);
    const r = await t.learn(src, ['alice.oe.test']);
    assert.deepEqual(r.pinned, ['alice.oe.test']);
    assert.deepEqual(
      r.refused.map((x) => [x.name, x.code]),
      [['alice.oe.test', 'cert-ca']],
    );
    assert.equal(store.get('alice.oe.test')?.fingerprint, alice.fingerprint);
    assert.equal(store.get('carol.oe.test'), undefined);
    assert.deepEqual(src.calls, ['flush-certs']);
    assert.equal(t.pinnedPem('alice.oe.test'), derToPem(alice.der));
    assert.deepEqual((await t.learn(source([alice.der]), ['alice.oe.test'])).pinned, [], 'the same cert again is no news');
  });

  it('with any-key, the old pin still listed (a loaded conn) never wins back over its replacement', async () => {
    const store = new PinStore(join(dir, 'pins.json'));
    const ours = createSelfSignedCert('b.oe.test', rsa, { now: NOW, serial: randomBytes(12) });
    const t = new TofuCerts(ours, store, { anyKey: true, trustedFingerprints: [] }, silentLogger, () => NOW);
    const [old, fresh] = [make('alice.oe.test'), make('alice.oe.test')];
    assert.deepEqual((await t.learn(source([old.der]), ['alice.oe.test'])).pinned, ['alice.oe.test']);
    assert.deepEqual((await t.learn(source([fresh.der, old.der]), ['alice.oe.test'])).pinned, ['alice.oe.test']);
    assert.equal(store.get('alice.oe.test')?.fingerprint, fresh.fingerprint);
  });

  it('a changed cert is logged at error level and not pinned', async () => {
    const store = new PinStore(join(dir, 'pins.json'));
    const { log, lines } = capture();
    const ours = createSelfSignedCert('b.oe.test', rsa, { now: NOW, serial: randomBytes(12) });
    const t = new TofuCerts(ours, store, { anyKey: false, trustedFingerprints: [] }, log, () => NOW);
    const first = make('alice.oe.test');
    const v = judgeCert(store.snapshot, 'alice.oe.test', first, { anyKey: true, trustedFingerprints: [] }, NOW);
    assert.ok(v.accept);
    store.put(v.pin);
    const r = await t.learn(source([make('alice.oe.test').der]), ['alice.oe.test']);
    assert.deepEqual([r.pinned, r.refused.map((x) => x.code)], [[], ['tofu-cert-changed']]);
    assert.equal(store.get('alice.oe.test')?.fingerprint, first.fingerprint);
    assert.ok(
      lines.some((l) => l.level === 50 && /HAS CHANGED/.test(l.msg)),
      JSON.stringify(lines),
    );
  });
});

describe('fallback: what the engines are told', () => {
  const ours = createSelfSignedCert('a.oe.test', ed, { now: NOW, serial: randomBytes(12) });
  const theirs = derToPem(make('b.oe.test').der);
  let pin: string | undefined;
  const opts: ConnOptions = {
    local: { id: 'a.oe.test', publicKeyPem: 'PEM-A' },
    ikeProposals: ['aes128-sha256-x25519'],
    espProposals: ['aes128-sha256'],
    startAction: 'none',
    wellknownPskId: 'oe-wellknown',
    tofu: { localCertPem: ours, pinnedPem: () => pin },
  };
  const peer = (method: 'tofu-cert' | 'wellknown-psk' | 'null', pinnedFingerprint?: string): Peer => ({
    name: 'b.oe.test',
    addresses: ['192.0.2.2'],
    auth: { kind: 'unauthenticated', method, pinnedFingerprint },
    gateway: { kind: 'none' },
    level: 'opportunistic',
    expiresAt: 0,
    owner: 'serve',
  });

  it('tofu-cert: our cert sent always; the peer bound to its name, pinned cert once known', () => {
    pin = undefined;
    const c = buildConn(peer('tofu-cert'), opts) as Record<string, any>;
    assert.equal(c.send_cert, 'always');
    assert.deepEqual(c.local, { auth: 'pubkey', id: 'a.oe.test', certs: [ours] });
    assert.deepEqual(c.remote, { auth: 'pubkey', id: 'b.oe.test', certs: undefined });
    pin = theirs;
    const d = buildConn(peer('tofu-cert'), opts) as Record<string, any>;
    assert.deepEqual(d.remote, { auth: 'pubkey', id: 'b.oe.test', certs: [theirs] });
  });

  it('wellknown-psk: psk both ways, any remote identity', () => {
    const c = buildConn(peer('wellknown-psk'), opts) as Record<string, any>;
    assert.deepEqual([c.local, c.remote, c.send_cert], [{ auth: 'psk', id: 'a.oe.test' }, { auth: 'psk', id: '%any' }, undefined]);
    assert.ok(WELLKNOWN_PSK.length >= 32);
  });

  it('null on strongSwan is an error that says why, at config time and at install time', () => {
    assert.throws(
      () => checkFallbackMethod('strongswan', 'null'),
      (e: unknown) => code('fallback-null-unsupported')(e) && /RFC 7619/.test((e as Error).message),
    );
    checkFallbackMethod('strongswan', 'tofu-cert');
    checkFallbackMethod('libreswan', 'null');
    assert.throws(
      () => buildConn(peer('null'), opts),
      (e: unknown) => code('engine-unsupported')(e) && /auth = null/.test((e as Error).message),
    );
    assert.throws(() => buildConn(peer('tofu-cert'), { ...opts, tofu: undefined }), code('engine-unsupported'));
  });

  it('a re-pinned peer leaves stale trust (charon is rebuilt); a first pin or a PSK peer does not', () => {
    assert.equal(sameKeys(peer('tofu-cert', 'aa'), peer('tofu-cert', 'aa')), true);
    assert.equal(sameKeys(peer('tofu-cert', 'aa'), peer('tofu-cert', 'bb')), false);
    assert.equal(sameKeys(peer('tofu-cert'), peer('wellknown-psk')), false);
    assert.equal(leavesStaleTrust(peer('tofu-cert', 'aa'), peer('tofu-cert', 'bb')), true);
    assert.equal(leavesStaleTrust(peer('tofu-cert', 'aa'), peer('wellknown-psk')), true);
    assert.equal(leavesStaleTrust(peer('tofu-cert', 'aa'), peer('tofu-cert', 'aa')), false);
    assert.equal(leavesStaleTrust(peer('tofu-cert'), peer('tofu-cert', 'aa')), false);
    assert.equal(leavesStaleTrust(peer('wellknown-psk'), peer('tofu-cert', 'aa')), false);
  });

  it('oedns status prints an unauthenticated peer as encrypted, not authenticated', () => {
    const out = formatStatus({
      version: 't',
      startedAt: NOW,
      now: NOW,
      listen: ['127.0.0.1:53'],
      upstreams: [],
      engine: { engine: 'strongswan', reachable: true, peers: 1 },
      peers: [
        {
          name: 'b.oe.test',
          addresses: ['192.0.2.2'],
          level: 'opportunistic',
          keySource: 'unauthenticated',
          authenticated: false,
          owners: ['serve'],
          expiresAt: NOW + 60,
          ikeState: 'ESTABLISHED',
          childState: 'INSTALLED',
        },
      ],
      counters: {},
    });
    assert.match(out, /b\.oe\.test .* NO: encrypted, not authenticated/);
  });
});

describe('fallback: Libreswan NULL authentication (fake ipsec that records its arguments)', () => {
  const FAKE = resolve(__dirname, '../../../test/ike-bridge/fixtures/fake-ipsec');
  let dir: string;
  let log: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-null-'));
    log = join(dir, 'calls');
    writeFileSync(log, '');
    process.env.FAKE_IPSEC_LOG = log;
    delete process.env.FAKE_IPSEC_FAIL;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('null: a conn with NULL auth and %null peer id, no key loaded, listed as not authenticated', async () => {
    const e = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', run: execRunner(FAKE) });
    await e.install({
      name: 'b.oe.test',
      addresses: ['192.0.2.2'],
      auth: { kind: 'unauthenticated', method: 'null' },
      gateway: { kind: 'none' },
      level: 'opportunistic',
      expiresAt: 0,
      owner: 'serve',
      initiate: true,
    });
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
    assert.equal(calls.filter((c) => c.includes('--keyid')).length, 0, 'no key for an unauthenticated peer');
    const add = calls.find((c) => c.includes('--name') && c.includes('--to'))!;
    assert.ok(add.some((a) => /^--auth-?null$/.test(a)) && !add.includes('--rsasig'), add.join(' '));
    assert.deepEqual(add.slice(add.indexOf('--to')), ['--to', '--host', '192.0.2.2', '--id', '%null']);
    assert.deepEqual(calls[calls.length - 1], ['whack', '--initiate', '--name', 'oe-b.oe.test']);
    assert.deepEqual(
      (await e.list()).map((p) => [p.name, p.authenticated]),
      [['b.oe.test', false]],
    );
  });

  it('the strongSwan-only constructions are refused by the libreswan engine, not silently dropped', async () => {
    const e = new LibreswanEngine({ localId: 'a.oe.test', run: execRunner(FAKE) });
    for (const method of ['tofu-cert', 'wellknown-psk'] as const) {
      await assert.rejects(
        e.install({
          name: 'b.oe.test',
          addresses: ['192.0.2.2'],
          auth: { kind: 'unauthenticated', method },
          gateway: { kind: 'none' },
          level: 'opportunistic',
          expiresAt: 0,
          owner: 'serve',
        }),
        code('engine-unsupported'),
      );
    }
  });
});
