// The layering rules of eslint.config.mjs (docs/CONTRIBUTING.md's module map) hold against the ways an
// import can name a refused folder without starting with '../<folder>': found by an adversarial
// review, './../peers/registry', '../policy/../peers/registry', '../../src/peers/registry' and a
// dynamic import() all passed. Linted as text standing in for a real file of the folder.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const ROOT = join(__dirname, '..', '..', '..');

async function problems(file: string, code: string): Promise<string[]> {
  const [r] = await new ESLint({ cwd: ROOT }).lintText(code, { filePath: join(ROOT, file) });
  return r!.messages.map((m) => `${m.ruleId}`);
}

describe('lint: layering', function () {
  this.timeout(120_000);

  it('refuses src/peers/registry from src/policy however the path is spelled', async () => {
    for (const spec of ['../peers/registry', './../peers/registry', '../policy/../peers/registry', '../../src/peers/registry']) {
      const got = await problems(
        'src/policy/decide-input.ts',
        `import type { PeerRegistry } from '${spec}';\nexport type X = PeerRegistry;\n`,
      );
      assert.ok(got.includes('no-restricted-imports'), `${spec}: ${got.join(', ')}`);
    }
  });

  it('refuses a dynamic import() of a folder below (src/policy reaching src/ike-bridge)', async () => {
    const got = await problems(
      'src/policy/decide-input.ts',
      "export async function y(): Promise<unknown> {\n  return import('../ike-bridge/vici-codec');\n}\n",
    );
    assert.ok(got.includes('no-restricted-syntax'), got.join(', '));
  });

  it('refuses the peer model reaching past src/wire into src/peers', async () => {
    const got = await problems(
      'src/peers/material.ts',
      "import type { PeerRegistry } from '../wire/../peers/registry';\nexport type X = PeerRegistry;\n",
    );
    assert.ok(got.includes('no-restricted-imports'), got.join(', '));
  });

  it('lets an allowed import through (src/policy reading the peer model)', async () => {
    const got = await problems('src/policy/decide-input.ts', "import type { Peer } from '../peers/model';\nexport type X = Peer;\n");
    assert.deepEqual(
      got.filter((r) => r === 'no-restricted-imports' || r === 'no-restricted-syntax'),
      [],
    );
  });
});
