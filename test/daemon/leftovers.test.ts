// What a restarted serve holds closed from its previous run (src/daemon/leftovers.ts): the stored
// closed set read as untrusted input, and the leftover conns of the IKE daemon judged by policy.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leftoverShunts, MAX_CLOSED_NAMES, readClosedSet, writeClosedSet } from '../../src/daemon/leftovers';
import type { InstalledPeer } from '../../src/ike-bridge/engine';
import { PeerRegistry } from '../../src/peers/registry';
import { parsePolicy } from '../../src/policy';
import { ConfigError } from '../../src/util/errors';
import { peer, T } from '../peers/fixtures';

const policy = parsePolicy('default: private-or-clear\nmax-ttl: 1d\nrules:\n  - { zone: oe.test, level: private }\n', 'yaml');
const conn = (name: string, addresses: string[], shunt = false): InstalledPeer => ({
  name,
  connection: `oe-${name}`,
  addresses,
  authenticated: !shunt,
  ...(shunt ? { shunt } : {}),
});

describe('daemon/leftovers: what a previous serve handed out stays closed', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-leftovers-'));
    path = join(dir, 'serve-closed.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("the registry's closed set round-trips through the file (0600): private claims until their end plus grace, handed-out addresses, shunts", () => {
    const r = new PeerRegistry({ shuntGraceSec: 100 });
    r.upsert(peer({ name: 'bob.oe.test', addresses: ['192.0.2.2'], expiresAt: T + 300 }), T);
    r.upsert(peer({ name: 'open.example', addresses: ['192.0.2.9'], level: 'private-or-clear', expiresAt: T + 300 }), T);
    r.upsert(peer({ name: 'gone.oe.test', addresses: ['192.0.2.3'], expiresAt: T + 10 }), T);
    r.release('gone.oe.test', 'serve', T + 1);
    writeClosedSet(path, r.closedSet(T + 1), T + 1);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const back = readClosedSet(path, T + 2, 86_400 + 100);
    assert.deepEqual(
      back.entries.sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: 'bob.oe.test', addresses: ['192.0.2.2'], until: T + 400 },
        { name: 'gone.oe.test', addresses: ['192.0.2.3'], until: T + 110 },
      ],
    );
    assert.deepEqual(back.rejected, []);
  });

  it("does not follow a link nor read a FIFO at the file's place (read as root before the privilege drop), and echoes nothing of bad content", () => {
    writeFileSync(join(dir, 'secret'), 'root:x:0:0:root:/root:/bin/bash\n');
    symlinkSync(join(dir, 'secret'), path);
    assert.throws(
      () => readClosedSet(path, T, 1000),
      (e: unknown) => e instanceof ConfigError && /not a regular file/.test(e.message),
    );
    rmSync(path);
    execFileSync('mkfifo', [path]);
    assert.throws(
      () => readClosedSet(path, T, 1000),
      (e: unknown) => e instanceof ConfigError && /not a regular file/.test(e.message),
    );
    rmSync(path);
    writeFileSync(path, 'root:x:0:0:root:/root:/bin/bash\n');
    assert.throws(
      () => readClosedSet(path, T, 1000),
      (e: unknown) => e instanceof ConfigError && !/root:x/.test(e.message),
    );
  });

  it('reads the file as untrusted input: bad names and special addresses are left out, until is capped, ended entries dropped, bounds enforced', () => {
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        entries: [
          { name: 'ok.oe.test', addresses: ['192.0.2.2'], until: T + 10_000_000 },
          { name: 'old.oe.test', addresses: ['192.0.2.4'], until: T - 1 },
          { name: 'lo.oe.test', addresses: ['127.0.0.1'], until: T + 100 },
          { name: 'bad name!', addresses: ['192.0.2.5'], until: T + 100 },
          { name: 'x.oe.test', addresses: 'not a list', until: T + 100 },
        ],
      }),
    );
    const c = readClosedSet(path, T, 1000);
    assert.deepEqual(c.entries, [{ name: 'ok.oe.test', addresses: ['192.0.2.2'], until: T + 1000 }]);
    assert.equal(c.rejected.length, 3, c.rejected.join('\n'));
    writeFileSync(path, JSON.stringify({ version: 1, entries: Array.from({ length: MAX_CLOSED_NAMES + 1 }, () => 0) }));
    assert.throws(
      () => readClosedSet(path, T, 1000),
      (e: unknown) => e instanceof ConfigError && e.code === 'closed-state',
    );
    writeFileSync(path, '{"version":1,');
    assert.throws(
      () => readClosedSet(path, T, 1000),
      (e: unknown) => e instanceof ConfigError && e.code === 'closed-state',
    );
    assert.deepEqual(readClosedSet(join(dir, 'missing.json'), T, 1000), { entries: [], rejected: [] });
  });

  it('leftover conns become drop shunts when policy says private, the file lists them or they were shunts; others are let go', () => {
    const held = leftoverShunts(
      [
        conn('bob.oe.test', ['192.0.2.2']),
        conn('open.example', ['192.0.2.9']),
        conn('alias-target.example', ['192.0.2.7']),
        conn('was-shunt.example', ['192.0.2.8'], true),
        conn('lo.oe.test', ['127.0.0.1']),
      ],
      [{ name: 'alias-target.example', addresses: ['192.0.2.7'], until: T + 500 }],
      policy,
      T,
      3600,
    );
    assert.deepEqual(held.map((s) => [s.name, s.addresses, s.until]).sort(), [
      ['alias-target.example', ['192.0.2.7'], T + 500],
      ['bob.oe.test', ['192.0.2.2'], T + 86_400 + 3600],
      ['was-shunt.example', ['192.0.2.8'], T + 86_400 + 3600],
    ]);
  });
});
