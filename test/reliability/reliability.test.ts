// The reliability suite's short form (bench/reliability, `npm run reliability` is the long one):
// the real `oedns serve` against real named and charon under client fuzz, a hostile upstream, faults
// on the IKE side and a soak. Each scenario's checks carry their bounds; a failed check fails the
// test with the whole report. Checks marked open are known bugs whose fix belongs to code under
// change elsewhere (docs/RELIABILITY.md): they are printed, not failed. RELIABILITY_REPORT=1 prints
// every report. Sizes are cut to add well under a minute to npm test (about 40 s on 2 shared cores):
// the short hostile upstream flushes the cache once the path is honest instead of waiting out the
// 60 s bogus-cache lifetime, and the IKE side injects only the faults that take seconds; its
// recovery is watched in the background while the IKE scenario runs.
import assert from 'node:assert/strict';
import { FUZZ_SHORT, runClientFuzz } from '../../bench/reliability/client-fuzz';
import { IKE_SHORT, ikeFaultsUnavailable, runIkeFaults } from '../../bench/reliability/ike-faults';
import { failures, formatReport, type ScenarioReport } from '../../bench/reliability/report';
import { runSoak, SOAK_SHORT } from '../../bench/reliability/soak';
import { STORM_SHORT, UpstreamStorm } from '../../bench/reliability/upstream-storm';
import { namedAvailable } from '../support/named';
import { signingToolsAvailable } from '../support/zones';

function judge(r: ScenarioReport): void {
  if (process.env.RELIABILITY_REPORT === '1') console.log(formatReport(r));
  for (const c of r.checks.filter((x) => x.open && !x.ok)) console.log(`      open (known bug): ${c.what}: ${c.value}`);
  // A mark can go when every check carrying it passes (some pass anyway, e.g. before the bug can bite).
  const marks = new Set(r.checks.filter((x) => x.open).map((x) => x.open!));
  for (const m of marks)
    if (r.checks.filter((x) => x.open === m).every((x) => x.ok))
      console.log(`      open mark can go, its checks pass now: ${m.slice(0, 100)}`);
  const bad = failures(r);
  assert.equal(bad.length, 0, `${bad.map((c) => `${c.what}: ${c.value} (bound ${c.bound})`).join('\n')}\n\n${formatReport(r)}`);
}

describe('reliability suite, short form (real oedns serve, named, charon)', function () {
  this.timeout(120_000);
  let storm: UpstreamStorm | undefined;
  let recovery: Promise<ScenarioReport> | undefined;

  before(function () {
    if (process.env.OEDNS_SKIP_INTEGRATION === '1' || !namedAvailable() || !signingToolsAvailable().bind) {
      console.log('    skipping: needs named and the BIND signing tools');
      this.skip();
    }
  });

  after(async () => {
    // A failure midway must not leave the storm's daemon, proxy and named behind.
    if (recovery) await recovery.catch(() => undefined);
    else await storm?.close();
  });

  it('hostile upstream: no foreign key or address installed or answered, few upstream queries on repeats, bounded memory', async () => {
    storm = new UpstreamStorm(STORM_SHORT);
    await storm.storm();
    const partial = { ...storm.rep.r, checks: [...storm.rep.r.checks] };
    // The path is honest now: every name must come back, within the bogus-cache lifetime.
    recovery = storm.recover();
    judge(partial);
  });

  it("IKE-side faults: after charon -9 and a restart, oedns -9, swanctl --load-all, a full or read-only state directory, the engine holds the registry and the admin's config", async function () {
    const why = ikeFaultsUnavailable();
    if (why) {
      console.log(`    skipping: ${why}`);
      return this.skip();
    }
    judge(await runIkeFaults(IKE_SHORT));
  });

  it('hostile upstream: once the path is honest, every name answers right and is installed with its real key', async function () {
    if (!recovery) return this.skip();
    judge(await recovery);
  });

  it('client fuzz: hostile datagrams and broken TCP streams; known answers stay right, RSS bounded, CPU back to idle', async () => {
    judge(await runClientFuzz(FUZZ_SHORT));
  });

  it('soak: peers expiring and keys rolling under mixed traffic; heap, RSS, handles, timers, descriptors flat; no error or warn lines', async () => {
    judge(await runSoak(SOAK_SHORT));
  });
});
