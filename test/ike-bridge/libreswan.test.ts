// Unit tests of the Libreswan engine's commands and of how it reads pluto's answers, against a fake
// `ipsec` that records its arguments. The same spellings are run against a real pluto 4.10 in
// libreswan-pluto.test.ts; the pluto output quoted here was recorded there.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import { ipseckeyToKeyObject, keyObjectToIpseckey, publicKeyFields } from '../../src/ike-bridge/keys';
import { ckaidOf, execRunner, initiateOutcome, LibreswanEngine, statesByConn, whackRunner } from '../../src/ike-bridge/libreswan';
import { EngineError } from '../../src/util/errors';
import { silentLogger } from '../../src/util/log';
import { engineFromConfig } from '../../src/daemon/engine-config';

const FAKE = resolve(__dirname, '../../../test/ike-bridge/fixtures/fake-ipsec');
const rsaPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa = keyObjectToIpseckey(rsaPair.publicKey);
const rsa2 = keyObjectToIpseckey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const ed = keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey);
const ec = keyObjectToIpseckey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
const b64 = (k: { publicKey: Buffer }): string => `0s${k.publicKey.toString('base64')}`;

// Recorded from pluto 4.10 (libreswan-pluto.test.ts): `whack --initiate` output, exit code 0 each time.
const PLUTO_AUTH_FAILED = `181 "oe-b.oe.test" #17: initiating IKEv2 connection
181 "oe-b.oe.test" #17: sent IKE_SA_INIT request to 192.0.2.2:500
182 "oe-b.oe.test" #17: sent IKE_AUTH request {cipher=AES_CBC_128 integ=HMAC_SHA2_256_128 prf=HMAC_SHA2_256 group=DH31}
003 "oe-b.oe.test" #17: authentication failed: using PKCS#1 1.5 RSA with SHA2_256 for '@b.oe.test' tried preloaded: *AwEAAbKud
002 "oe-b.oe.test" #17: deleting state (STATE_V2_PARENT_I2) aged 0.011138s and sending notification
`;
const PLUTO_ESP_REFUSED = `181 "oe-b.oe.test" #8: initiating IKEv2 connection
182 "oe-b.oe.test" #8: sent IKE_AUTH request {cipher=AES_CBC_128 integ=HMAC_SHA2_256_128 prf=HMAC_SHA2_256 group=DH31}
003 "oe-b.oe.test" #8: initiator established IKE SA; authenticated peer '2048-bit PKCS#1 1.5 RSA with SHA2_256' digital signature using preloaded certificate '@b.oe.test'
003 ERROR: "oe-b.oe.test" #9: netlink response for Add SA esp.c74b1d76@192.0.2.2: Protocol not supported (errno 93)
002 "oe-b.oe.test" #9: setup_half_ipsec_sa() hit fail:
003 "oe-b.oe.test" #9: CHILD SA encountered fatal error: INVALID_SYNTAX
`;
const PLUTO_NO_ESN = `003 "oe-b.oe.test" #3: initiator established IKE SA; authenticated peer '2048-bit PKCS#1 1.5 RSA with SHA2_256' digital signature using preloaded certificate '@b.oe.test'
003 "oe-b.oe.test" #4: IKE_AUTH response rejected Child SA with NO_PROPOSAL_CHOSEN
`;
const PLUTO_NO_PRIVATE_KEY = `181 "oe-b.oe.test" #1: sent IKE_SA_INIT request to 192.0.2.2:500
003 "oe-b.oe.test" #1: connection oe-b.oe.test's RSA private key not found
036 "oe-b.oe.test" #1: encountered fatal error in state STATE_V2_PARENT_I1
`;

