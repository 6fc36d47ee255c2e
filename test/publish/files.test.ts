// The files publish trusts: a TSIG key file others can read or own is refused before anything is sent.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPublish } from '../../src/cli/publish';
import { readSecretFile } from '../../src/publish/files';

const TSIG = 'key "alice-key" {\n\talgorithm hmac-sha256;\n\tsecret "OvAwtLceKrzlgwK3tHeTyabWWpJZicsmFlYsGakb3Bk=";\n};\n';
const isRoot = process.geteuid?.() === 0;

const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'no error', (e: { code?: string }) => e.code ?? String(e));

describe('the TSIG key file must be private to us', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Port 1 on loopback: if the check did not stop publish first, it would fail later with another code.
  const flags = (tsigKey: string): Parameters<typeof runPublish>[0] => ({
    name: 'alice.example', keyDir: dir, tsigKey, zone: 'example', server: '127.0.0.1:1', resolver: '127.0.0.1:1', precedence: '10', wait: '0', timeout: '200',
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
