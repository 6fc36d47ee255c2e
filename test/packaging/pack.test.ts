// The package as a user gets it: `npm pack` from a fresh clone builds itself (prepack), ships what
// runs and nothing else (no tests, no source maps), and `npm install -g` of the tarball gives working
// `oedns` and `autosp` commands without the registry (dependencies are bundled, offline cache only).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '../../..');

describe('packaging: npm pack from a fresh clone, npm install -g of the tarball', function () {
  this.timeout(300_000);
  let dir = '';
  let tarball = '';
  let files: string[] = [];
  before(function () {
    if (process.env.OEDNS_SKIP_INTEGRATION === '1') return this.skip();
    if (spawnSync('git', ['-C', REPO, 'rev-parse', 'HEAD']).status !== 0) return this.skip();
    dir = mkdtempSync(join(tmpdir(), 'oedns-pack-'));
    const clone = join(dir, 'clone');
    const c = spawnSync('git', ['clone', '-q', REPO, clone], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    // Offline: the build tools come from the npm cache `npm ci` filled, never from the network.
    const p = spawnSync('npm', ['pack', '--offline', '--silent', '--pack-destination', dir], {
      cwd: clone,
      encoding: 'utf8',
      env: { ...process.env, npm_config_offline: 'true' },
    });
    assert.equal(p.status, 0, p.stdout + p.stderr);
    tarball = join(dir, p.stdout.trim().split('\n').pop()!);
    files = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n');
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('ships the built commands, the unit, the install step and the docs; no tests, no maps, no TypeScript sources', () => {
    for (const f of [
      'package/dist/src/cli/oedns.js',
      'package/dist/src/cli/autosp.js',
      'package/packaging/oedns.service',
      'package/packaging/oedns.yaml',
      'package/scripts/install.sh',
      'package/docs/laptop.md',
      'package/README.md',
      'package/package.json',
    ]) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    // Ours only: the bundled dependencies (package/node_modules) ship as their authors packed them.
    const ours = files.filter((f) => !f.startsWith('package/node_modules/'));
    assert.deepEqual(
      ours.filter(
        (f) =>
          /^package\/(test|bench|examples|src)\//.test(f) || f.startsWith('package/dist/test') || f.endsWith('.map') || f.endsWith('.ts'),
      ),
      [],
    );
    const bundled = [...new Set(files.filter((f) => f.startsWith('package/node_modules/')).map((f) => f.split('/')[2]))];
    assert.ok(
      ['commander', 'node-forge', 'pino', 'yaml'].every((d) => bundled.includes(d)),
      `bundled: ${bundled.join(' ')}`,
    );
    assert.ok(
      !bundled.includes('typescript') && !bundled.includes('mocha') && !bundled.includes('dns-packet'),
      'no dev dependency bundled',
    );
    const pkg = JSON.parse(spawnSync('tar', ['xzfO', tarball, 'package/package.json'], { encoding: 'utf8' }).stdout);
    assert.equal(pkg.dependencies.dns2, undefined, 'dns2 is not a dependency (unused)');
    assert.equal(pkg.dependencies['dns-packet'], undefined, 'dns-packet is for tests only');
    assert.equal(pkg.scripts.pretest, undefined, 'npm test runs no apt');
  });

  it('installs globally without the registry and gives working oedns and autosp', () => {
    const prefix = join(dir, 'prefix');
    const cache = join(dir, 'empty-cache');
    const i = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--cache', cache, '--no-audit', '--no-fund', tarball], {
      encoding: 'utf8',
    });
    assert.equal(i.status, 0, i.stdout + i.stderr);
    const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
    const oedns = join(prefix, 'bin', 'oedns');
    const autosp = join(prefix, 'bin', 'autosp');
    assert.equal(spawnSync(oedns, ['--version'], { encoding: 'utf8' }).stdout.trim(), version);
    assert.equal(spawnSync(autosp, ['--version'], { encoding: 'utf8' }).stdout.trim(), version);
    const check = spawnSync(oedns, ['serve', '--config', 'none', '--upstream', '192.0.2.53', '--check-config'], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /^configuration OK/);
    const lookup = spawnSync(
      autosp,
      ['list', '--no-daemon', '--config', 'none', '--state', join(dir, 'none.json'), '--engine', 'dry-run', '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(lookup.status, 0, lookup.stderr);
    const unit = spawnSync(oedns, ['install', '--help'], { encoding: 'utf8' });
    assert.match(unit.stdout, /make oedns this machine's resolver service/);
  });
});
