// Doctor checks that judge local files (the user database, resolv.conf, key files): fed with texts
// and file status through the checks' own seams, no network. The checks against named and charon
// are in test/cli/doctor.test.ts.
import assert from 'node:assert/strict';
import { resolveServeConfig } from '../../src/config/serve';
import {
  checkClock,
  checkKeyFile,
  checkSystemResolver,
  checkTrustAnchors,
  checkViciGroup,
  type DoctorContext,
  groupMembers,
} from '../../src/doctor/checks';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHostKey, writeHostKey } from '../../src/ike-bridge/identity';
import type { Message, RR } from '../../src/wire/types';
import { TestKey } from '../dnssec/signer';
import { dnsResponse } from '../support/messages';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'oedns:x:999:995:oedns resolver:/var/lib/oedns:/usr/sbin/nologin',
  'alice:x:1000:1000::/home/alice:/bin/bash',
  'bob:x:1001:994::/home/bob:/bin/bash',
  '',
].join('\n');

function ctx(files: Record<string, string>, over: Record<string, unknown> = {}): DoctorContext {
  const config = resolveServeConfig({ upstream: ['192.0.2.53'], engine: 'strongswan', vici: '/run/charon.vici', ...over }, {});
  return {
    config,
    anchors: [],
    anchorSource: 'test',
    now: 0,
    query: async () => {
      throw new Error('no network in this test');
    },
    readFile: (p) => {
      if (files[p] === undefined) throw new Error(`ENOENT: ${p}`);
      return files[p];
    },
  };
}
const sock =
  (gid: number, mode = 0o140770) =>
  () => ({ uid: 0, gid, mode });

describe("doctor: who may use charon's VICI socket", () => {
  it("passes when only oedns is in the socket's group", () => {
    const c = ctx({ '/etc/group': 'root:x:0:\nvici:x:994:oedns\n', '/etc/passwd': PASSWD.replace('bob:x:1001:994', 'bob:x:1001:1001') });
    const r = checkViciGroup(c, sock(994));
    assert.equal(r.status, 'pass', r.detail);
    assert.match(r.detail, /only oedns may use charon's VICI socket \(group vici\)/);
  });

  it('fails when anyone else is in it, as a listed member or by primary group', () => {
    const c = ctx({ '/etc/group': 'root:x:0:\nvici:x:994:oedns,alice\n', '/etc/passwd': PASSWD });
    const r = checkViciGroup(c, sock(994));
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /\(vici\) has members besides oedns: alice, bob; each of them is as good as root/);
    assert.match(r.fix!, /gpasswd -d alice vici/);
    assert.deepEqual(groupMembers('vici:x:994:oedns,alice\n', PASSWD, 994).members, ['alice', 'bob', 'oedns']);
  });

  it('fails for a well-known group even while it is empty, and for a socket open to everyone', () => {
    const c = ctx({ '/etc/group': 'users:x:100:\n', '/etc/passwd': PASSWD });
    assert.match(checkViciGroup(c, sock(100)).detail, /well-known group users/);
    assert.equal(checkViciGroup(c, sock(100, 0o140777)).status, 'fail');
  });

  it("passes root's own group (charon's default) and skips other engines", () => {
    const c = ctx({ '/etc/group': 'root:x:0:\n', '/etc/passwd': PASSWD });
    assert.equal(checkViciGroup(c, sock(0)).status, 'pass');
    assert.equal(checkViciGroup(ctx({}, { engine: 'dry-run' }), sock(0)).status, 'skip');
  });
});

describe('doctor: the system resolver', () => {
  const withResolv = (text: string) => ctx({ '/etc/resolv.conf': text }, { listen: ['127.0.0.1:53'] });

  it('passes only when every nameserver line is oedns', () => {
    const r = checkSystemResolver(withResolv('# by hand\nnameserver 127.0.0.1\noptions edns0 trust-ad\n'));
    assert.equal(r.status, 'pass', r.detail);
    assert.match(r.detail, /points at oedns only \(127\.0\.0\.1\)/);
  });

  it('fails when a second server follows oedns: glibc falls back to it on SERVFAIL', () => {
    const r = checkSystemResolver(withResolv('nameserver 127.0.0.1\nnameserver 127.0.0.2\n'));
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /also names 127\.0\.0\.2: the C library asks it whenever oedns answers SERVFAIL/);
    assert.match(r.fix!, /make 'nameserver 127\.0\.0\.1' the only nameserver line/);
  });

  it('fails when oedns is not named at all, or nothing is', () => {
    assert.match(
      checkSystemResolver(withResolv('nameserver 192.0.2.53\n')).detail,
      /sends the system's queries to 192\.0\.2\.53, not to oedns/,
    );
    assert.match(checkSystemResolver(withResolv('search example.org\n')).detail, /names no nameserver/);
  });
});

