import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import { execRunner, LibreswanEngine } from '../../src/ike-bridge/libreswan';
import { EngineError } from '../../src/util/errors';

const FAKE = resolve(__dirname, '../../../test/ike-bridge/fixtures/fake-ipsec');
const rsa = keyObjectToIpseckey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const rsa2 = keyObjectToIpseckey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const ed = keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey);
const b64 = (k: { publicKey: Buffer }): string => `0s${k.publicKey.toString('base64')}`;

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
  const calls = (): string[][] => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-whack-'));
    log = join(dir, 'calls');
    writeFileSync(log, '');
    process.env.FAKE_IPSEC_LOG = log;
    delete process.env.FAKE_IPSEC_FAIL;
    delete process.env.FAKE_IPSEC_STATUS;
    engine = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', run: execRunner(FAKE) });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs a host-to-host peer: key for its id, conn, route', async () => {
    await engine.install(peer());
    assert.deepEqual(calls(), [
      ['whack', '--keyid', '@b.oe.test', '--pubkeyrsa', b64(rsa)],
      ['whack', '--name', 'oe-b.oe.test', '--ikev2', '--encrypt', '--tunnel', '--pfs', '--rsasig', '--host', '192.0.2.1', '--id', '@a.oe.test', '--to', '--host', '192.0.2.2', '--id', '@b.oe.test'],
      ['whack', '--route', '--name', 'oe-b.oe.test'],
    ]);
  });

  it('adds further keys with --addkey, best precedence first, and initiates when asked', async () => {
    await engine.install(peer({ auth: { kind: 'pubkey', keys: [{ ...rsa2, precedence: 20 }, { ...rsa, precedence: 10 }] }, initiate: true }));
    const c = calls();
    assert.deepEqual(c[0], ['whack', '--keyid', '@b.oe.test', '--pubkeyrsa', b64(rsa)]);
    assert.deepEqual(c[1], ['whack', '--keyid', '@b.oe.test', '--addkey', '--pubkeyrsa', b64(rsa2)]);
    assert.deepEqual(c[3], ['whack', '--initiate', '--name', 'oe-b.oe.test', '--asynchronous']);
  });

  it('tunnels to the IPSECKEY gateway with the peer addresses as clients, one conn per address', async () => {
    await engine.install(peer({ addresses: ['198.51.100.7', '2001:db8::7'], gateway: { kind: 'address', address: '192.0.2.9' } }));
    const adds = calls().filter((c) => c[1] === '--name');
    assert.deepEqual(adds.map((c) => [c[2], ...c.slice(c.indexOf('--to'))]), [
      ['oe-b.oe.test/0', '--to', '--host', '192.0.2.9', '--client', '198.51.100.7/32', '--id', '@b.oe.test'],
      ['oe-b.oe.test/1', '--to', '--host', '192.0.2.9', '--client', '2001:db8::7/128', '--id', '@b.oe.test'],
    ]);
  });

  it('remove deletes the conns and the keys of the id (so pluto stops trusting them)', async () => {
    await engine.install(peer());
    writeFileSync(log, '');
    await engine.remove('b.oe.test');
    assert.deepEqual(calls(), [
      ['whack', '--delete', '--name', 'oe-b.oe.test'],
      ['whack', '--keyid', '@b.oe.test'],
    ]);
    assert.deepEqual(await engine.list(), []);
  });

  it('turns a failing whack into EngineError engine-command-failed', async () => {
    process.env.FAKE_IPSEC_FAIL = '--route';
    await assert.rejects(engine.install(peer()), (e: unknown) => e instanceof EngineError && e.code === 'engine-command-failed');
  });

  it('refuses keys whack has no option for (Ed25519) before running anything', async () => {
    await assert.rejects(engine.install(peer({ auth: { kind: 'pubkey', keys: [{ ...ed, precedence: 10 }] } })), { code: 'engine-unsupported' });
    assert.deepEqual(calls(), []);
  });

  it('reconcile removes conns pluto holds that are not desired and installs the missing', async () => {
    const status = join(dir, 'status');
    writeFileSync(status, '000 "oe-old.oe.test": 192.0.2.1[@a.oe.test]...192.0.2.5[@old.oe.test]; unrouted;\n000 "other": ignored\n');
    process.env.FAKE_IPSEC_STATUS = status;
    const r = await engine.reconcile([peer()]);
    assert.deepEqual([r.installed, r.removed, r.failed], [['b.oe.test'], ['old.oe.test'], []]);
    const c = calls();
    assert.deepEqual(c[0], ['whack', '--status']);
    assert.deepEqual(c[1], ['whack', '--delete', '--name', 'oe-old.oe.test']);
    assert.deepEqual(c[2], ['whack', '--keyid', '@old.oe.test']);
  });

  it('reports status from ipsec --version and whack --status', async () => {
    const s = await engine.status();
    assert.deepEqual([s.engine, s.reachable, s.daemon], ['libreswan', true, 'Libreswan 4.12 (fake)']);
  });
});
