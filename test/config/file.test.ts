// The one config file: where it is looked for, its keys (serve's and autosp's section), the IKE
// settings, the upstream file, and `oedns serve --check-config`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configPath, DEFAULT_CONFIG_PATH, parseConfigText, readConfigFile, SERVE_KEYS } from '../../src/config/file';
import { autospDefaults, autospIpsec } from '../../src/config/autosp';
import { duration, IPSEC_DEFAULTS, resolveServeConfig } from '../../src/config/serve';
import { ConfigError } from '../../src/util/errors';
import { writeAutospState } from '../../src/autosp';

const code = (c: string) => (e: unknown) => e instanceof ConfigError && e.code === c;
const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');
const AUTOSP = resolve(__dirname, '../../src/cli/autosp.js');
const dir = mkdtempSync(join(tmpdir(), 'oedns-cfg-'));

describe('config/file', () => {
  it('refuses a static upstream that is oedns itself (it would forward to itself), in any spelling', () => {
    for (const up of ['127.0.0.1:53', '[::ffff:127.0.0.1]:53', '0.0.0.0:53']) {
      assert.throws(() => resolveServeConfig({ upstream: [up] }, {}), code('upstream-is-self'), up);
    }
    assert.equal(resolveServeConfig({ upstream: ['127.0.0.53'] }, {}).upstream[0]!.host, '127.0.0.53');
    const f = join(dir, 'self.yaml');
    writeFileSync(f, 'listen: [127.0.0.1:47002]\nupstream: ["[::ffff:127.0.0.1]:47002"]\n');
    const r = spawnSync(process.execPath, [OEDNS, 'serve', '--config', f, '--check-config'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /upstream-is-self/);
  });

  it('checks negative trust anchors as the daemon does: no label over 63 bytes, no empty label, not the root', () => {
    const up = { upstream: ['192.0.2.53'] };
    assert.deepEqual(resolveServeConfig({ ...up, negativeTrustAnchors: ['Broken.Example.', 'x.test'] }, {}).negativeTrustAnchors, [
      'broken.example',
      'x.test',
    ]);
    for (const bad of [`${'a'.repeat(64)}.example`, 'a..example', '.', '']) {
      assert.throws(() => resolveServeConfig({ ...up, negativeTrustAnchors: [bad] }, {}), code('config-type'), bad);
    }
  });

  it('reads /etc/oedns/oedns.yaml when nothing else is named, never a missing default; `none` means no file', () => {
    assert.equal(
      configPath(undefined, {}, (p) => p === DEFAULT_CONFIG_PATH),
      DEFAULT_CONFIG_PATH,
    );
    assert.equal(
      configPath(undefined, {}, () => false),
      undefined,
    );
    assert.equal(
      configPath('x.yaml', {}, () => false),
      'x.yaml',
    );
    assert.equal(
      configPath(undefined, { OEDNS_CONFIG: 'y.yaml' }, () => true),
      'y.yaml',
    );
    assert.equal(
      configPath('none', { OEDNS_CONFIG: 'y.yaml' }, () => true),
      undefined,
    );
  });

  it('has a key for every `oedns serve` option', () => {
    const help = spawnSync(process.execPath, [OEDNS, 'serve', '--help'], { encoding: 'utf8' }).stdout;
    const flags = [...help.matchAll(/--([a-z][a-z-]+)/g)]
      .map((m) => m[1]!)
      .filter((f) => !['config', 'check-config', 'help', 'nta'].includes(f));
    const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    for (const f of new Set(flags)) assert.ok((SERVE_KEYS as readonly string[]).includes(camel(f)), `--${f} has no config key`);
    assert.ok(SERVE_KEYS.includes('negativeTrustAnchors'), '--nta is negative-trust-anchors in the file');
  });

  it('takes kebab-case or camelCase, an autosp section, and names an unknown key', () => {
    const c = parseConfigText(
      'engine: strongswan\nupstream-file: /run/x\nautosp:\n  peers: /etc/oedns/peers.txt\n  daemon-check: 5\n',
      'f',
    );
    assert.equal(c.upstreamFile, '/run/x');
    assert.deepEqual(c.autosp, { peers: '/etc/oedns/peers.txt', daemonCheck: 5 });
    assert.throws(() => parseConfigText('autosp:\n  listen: x\n', 'f'), code('config-unknown-key'));
    assert.throws(() => parseConfigText('lisen: x\n', 'f'), code('config-unknown-key'));
    assert.throws(() => parseConfigText('autosp: 3\n', 'f'), code('config-shape'));
  });

  it('gives autosp the shared keys and its own section', () => {
    const d = autospDefaults(
      parseConfigText(
        'engine: strongswan\nidentity: a.example\nkey: /k\nautosp-state: /s\ncontrol: /c\ninitiate: yes\nupstream: [192.0.2.1]\nautosp:\n  timeout: 500\n',
        'f',
      ),
    );
    assert.deepEqual(d, {
      engine: 'strongswan',
      identity: 'a.example',
      key: '/k',
      state: '/s',
      control: '/c',
      initiate: true,
      server: '192.0.2.1',
      timeout: '500',
    });
    assert.deepEqual(autospIpsec({}), {
      ...IPSEC_DEFAULTS,
      ikeProposals: [...IPSEC_DEFAULTS.ikeProposals],
      espProposals: [...IPSEC_DEFAULTS.espProposals],
    });
  });

  it('`autosp` takes its state file, engine and control socket from the same file', () => {
    const state = join(dir, 'autosp.json');
    writeAutospState(state, { names: ['peer.example'], peers: [] });
    const cfg = join(dir, 'shared.yaml');
    writeFileSync(cfg, `engine: dry-run\nautosp-state: ${state}\ncontrol: ${join(dir, 'no-daemon.sock')}\nautosp:\n  timeout: 500\n`);
    const list = (args: string[]) => spawnSync(process.execPath, [AUTOSP, 'list', '--no-daemon', '--json', ...args], { encoding: 'utf8' });
    const r = list(['--config', cfg]);
    assert.equal(r.status, 1, r.stderr); // exit 1: a peer is not installed yet
    assert.deepEqual(
      JSON.parse(r.stdout).peers.map((p: { name: string; result: string }) => [p.name, p.result]),
      [['peer.example', 'pending']],
    );
    const other = list(['--config', cfg, '--state', join(dir, 'other.json')]);
    assert.deepEqual(JSON.parse(other.stdout).peers, [], 'the command line wins over the file');
  });

  it('checks the IKE settings: proposals, mode, lifetimes as durations', () => {
    const up = { upstream: ['192.0.2.1'] };
    const c = resolveServeConfig(
      { ikeProposals: ['aes128-sha256-x25519'], ipsecMode: 'transport', ikeLifetime: '2h' },
      { ...up, childLifetime: 1800 },
    );
    assert.deepEqual(c.engineConfig.ipsec, {
      ikeProposals: ['aes128-sha256-x25519'],
      espProposals: IPSEC_DEFAULTS.espProposals,
      mode: 'transport',
      ikeLifetime: 7200,
      childLifetime: 1800,
    });
    assert.ok(
      IPSEC_DEFAULTS.espProposals.every((p) => /x25519|modp|ecp/.test(p)),
      'ESP defaults carry a DH group (PFS)',
    );
    assert.throws(() => resolveServeConfig({ ipsecMode: 'beet' }, up), code('config-type'));
    assert.throws(() => resolveServeConfig({ espProposals: ['aes128;rm -rf'] }, up), code('config-type'));
    assert.throws(() => resolveServeConfig({ ikeLifetime: '10s' }, up), code('config-type'));
    assert.equal(duration('1d', 'x', 0, 10 ** 6), 86400);
    assert.equal(duration(90, 'x', 0, 10 ** 6), 90);
  });

  it('takes upstreams from an upstream file, leaving out our own address; static upstreams win', () => {
    const listen = ['127.0.0.1:53'];
    const c = resolveServeConfig(
      { upstreamFile: '/run/nm.conf' },
      { listen },
      { readFile: () => 'nameserver 127.0.0.1\nnameserver 192.0.2.9\n' },
    );
    assert.deepEqual(
      c.upstream.map((e) => e.host),
      ['192.0.2.9'],
    );
    assert.equal(c.upstreamFile, '/run/nm.conf');
    const missing = resolveServeConfig(
      { upstreamFile: '/run/none.conf' },
      { listen },
      {
        readFile: () => {
          throw new Error('ENOENT');
        },
      },
    );
    assert.deepEqual(missing.upstream, [], 'a missing file is not an error: the network manager writes it later');
    const both = resolveServeConfig(
      { upstreamFile: '/run/nm.conf' },
      { listen, upstream: ['192.0.2.1'] },
      { readFile: () => 'nameserver 192.0.2.9\n' },
    );
    assert.equal(both.upstreamFile, undefined);
  });

  it('`oedns serve --check-config` exits 0 with a summary, 2 naming the bad key', () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'listen: [127.0.0.1:5353]\nupstream: [192.0.2.1]\nlog-format: pretty\n');
    let r = spawnSync(process.execPath, [OEDNS, 'serve', '--config', good, '--check-config'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^configuration OK \(.*good\.yaml\): listen 127\.0\.0\.1:5353, upstreams 192\.0\.2\.1:53, engine dry-run/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'upstream: [192.0.2.1]\nengine: strongswan\nkey: /nonexistent/host.key.pem\n');
    r = spawnSync(process.execPath, [OEDNS, 'serve', '--config', bad, '--check-config'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^oedns key-unreadable: /);
    writeFileSync(bad, 'upstream: [192.0.2.1]\ncache-size: lots\n');
    r = spawnSync(process.execPath, [OEDNS, 'serve', '--config', bad, '--check-config'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cacheSize/);
    assert.ok(readConfigFile(good).listen);
  });
});
