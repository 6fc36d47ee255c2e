// Debugging aid for scenario authors: prints the upstream's answer to one question as a scenario
// builds it (mutations applied), and what the validator then says.
//   node dist/test/replay/dump.js test/replay/scenarios/FILE.yaml [NAME TYPE]
import { formatRR } from '../../src/wire/presentation';
import { describeVerdict } from '../../src/dnssec/verdict';
import { loadScenario } from './scenario';
import { answerFor, runScenario } from './run';

async function main(): Promise<void> {
  const [file, name, type] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: dump SCENARIO [NAME TYPE]');
  const s = loadScenario(file);
  const m = answerFor(s, name ?? s.query.name, type ?? String(s.query.type), name === undefined);
  const rc = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][m.rcode] ?? m.rcode;
  console.log(`;; rcode ${rc}\n;; ANSWER\n${m.answers.map(formatRR).join('\n')}\n;; AUTHORITY\n${m.authorities.map(formatRR).join('\n')}`);
  if (name === undefined) {
    const o = await runScenario(s);
    console.log(`;; ${describeVerdict(o.result.verdict)}\n;; queries: ${o.queries.join(', ')}\n;; verifications: ${o.verifications}`);
  }
}

void main();
