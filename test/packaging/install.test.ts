// The install step (scripts/install.sh, `oedns install`) into a temporary root, DESTDIR-style: the
// user and groups in that root's user database, the directories and their owners, a config that
// `oedns serve --check-config` accepts, a unit that `systemd-analyze verify` accepts, and an uninstall
// that takes it all away again. Nothing outside the temporary root is touched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lookupUser } from '../../src/resolver/privileges';

const REPO = resolve(__dirname, '../../..');
const SCRIPT = join(REPO, 'scripts/install.sh');
const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');
const UNIT = join(REPO, 'packaging/oedns.service');

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** A root with the bare user database useradd needs (root, daemon, nogroup). */
function emptyRoot(): string {
  const d = mkdtempSync(join(tmpdir(), 'oedns-destdir-'));
  mkdirSync(join(d, 'etc'));
  writeFileSync(
    join(d, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  );
  writeFileSync(join(d, 'etc/group'), 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n');
  writeFileSync(join(d, 'etc/shadow'), 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n');
  writeFileSync(join(d, 'etc/gshadow'), 'root:*::\ndaemon:*::\nnogroup:*::\n');
  chmodSync(join(d, 'etc/shadow'), 0o640);
  chmodSync(join(d, 'etc/gshadow'), 0o640);
  return d;
}

function run(args: string[]): { code: number; out: string } {
  const r = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8' });
  return { code: r.status ?? 1, out: r.stdout + r.stderr };
}

describe('packaging: the systemd unit', () => {
  before(function () {
    if (!have('systemd-analyze')) this.skip();
  });

  it('passes systemd-analyze verify with its command in place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oedns-unit-'));
    const unit = join(dir, 'oedns.service');
    writeFileSync(unit, readFileSync(UNIT, 'utf8').replaceAll('/usr/local/bin/oedns', OEDNS));
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
    rmSync(dir, { recursive: true });
  });

  it('is hardened: a dedicated user, port 53 as its only capability, notify readiness, a reload, no W^X rule that breaks V8', () => {
    const u = readFileSync(UNIT, 'utf8');
    for (const line of [
      'Type=notify',
      'User=oedns',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'StateDirectory=oedns',
      'RuntimeDirectory=oedns',
      'PrivateTmp=yes',
    ]) {
      assert.match(u, new RegExp(`^${line}$`, 'm'), line);
    }
    assert.match(u, /^ExecReload=\S+ control --config \/etc\/oedns\/oedns\.yaml reload$/m);
    assert.doesNotMatch(u, /^MemoryDenyWriteExecute/m);
    const dir = mkdtempSync(join(tmpdir(), 'oedns-unit-'));
    const unit = join(dir, 'oedns.service');
    writeFileSync(unit, u.replaceAll('/usr/local/bin/oedns', OEDNS));
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for oedns\.service: (\d+\.\d)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    assert.ok(Number(m[1]) <= 2.5, `exposure ${m[1]} (systemd-analyze security): keep the unit hardened`);
    rmSync(dir, { recursive: true });
  });
});

