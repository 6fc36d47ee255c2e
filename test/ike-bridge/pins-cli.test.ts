import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PinStore } from '../../src/ike-bridge/tofu';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');
const oedns = (args: string[]) => spawnSync(process.execPath, [OEDNS, ...args], { encoding: 'utf8' });

describe('oedns pins', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-pins-'));
    file = join(dir, 'tofu-pins.json');
    const store = new PinStore(file);
    store.put({
      name: 'bob.fb.test',
      fingerprint: 'ab'.repeat(32),
      der: 'AAAA',
      firstSeen: 1_700_000_000,
      lastSeen: 1_700_000_100,
      source: 'any-key',
    });
    store.put({
      name: 'carol.fb.test',
      fingerprint: 'cd'.repeat(32),
      der: 'AAAA',
      firstSeen: 1_700_000_000,
      lastSeen: 1_700_000_000,
      source: 'trusted-fingerprint',
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the pinned peers with fingerprint and how they were accepted', () => {
    const r = oedns(['pins', 'list', '--file', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 3)),
      [
        ['bob.fb.test', 'ab'.repeat(32), 'any-key'],
        ['carol.fb.test', 'cd'.repeat(32), 'trusted-fingerprint'],
      ],
    );
    const j = JSON.parse(oedns(['pins', 'list', '--json', '--file', file]).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      j.map((p) => p.name),
      ['bob.fb.test', 'carol.fb.test'],
    );
    assert.ok(!('der' in j[0]!));
  });

  it('forgets a pin, and says so (exit 1) for a name that is not pinned', () => {
    const r = oedns(['pins', 'forget', 'BOB.fb.test', '--file', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(new PinStore(file).get('bob.fb.test'), undefined);
    assert.ok(new PinStore(file).get('carol.fb.test'));
    const again = oedns(['pins', 'forget', 'bob.fb.test', '--file', file]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /not pinned/);
  });

  it('refuses a broken pin file with a clear error', () => {
    const r = oedns(['pins', 'list', '--file', join(__dirname)]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /pin file/);
  });
});
