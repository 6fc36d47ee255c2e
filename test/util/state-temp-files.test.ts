// The autosp state file is written like the RFC 5011 state: to a new file under a random name,
// created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW), mode 0600, then renamed. A symlink planted at the
// name the old code picked (state.PID.tmp) must not be written through.
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAutospState, writeAutospState } from '../../src/autosp';

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
      assert.deepEqual(readdirSync(dir).sort(), ['autosp.json', `autosp.json.${process.pid}.tmp`, 'victim'].sort(), 'no temporary file of ours left');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