function peer(over: Partial<Peer> = {}): Peer {
  return {
    name: 'b.oe.test',
    addresses: ['192.0.2.2'],
    auth: { kind: 'pubkey', keys: [{ ...rsa, precedence: 10 }] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: 0,
    owner: 'serve',
    ...over,
  };
}

describe('libreswan engine (fake ipsec that records its arguments)', () => {
  let dir: string;
  let log: string;
  let engine: LibreswanEngine;
  const calls = (): string[][] =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
  const fixture = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-whack-'));
    log = join(dir, 'calls');
    writeFileSync(log, '');
    process.env.FAKE_IPSEC_LOG = log;
    for (const v of ['FAKE_IPSEC_FAIL', 'FAKE_IPSEC_STATUS', 'FAKE_IPSEC_STATES', 'FAKE_IPSEC_INITIATE', 'FAKE_IPSEC_HELD'])
      delete process.env[v];
    engine = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', run: execRunner(FAKE) });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs a host-to-host peer: key for its id, conn offering ESN both ways, route', async () => {
    await engine.install(peer());
    assert.deepEqual(calls(), [
      ['whack', '--keyid', '@b.oe.test', '--pubkeyrsa', b64(rsa)],
      [
        'whack',
        '--name',
        'oe-b.oe.test',
        '--ikev2',
        '--encrypt',
        '--tunnel',
        '--pfs',
        '--esn',
        '--no-esn',
        '--rsasig',
        '--host',
        '192.0.2.1',
        '--id',
        '@a.oe.test',
        '--to',
        '--host',
        '192.0.2.2',
        '--id',
        '@b.oe.test',
      ],
      ['whack', '--route', '--name', 'oe-b.oe.test'],
    ]);
  });

  it('adds further keys with --addkey, best precedence first, and initiates (synchronously) when asked', async () => {
    await engine.install(
      peer({
        auth: {
          kind: 'pubkey',
          keys: [
            { ...rsa2, precedence: 20 },
            { ...rsa, precedence: 10 },
          ],
        },
        initiate: true,
      }),
    );
    const c = calls();
    assert.deepEqual(c[0], ['whack', '--keyid', '@b.oe.test', '--pubkeyrsa', b64(rsa)]);
    assert.deepEqual(c[1], ['whack', '--keyid', '@b.oe.test', '--addkey', '--pubkeyrsa', b64(rsa2)]);
    assert.deepEqual(c[3], ['whack', '--initiate', '--name', 'oe-b.oe.test']);
    assert.equal(c.length, 4);
  });

  it('tells pluto which NSS key is ours: --ckaid from localKey (SHA-1 of the RSA modulus)', async () => {
    const e = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', localKey: rsaPair.privateKey, run: execRunner(FAKE) });
    await e.install(peer());
    const n = (publicKeyFields(rsaPair.publicKey) as { n: Buffer }).n;
    const want = createHash('sha1')
      .update(n[0] === 0 ? n.subarray(1) : n)
      .digest('hex');
    assert.equal(ckaidOf(rsaPair.publicKey), want);
    const add = calls()[1]!;
    assert.equal(add[add.indexOf('--ckaid') + 1], want);
    assert.ok(add.indexOf('--ckaid') < add.indexOf('--to'), 'the ckaid belongs to our end');
    assert.throws(() => new LibreswanEngine({ localId: 'a', localKey: generateKeyPairSync('ed25519').privateKey, run: execRunner(FAKE) }), {
      code: 'engine-unsupported',
    });
  });

  it('oedns serve/autosp with --engine libreswan pass our key file, so the conns name our NSS key; a non-RSA key is a config error', async () => {
    const pemFile = join(dir, 'host.key.pem');
    writeFileSync(pemFile, rsaPair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const e = (await engineFromConfig(
      { kind: 'libreswan', vici: '', identity: 'a.oe.test', key: pemFile, initiate: false },
      silentLogger,
    )) as LibreswanEngine;
    // No localAddr from the config: our address comes from the route (loopback here, always routable).
    const { conns } = await e.commandsFor(peer({ addresses: ['127.0.0.2'] }));
    assert.deepEqual(conns[0]!.add.slice(conns[0]!.add.indexOf('--host'), conns[0]!.add.indexOf('--host') + 2), ['--host', '127.0.0.1']);
    assert.equal(conns[0]!.add[conns[0]!.add.indexOf('--ckaid') + 1], ckaidOf(rsaPair.publicKey));
    writeFileSync(pemFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await assert.rejects(
      engineFromConfig({ kind: 'libreswan', vici: '', identity: 'a.oe.test', key: pemFile, initiate: false }, silentLogger),
      { code: 'key-unsupported' },
    );
    // No key file: the engine still starts (pluto may know our key otherwise), without --ckaid.
    const bare = (await engineFromConfig(
      { kind: 'libreswan', vici: '', identity: 'a.oe.test', key: join(dir, 'absent.pem'), initiate: false },
      silentLogger,
    )) as LibreswanEngine;
    const bareConns = (await bare.commandsFor(peer({ addresses: ['127.0.0.2'] }))).conns;
    assert.equal(bareConns[0]!.add.includes('--ckaid'), false);
    assert.ok(bareConns[0]!.add.includes('@a.oe.test'));
  });

  it('tunnels to the IPSECKEY gateway: a client on both ends (whack refuses one-sided), ours of the inner family', async () => {
    const e = new LibreswanEngine({
      localId: 'a.oe.test',
      localAddr: '192.0.2.1',
      run: execRunner(FAKE),
      routeSource: async (d) => (d.includes(':') ? '2001:db8::1' : undefined),
    });
    await e.install(peer({ addresses: ['198.51.100.7', '2001:db8::7'], gateway: { kind: 'address', address: '192.0.2.9' } }));
    const adds = calls().filter((c) => c[1] === '--name');
    assert.deepEqual(
      adds.map((c) => [c[2], ...c.slice(c.indexOf('--host'))]),
      [
        [
          'oe-b.oe.test/0',
          '--host',
          '192.0.2.1',
          '--client',
          '192.0.2.1/32',
          '--id',
          '@a.oe.test',
          '--to',
          '--host',
          '192.0.2.9',
          '--client',
          '198.51.100.7/32',
          '--id',
          '@b.oe.test',
        ],
        [
          'oe-b.oe.test/1',
          '--host',
          '192.0.2.1',
          '--client',
          '2001:db8::1/128',
          '--id',
          '@a.oe.test',
          '--to',
          '--host',
          '192.0.2.9',
          '--client',
          '2001:db8::7/128',
          '--id',
          '@b.oe.test',
        ],
      ],
    );
  });

  it('without localAddr asks the route to the peer for our address (whack cannot take %defaultroute)', async () => {
    const asked: string[] = [];
    const e = new LibreswanEngine({
      localId: 'a.oe.test',
      run: execRunner(FAKE),
      routeSource: async (d) => (asked.push(d), d === '192.0.2.2' ? '192.0.2.1' : undefined),
    });
    await e.install(peer());
    assert.deepEqual(asked, ['192.0.2.2']);
    assert.deepEqual(calls()[1]!.slice(calls()[1]!.indexOf('--host'), calls()[1]!.indexOf('--host') + 2), ['--host', '192.0.2.1']);
    writeFileSync(log, '');
    await assert.rejects(e.install(peer({ name: 'c.oe.test', addresses: ['203.0.113.9'] })), { code: 'engine-no-route' });
    assert.deepEqual(calls(), [], 'nothing sent to pluto for a peer we cannot reach');
  });

  it('clear and block become pass/drop shunts with --auth-never (pluto refuses other auth), no key', async () => {
    await engine.install(peer({ level: 'clear' }));
    await engine.install(peer({ name: 'd.oe.test', level: 'block' }));
    const c = calls();
    assert.deepEqual(
      c.map((x) => x.slice(0, 3)),
      [
        ['whack', '--name', 'oe-b.oe.test'],
        ['whack', '--route', '--name'],
        ['whack', '--name', 'oe-d.oe.test'],
        ['whack', '--route', '--name'],
      ],
    );
    assert.deepEqual(c[0]!.slice(3, 6), ['--ikev2', '--pass', '--auth-never']);
    assert.deepEqual(c[2]!.slice(3, 6), ['--ikev2', '--drop', '--auth-never']);
  });

  it("remove deletes the conns and replaces the id's keys by a throwaway key (whack --keyid alone deletes nothing in 4.10)", async () => {
    await engine.install(peer());
    writeFileSync(log, '');
    await engine.remove('b.oe.test');
    const c = calls();
    assert.deepEqual(c[0], ['whack', '--delete', '--name', 'oe-b.oe.test']);
    assert.deepEqual(c[1]!.slice(0, 4), ['whack', '--keyid', '@b.oe.test', '--pubkeyrsa']);
    assert.notEqual(c[1]![4], b64(rsa));
    const k = ipseckeyToKeyObject(2, Buffer.from(c[1]![4]!.slice(2), 'base64'));
    assert.equal(k.asymmetricKeyDetails?.modulusLength, 2048);
    assert.deepEqual(await engine.list(), []);
    // The same throwaway serves every removal.
    await engine.remove('c.oe.test');
    assert.equal(calls().find((x) => x[2] === '@c.oe.test')?.[4], c[1]![4]);
  });

  it('a rollover to new keys replaces the old ones in one --pubkeyrsa; a switch to NULL auth forgets them', async () => {
    await engine.install(peer());
    writeFileSync(log, '');
    await engine.install(peer({ auth: { kind: 'pubkey', keys: [{ ...rsa2, precedence: 10 }] } }));
    assert.deepEqual(calls()[0], ['whack', '--keyid', '@b.oe.test', '--pubkeyrsa', b64(rsa2)]);
    writeFileSync(log, '');
    await engine.install(peer({ auth: { kind: 'unauthenticated', method: 'null' } }));
    const c = calls();
    assert.deepEqual(c[0]!.slice(0, 4), ['whack', '--keyid', '@b.oe.test', '--pubkeyrsa']);
    assert.notEqual(c[0]![4], b64(rsa2));
    assert.ok(c[1]!.includes('--auth-null') && c[1]!.includes('%null'), c[1]!.join(' '));
  });

  it('pluto refuses to redefine a conn: an unchanged one is kept, a changed one deleted and added again', async () => {
    process.env.FAKE_IPSEC_HELD = fixture('held', '');
    try {
      await engine.install(peer());
      writeFileSync(log, '');
      await engine.install(peer({ auth: { kind: 'pubkey', keys: [{ ...rsa2, precedence: 10 }] } })); // key rollover only
      assert.deepEqual(
        calls().map((c) => c.slice(1, 3)),
        [['--keyid', '@b.oe.test'], ['--name', 'oe-b.oe.test'], ['--showstates'], ['--route', '--name']],
      );
      writeFileSync(log, '');
      await engine.install(peer({ addresses: ['192.0.2.3'] }));
      assert.deepEqual(
        calls().map((c) => c.slice(1, 3)),
        [
          ['--keyid', '@b.oe.test'],
          ['--name', 'oe-b.oe.test'],
          ['--delete', '--name'],
          ['--name', 'oe-b.oe.test'],
          ['--route', '--name'],
        ],
      );
      assert.ok(calls()[3]!.includes('192.0.2.3'));
      // A conn pluto holds that this engine did not define (e.g. it restarted) is replaced, not trusted.
      const other = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', run: execRunner(FAKE) });
      writeFileSync(log, '');
      await other.install(peer({ addresses: ['192.0.2.3'] }));
      assert.deepEqual(calls().filter((c) => c[1] === '--delete').length, 1);
    } finally {
      delete process.env.FAKE_IPSEC_HELD;
    }
  });

  it('turns a failing whack into EngineError engine-command-failed', async () => {
    process.env.FAKE_IPSEC_FAIL = '--route';
    await assert.rejects(engine.install(peer()), (e: unknown) => e instanceof EngineError && e.code === 'engine-command-failed');
  });

  it('takes RSA keys only (whack 4.10 has no --pubkeyecdsa): others are skipped, none usable is refused before running anything', async () => {
    await assert.rejects(engine.install(peer({ auth: { kind: 'pubkey', keys: [{ ...ed, precedence: 10 }] } })), {
      code: 'engine-unsupported',
    });
    await assert.rejects(engine.install(peer({ auth: { kind: 'pubkey', keys: [{ ...ec, precedence: 10 }] } })), {
      code: 'engine-unsupported',
    });
    assert.deepEqual(calls(), []);
    await engine.install(
      peer({
        auth: {
          kind: 'pubkey',
          keys: [
            { ...ec, precedence: 5 },
            { ...rsa, precedence: 10 },
          ],
        },
      }),
    );
    assert.deepEqual(
      calls().filter((c) => c.includes('--keyid')),
      [['whack', '--keyid', '@b.oe.test', '--pubkeyrsa', b64(rsa)]],
    );
  });

  it('reads the outcome of whack --initiate from its words (its exit code is 0 either way)', () => {
    assert.deepEqual(initiateOutcome('004 "oe-b.oe.test" #2: initiator established Child SA using #1; IPsec tunnel [...]'), { ok: true });
    assert.equal((initiateOutcome(PLUTO_AUTH_FAILED) as { code: string }).code, 'ike-auth-failed');
    const esp = initiateOutcome(PLUTO_ESP_REFUSED) as { code: string; detail: string };
    assert.equal(esp.code, 'ike-child-failed');
    assert.match(esp.detail, /Add SA esp\.c74b1d76@192\.0\.2\.2: Protocol not supported/);
    assert.match((initiateOutcome(PLUTO_NO_ESN) as { detail: string }).detail, /NO_PROPOSAL_CHOSEN/);
    assert.equal((initiateOutcome(PLUTO_NO_PRIVATE_KEY) as { code: string }).code, 'ike-initiate-failed');
    assert.equal((initiateOutcome('') as { code: string }).code, 'ike-initiate-failed');
  });

  it('a failed initiate throws its code and terminates the conn so pluto stops re-initiating it', async () => {
    process.env.FAKE_IPSEC_INITIATE = join(dir, 'init');
    writeFileSync(process.env.FAKE_IPSEC_INITIATE, PLUTO_AUTH_FAILED);
    await assert.rejects(engine.install(peer({ initiate: true })), { code: 'ike-auth-failed' });
    assert.deepEqual(calls().slice(-2), [
      ['whack', '--initiate', '--name', 'oe-b.oe.test'],
      ['whack', '--terminate', '--name', 'oe-b.oe.test'],
    ]);
    assert.deepEqual(
      (await engine.list()).map((p) => p.name),
      ['b.oe.test'],
      'the conn stays loaded, as with the strongswan engine',
    );
  });

  it('list() reports IKE and Child SA states from whack --showstates', async () => {
    await engine.install(peer());
    await engine.install(peer({ name: 'c.oe.test', addresses: ['192.0.2.3'] }));
    process.env.FAKE_IPSEC_STATES = fixture(
      'states',
      [
        '000 #24: "oe-b.oe.test":4500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); REKEY in 28474s; REPLACE in 28744s; newest; idle;',
        '000 #25: "oe-b.oe.test":4500 STATE_V2_ESTABLISHED_CHILD_SA (established Child SA); REKEY in 28000s; newest; eroute owner; IKE SA #24;',
        '000 #26: "oe-c.oe.test":500 STATE_V2_PARENT_I1 (sent IKE_SA_INIT request); RETRANSMIT in 1s; idle;',
      ].join('\n'),
    );
    assert.deepEqual(
      (await engine.list()).map((p) => [p.name, p.authenticated, p.ikeState, p.childState]),
      [
        ['b.oe.test', true, 'ESTABLISHED', 'INSTALLED'],
        ['c.oe.test', true, 'CONNECTING', undefined],
      ],
    );
    assert.deepEqual(
      [...statesByConn('000 #3: "oe-x"[1] 192.0.2.9:500 STATE_V2_ESTABLISHED_IKE_SA (x)').entries()],
      [['oe-x', { ike: 'ESTABLISHED' }]],
    );
  });

  it('reconcile removes conns pluto holds that are not desired and installs the missing', async () => {
    process.env.FAKE_IPSEC_STATUS = fixture(
      'status',
      '000 "oe-old.oe.test": 192.0.2.1[@a.oe.test]...192.0.2.5[@old.oe.test]; unrouted;\n000 "other": ignored\n',
    );
    const r = await engine.reconcile([peer()]);
    assert.deepEqual([r.installed, r.removed, r.failed], [['b.oe.test'], ['old.oe.test'], []]);
    const c = calls();
    assert.deepEqual(c[0], ['whack', '--status']);
    assert.deepEqual(c[1], ['whack', '--delete', '--name', 'oe-old.oe.test']);
    assert.deepEqual(c[2]!.slice(0, 4), ['whack', '--keyid', '@old.oe.test', '--pubkeyrsa']);
  });

  describe('drop shunts', () => {
    const v6route = async (d: string): Promise<string | undefined> => (d.includes(':') ? '2001:db8::1' : undefined);
    const shuntArgs = (name: string, addr: string, local: string, nexthop?: string): string[] => [
      'whack',
      '--name',
      `oedns-drop-${name}@${addr}`,
      '--ikev2',
      '--drop',
      '--auth-never',
      '--host',
      local,
      '--client',
      addr.includes(':') ? '::/0' : '0.0.0.0/0',
      '--id',
      '@a.oe.test',
      '--updown',
      '%disabled',
      ...(nexthop ? ['--nexthop', nexthop] : []),
      '--to',
      '--host',
      addr,
      '--client',
      addr.includes(':') ? `${addr}/128` : `${addr}/32`,
      '--id',
      `@${name}`,
    ];
    beforeEach(() => {
      engine = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', run: execRunner(FAKE), routeSource: v6route });
    });

    it('one drop conn per address, IPv4 and IPv6 (canonical spelling), routed; list() reports it as a shunt', async () => {
      await engine.setShunt('b.oe.test', ['192.0.2.2', '2001:DB8:0::2', '192.0.2.2']);
      assert.deepEqual(calls(), [
        shuntArgs('b.oe.test', '192.0.2.2', '192.0.2.1'),
        ['whack', '--route', '--name', 'oedns-drop-b.oe.test@192.0.2.2'],
        shuntArgs('b.oe.test', '2001:db8::2', '2001:db8::1'),
        ['whack', '--route', '--name', 'oedns-drop-b.oe.test@2001:db8::2'],
      ]);
      process.env.FAKE_IPSEC_FAIL = '--status'; // pluto cannot be asked: list() says what this engine added
      assert.deepEqual(await engine.list(), [
        {
          name: 'b.oe.test',
          connection: 'oedns-drop-b.oe.test@192.0.2.2',
          addresses: ['192.0.2.2', '2001:db8::2'],
          authenticated: false,
          shunt: true,
        },
      ]);
      delete process.env.FAKE_IPSEC_FAIL;
      writeFileSync(log, '');
      await engine.setShunt('b.oe.test', ['2001:db8::2', '192.0.2.2']);
      assert.deepEqual(calls(), [], 'the same shunt again: nothing to do');
    });

    it('a changed shunt: new addresses are dropped before any old one goes, kept ones are not touched; [] ends it', async () => {
      await engine.setShunt('b.oe.test', ['192.0.2.2', '2001:db8::2']);
      writeFileSync(log, '');
      await engine.setShunt('b.oe.test', ['2001:db8::2', '192.0.2.9']);
      assert.deepEqual(
        calls().map((c) => c.slice(1, 4)),
        [
          ['--name', 'oedns-drop-b.oe.test@192.0.2.9', '--ikev2'],
          ['--route', '--name', 'oedns-drop-b.oe.test@192.0.2.9'],
          ['--delete', '--name', 'oedns-drop-b.oe.test@192.0.2.2'],
        ],
      );
      writeFileSync(log, '');
      await engine.setShunt('b.oe.test', []);
      assert.deepEqual(
        calls()
          .map((c) => c.slice(1, 4))
          .sort(),
        [
          ['--delete', '--name', 'oedns-drop-b.oe.test@192.0.2.9'],
          ['--delete', '--name', 'oedns-drop-b.oe.test@2001:db8::2'],
        ],
      );
      assert.deepEqual(await engine.list(), []);
    });

    it('a failed route leaves the old addresses in place (the caller retries)', async () => {
      await engine.setShunt('b.oe.test', ['192.0.2.2']);
      process.env.FAKE_IPSEC_FAIL = '--route --name oedns-drop-b.oe.test@192.0.2.9';
      writeFileSync(log, '');
      await assert.rejects(engine.setShunt('b.oe.test', ['192.0.2.9']), { code: 'engine-command-failed' });
      assert.equal(
        calls().some((c) => c.includes('--delete')),
        false,
        'the old address was not let go',
      );
      process.env.FAKE_IPSEC_FAIL = '--status';
      assert.deepEqual(
        (await engine.list()).map((p) => p.addresses),
        [['192.0.2.2']],
      );
    });

    it('the shunt takes the next hop of a held peer that reaches the address through a gateway', async () => {
      await engine.install(peer({ name: 'g.oe.test', addresses: ['198.51.100.7'], gateway: { kind: 'address', address: '192.0.2.9' } }));
      writeFileSync(log, '');
      await engine.setShunt('g.oe.test', ['198.51.100.7', '192.0.2.3']);
      assert.deepEqual(
        calls().filter((c) => c[1] === '--name'),
        [shuntArgs('g.oe.test', '192.0.2.3', '192.0.2.1'), shuntArgs('g.oe.test', '198.51.100.7', '192.0.2.1', '192.0.2.9')],
      );
    });

    it('list() reports the shunts pluto holds, also those a previous oedns process added', async () => {
      await engine.install(peer());
      process.env.FAKE_IPSEC_STATUS = fixture(
        'status',
        [
          '000 "oe-b.oe.test": 192.0.2.1[@a.oe.test]...192.0.2.2[@b.oe.test]; prospective erouted; eroute owner: #0',
          '000 "oedns-drop-b.oe.test@2001:db8::2": ::/0===2001:db8::1[@a.oe.test]...2001:db8::2[@b.oe.test]; prospective erouted; eroute owner: #0',
          '000 "oedns-drop-c.oe.test@192.0.2.3": 0.0.0.0/0===192.0.2.1[@a.oe.test]...192.0.2.3[@c.oe.test]; prospective erouted; eroute owner: #0',
          '000 "oedns-drop-c.oe.test@192.0.2.3":   policy: IKEv2+AUTH_NEVER+TUNNEL+DROP+NEVER_NEGOTIATE;',
          '000 "oedns-drop-junk": 0.0.0.0/0===192.0.2.1...192.0.2.6; unrouted;',
        ].join('\n'),
      );
      assert.deepEqual(
        (await engine.list()).map((p) => [p.name, p.connection, p.addresses, p.shunt]),
        [
          ['b.oe.test', 'oe-b.oe.test', ['192.0.2.2'], undefined],
          ['b.oe.test', 'oedns-drop-b.oe.test@2001:db8::2', ['2001:db8::2'], true],
          ['c.oe.test', 'oedns-drop-c.oe.test@192.0.2.3', ['192.0.2.3'], true],
        ],
      );
    });

    it('refuses names and addresses that are not, before running anything (engine-bad-peer)', async () => {
      for (const name of ['--delete', '-x', 'a b', 'a"b', '', 'a@b', 'x'.repeat(254)]) {
        await assert.rejects(engine.setShunt(name, ['192.0.2.2']), { code: 'engine-bad-peer' }, name);
      }
      for (const addr of ['--all', '192.0.2', 'fe80::1%eth0', '192.0.2.0/24', 'b.oe.test', '']) {
        await assert.rejects(engine.setShunt('b.oe.test', [addr]), { code: 'engine-bad-peer' }, addr);
      }
      await assert.rejects(engine.install(peer({ name: '--name' })), { code: 'engine-bad-peer' });
      await assert.rejects(engine.install(peer({ addresses: ['192.0.2.2 --x'] })), { code: 'engine-bad-peer' });
      await assert.rejects(engine.install(peer({ gateway: { kind: 'address', address: '-x' } })), { code: 'engine-bad-peer' });
      assert.deepEqual(calls(), []);
      assert.deepEqual(await engine.list(), []);
    });

    it('reconcile: missing shunts are added, ours pluto holds are kept when wanted (routed again) and deleted when not', async () => {
      process.env.FAKE_IPSEC_STATUS = fixture(
        'status',
        [
          '000 "oedns-drop-b.oe.test@192.0.2.2": 0.0.0.0/0===192.0.2.1[@a.oe.test]...192.0.2.2[@b.oe.test]; prospective erouted; eroute owner: #0',
          '000 "oedns-drop-b.oe.test@192.0.2.2":   policy: IKEv2+AUTH_NEVER+TUNNEL+DROP+NEVER_NEGOTIATE;',
          '000 "oedns-drop-old.oe.test@192.0.2.5": 0.0.0.0/0===192.0.2.1[@a.oe.test]...192.0.2.5[@old.oe.test]; prospective erouted; eroute owner: #0',
          '000 "oedns-drop-junk": 0.0.0.0/0===192.0.2.1...192.0.2.6; unrouted;',
          '000 "oe-shunt-x.oe.test": 192.0.2.1[@a.oe.test]...192.0.2.8[@shunt-x.oe.test]; unrouted;',
        ].join('\n'),
      );
      const r = await engine.reconcile([], [{ name: 'b.oe.test', addresses: ['192.0.2.2', '192.0.2.3'] }]);
      assert.deepEqual(r.failed, []);
      const c = calls().map((x) => x.slice(1, 4));
      assert.deepEqual(c[0], ['--status']);
      const after = c.slice(1);
      assert.ok(after.some((x) => x[0] === '--delete' && x[2] === 'oedns-drop-junk'));
      assert.ok(after.some((x) => x[0] === '--delete' && x[2] === 'oedns-drop-old.oe.test@192.0.2.5'));
      assert.ok(after.some((x) => x[0] === '--name' && x[1] === 'oedns-drop-b.oe.test@192.0.2.3'));
      assert.ok(
        after.some((x) => x[0] === '--route' && x[2] === 'oedns-drop-b.oe.test@192.0.2.2'),
        'the adopted shunt is routed again',
      );
      assert.equal(
        after.some((x) => x[0] === '--name' && x[1] === 'oedns-drop-b.oe.test@192.0.2.2'),
        false,
        'and not redefined',
      );
      assert.equal(
        after.some((x) => x[2] === 'oedns-drop-b.oe.test@192.0.2.2' && x[0] === '--delete'),
        false,
      );
      // A peer named shunt-x.oe.test is a peer: not desired, so removed as a peer, not as a shunt.
      assert.deepEqual(r.removed, ['shunt-x.oe.test']);
      process.env.FAKE_IPSEC_FAIL = '--status';
      assert.deepEqual(
        (await engine.list()).map((p) => [p.name, p.addresses, p.shunt]),
        [['b.oe.test', ['192.0.2.2', '192.0.2.3'], true]],
      );
    });
  });

  it('reports status from whack --status (pluto_version), reachable or not', async () => {
    process.env.FAKE_IPSEC_STATUS = fixture(
      'status',
      '000 sbindir=/usr/sbin, libexecdir=/usr/libexec/ipsec\n000 pluto_version=4.10, pluto_vendorid=OE-Libreswan-4.10, audit-log=yes\n',
    );
    const s = await engine.status();
    assert.deepEqual([s.engine, s.reachable, s.daemon], ['libreswan', true, 'Libreswan 4.10']);
    process.env.FAKE_IPSEC_FAIL = '--status';
    const down = await engine.status();
    assert.deepEqual([down.reachable, down.daemon], [false, undefined]);
    assert.match(down.detail!, /simulated failure/);
  });

  it('runs the whack binary itself with the control socket when told (a private pluto)', async () => {
    const e = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', whack: FAKE, ctlsocket: '/x/pluto.ctl' });
    await e.install(peer());
    assert.deepEqual(
      calls().map((c) => c.slice(0, 3)),
      [
        ['--ctlsocket', '/x/pluto.ctl', '--keyid'],
        ['--ctlsocket', '/x/pluto.ctl', '--name'],
        ['--ctlsocket', '/x/pluto.ctl', '--route'],
      ],
    );
    const r = await whackRunner(FAKE)(['whack', '--status']);
    assert.equal(r.code, 0);
    assert.deepEqual(calls().at(-1), ['--status']);
  });
});
