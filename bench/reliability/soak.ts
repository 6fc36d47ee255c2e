// Scenario 4, soak: the real `oedns serve` (dry-run engine, autosp through the daemon) under mixed
// traffic for a set time while peers keep expiring (TTLs of 5 to 60 s) and keys keep rolling (the
// zone is re-signed with new IPSECKEYs for a share of its hosts). Sampled every few seconds: RSS,
// heap after a full GC, active handles and timers (through the probe), open descriptors, latency.
// Holds: after warm-up, heap, RSS, handles, timers and descriptors stay flat; no error line; every
// install carries a key and address the zone published, and a rolled key is the one installed once
// the old one's TTL has passed.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RRType } from '../../src/wire/types';
import { Daemon } from './daemon';
import { percentile, tcpQuery, UdpResolver } from './dns-client';
import { Rng } from '../../test/support/rng';
import type { RecordedInstall } from './probe';
import { mib, ms, Reporter, type ScenarioReport, sleep } from './report';
import { plotSvg } from './svg';
import { type HostZone, startHostZone } from './zone';

export interface SoakOptions {
  seconds: number;
  hosts: number;
  /** Client queries per second. */
  qps: number;
  /** Seconds between key rolls; each roll gives `rollShare` of the hosts new keys. */
  rollEvery: number;
  rollShare: number;
  sampleEvery: number;
  /**
   * Cache entries: small enough that the cache is full (and evicting) early in the run, so that its
   * filling is not mistaken for a leak.
   */
  cacheSize: number;
  /** Growth allowed between the second and the last quarter of the run (after warm-up). */
  heapGrowthMiB: number;
  rssGrowthMiB: number;
  handleGrowth: number;
  seed: number;
  /** Write the RSS/latency plot here (null: none). */
  svg: string | null;
  log?: (s: string) => void;
}

export const SOAK_LONG: SoakOptions = {
  seconds: 120,
  hosts: 400,
  qps: 300,
  rollEvery: 20,
  rollShare: 0.05,
  sampleEvery: 5,
  cacheSize: 2000,
  heapGrowthMiB: 8,
  rssGrowthMiB: 24,
  handleGrowth: 8,
  seed: 9,
  svg: null,
};
export const SOAK_SHORT: SoakOptions = {
  seconds: 10,
  hosts: 100,
  qps: 200,
  rollEvery: 5,
  rollShare: 0.05,
  sampleEvery: 1,
  cacheSize: 300,
  heapGrowthMiB: 8,
  rssGrowthMiB: 24,
  handleGrowth: 8,
  seed: 9,
  svg: null,
};

const TTLS = [5, 15, 60];

interface Sample {
  t: number;
  rss: number;
  heap: number;
  handles: number;
  timers: number;
  fds: number;
  peers: number;
  queries: number;
  p50: number;
  p99: number;
  lost: number;
}

/** Mean of the samples from fraction a to b of the post-warm-up run. */
function meanOf(xs: Sample[], key: keyof Sample, a: number, b: number): number {
  const part = xs.slice(Math.floor(xs.length * a), Math.max(Math.floor(xs.length * a) + 1, Math.floor(xs.length * b)));
  return part.reduce((s, x) => s + x[key], 0) / part.length;
}

