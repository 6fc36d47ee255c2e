// The files publish and the rollover trust: a TSIG key file others can read or own is refused before
// anything is sent; a key directory others can write is refused; nothing is written through a link
// planted in the directory; the daemon's key watcher does not load a key file another user could
// have put there.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runActivate, runPublish } from '../../src/cli/publish';
import { generateHostKey, writeHostKey } from '../../src/ike-bridge/identity';
import { privateKeyPemForCharon } from '../../src/ike-bridge/keys';
import { checkKeyDir, readSecretFile } from '../../src/publish/files';
import { watchKeyFile } from '../../src/publish/key-watch';
import { writeNext, writeRollover } from '../../src/publish/keydir';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');

const TSIG = 'key "alice-key" {\n\talgorithm hmac-sha256;\n\tsecret "OvAwtLceKrzlgwK3tHeTyabWWpJZicsmFlYsGakb3Bk=";\n};\n';
const isRoot = process.geteuid?.() === 0;

const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'no error',
    (e: { code?: string }) => e.code ?? String(e),
  );

describe('the TSIG key file must be private to us', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Port 1 on loopback: if the check did not stop publish first, it would fail later with another code.
  const flags = (tsigKey: string): Parameters<typeof runPublish>[0] => ({
    name: 'alice.example',
    keyDir: dir,
    tsigKey,
    zone: 'example',
    server: '127.0.0.1:1',
    resolver: '127.0.0.1:1',
    precedence: '10',
    wait: '0',
    timeout: '200',
  });

  it('refuses a key file readable by group or others (what `tsig-keygen NAME > file` makes with umask 022), naming the chmod', async () => {
    const f = join(dir, 'tsig.key');
    for (const m of [0o644, 0o640, 0o604, 0o620]) {
      writeFileSync(f, TSIG);
      chmodSync(f, m);
      let err: unknown;
      await runPublish(flags(f)).catch((e: unknown) => (err = e));
      assert.equal((err as { code?: string })?.code, 'tsig-key-mode', `mode ${m.toString(8)}`);
      assert.match((err as Error).message, /chmod 600 /);
    }
    assert.equal(readSecretFile((chmodSync(f, 0o600), f), 'TSIG key file', 'tsig-key-mode').toString(), TSIG);
  });

  it('a 0600 file of ours gets past the check (and fails later, at the network)', async () => {
    const f = join(dir, 'tsig.key');
    writeFileSync(f, TSIG, { mode: 0o600 });
    const code = await codeOf(runPublish(flags(f)));
    assert.notEqual(code, 'tsig-key-mode');
  });

  it('refuses a key file owned by another user', async function () {
    if (!isRoot) this.skip(); // only root can give a file away
    const f = join(dir, 'tsig.key');
    writeFileSync(f, TSIG, { mode: 0o600 });
    chownSync(f, 65534, 65534);
    assert.equal(await codeOf(runPublish(flags(f))), 'tsig-key-mode');
  });

  it('a missing file is tsig-key-file', async () => {
    assert.equal(await codeOf(runPublish(flags(join(dir, 'none.key')))), 'tsig-key-file');
  });
});

