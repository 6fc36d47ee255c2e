// The autosp state file and the tofu-cert pin store are written like the RFC 5011 state: to a new file
// under a random name, created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW), mode 0600, then renamed. A
// symlink planted at the name the old code picked (state.PID.tmp, pins.json.tmp-PID) must not be
// written through.
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAutospState, writeAutospState } from '../../src/autosp';
import { PinStore } from '../../src/ike-bridge/tofu';

describe('autosp state: temporary file', () => {
  it('never follows a link planted at a predictable temporary name; the state is 0600', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oedns-autosp-tmp-'));
    try {
      const path = join(dir, 'autosp.json');
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'untouched\n');
      symlinkSync(victim, `${path}.${process.pid}.tmp`);
      writeAutospState(path, { names: ['peer.example.org'], peers: [] });
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
      assert.equal(lstatSync(path).isFile(), true);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(readAutospState(path).names, ['peer.example.org']);
      assert.deepEqual(
        readdirSync(dir).sort(),
        ['autosp.json', `autosp.json.${process.pid}.tmp`, 'victim'].sort(),
        'no temporary file of ours left',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tofu-cert pin store: temporary file', () => {
  it('never follows a link planted at a predictable temporary name; the pin file is 0600', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oedns-pins-tmp-'));
    try {
      const path = join(dir, 'tofu-pins.json');
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'untouched\n');
      const planted = `${path}.tmp-${process.pid}`;
      symlinkSync(victim, planted);
      const store = new PinStore(path);
      store.put({ name: 'peer.example.org', fingerprint: 'ab'.repeat(32), der: 'AAAA', firstSeen: 1, lastSeen: 2, source: 'any-key' });
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
      assert.equal(lstatSync(path).isFile(), true);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(new PinStore(path).get('peer.example.org')?.fingerprint, 'ab'.repeat(32));
      assert.deepEqual(
        readdirSync(dir).sort(),
        ['tofu-pins.json', 'tofu-pins.json.tmp-' + process.pid, 'victim'].sort(),
        'no temporary file of ours left',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
