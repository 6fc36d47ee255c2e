// The replay tier: every scenario file in test/replay/scenarios/ is one test, named after the behaviour
// it pins. Zones, keys, the upstream's answers and the clock come from the file; the validator is the
// real one. Runs in milliseconds, without named (format: docs/replay.md).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario, type Scenario } from './scenario';
import { checkOutcome, runScenario } from './run';

// Scenarios live in the source tree (the YAML is not compiled): dist/test/replay -> test/replay.
const DIR = join(__dirname, '..', '..', '..', 'test', 'replay', 'scenarios');
const runOpen = process.env.REPLAY_OPEN === '1';

const scenarios: Scenario[] = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => loadScenario(join(DIR, f)));

describe('replay scenarios (validator, no network)', () => {
  const pending: string[] = [];
  after(() => {
    if (pending.length)
      console.log(
        `    note: ${pending.length} scenarios expect validated RRsets (result.rrsets), which the validator does not return yet: ${pending.join(', ')}`,
      );
  });

  for (const s of scenarios) {
    const title = `${s.behaviour} [${s.id}]`;
    if (s.open && !runOpen) {
      // ATTACK-OPEN: a scenario with an `open:` field fails on today's code; the field says what the
      // validator gets wrong. REPLAY_OPEN=1 runs them all; drop the field when the fix lands.
      it.skip(`${title} (open: ${s.open})`);
      continue;
    }
    it(title, async () => {
      const outcome = await runScenario(s);
      checkOutcome(s, outcome);
      if (s.expect.rrsets && outcome.rrsetsPending) pending.push(s.id);
    });
  }
});
