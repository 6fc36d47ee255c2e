// Capture mode end to end inside one process: a real named serves a signed hierarchy, the daemon
// (resolver + oedns validator + capture + peer sync) runs with the dry-run engine, and dig asks it.
// Proves: a secure key is installed before the answer leaves; cache hits cost no engine call;
// concurrent queries share one install; unsigned under `private` fails closed; a bogus key or
// address installs nothing; expiry removes the peer; an engine failure fails closed only for private.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateHostKey, ipseckeyLine } from '../../src/ike-bridge/identity';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import type { Peer } from '../../src/ike-bridge/engine';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { readFileSync } from 'node:fs';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon';
import { resolveServeConfig } from '../../src/config/serve';
import { parsePolicy } from '../../src/policy';
import { EngineError } from '../../src/util/errors';
import { freePort } from '../support/ports';
import { namedAvailable, type NamedInstance, startNamed } from '../support/named';
import { buildSignedHierarchy, type SignedHierarchy, signingToolsAvailable } from '../support/zones';
import { reservedOnly } from '../support/reserved';

const run = promisify(execFile);

function keyRdata(name: string): string {
  return ipseckeyLine(name, generateHostKey('ed25519')).split(/\s+/).slice(3).join(' ');
}

/** An engine whose installs can be made to fail, to see how each level reacts. */
class FlakyEngine extends DryRunEngine {
  failing = false;
  override async install(peer: Peer): Promise<void> {
    if (this.failing) throw new EngineError('engine-down', 'charon is not running');
    return super.install(peer);
  }
}

const POLICY = `
default: private-or-clear
max-ttl: 600
gateways: [behind.oe.test]
rules:
  - { zone: plain.test, level: private }
  - { name: strict.oe.test, level: private }
  - { name: vault.oe.test, level: private }
  - { zone: clear.test, level: clear }
`;

