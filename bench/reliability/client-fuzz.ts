// Scenario 1, client fuzz: hostile datagrams and broken TCP streams against the real `oedns serve`
// (dry-run engine) forwarding to a real named, while a prober asks names with known answers over
// UDP and TCP. Holds: the daemon lives; no probe ever gets a wrong address; probes are answered
// during the attack and all of them after it; a response sent to the daemon is never answered (no
// reflection); RSS stays under its bound; CPU returns to idle; no error lines in the log.
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeHeader } from '../../src/wire/message';
import { Daemon } from './daemon';
import { checkAll, percentile, Prober } from './dns-client';
import { DATAGRAM_KINDS, type DatagramKind, HostileStream } from './hostile-bytes';
import { Rng } from '../../test/support/rng';
import { runStream, STREAM_KINDS, type StreamKind, type StreamResult } from './hostile-tcp';
import { cpuShare, udpDrops } from './proc';
import { mib, ms, Reporter, type ScenarioReport, sleep } from './report';
import { startHostZone } from './zone';
import { rsa4096KeyBase64 } from '../../test/resolver/helpers';

export interface ClientFuzzOptions {
  /** Hostile datagrams the daemon must read (the kernel's drops in front of it do not count). */
  datagrams: number;
  /** Datagrams per second offered (the daemon may read fewer; the kernel's drops are counted). */
  rate: number;
  streams: number;
  /** TCP streams at once (kept well under the daemon's 256-connection bound). */
  streamWidth: number;
  /** How long stalled and non-reading clients hold on (ms). */
  holdMs: number;
  /** Queries each non-reading client writes without reading an answer. */
  unreadQueries: number;
  seed: number;
  /** Bound on resident memory during the whole run (MiB). */
  rssBoundMiB: number;
  /** Client TCP idle timeout given to the daemon (ms). */
  tcpIdleMs: number;
  /** Window over which the daemon's CPU must be back to idle after the attack (ms). */
  idleWindowMs: number;
  log?: (s: string) => void;
}

export const FUZZ_LONG: ClientFuzzOptions = {
  datagrams: 1_000_000,
  rate: 12_000,
  streams: 2_500,
  streamWidth: 64,
  holdMs: 12_000,
  unreadQueries: 3_000,
  seed: 1,
  rssBoundMiB: 300,
  tcpIdleMs: 10_000,
  idleWindowMs: 3_000,
};
export const FUZZ_SHORT: ClientFuzzOptions = {
  datagrams: 6_000,
  rate: 10_000,
  streams: 120,
  streamWidth: 60,
  holdMs: 2_000,
  unreadQueries: 3_000,
  seed: 1,
  rssBoundMiB: 300,
  tcpIdleMs: 3_000,
  idleWindowMs: 2_000,
};