describe('doctor: the clock, from signatures that validated', () => {
  const T0 = 1_800_000_000;
  const DAY = 86400;
  const ksk = new TestKey('', 15);
  const set = [{ ...ksk.dnskey, ttl: 172800 }];
  const honest = ksk.sign(set, { inception: T0 - DAY, expiration: T0 + 14 * DAY });
  const reply =
    (answers: RR[]) =>
    async (name: string, type: number): Promise<Message> =>
      dnsResponse({ q: { name, type }, id: 1, rd: true, ra: true, cd: true, answers });
  const run = async (answers: RR[], now: number) => {
    const c = { ...ctx({}), anchors: [{ zone: '', ds: [], keys: [ksk.dnskey.rdata] }], query: reply(answers), now };
    const ta = await checkTrustAnchors(c);
    return { ta: ta.result, clock: checkClock(c, ta.windows) };
  };

  it("passes a clock inside the window of a signature by the anchor's key", async () => {
    const r = await run([...set, honest], T0);
    assert.equal(r.ta.status, 'pass', r.ta.detail);
    assert.equal(r.clock.status, 'pass', r.clock.detail);
  });

  it('names a clock outside it', async () => {
    const r = await run([...set, honest], T0 + 400 * DAY);
    assert.equal(r.clock.status, 'fail');
    assert.match(r.clock.detail, /outside the validity of the root's signatures/);
  });

  it('does not believe a window an upstream rewrote (the signature no longer verifies): cannot tell', async () => {
    const wrong = T0 + 400 * DAY;
    const b = Buffer.from(honest.rdata);
    b.writeUInt32BE(wrong + DAY, 8);
    b.writeUInt32BE(wrong - DAY, 12);
    const r = await run([...set, { ...honest, rdata: new Uint8Array(b) }], wrong);
    assert.equal(r.ta.status, 'fail');
    assert.equal(r.clock.status, 'fail');
    assert.match(r.clock.detail, /^cannot tell/);
  });
});

describe('doctor: the key, as the service user would read it', () => {
  it('fails a key only root can read, and passes it once the oedns group may', function () {
    if (process.getuid?.() !== 0) return this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'oedns-dockey-'));
    try {
      chmodSync(dir, 0o755);
      const key = writeHostKey(join(dir, 'keys'), generateHostKey('ed25519')).privateKey;
      chmodSync(join(dir, 'keys'), 0o750);
      const files: Record<string, string> = {
        '/etc/passwd': `${PASSWD}`,
        '/etc/group': 'root:x:0:\noedns:x:995:\n',
      };
      const c = ctx({}, { key });
      c.readFile = (p) => files[p] ?? readFileSync(p, 'utf8');
      let r = checkKeyFile(c);
      assert.equal(r.status, 'fail');
      assert.match(r.detail, /readable by root but not by oedns, the user oedns runs as: no search permission on .*keys/);
      assert.match(r.fix!, /chown root:oedns .* && chmod 0640/);
      chownSync(join(dir, 'keys'), 0, 995);
      r = checkKeyFile(c);
      assert.match(r.detail, /but not by oedns.*: mode 600/);
      chownSync(key, 0, 995);
      chmodSync(key, 0o640);
      r = checkKeyFile(c);
      assert.equal(r.status, 'pass', r.detail);
      assert.match(r.detail, /readable by oedns$/);
      chmodSync(key, 0o600);
      const asRoot = ctx({}, { key, user: 'root' });
      asRoot.readFile = (p) => readFileSync(p, 'utf8');
      assert.equal(checkKeyFile(asRoot).status, 'pass', 'a daemon that keeps root reads it as doctor does');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