describe('capture mode (in-process daemon, real named, dry-run engine)', function () {
  this.timeout(120_000);
  let h: SignedHierarchy;
  let named: NamedInstance;
  let d: RunningDaemon;
  let engine: FlakyEngine;
  let port: number;

  const dig = async (name: string, type = 'A', extra: string[] = []): Promise<string> =>
    (await run('dig', ['+tries=1', '+time=5', '-p', String(port), '@127.0.0.1', name, type, ...extra])).stdout;
  const installs = (name: string): number => engine.actions.filter((a) => a.op === 'install' && a.name === name).length;

  before(async function () {
    if (process.env.OEDNS_SKIP_INTEGRATION === '1' || !namedAvailable() || !signingToolsAvailable().bind) {
      console.log('    skipping: needs named and BIND signing tools');
      this.skip();
    }
    h = buildSignedHierarchy([
      { name: '.' },
      { name: 'test' },
      {
        name: 'oe.test',
        records: [
          `bob A 192.0.2.2`,
          `bob IPSECKEY ${keyRdata('bob.oe.test')}`,
          `strict A 192.0.2.5`,
          `nokey A 192.0.2.6`,
          `www CNAME bob`,
          `short 2 A 192.0.2.7`,
          `short 2 IPSECKEY ${keyRdata('short.oe.test')}`,
          `many A 192.0.2.8`,
          `many IPSECKEY ${keyRdata('many.oe.test')}`,
          `vault 1 A 192.0.2.11`,
          `vault 1 IPSECKEY ${keyRdata('vault.oe.test')}`,
          `open A 192.0.2.12`,
          `open IPSECKEY ${keyRdata('open.oe.test')}`,
          `behind A 192.0.2.20`,
          `behind IPSECKEY ${keyRdata('behind.oe.test')
            .replace(/^10 0 /, '10 3 ')
            .replace(/ \. /, ' sgw.oe.test. ')}`,
          `sgw A 192.0.2.21`,
        ],
      },
      { name: 'plain.test', signer: 'unsigned', records: [`carol A 192.0.2.3`, `carol IPSECKEY ${keyRdata('carol.plain.test')}`] },
      {
        name: 'bad.test',
        records: [`dave A 192.0.2.4`, `dave IPSECKEY ${keyRdata('dave.bad.test')}`, `erin A 192.0.2.9`],
        tamper: [
          { action: 'corrupt-rrsig', name: 'dave.bad.test', type: 'IPSECKEY' },
          { action: 'corrupt-rrsig', name: 'erin.bad.test', type: 'A' },
        ],
      },
      { name: 'clear.test', records: [`frank A 192.0.2.10`, `frank IPSECKEY ${keyRdata('frank.clear.test')}`] },
    ]);
    named = await startNamed({ zones: h.zones });
    port = await freePort();
    engine = new FlakyEngine();
    d = await startDaemon({
      reservedAddresses: reservedOnly(),
      serve: resolveServeConfig({}, { listen: [`127.0.0.1:${port}`], upstream: [named.endpoint] }),
      engine,
      policy: parsePolicy(POLICY, 'yaml'),
      anchors: parseTrustAnchors(readFileSync(h.anchorFile, 'utf8')),
      controlPath: null,
    });
  });

  after(async () => {
    await d?.stop();
    await named?.stop();
    h?.cleanup();
  });

  it('installs a DNSSEC-secure key before answering, and sets AD for a DO client', async () => {
    const out = await dig('bob.oe.test', 'A', ['+dnssec']);
    assert.match(out, /status: NOERROR/);
    assert.match(out, /bob\.oe\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.2/);
    assert.match(out, /flags: qr rd ra ad/);
    const p = engine.get('bob.oe.test');
    assert.ok(p, 'bob is installed');
    assert.deepEqual(p.addresses, ['192.0.2.2']);
    assert.equal(p.auth.kind, 'pubkey');
    assert.equal(p.level, 'private-or-clear');
    assert.ok(p.expiresAt > Date.now() / 1000 && p.expiresAt <= Date.now() / 1000 + 300);
  });

  it('a cached answer while the peer is installed costs no engine call', async () => {
    const before = engine.actions.length;
    await dig('bob.oe.test');
    await dig('bob.oe.test');
    assert.equal(engine.actions.length, before);
  });

  it("a cache hit neither stretches the peer's lifetime nor takes the decision again", async () => {
    await dig('bob.oe.test');
    const expiry = async (): Promise<number | undefined> => (await d.status()).peers.find((p) => p.name === 'bob.oe.test')?.expiresAt;
    const before = await expiry();
    const reused = d.capture.counters.reused;
    await new Promise((r) => setTimeout(r, 2100));
    const out = await dig('bob.oe.test');
    assert.match(out, /192\.0\.2\.2/);
    assert.ok(before !== undefined);
    assert.equal(await expiry(), before, 'the registry expiry stays where the first answer put it');
    assert.equal(d.capture.counters.reused, reused + 1);
  });

  it('an IPSECKEY naming a security gateway (type 3) tunnels to the gateway address, itself validated', async () => {
    const out = await dig('behind.oe.test');
    assert.match(out, /192\.0\.2\.20/);
    const p = engine.get('behind.oe.test');
    assert.ok(p, 'installed');
    assert.deepEqual(p.gateway, { kind: 'address', address: '192.0.2.21' });
    assert.deepEqual(p.addresses, ['192.0.2.20']);
  });

  it('a cached answer for a peer that was removed meanwhile installs it again', async () => {
    await dig('bob.oe.test');
    await d.sync.forget('bob.oe.test');
    assert.equal(engine.get('bob.oe.test'), undefined);
    const out = await dig('bob.oe.test');
    assert.match(out, /192\.0\.2\.2/);
    assert.ok(engine.get('bob.oe.test'), 'the answer from cache put bob back before it was sent');
  });

  it('identical concurrent queries share one install', async () => {
    await Promise.all(Array.from({ length: 8 }, () => dig('many.oe.test')));
    assert.equal(installs('many.oe.test'), 1);
  });

  it('follows a CNAME to the peer that owns the address and key (its IKE identity)', async () => {
    const before = installs('bob.oe.test');
    const out = await dig('www.oe.test');
    assert.match(out, /192\.0\.2\.2/);
    assert.equal(engine.get('www.oe.test'), undefined);
    assert.equal(engine.get('bob.oe.test')?.addresses[0], '192.0.2.2');
    assert.equal(installs('bob.oe.test'), before, 'same peer, same key: no new engine call');
  });

  it('an unsigned name under `private` gets no address (SERVFAIL with an extended error saying why)', async () => {
    const out = await dig('carol.plain.test');
    assert.match(out, /status: SERVFAIL/);
    assert.match(out, /EDE: \d+.*unsigned/i);
    assert.doesNotMatch(out, /192\.0\.2\.3/);
    assert.equal(engine.get('carol.plain.test'), undefined);
  });

  it('a bogus IPSECKEY gives SERVFAIL and nothing reaches the engine', async () => {
    const out = await dig('dave.bad.test');
    assert.match(out, /status: SERVFAIL/);
    assert.match(out, /EDE: 6/);
    assert.equal(installs('dave.bad.test'), 0);
  });

  it('a bogus address gives SERVFAIL whatever the level', async () => {
    const out = await dig('erin.bad.test');
    assert.match(out, /status: SERVFAIL/);
    assert.match(out, /EDE: \d+ \(.*\): \(DNSSEC bogus/);
    assert.equal(installs('erin.bad.test'), 0);
  });

  it('a secure name without IPSECKEY is answered in clear under private-or-clear, and refused under private', async () => {
    assert.match(await dig('nokey.oe.test'), /192\.0\.2\.6/);
    assert.equal(installs('nokey.oe.test'), 0);
    const strict = await dig('strict.oe.test');
    assert.match(strict, /status: SERVFAIL/);
    assert.match(strict, /publishes no IPSECKEY/);
  });

  it('names the policy does not select are only resolved and validated', async () => {
    const out = await dig('frank.clear.test', 'A', ['+dnssec']);
    assert.match(out, /192\.0\.2\.10/);
    assert.match(out, /flags: qr rd ra ad/);
    assert.equal(installs('frank.clear.test'), 0);
    const ipseckey = await dig('bob.oe.test', 'IPSECKEY');
    assert.match(ipseckey, /IPSECKEY\s+10 0 4 \./);
  });

  it('removes a peer when its lifetime (the record TTL) ends', async () => {
    await dig('short.oe.test');
    assert.ok(engine.get('short.oe.test'));
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(engine.get('short.oe.test'), undefined);
    assert.ok(engine.actions.some((a) => a.op === 'remove' && a.name === 'short.oe.test'));
  });

  it('an engine failure fails closed for private names and answers in clear for the others', async () => {
    engine.failing = true;
    try {
      const strict = await dig('vault.oe.test');
      assert.match(strict, /status: SERVFAIL/);
      assert.match(strict, /IKE engine could not install/);
      assert.doesNotMatch(strict, /192\.0\.2\.11/);
      const open = await dig('open.oe.test');
      assert.match(open, /status: NOERROR/);
      assert.match(open, /192\.0\.2\.12/);
      assert.equal(engine.get('open.oe.test'), undefined);
    } finally {
      engine.failing = false;
    }
    // The engine is back: the next lookup installs.
    await dig('vault.oe.test');
    assert.ok(engine.get('vault.oe.test'));
  });

  it('reports peers and counters through status()', async () => {
    const s = await d.status();
    const bob = s.peers.find((p) => p.name === 'bob.oe.test');
    assert.ok(bob);
    assert.equal(bob.authenticated, true);
    assert.equal(bob.keySource, 'dnssec-secure');
    assert.ok((s.counters.installs ?? 0) >= 2);
    assert.ok((s.counters.refused ?? 0) >= 3);
  });
});