describe('packaging: scripts/install.sh into a temporary root', function () {
  this.timeout(60_000);
  let root = '';
  before(function () {
    if (process.getuid?.() !== 0 || !have('useradd') || !have('systemd-analyze')) return this.skip();
    root = emptyRoot();
  });
  after(() => root && rmSync(root, { recursive: true, force: true }));
  const passwd = (): string => readFileSync(join(root, 'etc/passwd'), 'utf8');
  const group = (): string => readFileSync(join(root, 'etc/group'), 'utf8');

  it('creates the user oedns in the VICI group, the directories, the config, the unit and the strongSwan snippet', () => {
    const r = run(['install', '--destdir', root, '--bin', OEDNS, '--identity', 'alice.example.org']);
    assert.equal(r.code, 0, r.out);
    const ids = lookupUser(passwd(), 'oedns')!;
    assert.ok(ids && ids.uid > 0 && ids.uid < 1000, 'a system user');
    assert.match(passwd(), /^oedns:x:\d+:\d+:oedns resolver:\/var\/lib\/oedns:\/usr\/sbin\/nologin$/m);
    assert.match(group(), /^vici:x:\d+:oedns$/m);
    const etc = statSync(join(root, 'etc/oedns'));
    assert.equal(etc.uid, 0, "/etc/oedns stays root's: the service cannot replace its key");
    assert.equal(etc.gid, ids.gid);
    assert.equal(etc.mode & 0o777, 0o750);
    const state = statSync(join(root, 'var/lib/oedns'));
    assert.equal(state.uid, ids.uid);
    assert.equal(state.mode & 0o777, 0o750);
    const cfg = join(root, 'etc/oedns/oedns.yaml');
    assert.match(readFileSync(cfg, 'utf8'), /^identity: alice\.example\.org$/m);
    assert.equal(statSync(cfg).mode & 0o777, 0o640);
    const snippet = readFileSync(join(root, 'etc/strongswan.d/oedns-vici.conf'), 'utf8');
    assert.match(snippet, /charon \{\n\s+group = vici\n/);
    // updown runs commands as root for whoever may load a connection over VICI.
    assert.match(snippet, /\n\s+plugins \{\n\s+updown \{\n\s+load = no\n/);
    const unit = join(root, 'etc/systemd/system/oedns.service');
    assert.match(
      readFileSync(unit, 'utf8'),
      new RegExp(`^ExecStart=${OEDNS.replace(/[.]/g, '\\.')} serve --config /etc/oedns/oedns\\.yaml$`, 'm'),
    );
    const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
  });

  it('writes a config that `oedns serve --check-config` accepts', () => {
    const r = spawnSync(process.execPath, [OEDNS, 'serve', '--config', join(root, 'etc/oedns/oedns.yaml'), '--check-config'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^configuration OK .*engine dry-run/);
  });

  it('is idempotent, keeps an edited config, and makes an existing host key readable to the service only', () => {
    const cfg = join(root, 'etc/oedns/oedns.yaml');
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}# edited\n`);
    const key = join(root, 'etc/oedns/host.key.pem');
    writeFileSync(key, 'not really a key', { mode: 0o600 });
    const r = run(['install', '--destdir', root, '--bin', OEDNS]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /keeping the existing/);
    assert.match(readFileSync(cfg, 'utf8'), /# edited\n$/);
    assert.equal(passwd().match(/^oedns:/gm)!.length, 1);
    const st = statSync(key);
    assert.equal(st.uid, 0);
    assert.equal(st.gid, lookupUser(passwd(), 'oedns')!.gid);
    assert.equal(st.mode & 0o777, 0o640);
  });

  it('leaves a strongSwan file it did not write alone', () => {
    const r2 = emptyRoot();
    mkdirSync(join(r2, 'etc/strongswan.d'), { recursive: true });
    writeFileSync(join(r2, 'etc/strongswan.d/oedns-vici.conf'), 'charon { group = admins }\n');
    const r = run(['install', '--destdir', r2, '--bin', OEDNS]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /is not ours; left alone/);
    assert.equal(readFileSync(join(r2, 'etc/strongswan.d/oedns-vici.conf'), 'utf8'), 'charon { group = admins }\n');
    rmSync(r2, { recursive: true, force: true });
  });

  it('uninstalls: unit, snippet, user and the group it made go; config and state stay unless --purge', () => {
    let r = run(['uninstall', '--destdir', root]);
    assert.equal(r.code, 0, r.out);
    assert.equal(existsSync(join(root, 'etc/systemd/system/oedns.service')), false);
    assert.equal(existsSync(join(root, 'etc/strongswan.d/oedns-vici.conf')), false);
    assert.doesNotMatch(passwd(), /^oedns:/m);
    assert.doesNotMatch(group(), /^(oedns|vici):/m);
    assert.ok(existsSync(join(root, 'etc/oedns/oedns.yaml')), 'kept without --purge');
    // The freed uid and gid may go to someone else: what stays is root's alone.
    for (const d of ['etc/oedns', 'var/lib/oedns', 'etc/oedns/oedns.yaml', 'etc/oedns/host.key.pem']) {
      const st = statSync(join(root, d));
      assert.deepEqual([st.uid, st.gid], [0, 0], d);
    }
    assert.equal(statSync(join(root, 'etc/oedns')).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, 'var/lib/oedns')).mode & 0o777, 0o700);
    r = run(['install', '--destdir', root, '--bin', OEDNS]);
    assert.equal(r.code, 0, r.out);
    const ids = lookupUser(passwd(), 'oedns')!;
    assert.equal(statSync(join(root, 'var/lib/oedns')).uid, ids.uid, 'a reinstall gives the state directory back to the service');
    assert.equal(statSync(join(root, 'etc/oedns/oedns.yaml')).gid, ids.gid, 'and the kept config is readable to it again');
    r = run(['uninstall', '--destdir', root, '--purge']);
    assert.equal(r.code, 0, r.out);
    assert.equal(existsSync(join(root, 'etc/oedns')), false);
    assert.equal(existsSync(join(root, 'var/lib/oedns')), false);
    assert.match(readFileSync(join(root, 'etc/passwd'), 'utf8'), /^root:/m, 'the rest of the user database is intact');
  });

  it('refuses an existing VICI group with other members, and a well-known group: its members are as good as root', () => {
    const r2 = emptyRoot();
    try {
      writeFileSync(join(r2, 'etc/passwd'), `${readFileSync(join(r2, 'etc/passwd'), 'utf8')}alice:x:1000:1000::/home/alice:/bin/bash\n`);
      writeFileSync(join(r2, 'etc/group'), `${readFileSync(join(r2, 'etc/group'), 'utf8')}users:x:100:\nvici:x:2500:alice\n`);
      writeFileSync(join(r2, 'etc/gshadow'), `${readFileSync(join(r2, 'etc/gshadow'), 'utf8')}users:!::\nvici:!::alice\n`);
      let r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'a.example.org']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /group vici already has members other than oedns \(alice\)/);
      assert.equal(existsSync(join(r2, 'etc/oedns')), false, 'nothing was installed');
      assert.doesNotMatch(readFileSync(join(r2, 'etc/passwd'), 'utf8'), /^oedns:/m);
      r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'a.example.org', '--vici-group', 'users']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /--vici-group users is a well-known group/);
      // A user whose primary group it is counts as a member too.
      writeFileSync(join(r2, 'etc/group'), readFileSync(join(r2, 'etc/group'), 'utf8').replace('vici:x:2500:alice', 'vici:x:2500:'));
      writeFileSync(join(r2, 'etc/passwd'), readFileSync(join(r2, 'etc/passwd'), 'utf8').replace('alice:x:1000:1000', 'alice:x:1000:2500'));
      r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'a.example.org']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /other than oedns \(alice\)/);
      // An empty one (or one holding only oedns) is taken.
      writeFileSync(join(r2, 'etc/passwd'), readFileSync(join(r2, 'etc/passwd'), 'utf8').replace('alice:x:1000:2500', 'alice:x:1000:1000'));
      r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'a.example.org']);
      assert.equal(r.code, 0, r.out);
      assert.match(readFileSync(join(r2, 'etc/group'), 'utf8'), /^vici:x:2500:oedns$/m);
    } finally {
      rmSync(r2, { recursive: true, force: true });
    }
  });

  it('refuses a symbolic link at the host key (it would chown the target), and leaves the target alone', () => {
    const r2 = emptyRoot();
    try {
      mkdirSync(join(r2, 'etc/oedns'), { recursive: true });
      const victim = join(r2, 'victim');
      writeFileSync(victim, 'secret\n', { mode: 0o600 });
      symlinkSync(victim, join(r2, 'etc/oedns/host.key.pem'));
      const r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'a.example.org']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /host\.key\.pem is a symbolic link/);
      const st = statSync(victim);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o600]);
      assert.doesNotMatch(readFileSync(join(r2, 'etc/passwd'), 'utf8'), /^oedns:/m, 'refused before anything changed');
    } finally {
      rmSync(r2, { recursive: true, force: true });
    }
  });

  it('refuses an existing oedns group with other members (they could read the host key)', () => {
    const r2 = emptyRoot();
    try {
      writeFileSync(join(r2, 'etc/group'), `${readFileSync(join(r2, 'etc/group'), 'utf8')}oedns:x:2501:mallory\n`);
      writeFileSync(join(r2, 'etc/gshadow'), `${readFileSync(join(r2, 'etc/gshadow'), 'utf8')}oedns:!::mallory\n`);
      const r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'a.example.org']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /group oedns already exists with members other than oedns \(mallory\)/);
      assert.equal(existsSync(join(r2, 'etc/oedns')), false);
    } finally {
      rmSync(r2, { recursive: true, force: true });
    }
  });

  it('uninstall removes only the user and groups it created', () => {
    const r2 = emptyRoot();
    try {
      // An administrator made the oedns user and group beforehand.
      writeFileSync(join(r2, 'etc/group'), `${readFileSync(join(r2, 'etc/group'), 'utf8')}oedns:x:2501:\n`);
      writeFileSync(join(r2, 'etc/gshadow'), `${readFileSync(join(r2, 'etc/gshadow'), 'utf8')}oedns:!::\n`);
      writeFileSync(
        join(r2, 'etc/passwd'),
        `${readFileSync(join(r2, 'etc/passwd'), 'utf8')}oedns:x:2501:2501::/var/lib/oedns:/usr/sbin/nologin\n`,
      );
      writeFileSync(join(r2, 'etc/shadow'), `${readFileSync(join(r2, 'etc/shadow'), 'utf8')}oedns:*:19000:0:99999:7:::\n`);
      let r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'a.example.org']);
      assert.equal(r.code, 0, r.out);
      assert.match(readFileSync(join(r2, 'etc/oedns/.installed'), 'utf8'), /^created_user=no$/m);
      r = run(['uninstall', '--destdir', r2]);
      assert.equal(r.code, 0, r.out);
      assert.match(readFileSync(join(r2, 'etc/passwd'), 'utf8'), /^oedns:x:2501:2501:/m, 'the user stays');
      assert.match(readFileSync(join(r2, 'etc/group'), 'utf8'), /^oedns:x:2501:$/m, 'the group stays');
      assert.doesNotMatch(readFileSync(join(r2, 'etc/group'), 'utf8'), /^vici:/m, 'the group it made goes');
    } finally {
      rmSync(r2, { recursive: true, force: true });
    }
  });

  it('refuses a --bin that someone other than root could change: its file, or anything of its package', () => {
    const r2 = emptyRoot();
    const pkg = mkdtempSync(join(tmpdir(), 'oedns-bin-'));
    try {
      chmodSync(pkg, 0o755);
      const bin = join(pkg, 'oedns');
      writeFileSync(bin, readFileSync(OEDNS), { mode: 0o755 });
      chownSync(bin, 65534, 65534);
      let r = run(['install', '--destdir', r2, '--bin', bin, '--identity', 'a.example.org']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /belongs to uid 65534, who could change what the service runs/);
      chownSync(bin, 0, 0);
      writeFileSync(join(pkg, 'package.json'), '{}\n');
      writeFileSync(join(pkg, 'lib.js'), '', { mode: 0o666 });
      chmodSync(join(pkg, 'lib.js'), 0o666);
      r = run(['install', '--destdir', r2, '--bin', bin, '--identity', 'a.example.org']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /lib\.js in its package .* is not root's or is writable by group or others/);
      assert.equal(existsSync(join(r2, 'etc/oedns')), false);
    } finally {
      rmSync(r2, { recursive: true, force: true });
      rmSync(pkg, { recursive: true, force: true });
    }
  });

  it('refuses an identity that is not a host name, leaving no config behind; a good one then works', () => {
    const r2 = emptyRoot();
    try {
      let r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'x#y']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /'x#y' is not a host name/);
      assert.equal(existsSync(join(r2, 'etc/oedns/oedns.yaml')), false);
      r = run(['install', '--destdir', r2, '--bin', OEDNS, '--identity', 'good.example.org']);
      assert.equal(r.code, 0, r.out);
      assert.match(readFileSync(join(r2, 'etc/oedns/oedns.yaml'), 'utf8'), /^identity: good\.example\.org$/m);
      assert.deepEqual(
        readdirSync(join(r2, 'etc/oedns')).filter((f) => f.startsWith('.oedns.yaml')),
        [],
        'no temporary file left',
      );
    } finally {
      rmSync(r2, { recursive: true, force: true });
    }
  });

  it('`oedns install --destdir` runs the same step with this oedns as the command', () => {
    const r2 = emptyRoot();
    const r = spawnSync(process.execPath, [OEDNS, 'install', '--destdir', r2, '--identity', 'b.example.org', '--no-strongswan'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      readFileSync(join(r2, 'etc/systemd/system/oedns.service'), 'utf8'),
      new RegExp(`^ExecStart=${OEDNS.replace(/[.]/g, '\\.')} serve`, 'm'),
    );
    assert.equal(existsSync(join(r2, 'etc/strongswan.d/oedns-vici.conf')), false);
    rmSync(r2, { recursive: true, force: true });
  });
});
