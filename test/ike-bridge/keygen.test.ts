import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hostKeyPaths } from '../../src/ike-bridge/identity';
import { ipseckeyToSpkiPem, keyObjectToIpseckey } from '../../src/ike-bridge/keys';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');
const run = (...args: string[]) => spawnSync(process.execPath, [OEDNS, 'keygen', ...args], { encoding: 'utf8' });

describe('oedns keygen', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-keygen-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--force replaces a link planted at the key paths, never writes through it', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'do not touch\n', { mode: 0o644 });
    const keys = join(dir, 'keys');
    assert.equal(run('--type', 'ed25519', '--out', keys, '--name', 'h.oe.test').status, 0);
    const paths = hostKeyPaths(keys);
    for (const p of [paths.privateKey, paths.publicKey]) {
      rmSync(p);
      symlinkSync(victim, p);
    }
    const r = run('--type', 'ed25519', '--out', keys, '--name', 'h.oe.test', '--force');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(victim, 'utf8'), 'do not touch\n');
    assert.equal(statSync(victim).mode & 0o777, 0o644, 'the target keeps its mode');
    for (const p of [paths.privateKey, paths.publicKey]) assert.ok(lstatSync(p).isFile(), `${p} is a file of its own`);
    assert.equal(statSync(paths.privateKey).mode & 0o777, 0o600);
    createPrivateKey(readFileSync(paths.privateKey));
  });

  // Found by review 20: install.sh makes the key root:oedns 0640 so that the service, which runs as
  // oedns, can read it; --force wrote a root:root 0600 file over it (and before a08235f chmodded it
  // 0600), so the next start failed with key-unreadable. writeNext kept the group already.
  it("--force keeps the replaced key's group read (0640 root:oedns as install.sh sets it), so the service can still read it", function () {
    if (process.geteuid?.() !== 0) this.skip(); // only root can give a file any group
    assert.equal(run('--type', 'ed25519', '--out', dir, '--name', 'h.oe.test').status, 0);
    const key = hostKeyPaths(dir).privateKey;
    chownSync(key, 0, 65534);
    chmodSync(key, 0o640);
    const r = run('--type', 'ed25519', '--out', dir, '--name', 'h.oe.test', '--force');
    assert.equal(r.status, 0, r.stderr);
    const st = lstatSync(key);
    assert.deepEqual([st.mode & 0o777, st.gid], [0o640, 65534]);
    assert.match(r.stderr, /mode 0640/);
    chmodSync(key, 0o600);
    assert.equal(run('--type', 'ed25519', '--out', dir, '--name', 'h.oe.test', '--force').status, 0);
    assert.equal(lstatSync(key).mode & 0o777, 0o600, 'a key readable by us alone stays so');
  });

  for (const [type, alg, len] of [
    ['ed25519', 4, 32],
    ['ecdsa-p256', 3, 64],
  ] as const) {
    it(`makes a ${type} key (0600) and prints its IPSECKEY record (algorithm ${alg})`, () => {
      const r = run('--type', type, '--out', dir, '--name', 'host.oe.test');
      assert.equal(r.status, 0, r.stderr);
      const f = r.stdout.trim().split(/\s+/);
      assert.deepEqual(f.slice(0, 7), ['host.oe.test.', 'IN', 'IPSECKEY', '10', '0', String(alg), '.']);
      const pub = Buffer.from(f[7]!, 'base64');
      assert.equal(pub.length, len);
      const paths = hostKeyPaths(dir);
      assert.equal(statSync(paths.privateKey).mode & 0o777, 0o600);
      const priv = createPrivateKey(readFileSync(paths.privateKey));
      assert.deepEqual(keyObjectToIpseckey(priv).publicKey, pub);
      assert.equal(ipseckeyToSpkiPem(alg, pub), readFileSync(paths.publicKey, 'utf8'));
    });
  }

  it('defaults to RSA 3072 with exponent 65537 (RFC 3110 field of 4 + 384 bytes)', () => {
    const r = run('--out', dir, '--name', 'h.oe.test');
    assert.equal(r.status, 0, r.stderr);
    const f = r.stdout.trim().split(/\s+/);
    assert.equal(f[5], '2');
    const pub = Buffer.from(f[7]!, 'base64');
    assert.deepEqual([pub.length, ...pub.subarray(0, 4)], [388, 3, 1, 0, 1]);
  });

  it('refuses to overwrite an existing key without --force (exit 2), replaces it with --force', () => {
    assert.equal(run('--type', 'ed25519', '--out', dir, '--name', 'h.oe.test').status, 0);
    const before = readFileSync(hostKeyPaths(dir).privateKey, 'utf8');
    const again = run('--type', 'ed25519', '--out', dir, '--name', 'h.oe.test');
    assert.equal(again.status, 2);
    assert.match(again.stderr, /keygen-exists/);
    assert.equal(readFileSync(hostKeyPaths(dir).privateKey, 'utf8'), before);
    assert.equal(run('--type', 'ed25519', '--out', dir, '--name', 'h.oe.test', '--force').status, 0);
    assert.notEqual(readFileSync(hostKeyPaths(dir).privateKey, 'utf8'), before);
  });

  it('rejects a name that is not a host name', () => {
    const r = run('--type', 'ed25519', '--out', dir, '--name', 'bad name;rm');
    assert.equal(r.status, 2);
  });
});
