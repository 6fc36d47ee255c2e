// A reload is all or nothing: the daemon (in-process, dry-run engine) is given a new configuration
// whose last part cannot be applied; the policy, log level, upstreams and negative trust anchors it
// would have changed first must stay as they were. Then a good configuration applies in full.
import assert from 'node:assert/strict';
import pino from 'pino';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveServeConfig, type ServeConfig } from '../../src/config/serve';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import { ROOT_ANCHORS } from '../../src/dnssec/anchors';
import { formatEndpoint, parseEndpoint } from '../../src/resolver/endpoint';
import { parsePolicy } from '../../src/policy';
import { ConfigError } from '../../src/util/errors';
import type { Logger } from '../../src/util/log';
import { reservedOnly } from '../support/reserved';

describe('daemon: reconfigure (reload)', function () {
  this.timeout(20_000);
  let d: RunningDaemon;
  let base: ServeConfig;
  const log = pino({ level: 'info' }, pino.destination('/dev/null')) as unknown as Logger;

  before(async () => {
    // Upstreams nobody answers on: nothing here asks them.
    base = resolveServeConfig(
      {
        listen: ['127.0.0.1:0'],
        upstream: ['127.0.0.1:9'],
        negativeTrustAnchors: ['broken.example'],
        control: 'none',
        autospState: 'none',
      },
      {},
    );
    d = await startDaemon({ reservedAddresses: reservedOnly(), serve: base, engine: new DryRunEngine(), controlPath: null, log });
  });
  after(async () => d?.stop());

  const state = () => ({
    level: log.level,
    upstreams: d.server.upstream.opts.servers.map(formatEndpoint),
    ntas: d.ntas.list(0).map((e) => `${e.name}/${e.source}`),
  });

  it('changes nothing when a part of the new configuration cannot be applied', () => {
    const before = state();
    const next: ServeConfig = {
      ...base,
      logLevel: 'debug',
      upstream: [parseEndpoint('127.0.0.1:10')],
      // What the old config check let through: a label of 70 bytes (the daemon's own check refuses it).
      negativeTrustAnchors: [`${'a'.repeat(70)}.example`, 'other.example'],
    };
    assert.throws(
      () => d.reconfigure({ config: next, policy: parsePolicy('default: clear\n', 'yaml'), anchors: ROOT_ANCHORS }),
      (e: unknown) => e instanceof ConfigError && e.code === 'nta-bad-name',
    );
    assert.deepEqual(state(), before);
    assert.deepEqual(before.ntas, ['broken.example/config'], 'the configured NTA was not dropped');
  });

  it('refuses upstreams that are itself: static ones at reload, and through the upstream file in any spelling', async () => {
    const port = d.server.addresses[0]!.port;
    const before = state();
    for (const up of [`127.0.0.1:${port}`, `[::ffff:127.0.0.1]:${port}`, `0.0.0.0:${port}`]) {
      assert.throws(
        () => d.reconfigure({ config: { ...base, logLevel: 'debug', upstream: [parseEndpoint(up)] }, anchors: ROOT_ANCHORS }),
        (e: unknown) => e instanceof ConfigError && e.code === 'upstream-is-self',
        up,
      );
    }
    assert.deepEqual(state(), before);
    const dir = mkdtempSync(join(tmpdir(), 'oedns-self-'));
    const file = join(dir, 'resolv.conf');
    writeFileSync(file, `nameserver [::ffff:127.0.0.1]:${port}\nnameserver 0.0.0.0:${port}\nnameserver 127.0.0.1:11\n`);
    try {
      d.reconfigure({ config: { ...base, upstream: [], upstreamFile: file }, anchors: ROOT_ANCHORS });
      assert.deepEqual(d.server.upstream.opts.servers.map(formatEndpoint), ['127.0.0.1:11']);
      d.reconfigure({ config: base, anchors: ROOT_ANCHORS });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies a good configuration in full, measured against the one that was running', () => {
    const r = d.reconfigure({
      config: { ...base, logLevel: 'debug', upstream: [parseEndpoint('127.0.0.1:10')], negativeTrustAnchors: ['other.example'] },
      anchors: ROOT_ANCHORS,
    });
    assert.deepEqual(r.applied, ['logLevel=debug', 'upstream', 'negativeTrustAnchors']);
    assert.deepEqual(state(), { level: 'debug', upstreams: ['127.0.0.1:10'], ntas: ['other.example/config'] });
  });
});
