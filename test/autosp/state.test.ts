// The autosp state file read back as untrusted input (src/autosp/state.ts): whoever can write it must
// not be able to plant a key or stretch a lifetime; a bad entry is left out, never half-used.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_PEERS } from '../../src/autosp/peers-file';
import { loadAutospState, readAutospState, stateWriter, writeAutospState } from '../../src/autosp/state';
import type { Peer } from '../../src/ike-bridge/engine';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import { ConfigError } from '../../src/util/errors';

const NOW = 1_700_000_000;
const k = keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey);
const good = (over: Partial<Peer> = {}): Peer => ({
  name: 'bob.example',
  addresses: ['192.0.2.2', '2001:DB8::2'],
  gateway: { kind: 'none' },
  level: 'private',
  owner: 'autosp',
  expiresAt: NOW + 600,
  auth: { kind: 'pubkey', keys: [{ algorithm: k.algorithm, publicKey: k.publicKey, precedence: 10 }] },
  initiate: false,
  ...over,
});

describe('autosp state file: fields validated on load', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-state-'));
    path = join(dir, 'autosp.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeRaw = (peers: unknown[], names = ['bob.example', 'carol.example']): void =>
    writeFileSync(path, JSON.stringify({ version: 1, updatedAt: NOW, names, peers }));
  const stored = (p: Peer): Record<string, unknown> => {
    writeAutospState(path, { names: [p.name], peers: [p] }, NOW);
    return (JSON.parse(readFileSync(path, 'utf8')) as { peers: Record<string, unknown>[] }).peers[0]!;
  };

  it('a well-formed peer comes back as written (addresses in canonical form)', () => {
    writeAutospState(path, { names: ['bob.example'], peers: [good()] }, NOW);
    const s = readAutospState(path, { nowSec: NOW });
    assert.deepEqual(s.rejected, []);
    assert.deepEqual(s.peers[0]!.addresses, ['192.0.2.2', '2001:db8::2']);
    assert.deepEqual(Buffer.from((s.peers[0]!.auth as { keys: { publicKey: Uint8Array }[] }).keys[0]!.publicKey), Buffer.from(k.publicKey));
  });

  it('rejects, one by one, a bad address, a key that does not decode, an unknown level, a bad gateway, a peer for a name not wanted', () => {
    const base = stored(good());
    const bad = [
      { ...base, addresses: ['192.0.2.300'] },
      { ...base, auth: { kind: 'pubkey', keys: [{ algorithm: 4, precedence: 10, publicKey: Buffer.alloc(31).toString('base64') }] } },
      { ...base, auth: { kind: 'pubkey', keys: [{ algorithm: 9, precedence: 10, publicKey: Buffer.alloc(32).toString('base64') }] } },
      { ...base, level: 'super-private' },
      { ...base, gateway: { kind: 'address', address: 'gw.example' } },
      { ...base, auth: { kind: 'unauthenticated', method: 'trust-me' } },
      { ...base, expiresAt: 'soon' },
      { ...base, name: 'mallory.example' },
      { ...base, name: 'carol.example' }, // this one is fine
    ];
    writeRaw(bad);
    const s = readAutospState(path, { nowSec: NOW });
    assert.equal(s.rejected.length, 8, s.rejected.join('\n'));
    assert.deepEqual(
      s.peers.map((p) => p.name),
      ['carol.example'],
    );
    assert.ok(s.rejected.some((r) => /does not decode/.test(r)));
    assert.ok(s.rejected.some((r) => /not among the names/.test(r)));
  });

  it('caps a stored expiry at now + max TTL, and loadAutospState() leaves lapsed peers out', () => {
    writeAutospState(
      path,
      {
        names: ['bob.example', 'carol.example'],
        peers: [good({ expiresAt: NOW + 10 * 365 * 86400 }), good({ name: 'carol.example', expiresAt: NOW - 1 })],
      },
      NOW,
    );
    const s = readAutospState(path, { nowSec: NOW, maxTtl: 3600 });
    assert.equal(s.peers.find((p) => p.name === 'bob.example')!.expiresAt, NOW + 3600);
    assert.deepEqual(
      loadAutospState(path, NOW, 3600).map((p) => [p.name, p.expiresAt, p.initiate]),
      [['bob.example', NOW + 3600, false]],
    );
  });

  it('bounds the file as untrusted input: its size, the number of names and peers, one peer per name', () => {
    writeAutospState(path, { names: ['bob.example'], peers: [good()] }, NOW);
    assert.throws(
      () => readAutospState(path, { nowSec: NOW, maxBytes: 100 }),
      (e: unknown) => e instanceof ConfigError && e.code === 'autosp-state' && /bytes/.test(e.message),
    );
    writeRaw(
      [],
      Array.from({ length: MAX_PEERS + 1 }, (_, i) => `n${i}.example`),
    );
    assert.throws(
      () => readAutospState(path, { nowSec: NOW }),
      (e: unknown) => e instanceof ConfigError && e.code === 'autosp-state' && /more than the 100000/.test(e.message),
    );
    const base = stored(good());
    writeRaw([base, { ...base, addresses: ['192.0.2.66'] }], ['bob.example']);
    const s = readAutospState(path, { nowSec: NOW });
    assert.deepEqual(
      s.peers.map((p) => p.addresses),
      [['192.0.2.2', '2001:db8::2']],
    );
    assert.ok(s.rejected.length === 1 && /stored twice/.test(s.rejected[0]!), s.rejected.join('\n'));
  });

  it('a file that is not a state file is a ConfigError', () => {
    writeFileSync(path, '{"version":2}');
    assert.throws(
      () => readAutospState(path),
      (e: unknown) => e instanceof ConfigError && e.code === 'autosp-state',
    );
  });
});

describe('autosp state file: writes coalesced (stateWriter)', () => {
  it('a burst of changes is one write, done by itself after the gap or at once by flush()', async () => {
    let writes = 0;
    const w = stateWriter(() => writes++, { minGapMs: 20, maxGapMs: 20 });
    for (let i = 0; i < 1000; i++) w.schedule();
    assert.equal(writes, 0);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(writes, 1);
    w.flush();
    assert.equal(writes, 1, 'nothing changed since: no write');
    w.schedule();
    w.flush();
    assert.equal(writes, 2);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(writes, 2, 'the flushed change is not written again');
  });
});
