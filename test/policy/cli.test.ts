import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// dist/test/policy → project root
const ROOT = resolve(__dirname, '../../..');
const CLI = join(ROOT, 'dist/src/cli/oedns.js');

function oedns(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('oedns policy (CLI)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-policy-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const example of ['examples/policy.yaml', 'examples/policy.json']) {
    it(`check accepts ${example}`, () => {
      const r = oedns('policy', 'check', example);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^OK ${example.replace('.', '\\.')}: default `));
      assert.match(r.stdout, /rule\(s\)/);
    });
  }

  it('check --json reports the summary and warnings', () => {
    const r = oedns('policy', 'check', '--json', 'examples/policy.json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.default, 'private');
    assert.equal(j.fallback.anyKey, true);
    assert.ok(j.warnings.some((w: string) => /any-key/.test(w)));
  });

  it('check exits 2 with the code, line and field of the error', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'default: private\nrules:\n  - { zone: example.org, level: clear }\n  - { address: 10.0.0.1/8, level: block }\n');
    const r = oedns('policy', 'check', f);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /POLICY_BAD_CIDR/);
    assert.match(r.stderr, /line 4/);
    assert.match(r.stderr, /rules\[1\]\.address/);
    assert.equal(r.stdout, '');
  });

  it('check exits 2 on a missing file', () => {
    const r = oedns('policy', 'check', join(dir, 'nope.yaml'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /POLICY_READ/);
  });

  it('explain prints the level, the rule and why', () => {
    const r = oedns('policy', 'explain', 'www.corp.example', '--policy', 'examples/policy.yaml');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^level: +private /m);
    assert.match(r.stdout, /^rule: +name \*\.corp\.example, rules\[2\] at line \d+/m);
    assert.match(r.stdout, /^why: +most specific wildcard rule/m);
  });

  it('explain --json with an address shows the address rule overriding the name', () => {
    const r = oedns('policy', 'explain', 'updates.vendor.example', '192.0.2.3', '--policy', 'examples/policy.json', '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.level, 'block');
    assert.equal(j.rule.kind, 'address');
    assert.equal(j.nameMatch.level, 'clear');
    assert.equal(j.addressMatches[0].rule.selects, 'address 192.0.2.0/24');
    assert.match(j.why, /stricter/);
  });

  it('explain without --policy uses the built-in default', () => {
    const r = oedns('policy', 'explain', 'anything.example', '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.level, 'private-or-clear');
    assert.equal(j.rule, null);
  });

  it('explain exits 2 on an address that is not one', () => {
    const r = oedns('policy', 'explain', 'a.example', '10.0.0', '--policy', 'examples/policy.yaml');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /BAD_ADDRESS/);
  });
});