describe('the key directory and the files in it', () => {
  let dir: string;
  let keys: string;
  const VICTIM = 'a file the attacker wants overwritten\n';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-keydir-'));
    keys = join(dir, 'keys');
    writeHostKey(keys, generateHostKey('ed25519'));
    writeFileSync(join(dir, 'victim'), VICTIM, { mode: 0o600 });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a directory others can write is refused by keygen --next, publish and key activate (key-dir-unsafe, exit 2)', async () => {
    chmodSync(keys, 0o777);
    assert.throws(() => checkKeyDir(keys), { code: 'key-dir-unsafe' });
    const g = spawnSync(process.execPath, [OEDNS, 'keygen', '--next', '--force', '--out', keys, '--name', 'h.example'], {
      encoding: 'utf8',
    });
    assert.equal(g.status, 2, g.stderr);
    assert.match(g.stderr, /key-dir-unsafe: .*chmod go-w/);
    assert.deepEqual(readdirSync(keys).sort(), ['host.key.pem', 'host.pub.pem'], 'nothing written');
    assert.throws(() => runActivate(keys, true), { code: 'key-dir-unsafe' });
    writeFileSync(join(dir, 'tsig.key'), 'key "k" { algorithm hmac-sha256; secret "OvAwtLceKrzlgwK3tHeTyabWWpJZicsmFlYsGakb3Bk="; };', {
      mode: 0o600,
    });
    await assert.rejects(
      runPublish({
        name: 'h.example',
        keyDir: keys,
        tsigKey: join(dir, 'tsig.key'),
        zone: 'example',
        server: '127.0.0.1:1',
        resolver: '127.0.0.1:1',
        precedence: '10',
        wait: '0',
        timeout: '200',
      }),
      { code: 'key-dir-unsafe' },
    );
    chmodSync(keys, 0o700);
    assert.doesNotThrow(() => checkKeyDir(keys));
  });

  it("the next key gets the current key's group read (0640 root:oedns as install.sh sets it), so the daemon can read it after activation", function () {
    if (!isRoot) this.skip(); // only root can give a file any group
    const cur = join(keys, 'host.key.pem');
    chownSync(cur, 0, 65534);
    chmodSync(cur, 0o640);
    writeNext(keys, generateHostKey('ed25519'), true);
    const st = lstatSync(join(keys, 'host.next.key.pem'));
    assert.deepEqual([st.mode & 0o777, st.gid], [0o640, 65534]);
    chmodSync(cur, 0o600);
    writeNext(keys, generateHostKey('ed25519'), true);
    assert.equal(lstatSync(join(keys, 'host.next.key.pem')).mode & 0o777, 0o600);
  });

  it('a directory owned by another user is refused', function () {
    if (!isRoot) this.skip();
    chownSync(keys, 65534, 65534);
    assert.throws(() => checkKeyDir(keys), { code: 'key-dir-unsafe' });
  });

  it('writes never go through a link planted at the next key or a temporary name (the file is replaced, the target kept)', () => {
    const victim = join(dir, 'victim');
    symlinkSync(victim, join(keys, 'host.next.key.pem'));
    symlinkSync(victim, join(keys, 'host.next.pub.pem'));
    symlinkSync(victim, join(keys, 'rollover.json.tmp')); // the name writeRollover used to write to
    const k = generateHostKey('ed25519');
    writeNext(keys, k, true);
    writeRollover(keys, { step: 'added', name: 'h.example', at: 1, waitSec: 1 });
    assert.equal(readFileSync(victim, 'utf8'), VICTIM);
    assert.equal(lstatSync(victim).mode & 0o777, 0o600);
    const st = lstatSync(join(keys, 'host.next.key.pem'));
    assert.ok(st.isFile() && !st.isSymbolicLink());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(readFileSync(join(keys, 'host.next.key.pem'), 'utf8'), privateKeyPemForCharon(k));
    assert.equal(JSON.parse(readFileSync(join(keys, 'rollover.json'), 'utf8')).step, 'added');
    assert.ok(!readdirSync(keys).some((f) => f.endsWith('.tmp') && f !== 'rollover.json.tmp'), 'no temporary file left');
  });
});

describe("the daemon's key watcher loads only a key file that is ours", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-keywatch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const spki = (k: KeyObject): string => createPublicKey(k).export({ type: 'spki', format: 'der' }).toString('base64');
  /** Starts a watcher on dir/host.key.pem, applies `change`, waits, and returns the keys it handed on. */
  async function watchWhile(change: (file: string) => void): Promise<string[]> {
    const file = join(dir, 'host.key.pem');
    const first = generateHostKey('ed25519');
    writeFileSync(file, privateKeyPemForCharon(first), { mode: 0o600 });
    const got: string[] = [];
    const w = watchKeyFile(file, first, async (k) => void got.push(spki(k)), undefined, 20);
    try {
      await new Promise((r) => setTimeout(r, 50));
      change(file);
      await new Promise((r) => setTimeout(r, 400));
    } finally {
      w.close();
    }
    return got;
  }
  const writeKey = (path: string, mode: number): string => {
    const k = generateHostKey('ed25519');
    writeFileSync(path, privateKeyPemForCharon(k), { mode });
    chmodSync(path, mode);
    return spki(k);
  };

  it('control: a new 0600 key renamed over the file is loaded', async () => {
    let want = '';
    const got = await watchWhile((file) => {
      want = writeKey(join(dir, 'next.pem'), 0o600);
      renameSync(join(dir, 'next.pem'), file);
    });
    assert.deepEqual(got, [want]);
  });

  it('a link put in its place is not followed', async () => {
    mkdirSync(join(dir, 'elsewhere'));
    const got = await watchWhile((file) => {
      writeKey(join(dir, 'elsewhere', 'k.pem'), 0o600);
      rmSync(file);
      symlinkSync(join(dir, 'elsewhere', 'k.pem'), file);
    });
    assert.deepEqual(got, []);
  });

  it('a key file others may write or read is not loaded', async () => {
    for (const mode of [0o666, 0o604, 0o620]) {
      const got = await watchWhile((file) => {
        writeKey(join(dir, 'next.pem'), mode);
        renameSync(join(dir, 'next.pem'), file);
      });
      assert.deepEqual(got, [], `mode ${mode.toString(8)}`);
    }
  });

  it('a key file owned by another user is not loaded', async function () {
    if (!isRoot) this.skip();
    const got = await watchWhile((file) => {
      writeKey(join(dir, 'next.pem'), 0o600);
      chownSync(join(dir, 'next.pem'), 65534, 65534);
      renameSync(join(dir, 'next.pem'), file);
    });
    assert.deepEqual(got, []);
  });
});