export async function runClientFuzz(o: ClientFuzzOptions): Promise<ScenarioReport> {
  const say = o.log ?? (() => undefined);
  const rep = new Reporter('client fuzz');
  const dir = mkdtempSync(join(tmpdir(), 'oedns-rel-fuzz-'));
  // `big`: three 4096-bit RSA IPSECKEYs, an answer of ~3.6 KiB with its RRSIG: what non-reading
  // clients ask for.
  const big = [10, 20, 30].map((p) => `big 3600 IN IPSECKEY ${p} 1 2 192.0.2.${p} ${rsa4096KeyBase64()}`);
  const zone = await startHostZone({
    apex: 'fz.test',
    count: 40,
    ttl: 3600,
    extra: ['clear 3600 IN A 192.0.2.99', 'big 3600 IN A 192.0.2.98', ...big],
  });
  let d: Daemon | undefined;
  try {
    d = await Daemon.start({
      control: join(dir, 'control.sock'),
      args: [
        '--upstream',
        zone.named.endpoint,
        '--trust-anchor',
        zone.anchorFile,
        '--autosp-state',
        'none',
        '--tcp-idle-ms',
        String(o.tcpIdleMs),
      ],
    });
    const targets = zone.hosts.map((x) => ({ name: x.name, address: x.address }));
    const names = [...zone.hosts.map((x) => x.name), 'clear.fz.test', 'fz.test', 'test'];
    const warm = await checkAll(d.port, targets);
    rep.check('probe names answer right before the attack', warm.right === targets.length, `${warm.right}/${targets.length}`, 'all');
    await sleep(1000);
    const idleRss = d.rssMiB();
    rep.fig('RSS before', mib(idleRss));
    // RSS counts garbage V8 has not collected yet and pages it keeps; the heap after a full GC is
    // what the daemon really holds.
    const held: string[] = [];
    const hold = async (when: string): Promise<void> => {
      const x = await d!.sample(true).catch(() => null);
      if (x)
        held.push(`${when}: heap ${mib(x.heapUsedMiB)} of ${mib(x.heapTotalMiB)}, external ${mib(x.externalMiB)}, RSS ${mib(x.rssMiB)}`);
    };
    await hold('before');

    let peakRss = idleRss;
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, d!.rssMiB() || 0)), 250);
    // Probes behave like a stub resolver: 1.5 s, then one retry.
    const prober = new Prober(d.port, targets, { perSecond: 20, tcpEvery: 4, timeoutMs: 1500, tries: 2 }).start();

    // ---- datagrams ---------------------------------------------------------------------------
    const stream = new HostileStream(o.seed, names);
    const byKind = Object.fromEntries(DATAGRAM_KINDS.map((k) => [k, 0])) as Record<DatagramKind, number>;
    const senders: Socket[] = [];
    let replies = 0;
    let badReplies = 0;
    let reflected = 0;
    for (let i = 0; i < 5; i++) {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      const reflector = i === 4; // sends only responses (QR=1): any reply to it is a reflection
      s.on('message', (m) => {
        if (reflector) return void reflected++;
        replies++;
        try {
          if (!decodeHeader(m).qr) badReplies++;
        } catch {
          badReplies++;
        }
      });
      s.on('error', () => undefined);
      senders.push(s);
    }
    const drops0 = udpDrops(d.pid, d.port);
    const cpu0 = d.cpuSeconds();
    const t0 = Date.now();
    let sent = 0;
    let nextReport = 100_000;
    // Paced by the kernel's verdict: the offered rate backs off when the daemon's socket buffer
    // overflows and creeps back up when it does not, so the daemon runs saturated and the datagrams
    // are read by it rather than dropped in front of it.
    let rate = o.rate;
    let minRate = o.rate;
    let budget = 0;
    let lastTick = Date.now();
    let lastAdjust = Date.now();
    let dropsSeen = drops0;
    let read = 0;
    while (read < o.datagrams && d.running) {
      const now = Date.now();
      budget += ((now - lastTick) / 1000) * rate;
      lastTick = now;
      if (now - lastAdjust >= 200) {
        const dd = udpDrops(d.pid, d.port);
        rate = dd > dropsSeen ? Math.max(200, rate * 0.7) : Math.min(o.rate, rate + o.rate / 100);
        minRate = Math.min(minRate, rate);
        dropsSeen = dd;
        lastAdjust = now;
        read = sent - (dd - drops0);
      }
      // Small bursts, often: a burst of a hundred datagrams arrives in well under a millisecond and
      // would overflow the socket buffer whatever the daemon's speed.
      for (let n = 0; n < 4 && budget >= 1 && sent - (dropsSeen - drops0) < o.datagrams; budget--, n++) {
        const { kind, bytes } = stream.next();
        byKind[kind]++;
        const s = kind === 'response' ? senders[4]! : senders[sent % 4]!;
        // Datagrams over the loopback limit (65,507) are not sendable at all.
        s.send(bytes.length > 65_000 ? bytes.subarray(0, 65_000) : bytes, d.port, '127.0.0.1');
        sent++;
      }
      if (sent >= nextReport) {
        say(`    ${sent} datagrams, ${Math.round(sent / ((Date.now() - t0) / 1000))}/s, RSS ${mib(d.rssMiB())}`);
        nextReport += 100_000;
      }
      if (budget >= 1) await new Promise((r) => setImmediate(r));
      else await sleep(1);
    }
    const udpSeconds = (Date.now() - t0) / 1000;
    const udpCpu = (d.cpuSeconds() - cpu0) / udpSeconds;
    await sleep(1500); // answers still on their way
    const udpPeak = Math.max(peakRss, d.rssMiB() || 0);
    await hold('after the datagrams');
    const drops = udpDrops(d.pid, d.port) - drops0;
    for (const s of senders) s.close();
    rep.fig('datagrams sent', sent);
    rep.check('hostile datagrams read by the daemon', sent - drops >= o.datagrams, sent - drops, `>= ${o.datagrams}`);
    rep.fig(
      'datagrams by kind',
      Object.entries(byKind)
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
    );
    rep.fig(
      'datagram rate',
      `${Math.round(sent / udpSeconds)}/s over ${udpSeconds.toFixed(1)} s (paced between ${Math.round(minRate)} and ${o.rate}/s by the kernel's drops)`,
    );
    rep.fig(
      'dropped by the kernel in front of the daemon (socket buffer full)',
      `${drops} (${((drops / Math.max(1, sent)) * 100).toFixed(2)} %)`,
    );
    rep.fig('daemon CPU during the datagrams', `${(udpCpu * 100).toFixed(0)} % of a core`);
    rep.fig('replies', replies);
    rep.check('every reply is a DNS response (QR=1)', badReplies === 0, badReplies, '0 malformed or QR=0');
    rep.check(
      'responses sent to the daemon are never answered (no reflection)',
      reflected === 0,
      `${reflected} of ${byKind.response}`,
      '0',
    );

    // ---- TCP streams -------------------------------------------------------------------------
    const rng = new Rng(o.seed + 1);
    const results: StreamResult[] = [];
    let nextStream = 0;
    const ts0 = Date.now();
    let tcpPeak = 0;
    const tcpRss = setInterval(() => (tcpPeak = Math.max(tcpPeak, d!.rssMiB() || 0)), 250);
    const worker = async (): Promise<void> => {
      while (nextStream < o.streams && d!.running) {
        const kind: StreamKind = STREAM_KINDS[nextStream++ % STREAM_KINDS.length]!;
        results.push(
          await runStream(kind, {
            port: d!.port,
            rng,
            names: zone.hosts.map((x) => x.name),
            holdMs: o.holdMs,
            unreadQueries: o.unreadQueries,
            bigName: 'big.fz.test',
            stallMs: o.tcpIdleMs + 5000,
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: o.streamWidth }, worker));
    const tcpSeconds = (Date.now() - ts0) / 1000;
    clearInterval(tcpRss);
    rep.fig('TCP streams', `${results.length} in ${tcpSeconds.toFixed(1)} s`);
    const per = (k: StreamKind): StreamResult[] => results.filter((x) => x.kind === k);
    rep.fig('TCP streams by kind', STREAM_KINDS.map((k) => `${k} ${per(k).length}`).join(', '));
    const shortOnes = results.filter((x) => x.expected > 0);
    const fullyAnswered = shortOnes.filter((x) => x.answers >= x.expected).length;
    const short = shortOnes.filter((x) => x.answers < x.expected);
    rep.check(
      'pipelined, half-closed and trickled streams get every answer',
      fullyAnswered === shortOnes.length,
      `${fullyAnswered}/${shortOnes.length}${
        short.length
          ? ` (short: ${STREAM_KINDS.map((k) => [k, short.filter((x) => x.kind === k).length] as const)
              .filter(([, n]) => n)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')}; e.g. ${short
              .slice(0, 3)
              .map(
                (x) =>
                  `${x.kind} ${x.answers}/${x.expected} answers, ${x.closedByServer ? 'closed by the daemon' : 'ended by the client'} after ${x.ms} ms`,
              )
              .join('; ')})`
          : ''
      }`,
      'all',
    );
    rep.check(
      'no malformed frame from the daemon',
      results.every((x) => x.malformed === 0),
      results.reduce((a, x) => a + x.malformed, 0),
      '0',
    );
    const stalled = per('stalled-frame');
    const stalledClosed = stalled.filter((x) => x.closedByServer).length;
    rep.check(
      'a stalled half-frame is closed by the idle timeout',
      stalledClosed === stalled.length,
      `${stalledClosed}/${stalled.length}`,
      `all, within the idle timeout (${o.tcpIdleMs} ms) + 5 s`,
    );
    const slow = per('slowloris');
    rep.fig(
      'slowloris clients (a byte every ~' + Math.round(o.holdMs / 80) + ' ms) closed by the daemon',
      `${slow.filter((x) => x.closedByServer).length}/${slow.length}`,
    );
    await hold('after the TCP streams');
    rep.fig('RSS peak during the datagrams', mib(udpPeak));
    rep.fig('memory held after a full GC', held.join('; '));
    rep.fig(
      'RSS peak during the TCP streams',
      `${mib(tcpPeak)} (${per('non-reading').length} clients each wrote ${o.unreadQueries} queries and read nothing)`,
    );

    const score = await prober.stop();
    clearInterval(rssTimer);
    peakRss = Math.max(peakRss, d.rssMiB() || 0);
    rep.fig(
      'probes during the attack (UDP and every 4th over TCP, 1.5 s and one retry)',
      `${score.sent} sent, ${score.right} right, ${score.failed} failed, ${score.unanswered} unanswered, ${score.wrong} wrong; over TCP ${score.tcpRight}/${score.tcpSent} right`,
    );
    rep.fig('probe latency during (p50 / p99)', `${ms(percentile(score.ms, 50))} / ${ms(percentile(score.ms, 99))}`);
    rep.check('no probe ever got a wrong address', score.wrong === 0, score.wrong, '0');
    const share = score.right / Math.max(1, score.sent);
    rep.check('probes answered right during the attack', share >= 0.95, `${(share * 100).toFixed(1)} %`, '>= 95 %');
    rep.check('TCP probes answered right during the attack', score.tcpRight === score.tcpSent, `${score.tcpRight}/${score.tcpSent}`, 'all');
    rep.check('the daemon is alive', d.running, d.running ? 'yes' : 'no', 'yes');
    rep.check('RSS stays under the bound', peakRss <= o.rssBoundMiB, mib(peakRss), `<= ${o.rssBoundMiB} MiB`);

    // ---- after ----------------------------------------------------------------------------------
    const after = await checkAll(d.port, targets);
    rep.check('every probe name answers right after the attack', after.right === targets.length, `${after.right}/${targets.length}`, 'all');
    // Connections end by the idle timeout; then the process must be idle.
    await sleep(o.tcpIdleMs + 1000);
    const cpu = await cpuShare(d.pid, o.idleWindowMs);
    rep.check(
      `CPU back to idle after the attack (${o.idleWindowMs / 1000} s window)`,
      cpu <= 0.02,
      `${(cpu * 100).toFixed(2)} % of a core`,
      '<= 2 %',
    );
    rep.fig('RSS after', mib(d.rssMiB()));
    const s = await d.status();
    rep.fig(
      'daemon counters',
      `queries ${s.counters.queries}, formerr ${s.counters.formerr}, servfail ${s.counters.servfail}, cache hits ${s.counters.cacheHits}`,
    );
    rep.check(
      'no error lines in the daemon log',
      (d.log.byLevel.error ?? 0) === 0,
      `${d.log.byLevel.error ?? 0}${d.log.errors[0] ? `: ${d.log.errors[0].slice(0, 200)}` : ''}`,
      '0',
    );
    rep.fig(
      'warn lines',
      Object.entries(d.log.warnMsgs)
        .map(([m, n]) => `${m} x${n}`)
        .join('; ') || 'none',
    );
    const code = await d.stop();
    rep.check('stops cleanly on SIGTERM afterwards', code === 0, String(code), '0');
  } finally {
    await d?.kill();
    await zone.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rep.done();
}