export async function runSoak(o: SoakOptions): Promise<ScenarioReport> {
  const say = o.log ?? (() => undefined);
  const rep = new Reporter('soak');
  const rng = new Rng(o.seed);
  const dir = mkdtempSync(join(tmpdir(), 'oedns-rel-soak-'));
  chmodSync(dir, 0o755); // the daemon drops to nobody and must reach its autosp state below
  let zone: HostZone | undefined;
  let d: Daemon | undefined;
  try {
    zone = await startHostZone({
      apex: 'sk.test',
      count: o.hosts,
      ttl: 60,
      ttlFor: (i) => TTLS[i % TTLS.length],
      extra: ['www 300 IN A 192.0.2.80', 'nokey 30 IN A 192.0.2.81'],
    });
    const z = zone;
    writeFileSync(join(dir, 'policy.yaml'), 'default: private-or-clear\nmax-ttl: 600\n');
    d = await Daemon.start({
      control: join(dir, 'ctl', 'control.sock'), // its directory becomes 0700; the state's must stay reachable
      args: [
        '--upstream',
        z.named.endpoint,
        '--trust-anchor',
        z.anchorFile,
        '--policy',
        join(dir, 'policy.yaml'),
        '--autosp-state',
        join(dir, 'oedns', 'autosp.json'),
        '--cache-size',
        String(o.cacheSize),
      ],
    });
    const dd = d;
    rep.fig(
      'traffic',
      `${o.qps} queries/s for ${o.seconds} s: A of ${o.hosts} hosts with IPSECKEY (TTL ${TTLS.join('/')} s), AAAA, IPSECKEY, NXDOMAIN, TCP, and autosp add/remove through the daemon`,
    );
    rep.fig(
      'key rolls',
      `every ${o.rollEvery} s, ${Math.round(o.rollShare * 100)} % of the hosts get a new key (zone re-signed, named reloaded)`,
    );

    // ---- traffic ----------------------------------------------------------------------------------
    const udp = new UdpResolver(dd.port, 3000);
    let window: number[] = [];
    let lostInWindow = 0;
    let queries = 0;
    let wrong = 0;
    const inflight = new Set<Promise<void>>();
    const one = (): void => {
      const roll = rng.int(100);
      const host = z.hosts[rng.int(z.hosts.length)]!;
      let p: Promise<void>;
      const score = (a: { rcode: number; ms: number; a: Array<{ name: string; address: string }> }, expectAddr?: string): void => {
        queries++;
        if (a.rcode < 0) lostInWindow++;
        else window.push(a.ms);
        if (expectAddr && a.a.some((r) => r.address !== expectAddr)) wrong++;
      };
      if (roll < 70) p = udp.query(host.name).then((a) => score(a, host.address));
      else if (roll < 78) p = udp.query(host.name, RRType.AAAA).then((a) => score(a));
      else if (roll < 84) p = udp.query(host.name, RRType.IPSECKEY).then((a) => score(a));
      else if (roll < 90) p = udp.query(`n${rng.int(1e9)}.sk.test`).then((a) => score(a));
      else if (roll < 95) p = udp.query(rng.int(2) ? 'www.sk.test' : 'nokey.sk.test').then((a) => score(a));
      else p = tcpQuery(dd.port, host.name, RRType.A, 3000).then((a) => score(a, host.address));
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    };
    const t0 = Date.now();
    const end = t0 + o.seconds * 1000;
    let sent = 0;
    const traffic = (async () => {
      while (Date.now() < end && dd.running) {
        const due = Math.floor(((Date.now() - t0) / 1000) * o.qps);
        for (; sent < due; sent++) one();
        await sleep(5);
      }
    })();

    // ---- key rolls and autosp churn ----------------------------------------------------------------
    const rolled = new Map<string, number>(); // name -> time (ms) of its last roll
    let rolls = 0;
    const churn = (async () => {
      let nextRoll = t0 + o.rollEvery * 1000;
      let k = 0;
      while (Date.now() < end - 2000 && dd.running) {
        await sleep(1000);
        // autosp: add two hosts, remove the two added before (keeps autosp's timers and state busy).
        const add = [z.hosts[(2 * k) % z.hosts.length]!.name, z.hosts[(2 * k + 1) % z.hosts.length]!.name];
        await dd.control('peer-add', { names: add }).catch((e: Error) => rep.note(`autosp add failed: ${e.message}`));
        if (k > 0)
          await dd
            .control('peer-remove', { names: [z.hosts[(2 * k - 2) % z.hosts.length]!.name, z.hosts[(2 * k - 1) % z.hosts.length]!.name] })
            .catch(() => undefined);
        k++;
        if (Date.now() >= nextRoll) {
          const which = Array.from(
            { length: Math.max(1, Math.round(z.hosts.length * o.rollShare)) },
            () => z.hosts[rng.int(z.hosts.length)]!,
          );
          await z.roll(which);
          const at = Date.now();
          for (const h of which) rolled.set(h.name, at);
          rolls++;
          nextRoll += o.rollEvery * 1000;
        }
      }
    })();

    // ---- samples ----------------------------------------------------------------------------------
    const samples: Sample[] = [];
    const installs: Array<RecordedInstall & { at: number }> = [];
    let nextLog = t0 + 60_000;
    while (Date.now() < end && dd.running) {
      await sleep(o.sampleEvery * 1000);
      const s = await dd.sample(true);
      const got = await dd.installs();
      const at = Date.now();
      installs.push(...got.installs.map((i) => ({ ...i, at })));
      const status = await dd.status();
      samples.push({
        t: (at - t0) / 1000,
        rss: dd.rssMiB(),
        heap: s.heapUsedMiB,
        handles: s.handles,
        timers: s.timers,
        fds: dd.fds(),
        peers: status.peers.length,
        queries,
        p50: percentile(window, 50),
        p99: percentile(window, 99),
        lost: lostInWindow,
      });
      window = [];
      lostInWindow = 0;
      if (Date.now() >= nextLog) {
        const l = samples.at(-1)!;
        say(
          `    soak ${Math.round(l.t)} s: RSS ${mib(l.rss)}, heap ${mib(l.heap)}, handles ${l.handles}, timers ${l.timers}, fds ${l.fds}, peers ${l.peers}, p99 ${ms(l.p99)}`,
        );
        nextLog += 60_000;
      }
    }
    await traffic;
    await churn;
    await Promise.all([...inflight]);
    udp.close();

    // ---- judgement --------------------------------------------------------------------------------
    const warm = samples.filter((x) => x.t >= Math.min(20, o.seconds / 4));
    const q2 = (k: keyof Sample): number => meanOf(warm, k, 0.25, 0.5);
    const q4 = (k: keyof Sample): number => meanOf(warm, k, 0.75, 1);
    const max = (k: keyof Sample): number => Math.max(...warm.map((x) => x[k]));
    const min = (k: keyof Sample): number => Math.min(...warm.map((x) => x[k]));
    rep.fig('queries', `${queries} (${samples.length} samples every ${o.sampleEvery} s)`);
    rep.fig('key rolls', `${rolls} (${rolled.size} hosts rolled at least once)`);
    rep.fig('peers held (min / max after warm-up)', `${min('peers')} / ${max('peers')}`);
    rep.fig('installs recorded', installs.length);
    rep.fig(
      'RSS after warm-up: first / second-quarter mean / last-quarter mean / max',
      `${mib(warm[0]!.rss)} / ${mib(q2('rss'))} / ${mib(q4('rss'))} / ${mib(max('rss'))}`,
    );
    rep.fig('heap after GC: second-quarter / last-quarter mean', `${mib(q2('heap'))} / ${mib(q4('heap'))}`);
    rep.fig(
      'handles / timers / fds (min-max after warm-up)',
      `${min('handles')}-${max('handles')} / ${min('timers')}-${max('timers')} / ${min('fds')}-${max('fds')}`,
    );
    const p50s = warm.map((x) => x.p50).filter(Number.isFinite);
    const p99s = warm.map((x) => x.p99).filter(Number.isFinite);
    rep.fig('latency per sample window: median p50 / worst p99', `${ms(percentile(p50s, 50))} / ${ms(Math.max(...p99s))}`);
    rep.fig(
      'unanswered queries',
      samples.reduce((a, x) => a + x.lost, 0),
    );
    rep.check(
      'heap after GC flat (last quarter vs second quarter)',
      q4('heap') - q2('heap') <= o.heapGrowthMiB,
      `${(q4('heap') - q2('heap')).toFixed(2)} MiB`,
      `<= +${o.heapGrowthMiB} MiB`,
    );
    rep.check(
      'RSS flat (last quarter vs second quarter)',
      q4('rss') - q2('rss') <= o.rssGrowthMiB,
      `${(q4('rss') - q2('rss')).toFixed(1)} MiB`,
      `<= +${o.rssGrowthMiB} MiB`,
    );
    rep.check(
      'active handles do not grow',
      q4('handles') - q2('handles') <= o.handleGrowth,
      `${q2('handles').toFixed(1)} -> ${q4('handles').toFixed(1)}`,
      `<= +${o.handleGrowth}`,
    );
    rep.check(
      'timers do not grow',
      q4('timers') - q2('timers') <= o.handleGrowth,
      `${q2('timers').toFixed(1)} -> ${q4('timers').toFixed(1)}`,
      `<= +${o.handleGrowth}`,
    );
    rep.check(
      'open descriptors do not grow',
      q4('fds') - q2('fds') <= o.handleGrowth,
      `${q2('fds').toFixed(1)} -> ${q4('fds').toFixed(1)}`,
      `<= +${o.handleGrowth}`,
    );
    rep.check('no answer with an address the zone does not publish', wrong === 0, wrong, '0');
    const foreign = installs.filter((i) => {
      const pub = z.published.get(i.name);
      return !pub || i.keys.length === 0 || i.keys.some((k) => !pub.keys.has(k)) || i.addresses.some((a) => !pub.addresses.has(a));
    });
    rep.check(
      'every install carries a key and address the zone published',
      foreign.length === 0,
      foreign.length ? `${foreign.length}, e.g. ${foreign[0]!.name}` : `0 of ${installs.length}`,
      '0',
    );
    // An install collected well after a roll (old TTL + one sample period of slack) must carry the new key.
    const byName = new Map(z.hosts.map((h) => [h.name, h]));
    const stale = installs.filter((i) => {
      const h = byName.get(i.name);
      const r = rolled.get(i.name);
      return (
        h &&
        r !== undefined &&
        i.at > r + (h.ttl + 2 * o.sampleEvery + 2) * 1000 &&
        i.keys.join() !== h.key &&
        i.keys.every((k) => k !== h.key)
      );
    });
    rep.check(
      'a rolled key is the one installed once the old TTL has passed',
      stale.length === 0,
      stale.length ? `${stale.length}, e.g. ${stale[0]!.name}` : '0',
      '0',
    );
    rep.check(
      'no error lines in the daemon log',
      (dd.log.byLevel.error ?? 0) === 0,
      `${dd.log.byLevel.error ?? 0}${dd.log.errors[0] ? `: ${dd.log.errors[0].slice(0, 200)}` : ''}`,
      '0',
    );
    if (dd.log.warnings[0]) rep.note(`first warn line: ${dd.log.warnings[0].slice(0, 300)}`);
    // src/daemon/daemon.ts writes the closed-set file next to autosp's state before autosp has made
    // that directory (ENOENT at the first start): a known bug, reported as open.
    const closedSetMsg = 'closed-set file not written';
    const otherWarns = Object.entries(dd.log.warnMsgs).filter(([m]) => m !== closedSetMsg);
    rep.check(
      'no warn lines in the daemon log',
      otherWarns.length === 0,
      otherWarns.map(([m, n]) => `${m.slice(0, 100)} x${n}`).join('; ') || '0',
      '0',
    );
    const closedSetWarn = dd.log.warnings.find((l) => l.includes(closedSetMsg));
    rep.check(
      'the closed-set file is written (no warn line about it)',
      !closedSetWarn,
      closedSetWarn ? closedSetWarn.slice(0, 300) : '0',
      '0',
    );
    rep.check('the daemon is alive', dd.running, dd.running ? 'yes' : 'no', 'yes');
    const code = await dd.stop();
    rep.check('stops cleanly on SIGTERM', code === 0, String(code), '0');
    if (o.svg) {
      const pts = (k: keyof Sample): Array<[number, number]> => samples.map((x) => [x.t, x[k]]);
      writeFileSync(
        o.svg,
        plotSvg(
          `oedns serve soak: ${o.seconds} s, ${o.qps} q/s, ${rolls} key rolls (${new Date().toISOString().slice(0, 10)})`,
          'seconds',
          [
            {
              title: 'memory',
              unit: 'MiB',
              series: [
                { label: 'RSS', color: '#1f77b4', points: pts('rss') },
                { label: 'heap after GC', color: '#2ca02c', points: pts('heap') },
              ],
            },
            {
              title: 'latency per sample window',
              unit: 'ms',
              series: [
                { label: 'p50', color: '#ff7f0e', points: pts('p50') },
                { label: 'p99', color: '#d62728', points: pts('p99') },
              ],
            },
            {
              title: 'handles, timers, descriptors, peers/10',
              unit: 'count',
              series: [
                { label: 'handles', color: '#9467bd', points: pts('handles') },
                { label: 'timers', color: '#8c564b', points: pts('timers') },
                { label: 'fds', color: '#7f7f7f', points: pts('fds') },
                { label: 'peers/10', color: '#17becf', points: samples.map((x) => [x.t, x.peers / 10]) },
              ],
            },
          ],
        ),
      );
      rep.fig('plot', o.svg);
    }
    rep.fig(
      'curve (t s: RSS MiB, heap MiB, p99 ms)',
      samples
        .filter((_, i) => i % Math.max(1, Math.floor(samples.length / 12)) === 0)
        .map((x) => `${Math.round(x.t)}: ${x.rss.toFixed(0)}, ${x.heap.toFixed(1)}, ${Number.isFinite(x.p99) ? x.p99.toFixed(1) : '-'}`)
        .join(' | '),
    );
  } finally {
    await d?.kill();
    await zone?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rep.done();
}
