// Integration: Libreswan's own IKE-queries-DNS responder, configured by libreswanResponderConf()
// (src/responder/libreswan-conf.ts, `rightrsasigkey=%dnsondemand`), in a real pluto 4.10 on host A of
// the two-host lab. pluto's libunbound asks a named inside A's namespace (through a private
// resolv.conf) for a signed zone, validating from the hierarchy's root trust anchor
// (`dnssec-anchors`). Bob's charon, driven by the strongswan engine, initiates with the key published
// in his IPSECKEY: pluto looks it up, checks it and authenticates him; a key Bob did not publish is
// refused, and so is everything when the trust anchor does not match.
// The zone is oe.example, not the oe.test of the other labs: libunbound answers names under `test.`
// itself, empty (one of unbound's default local zones), so pluto never asked named for them.
// ESP cannot be installed on this kernel (see libreswan-pluto.test.ts): the IKE SA is what is checked.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { parseAllowList } from '../../src/responder/allow-list';
import { libreswanResponderConf } from '../../src/responder/libreswan-conf';
import { EngineError } from '../../src/util/errors';
import { type Lab, labUp } from '../support/lab';
import { type NamedInstance, namedAvailable, startNamed } from '../support/named';
import { type OednsKey, oednsKeygen, type PlutoHost, plutoOn, plutoUnavailable } from '../support/pluto-lab';
import { buildSignedHierarchy, type SignedHierarchy, signingToolsAvailable } from '../support/zones';

const ALICE = 'alice.oe.example';
const BOB = 'bob.oe.example';

