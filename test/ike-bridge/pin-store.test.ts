// The pin file is shared by two processes since it moved to the service's state directory: the
// service (User=oedns) that pins, and `oedns pins` run by root that lists and forgets. What one
// does must not be undone, hidden or made unreadable by the other.
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Pin, PinStore } from '../../src/ike-bridge/tofu';
import { EngineError } from '../../src/util/errors';

const pin = (name: string, byte: string): Pin => ({
  name,
  fingerprint: byte.repeat(32),
  der: 'AAAA',
  firstSeen: 1_700_000_000,
  lastSeen: 1_700_000_000,
  source: 'any-key',
});

describe('ike-bridge/tofu PinStore shared by the service and oedns pins', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-pinstore-'));
    file = join(dir, 'tofu-pins.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a pin forgotten by oedns pins stays forgotten when the running service records another', () => {
    const service = new PinStore(file);
    service.put(pin('bob.fb.test', 'ab'));
    assert.equal(new PinStore(file).forget('bob.fb.test'), true); // the operator's decision
    assert.equal(service.get('bob.fb.test'), undefined, 'the service still accepts the forgotten certificate');
    service.put(pin('carol.fb.test', 'cd'));
    assert.equal(new PinStore(file).get('bob.fb.test'), undefined, 'the forgotten pin came back');
    assert.ok(new PinStore(file).get('carol.fb.test'));
  });

  it('does not read a pin file through a link planted in the state directory (root runs oedns pins there)', () => {
    const elsewhere = join(dir, 'elsewhere.json');
    writeFileSync(elsewhere, JSON.stringify({ version: 1, pins: { 'eve.fb.test': pin('eve.fb.test', 'ee') } }));
    symlinkSync(elsewhere, file);
    assert.throws(
      () => new PinStore(file),
      (e: unknown) => e instanceof EngineError && e.code === 'tofu-store',
    );
  });

  it('root forgetting a pin keeps the file owned by the service user, who must read it at its next start', function () {
    if (process.getuid?.() !== 0) this.skip(); // only root can make a file another user's
    const service = new PinStore(file);
    service.put(pin('bob.fb.test', 'ab'));
    service.put(pin('carol.fb.test', 'cd'));
    chownSync(file, 65534, 65534); // as the service user wrote it
    assert.equal(new PinStore(file).forget('bob.fb.test'), true);
    const st = statSync(file);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [65534, 65534, 0o600]);
  });
});
