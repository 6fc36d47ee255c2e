// Dropping root: to the dedicated `oedns` user with its groups, never chowning a directory that
// existed before (issue 11: with state in /etc/oedns, the daemon's user could replace the host key).
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { canUseSocket, DEFAULT_USER, groupsOf, handOverDir, lookupUser } from '../../src/resolver/privileges';

const passwd =
  'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\noedns:x:990:990:oedns resolver:/var/lib/oedns:/usr/sbin/nologin\n';
const group = 'root:x:0:\noedns:x:990:\nvici:x:991:oedns\nadm:x:4:syslog,oedns2\nwheel:x:10:\n';

describe('resolver/privileges', () => {
  it('finds uid and gid of a user in passwd text', () => {
    assert.deepEqual(lookupUser(passwd, 'nobody'), { uid: 65534, gid: 65534 });
    assert.equal(lookupUser(passwd, 'nob'), undefined);
  });

  it('drops to the dedicated user oedns by default, with the groups it is a member of (VICI access)', () => {
    assert.equal(DEFAULT_USER, 'oedns');
    assert.deepEqual(groupsOf(group, 'oedns', 990), [990, 991]);
    assert.deepEqual(groupsOf(group, 'oedns2', 5), [5, 4]);
  });

  it('tells whether a user may connect to a socket (charon makes its VICI socket 0770 root:GROUP)', () => {
    const vici = { uid: 0, gid: 991, mode: 0o140770 };
    assert.equal(canUseSocket(vici, { uid: 990, groups: [990, 991] }), true);
    assert.equal(canUseSocket(vici, { uid: 990, groups: [990] }), false);
    assert.equal(canUseSocket({ ...vici, mode: 0o140700 }, { uid: 990, groups: [991] }), false);
    assert.equal(canUseSocket(vici, { uid: 0, groups: [0] }), true);
  });

  describe('handing a state directory to the user (as root)', () => {
    let root = '';
    let ids: { uid: number; gid: number } | undefined;
    before(function () {
      if (process.getuid?.() !== 0) return this.skip();
      ids = lookupUser(readFileSync('/etc/passwd', 'utf8'), 'oedns');
      if (!ids) return this.skip(); // scripts/install-deps.sh creates it (scripts/install.sh user)
      root = mkdtempSync(join('/var/tmp', 'oedns-priv-'));
    });
    after(() => root && rmSync(root, { recursive: true, force: true }));

    it('creates a missing directory for the user, and only the last component', () => {
      const dir = join(root, 'made', 'state');
      assert.equal(handOverDir(dir, undefined), undefined);
      assert.equal(statSync(dir).uid, ids!.uid);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(join(root, 'made')).uid, 0, "the parent made on the way stays root's");
    });

    it('never chowns a directory that exists, not even one named oedns, and says so', () => {
      const etc = join(root, 'etc', 'oedns');
      mkdirSync(etc, { recursive: true });
      chmodSync(etc, 0o755);
      const warning = handOverDir(etc, undefined);
      assert.match(warning ?? '', /never handed over/);
      assert.equal(statSync(etc).uid, 0);
    });

    it("accepts an existing directory that already is the user's (StateDirectory=, install.sh)", () => {
      const own = join(root, 'own');
      mkdirSync(own);
      chownSync(own, ids!.uid, ids!.gid);
      assert.equal(handOverDir(own, undefined), undefined);
    });

    it('does nothing when root is kept', () => {
      assert.equal(handOverDir(join(root, 'kept'), 'root'), undefined);
      assert.throws(() => statSync(join(root, 'kept')));
    });
  });
});