function peerFromRdata(name: string, addr: string, k: OednsKey): Peer {
  const f = k.rdata.split(/\s+/); // `10 0 2 . <base64>`, as published
  return {
    name,
    addresses: [addr],
    auth: { kind: 'pubkey', keys: [{ algorithm: Number(f[2]), publicKey: Buffer.from(f[4]!, 'base64'), precedence: Number(f[0]) }] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: 0,
    owner: 'serve',
    initiate: true,
  };
}

const count = (text: string, re: RegExp): number => text.match(new RegExp(re.source, 'g'))?.length ?? 0;
const BOB_ACCEPTED =
  /"oe-responder-bob\.oe\.example"\[\d+\] 192\.0\.2\.2 #\d+: responder established IKE SA; authenticated peer '2048-bit PKCS#1 1\.5 RSA with SHA2_256' digital signature/;
const reEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('libreswan responder config (%dnsondemand) in a real pluto', function () {
  let lab: Lab | undefined;
  let zones: SignedHierarchy | undefined;
  let named: NamedInstance | undefined;
  let pluto: PlutoHost | undefined;
  let B: StrongswanEngine | undefined;
  let rawB: ViciClient | undefined;
  let ka: OednsKey;
  let kb: OednsKey;
  let anchors: string;

  /** (Re)start Bob's charon signing with `key`. */
  async function bob(key: OednsKey, restart = true): Promise<StrongswanEngine> {
    await Promise.all([B?.close(), rawB?.close()]);
    if (restart) await lab!.restart('b');
    B = new StrongswanEngine({
      socketPath: lab!.b.vici,
      identity: { id: BOB, privateKey: createPrivateKey(key.pem) },
      initiateTimeoutMs: 8000,
    });
    await B.start();
    rawB = new ViciClient({ socketPath: lab!.b.vici });
    return B;
  }
  async function terminateB(): Promise<void> {
    for (const sa of await rawB!.listSas()) if (sa.uniqueId) await rawB!.terminate({ ike_id: sa.uniqueId, timeout: 2000, force: true });
  }
  const bobInitiates = (): Promise<void> => B!.install(peerFromRdata(ALICE, lab!.a.addr, ka));

  before(async function () {
    this.timeout(240_000); // the first run fetches Libreswan (apt-get download)
    const why =
      plutoUnavailable() ??
      (!namedAvailable() ? 'named is not installed' : !signingToolsAvailable().bind ? 'BIND signing tools are not installed' : null);
    if (why) {
      console.log(`    skipping the pluto responder lab: ${why}`);
      this.skip();
    }
    lab = await labUp();
    ka = oednsKeygen(join(lab.dir, 'a', 'keys'), ALICE);
    kb = oednsKeygen(join(lab.dir, 'b', 'keys'), BOB);
    zones = buildSignedHierarchy([
      { name: '.' },
      { name: 'example' },
      {
        name: 'oe.example',
        records: [
          `alice 300 IN A ${lab.a.addr}`,
          `alice 300 IN IPSECKEY ${ka.rdata}`,
          `bob 300 IN A ${lab.b.addr}`,
          `bob 300 IN IPSECKEY ${kb.rdata}`,
        ],
      },
    ]);
    // In A's namespace on port 53: pluto's libunbound reads resolv.conf, which has no port.
    named = await startNamed({ zones: zones.zones, netns: lab.a.ns, port: 53 });
    const dir = join(lab.dir, 'a', 'pluto');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    anchors = join(dir, 'anchors.ds');
    writeFileSync(anchors, readFileSync(zones.anchorFile));
    pluto = await plutoOn(lab, 'a');
    const ckaid = pluto.importKey(ka.pemFile);
    writeFileSync(
      join(dir, 'ipsec.conf'),
      libreswanResponderConf({
        localId: ALICE,
        localCkaid: ckaid,
        localAddr: lab.a.addr,
        allow: parseAllowList([BOB, '.corp.example']),
        anchorsFile: anchors,
      }).text,
    );
    await pluto.restart();
    await bob(kb, false);
  });

  after(async () => {
    await Promise.all([B?.close(), rawB?.close()]);
    await pluto?.stop();
    await named?.stop();
    zones?.cleanup();
    await lab?.down();
  });

  it('pluto takes the generated config: one conn per allowed name, its trust anchors, DNSSEC on', async () => {
    const status = (await pluto!.run(['--status'])).stdout;
    assert.match(status, new RegExp(`dnssec-trusted=${reEscape(anchors)}`));
    assert.match(status, /dnssec-enable=yes/);
    assert.match(status, /"oe-responder-bob\.oe\.example": 192\.0\.2\.1\[@alice\.oe\.example[^\]]*\]\.\.\.%any\[@bob\.oe\.example[^\]]*\]/);
    assert.match(status, /"oe-responder-bob\.oe\.example":\s+policy: IKEv2\+RSASIG/);
    assert.doesNotMatch(status, /corp\.example/, 'a zone suffix is not written (pluto matches FQDN ids exactly)');
    assert.doesNotMatch(pluto!.log(), /FATAL|unknown keyword|failed to add/i);
  });

  it('Bob initiates with his published key: pluto fetches his IPSECKEY, validates it and authenticates him', async () => {
    // The Child SA then fails on this kernel (no ESP): charon reports TS_UNACCEPTABLE from pluto.
    await assert.rejects(bobInitiates(), (e: unknown) => e instanceof EngineError && e.code === 'ike-initiate-failed');
    const log = pluto!.log();
    assert.equal(
      count(log, BOB_ACCEPTED),
      1,
      log
        .split('\n')
        .filter((l) => /oe-responder/.test(l))
        .slice(-8)
        .join('\n'),
    );
    // The key pluto now holds for Bob came from DNS: it was never given to this pluto otherwise.
    const keys = (await pluto!.run(['--listpubkeys'])).stdout;
    assert.match(
      keys,
      new RegExp(`RSA Key ${reEscape(kb.rdata.split(/\s+/)[4]!.slice(0, 9))}[^\\n]*\\n[^\\n]*ID_FQDN '@bob\\.oe\\.example'`),
    );
    const sas = await rawB!.listSas();
    assert.deepEqual(
      sas.map((s) => [s.name, s.state]),
      [[`oe-${ALICE}`, 'ESTABLISHED']],
      'charon authenticated pluto too',
    );
    await terminateB();
  });

  it('a key Bob did not publish is refused (pluto restarted first: its DNS key cache is empty)', async () => {
    await pluto!.restart();
    await bob(oednsKeygen(join(lab!.dir, 'b', 'other'), BOB));
    await assert.rejects(bobInitiates(), (e: unknown) => e instanceof EngineError && e.code === 'ike-auth-failed');
    assert.equal(count(pluto!.log(), BOB_ACCEPTED), 1, 'no new acceptance');
    await terminateB();
  });

  it("with a trust anchor the zones do not match, Bob's own key is refused too (secure answers only)", async () => {
    const ds = readFileSync(anchors, 'utf8');
    // Flip the first hex digit of the DS digest: a DS of a key that is not the root's.
    writeFileSync(
      anchors,
      ds.replace(/ ([0-9A-F])([0-9A-F]{63})\s*$/m, (_m, h: string, rest: string) => ` ${h === '0' ? '1' : '0'}${rest}\n`),
    );
    assert.notEqual(readFileSync(anchors, 'utf8'), ds);
    await pluto!.restart();
    await bob(kb);
    await assert.rejects(bobInitiates(), (e: unknown) => e instanceof EngineError && e.code === 'ike-auth-failed');
    assert.equal(count(pluto!.log(), BOB_ACCEPTED), 1, 'no acceptance without a secure answer');
    assert.match(pluto!.log(), /IKEv2 DNS query -- bob\.oe\.example\. IN IPSECKEY -- returned .*BOGUS/);
    await terminateB();
  });
});
