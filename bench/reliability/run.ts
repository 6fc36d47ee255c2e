// `npm run reliability`: the reliability suite, long form, runnable by hand (root, for the IKE lab).
// Prints every scenario's figures and checks, writes them as JSON, and draws the soak's RSS and
// latency curve as an SVG. The short form of the same scenarios runs inside `npm test`
// (test/reliability/reliability.test.ts).
//
//   npm run reliability                       all four scenarios, 2-minute soak
//   npm run reliability -- --soak 3600        the hour-long soak (and the rest)
//   npm run reliability -- --only fuzz,soak   some of: fuzz, upstream, ike, soak
//   npm run reliability -- --short            the CI sizes
//   --out FILE      results JSON (default $TMPDIR/oedns-reliability.json)
//   --svg FILE      soak plot (default docs/reliability-soak.svg; --no-svg to skip)
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FUZZ_LONG, FUZZ_SHORT, runClientFuzz } from './client-fuzz';
import { failures, formatReport, type ScenarioReport } from './report';
import { runUpstreamStorm, STORM_LONG, STORM_SHORT } from './upstream-storm';
import { IKE_LONG, IKE_SHORT, ikeFaultsUnavailable, runIkeFaults } from './ike-faults';
import { runSoak, SOAK_LONG, SOAK_SHORT } from './soak';

const args = process.argv.slice(2);
const opt = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const SHORT = args.includes('--short');
const ONLY = (opt('--only') ?? 'fuzz,upstream,ike,soak').split(',');
const OUT = opt('--out') ?? join(tmpdir(), 'oedns-reliability.json');
const log = (s: string): void => console.log(s);

async function main(): Promise<void> {
  const reports: ScenarioReport[] = [];
  const started = new Date().toISOString();
  log(
    `oedns reliability suite, ${started}: node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}`,
  );
  const record = (r: ScenarioReport): void => {
    reports.push(r);
    log(formatReport(r));
  };
  // A scenario that throws is a failed check, and the others still run.
  const guard = async (scenario: string, f: () => Promise<ScenarioReport>): Promise<void> => {
    try {
      record(await f());
    } catch (e) {
      record({
        scenario,
        seconds: 0,
        figures: {},
        notes: [],
        checks: [
          {
            what: 'the scenario runs to its end',
            ok: false,
            value: e instanceof Error ? (e.stack ?? e.message) : String(e),
            bound: 'no exception',
          },
        ],
      });
    }
  };
  if (ONLY.includes('fuzz')) {
    const o = { ...(SHORT ? FUZZ_SHORT : FUZZ_LONG), log };
    if (opt('--datagrams')) o.datagrams = Number(opt('--datagrams'));
    if (opt('--streams')) o.streams = Number(opt('--streams'));
    log(`client fuzz: ${o.datagrams} datagrams at ${o.rate}/s, ${o.streams} TCP streams`);
    await guard('client fuzz', () => runClientFuzz(o));
  }
  if (ONLY.includes('upstream')) {
    const o = { ...(SHORT ? STORM_SHORT : STORM_LONG), log };
    if (opt('--hosts')) o.hosts = Number(opt('--hosts'));
    log(`hostile upstream: ${o.hosts} names, ${o.share * 100} % of answers damaged`);
    await guard('hostile upstream', () => runUpstreamStorm(o));
  }
  if (ONLY.includes('ike')) {
    const why = ikeFaultsUnavailable();
    if (why) log(`IKE-side faults skipped: ${why}`);
    else {
      const o = { ...(SHORT ? IKE_SHORT : IKE_LONG), log };
      log(`IKE-side faults: batches of ${o.batch} names into a real charon`);
      await guard('IKE-side faults', () => runIkeFaults(o));
    }
  }
  if (ONLY.includes('soak')) {
    const o = {
      ...(SHORT ? SOAK_SHORT : SOAK_LONG),
      log,
      svg: args.includes('--no-svg') ? null : resolve(opt('--svg') ?? join(__dirname, '../../../docs/reliability-soak.svg')),
    };
    if (opt('--soak')) o.seconds = Number(opt('--soak'));
    if (o.seconds >= 600) o.sampleEvery = 15;
    log(`soak: ${o.seconds} s`);
    await guard('soak', () => runSoak(o));
  }
  writeFileSync(OUT, JSON.stringify({ started, finished: new Date().toISOString(), reports }, null, 1));
  const failed = reports.flatMap((r) => failures(r).map((c) => `${r.scenario}: ${c.what}`));
  const open = reports.flatMap((r) => r.checks.filter((c) => !c.ok && c.open).map((c) => `${r.scenario}: ${c.what}`));
  log(`\nresults: ${OUT}`);
  if (open.length) log(`open (known bugs, not fixed here):\n  ${open.join('\n  ')}`);
  log(failed.length ? `FAILED checks:\n  ${failed.join('\n  ')}` : 'all checks passed (open ones aside)');
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 2;
});
