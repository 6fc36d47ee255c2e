// oedns serve and autosp share one registry: `autosp add` through the daemon's control socket makes
// the daemon hold the peer (owner autosp), and a restarted daemon keeps autosp's peers closed from its
// very first reconcile (no clear traffic), trusting their keys once it has validated them again.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { generateHostKey, ipseckeyLine } from '../../src/ike-bridge/identity';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon';
import { resolveServeConfig } from '../../src/config/serve';
import { freePort } from '../support/ports';
import { namedAvailable, type NamedInstance, startNamed } from '../support/named';
import { buildSignedHierarchy, type SignedHierarchy, signingToolsAvailable } from '../support/zones';
import { reservedOnly } from '../support/reserved';

const run = promisify(execFile);
const AUTOSP = resolve(__dirname, '../../src/cli/autosp.js');

describe('oedns serve + autosp sharing one registry', function () {
  this.timeout(120_000);
  let h: SignedHierarchy;
  let named: NamedInstance;
  let dir: string;
  let d: RunningDaemon | undefined;

  const start = async (engine: DryRunEngine): Promise<RunningDaemon> =>
    startDaemon({
      reservedAddresses: reservedOnly(),
      serve: resolveServeConfig({}, { listen: [`127.0.0.1:${await freePort()}`], upstream: [named.endpoint] }),
      engine,
      anchors: parseTrustAnchors(readFileSync(h.anchorFile, 'utf8')),
      controlPath: join(dir, 'control.sock'),
      autospState: join(dir, 'autosp.json'),
    });

  before(async function () {
    if (process.env.OEDNS_SKIP_INTEGRATION === '1' || !namedAvailable() || !signingToolsAvailable().bind) this.skip();
    const key = ipseckeyLine('bob.oe.test', generateHostKey('ed25519')).split(/\s+/).slice(3).join(' ');
    h = buildSignedHierarchy([{ name: '.' }, { name: 'test' }, { name: 'oe.test', records: ['bob A 192.0.2.2', `bob IPSECKEY ${key}`] }]);
    named = await startNamed({ zones: h.zones });
    dir = mkdtempSync(join(tmpdir(), 'oedns-serve-autosp-'));
  });

  after(async () => {
    await d?.stop();
    await named?.stop();
    h?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('autosp add goes through the running daemon, which installs the peer for owner autosp', async () => {
    const engine = new DryRunEngine();
    d = await start(engine);
    const r = await run(process.execPath, [AUTOSP, 'add', 'bob.oe.test', '--control', join(dir, 'control.sock'), '--json']);
    assert.match(r.stdout, /bob\.oe\.test/);
    assert.deepEqual(engine.get('bob.oe.test')?.addresses, ['192.0.2.2']);
    const s = await d.status();
    assert.deepEqual(s.peers.find((p) => p.name === 'bob.oe.test')?.owners, ['autosp']);
    await d.stop();
    d = undefined;
  });

  it("a restarted daemon keeps autosp's peers closed from its first reconcile, and trusts their keys only once validated again", async () => {
    const engine = new DryRunEngine();
    d = await start(engine);
    // The start-up reconcile trusts no stored key: it only keeps bob's address closed (a drop shunt).
    assert.deepEqual(engine.actions[0], { op: 'shunt', name: 'bob.oe.test', addresses: ['192.0.2.2'] });
    // autosp looks bob up again at once; then the conn comes, and only then the shunt goes.
    for (let i = 0; i < 100 && engine.shuntOf('bob.oe.test'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(engine.get('bob.oe.test'));
    assert.deepEqual(
      engine.actions.map((a) => `${a.op} ${a.name}${a.addresses ? ` [${a.addresses.join(',')}]` : ''}`),
      ['shunt bob.oe.test [192.0.2.2]', 'install bob.oe.test', 'shunt bob.oe.test []'],
    );
  });
});
