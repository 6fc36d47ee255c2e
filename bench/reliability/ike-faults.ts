// Scenario 3, faults on the IKE side: the real `oedns serve` with the strongswan engine drives a
// real charon (test/support/lab.ts, host A, over its VICI socket) while names of a signed zone are
// looked up in batches. charon is killed (-9) during a batch, stopped (SIGSTOP) during a batch and
// across peer expiries, its VICI socket is removed; oedns itself is killed (-9) during a batch; the
// directory of autosp's state file fills up and turns read-only (a small tmpfs in a mount namespace
// of its own). After each fault the engine must hold exactly the registry — no orphan oe-* conn, no
// missing peer — within a stated bound, and the admin's own conn and credentials, loaded with
// swanctl before oedns started, must be untouched. `faults` picks which run (the short form in npm
// test leaves out the three that wait out timeouts).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateHostKey, writeHostKey } from '../../src/ike-bridge/identity';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { type Lab, labUnavailable, labUp } from '../../test/support/lab';
import { Daemon } from './daemon';
import { type Answer, UdpResolver } from './dns-client';
import { Reporter, type ScenarioReport, sleep, timeUntil } from './report';
import { type HostZone, startHostZone } from './zone';

const run = promisify(execFile);

export interface IkeFaultOptions {
  hosts: number;
  /** Names looked up at once in each batch. */
  batch: number;
  /** Hosts (the first ones) with a short TTL, to expire while charon is stopped. */
  shortTtlHosts: number;
  shortTtl: number;
  /** Time allowed for the engine to hold exactly the registry again after a fault ends (ms). */
  convergeBoundMs: number;
  /** The faults to inject, in this order (the baseline always runs first). */
  faults: readonly IkeFault[];
  log?: (s: string) => void;
}

export const IKE_FAULTS = [
  'charon-kill',
  'charon-stop',
  'expiry-while-stopped',
  'socket-removed',
  'oedns-kill',
  'swanctl-load-all',
  'state-dir',
] as const;
export type IkeFault = (typeof IKE_FAULTS)[number];

export const IKE_LONG: IkeFaultOptions = {
  hosts: 1500,
  batch: 200,
  shortTtlHosts: 20,
  shortTtl: 4,
  convergeBoundMs: 20_000,
  faults: IKE_FAULTS,
};
/**
 * npm test: the faults that take seconds, not tens of seconds (charon stopped for 4 s and across
 * expiries, and oedns started without a VICI socket, wait out timeouts; they run in the long form).
 */
export const IKE_SHORT: IkeFaultOptions = {
  hosts: 130,
  batch: 30,
  shortTtlHosts: 5,
  shortTtl: 2,
  convergeBoundMs: 5_000,
  faults: ['charon-kill', 'oedns-kill', 'swanctl-load-all', 'state-dir'],
};

export function ikeFaultsUnavailable(): string | null {
  return labUnavailable();
}

const POLICY = 'default: clear\nrules:\n  - { zone: ike.test, level: private }\n';
const FOREIGN_CONN = 'corp-vpn';
const FOREIGN_SHARED = 'ike-corp';
const FOREIGN_PUBKEY_SUBJECT = 'gw.corp.example';

interface ForeignState {
  conn: boolean;
  privateKey: boolean;
  shared: boolean;
  pubkey: boolean;
}

export class IkeFaults {
  readonly rep = new Reporter('IKE-side faults');
  private lab!: Lab;
  private zone!: HostZone;
  private dir = '';
  private stateDir = '';
  private holder: ChildProcess | undefined;
  private d: Daemon | undefined;
  private vici!: ViciClient;
  private next: number;
  private foreignKeyId = '';
  private autospNames: string[] = [];
  private readonly say: (s: string) => void;
  private readonly t0 = Date.now();

  constructor(readonly o: IkeFaultOptions) {
    this.next = o.shortTtlHosts;
    this.say = o.log ?? (() => undefined);
  }

  private get charonPid(): number {
    return Number(readFileSync(join(this.lab.a.dir, 'charon.pid'), 'utf8'));
  }

  private get statePath(): string {
    return join(this.stateDir, 'autosp.json');
  }

  /** The state directory as the daemon sees it (inside the holder's mount namespace). */
  private get stateOutside(): string {
    return `/proc/${this.holder!.pid}/root${this.stateDir}`;
  }

  async up(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'oedns-rel-ike-'));
    this.lab = await labUp();
    this.zone = await startHostZone({
      apex: 'ike.test',
      count: this.o.hosts,
      ttl: 3600,
      ttlFor: (i) => (i < this.o.shortTtlHosts ? this.o.shortTtl : undefined),
    });
    writeFileSync(join(this.dir, 'policy.yaml'), POLICY);
    writeHostKey(join(this.dir, 'self'), generateHostKey('ed25519'));
    // autosp's state lives on a 256 KiB tmpfs mounted in a mount namespace held by a sleeping process:
    // it survives oedns restarts, can be filled and remounted read-only, and vanishes with the holder.
    this.stateDir = join(this.dir, 'state');
    mkdirSync(this.stateDir);
    this.holder = spawn(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tmpfs -o size=256k,mode=0700 tmpfs '${this.stateDir}' && echo ready && exec sleep 100000`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((res, rej) => {
      this.holder!.stdout!.once('data', () => res());
      this.holder!.once('exit', (c) => rej(new Error(`mount namespace holder exited (${c})`)));
    });
    this.vici = new ViciClient({ socketPath: this.lab.a.vici, timeoutMs: 5000 });
    await this.loadForeign('swanctl');
  }

  /**
   * The admin's own configuration, loaded with swanctl as at boot: a conn, a private key, a PSK, a
   * raw pubkey. After a charon restart it is put back with plain VICI loads (`reload`), which unload
   * nothing: `swanctl --load-all` also unloads every conn not in its files, oe-* ones included, and
   * racing it against oedns's own reconcile would make the restart faults depend on timing. That
   * unload is a fault of its own below.
   */
  private async loadForeign(how: 'swanctl' | 'reload'): Promise<void> {
    const d = join(this.dir, 'swanctl');
    if (how === 'reload') {
      await this.vici.loadKey('rsa', readFileSync(join(d, 'rsa', 'corp.pem'), 'utf8'));
      await this.vici.loadShared({
        id: FOREIGN_SHARED,
        type: 'IKE',
        data: Buffer.from('secretsecretsecret'),
        owners: ['psk.corp.example'],
      });
      await this.vici.loadConn(FOREIGN_CONN, {
        remote_addrs: ['203.0.113.10'],
        local: { auth: 'pubkey', id: 'me.corp.example' },
        remote: { auth: 'pubkey', id: FOREIGN_PUBKEY_SUBJECT, pubkeys: [readFileSync(join(d, 'pubkey', 'corp-gw.pem'), 'utf8')] },
        children: { corp: { remote_ts: ['203.0.113.0/24'] } },
      });
      return;
    }
    if (!this.foreignKeyId) {
      for (const sub of ['rsa', 'pubkey']) mkdirSync(join(d, sub), { recursive: true });
      writeFileSync(
        join(d, 'rsa', 'corp.pem'),
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
      );
      writeFileSync(
        join(d, 'pubkey', 'corp-gw.pem'),
        generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }),
      );
      writeFileSync(
        join(d, 'swanctl.conf'),
        [
          'connections {',
          `  ${FOREIGN_CONN} {`,
          '    remote_addrs = 203.0.113.10',
          '    local {',
          '      auth = pubkey',
          '      id = me.corp.example',
          '    }',
          '    remote {',
          '      auth = pubkey',
          `      id = ${FOREIGN_PUBKEY_SUBJECT}`,
          '      pubkeys = corp-gw.pem',
          '    }',
          '    children {',
          '      corp {',
          '        remote_ts = 203.0.113.0/24',
          '      }',
          '    }',
          '  }',
          '}',
          'secrets {',
          `  ${FOREIGN_SHARED} {`,
          '    id = psk.corp.example',
          `    secret = 0s${Buffer.from('secretsecretsecret').toString('base64')}`,
          '  }',
          '}',
          '',
        ].join('\n'),
      );
    }
    const before = new Set(await this.vici.getKeys());
    await run('swanctl', ['--load-all', '--file', join(d, 'swanctl.conf'), '--uri', `unix://${this.lab.a.vici}`], {
      env: { ...process.env, STRONGSWAN_CONF: join(this.lab.a.dir, 'strongswan.conf') },
    });
    if (!this.foreignKeyId) this.foreignKeyId = (await this.vici.getKeys()).find((k) => !before.has(k)) ?? '';
  }

  private async foreign(): Promise<ForeignState> {
    const shared = await this.vici.request('get-shared');
    const certs = await this.vici.listCerts({ type: 'pubkey' });
    return {
      conn: (await this.vici.getConns()).includes(FOREIGN_CONN),
      privateKey: (await this.vici.getKeys()).includes(this.foreignKeyId),
      shared: ((shared.get('keys') as string[] | undefined) ?? []).includes(FOREIGN_SHARED),
      pubkey: certs.some((c) => String(c.get('subject')) === FOREIGN_PUBKEY_SUBJECT),
    };
  }

  private async startOedns(): Promise<Daemon> {
    const d = await Daemon.start({
      control: join(this.dir, 'control.sock'),
      wrap: ['nsenter', '-t', String(this.holder!.pid), '-m', '--'],
      args: [
        '--engine',
        'strongswan',
        '--vici',
        this.lab.a.vici,
        '--identity',
        'self.ike.test',
        '--key',
        join(this.dir, 'self', 'host.key.pem'),
        '--policy',
        join(this.dir, 'policy.yaml'),
        '--autosp-state',
        this.statePath,
        '--upstream',
        this.zone.named.endpoint,
        '--trust-anchor',
        this.zone.anchorFile,
      ],
    });
    this.d = d;
    return d;
  }

  private names(n: number): string[] {
    const out = this.zone.hosts.slice(this.next, this.next + n).map((x) => x.name);
    this.next += n;
    if (out.length < n) throw new Error('ike faults: out of host names; raise hosts');
    return out;
  }

  /** Looks `names` up all at once (50 clients); resolves with the answers. */
  private lookup(names: string[], timeoutMs = 20_000): Promise<Answer[]> {
    const clients = Array.from({ length: 50 }, () => new UdpResolver(this.d!.port, timeoutMs));
    let i = 0;
    const out: Answer[] = new Array(names.length);
    return Promise.all(
      clients.map(async (c) => {
        while (i < names.length) {
          const k = i++;
          out[k] = await c.query(names[k]!);
        }
      }),
    ).then(() => {
      for (const c of clients) c.close();
      return out;
    });
  }

  private async engineConns(): Promise<Set<string>> {
    return new Set((await this.vici.getConns()).filter((c) => c.startsWith('oe-')).map((c) => c.slice(3)));
  }

  private async registry(): Promise<{ names: Set<string>; reachable: boolean }> {
    const s = await this.d!.status(15_000);
    return { names: new Set(s.peers.map((p) => p.name)), reachable: s.engine.reachable };
  }

  /** Orphans (in charon, not wanted) and missing peers (wanted, not in charon), now. */
  private async diff(): Promise<{ orphans: string[]; missing: string[]; wanted: number }> {
    const [conns, reg] = await Promise.all([this.engineConns(), this.registry()]);
    return {
      orphans: [...conns].filter((n) => !reg.names.has(n)),
      missing: [...reg.names].filter((n) => !conns.has(n)),
      wanted: reg.names.size,
    };
  }

  /** Waits for engine == registry; checks it within the bound and the foreign config intact. */
  private async settle(fault: string, extra?: () => Promise<boolean>): Promise<void> {
    let last = { orphans: [] as string[], missing: [] as string[], wanted: 0 };
    const took = await timeUntil(
      async () => {
        try {
          last = await this.diff();
          return last.orphans.length === 0 && last.missing.length === 0 && (!extra || (await extra()));
        } catch {
          return false;
        }
      },
      this.o.convergeBoundMs,
      250,
    );
    const fmt = (xs: string[]): string => (xs.length ? `${xs.length} (${xs.slice(0, 3).join(', ')}${xs.length > 3 ? ', ...' : ''})` : '0');
    this.rep.check(
      `${fault}: engine holds exactly the registry again`,
      !Number.isNaN(took),
      Number.isNaN(took)
        ? `not within the bound: orphans ${fmt(last.orphans)}, missing ${fmt(last.missing)} of ${last.wanted} wanted`
        : `${(took / 1000).toFixed(1)} s (${last.wanted} peers)`,
      `<= ${this.o.convergeBoundMs / 1000} s`,
    );
    if (Number.isNaN(took) && this.d!.running) {
      // The remedy at hand, so later faults start clean: `oedns control reconcile` (the control socket's reconcile).
      await this.d!.control('reconcile', {}, 60_000).catch((e: Error) => this.rep.note(`${fault}: reconcile failed: ${e.message}`));
      const fixed = await timeUntil(
        async () => {
          const x = await this.diff().catch(() => ({ orphans: ['?'], missing: [] as string[] }));
          return x.orphans.length === 0 && x.missing.length === 0;
        },
        this.o.convergeBoundMs,
        250,
      );
      this.rep.fig(
        `${fault}: after a reconcile through the control socket`,
        Number.isNaN(fixed) ? 'still not converged' : `converged in ${(fixed / 1000).toFixed(1)} s`,
      );
    }
    this.rep.check(`${fault}: oedns is alive`, this.d!.running, this.d!.running ? 'yes' : 'no', 'yes');
    const f = await this.foreign().catch((e: Error): ForeignState => {
      this.rep.note(`${fault}: could not read charon's credentials: ${e.message}`);
      return { conn: false, privateKey: false, shared: false, pubkey: false };
    });
    const lost = Object.entries(f)
      .filter(([, v]) => !v)
      .map(([k]) => k);
    this.rep.check(
      `${fault}: the admin's own conn and credentials are untouched`,
      lost.length === 0,
      lost.length ? `lost: ${lost.join(', ')}` : 'conn, private key, PSK, pubkey present',
      'all present',
    );
    this.say(
      `    ${fault}: ${Number.isNaN(took) ? 'NOT converged' : `converged in ${took} ms`}; foreign lost: ${lost.join(', ') || 'none'} (${((Date.now() - this.t0) / 1000).toFixed(1)} s into the scenario)`,
    );
  }

  private on(f: IkeFault): boolean {
    return this.o.faults.includes(f);
  }

  /** Answers under policy `private`: NOERROR only with the peer installed (checked by the caller). */
  private tally(answers: Answer[]): string {
    const ok = answers.filter((a) => a.rcode === 0).length;
    const sf = answers.filter((a) => a.rcode === 2).length;
    return `${ok} NOERROR, ${sf} SERVFAIL, ${answers.length - ok - sf} unanswered/other`;
  }

  /** Every NOERROR answer was for a peer the engine held when checked right after. */
  private async answeredImpliesInstalled(fault: string, names: string[], answers: Answer[]): Promise<void> {
    const conns = await this.engineConns();
    const reg = (await this.registry()).names;
    const bad = names.filter((n, i) => answers[i]!.rcode === 0 && !(conns.has(n) || !reg.has(n)));
    this.rep.check(
      `${fault}: every name answered NOERROR is installed (private fails closed)`,
      bad.length === 0,
      bad.length ? bad.slice(0, 3).join(', ') : `${answers.filter((a) => a.rcode === 0).length} answered, all installed`,
      'all',
    );
  }

  async run(): Promise<ScenarioReport> {
    const { rep, o } = this;
    try {
      await this.up();
      rep.fig(
        'setup',
        `charon ${execFileSync('/usr/lib/ipsec/charon', ['--version'], { encoding: 'utf8' }).trim() || '(version n/a)'} in a network namespace, ${o.hosts} names in ike.test (A + IPSECKEY, Ed25519), policy private, oedns --engine strongswan`,
      );
      const f0 = await this.foreign();
      rep.check(
        'the admin config is loaded before oedns starts',
        f0.conn && f0.privateKey && f0.shared && f0.pubkey,
        JSON.stringify(f0),
        'all true',
      );
      await this.startOedns();

      // ---- baseline -------------------------------------------------------------------------------
      const auto = this.names(3);
      await this.d!.control('peer-add', { names: auto });
      this.autospNames = auto;
      let names = this.names(o.batch);
      let t0 = Date.now();
      let answers = await this.lookup(names);
      let pending: Promise<Answer[]>;
      rep.fig('baseline batch', `${names.length} names in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${this.tally(answers)}`);
      await this.settle('baseline');

      // ---- charon killed (-9) during a batch --------------------------------------------------------
      if (this.on('charon-kill')) {
        names = this.names(o.batch);
        ({ pending } = await this.batchUnderway(names));
        process.kill(this.charonPid, 'SIGKILL');
        answers = await pending;
        rep.fig('charon -9: batch answers', this.tally(answers));
        await this.lab.restart('a');
        await this.loadForeign('reload');
        await this.settle('charon killed -9 during a batch, restarted');
        await this.answeredImpliesInstalled('charon killed -9', names, answers);
      }

      // ---- charon stopped (SIGSTOP) for a few seconds during a batch ------------------------------
      if (this.on('charon-stop')) {
        names = this.names(o.batch);
        ({ pending } = await this.batchUnderway(names));
        process.kill(this.charonPid, 'SIGSTOP');
        await sleep(4000);
        process.kill(this.charonPid, 'SIGCONT');
        answers = await pending;
        rep.fig('charon stopped 4 s during a batch: answers', this.tally(answers));
        await this.settle('charon stopped 4 s during a batch');
        await this.answeredImpliesInstalled('charon stopped 4 s', names, answers);
      }

      // ---- charon stopped across peer expiries, longer than the VICI timeout -------------------------
      if (this.on('expiry-while-stopped')) {
        const short = this.zone.hosts.slice(0, o.shortTtlHosts).map((x) => x.name);
        answers = await this.lookup(short);
        rep.fig(`short-TTL peers (${o.shortTtl} s) installed before the stop`, this.tally(answers));
        process.kill(this.charonPid, 'SIGSTOP');
        await sleep(o.shortTtl * 1000 + 11_000); // they expire; the removals wait for charon past the 10 s VICI timeout
        process.kill(this.charonPid, 'SIGCONT');
        await this.settle(`charon stopped ${o.shortTtl + 11} s while ${o.shortTtlHosts} peers expired`);
      }

      // ---- VICI socket removed -------------------------------------------------------------------
      if (this.on('socket-removed')) {
        unlinkSync(this.lab.a.vici);
        names = this.names(Math.min(10, o.batch));
        answers = await this.lookup(names);
        rep.fig('socket removed, oedns connected: answers', this.tally(answers));
        // oedns restarted while the socket is missing: it cannot reach charon at all.
        let t1 = Date.now();
        await this.d!.stop();
        const stopMs = Date.now() - t1;
        t1 = Date.now();
        await this.startOedns();
        rep.fig('socket removed: oedns stop / start', `${stopMs} / ${Date.now() - t1} ms`);
        // Each install now waits for the VICI connect timeout (3 s), four engine calls at a time.
        names = this.names(4);
        answers = await this.lookup(names);
        const reach = await this.registry();
        rep.fig('socket removed, oedns restarted: answers', `${this.tally(answers)}; engine reachable: ${reach.reachable}`);
        rep.check(
          'socket removed: no name answered while charon is unreachable (private fails closed)',
          answers.every((a) => a.rcode !== 0),
          this.tally(answers),
          '0 NOERROR',
        );
        // charon restarted by its supervisor: a new socket.
        await this.lab.restart('a');
        await this.loadForeign('reload');
        await this.settle('VICI socket removed, charon restarted', async () => (await this.engineConns()).size > 0);
      }

      // ---- oedns killed (-9) during a batch, restarted ------------------------------------------
      if (this.on('oedns-kill')) {
        names = this.names(o.batch);
        ({ pending } = await this.batchUnderway(names, 5000));
        await this.d!.kill();
        answers = await pending;
        rep.fig('oedns -9: batch answers before it died', this.tally(answers));
        t0 = Date.now();
        await this.startOedns();
        rep.fig('oedns restart to listening', `${Date.now() - t0} ms`);
        await this.settleWithAutosp('oedns killed -9 during a batch, restarted');
      }

      // ---- the admin reloads its own config with swanctl --load-all --------------------------------
      if (this.on('swanctl-load-all')) {
        names = this.names(Math.min(20, o.batch));
        await this.lookup(names);
        await this.settle('before swanctl --load-all');
        await this.loadForeign('swanctl');
        await this.settle('the admin runs swanctl --load-all');
      }

      // ---- disk full under autosp's state file -----------------------------------------------------
      if (this.on('state-dir')) {
        await this.fill();
        const full = await this.addUnderStateDir('full', 'disk full');
        this.unfill();
        const afterFull = this.names(1);
        await this.d!.control('peer-add', { names: afterFull });
        const saved = this.stateNames();
        rep.check(
          'disk full: once space is back the next change saves every name',
          [...this.autospNames, ...full, ...afterFull].every((n) => saved.includes(n)),
          saved.length ? saved.join(', ') : 'none',
          'all autosp names',
        );
        this.autospNames.push(...full, ...afterFull);
        rep.fig('files left in the state directory after the disk-full episode', this.leftovers().join(', ') || 'none');

        // ---- read-only state directory ------------------------------------------------------------
        this.remountStateDir('ro');
        const ro = await this.addUnderStateDir('read-only', 'read-only');
        this.remountStateDir('rw');
        const afterRo = this.names(1);
        await this.d!.control('peer-add', { names: afterRo });
        this.autospNames.push(...ro, ...afterRo);
        const saved2 = this.stateNames();
        rep.check(
          'read-only: once writable the next change saves every name',
          this.autospNames.every((n) => saved2.includes(n)),
          `${this.autospNames.filter((n) => saved2.includes(n)).length}/${this.autospNames.length}`,
          'all autosp names',
        );
        // A restart adopts them all from the file.
        await this.d!.kill();
        await this.startOedns();
        await this.settleWithAutosp('oedns restarted from the saved state');
      }
      rep.fig(
        'warn lines of the last oedns (by message)',
        Object.entries(this.d!.log.warnMsgs)
          .map(([m, n]) => `${m.slice(0, 100)} x${n}`)
          .join('; ') || 'none',
      );
      rep.check(
        'no error lines in the log of the last oedns',
        (this.d!.log.byLevel.error ?? 0) === 0,
        `${this.d!.log.byLevel.error ?? 0}${this.d!.log.errors[0] ? `: ${this.d!.log.errors[0].slice(0, 200)}` : ''}`,
        '0',
      );
      const code = await this.d!.stop();
      rep.check('oedns stops cleanly at the end', code === 0, String(code), '0');
    } finally {
      await this.close();
    }
    return rep.done();
  }

  /**
   * Starts looking up `names` and returns once some of them (a quarter of a batch, at most 10) are in
   * charon, so that the fault that follows strikes in the middle of the installs. `pending` holds the answers.
   */
  private async batchUnderway(names: string[], timeoutMs?: number): Promise<{ pending: Promise<Answer[]> }> {
    const before = (await this.engineConns()).size;
    const pending = this.lookup(names, timeoutMs);
    await timeUntil(
      async () => (await this.engineConns().catch(() => new Set<string>())).size >= before + Math.min(10, this.o.batch / 4),
      10_000,
      20,
    );
    return { pending };
  }

  /** settle(), and also every autosp name back in the registry (after oedns restarted). */
  private settleWithAutosp(fault: string): Promise<void> {
    return this.settle(fault, async () => {
      const reg = await this.registry();
      return this.autospNames.every((n) => reg.names.has(n));
    });
  }

  /**
   * One autosp peer-add while the state directory is `state`: what the daemon answered (a figure),
   * whether the state file is still whole (a check, named after `fault`), then settle(). The new name.
   */
  private async addUnderStateDir(state: 'full' | 'read-only', fault: string): Promise<string[]> {
    const names = this.names(1);
    const answer = await this.d!.control('peer-add', { names }).then(
      () => 'accepted',
      (e: Error) => `refused: ${e.message}`,
    );
    this.rep.fig(`autosp add with the state directory ${state}`, answer);
    this.rep.check(
      `${fault}: the state file is still whole (valid JSON)`,
      this.stateValid(),
      this.stateValid() ? 'valid' : 'broken',
      'valid',
    );
    await this.settle(`state directory ${state}`);
    return names;
  }

  /** Remounts the state directory read-only or writable inside the holder's mount namespace. */
  private remountStateDir(mode: 'ro' | 'rw'): void {
    execFileSync('nsenter', ['-t', String(this.holder!.pid), '-m', 'mount', '-o', `remount,${mode}`, this.stateDir]);
  }

  private async fill(): Promise<void> {
    const filler = join(this.stateOutside, 'filler');
    const chunk = Buffer.alloc(4096, 0x61);
    for (let i = 0; i < 1000; i++) {
      try {
        writeFileSync(filler, chunk, { flag: 'a' });
      } catch {
        return; // ENOSPC: full
      }
    }
  }

  private unfill(): void {
    rmSync(join(this.stateOutside, 'filler'), { force: true });
  }

  /** Files in the state directory other than the state file (e.g. temp files a failed save left). */
  private leftovers(): string[] {
    return readdirSync(this.stateOutside).filter((f) => f !== 'autosp.json' && f !== 'autosp.json.lock' && f !== 'filler');
  }

  private stateValid(): boolean {
    try {
      const v = JSON.parse(readFileSync(join(this.stateOutside, 'autosp.json'), 'utf8')) as { version?: number };
      return v.version === 1;
    } catch {
      return false;
    }
  }

  private stateNames(): string[] {
    try {
      return (JSON.parse(readFileSync(join(this.stateOutside, 'autosp.json'), 'utf8')) as { names: string[] }).names;
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    try {
      if (this.lab) process.kill(this.charonPid, 'SIGCONT');
    } catch {
      /* not running */
    }
    await this.d?.kill();
    await this.vici?.close();
    if (this.holder && this.holder.exitCode === null) {
      this.holder.kill('SIGKILL');
      await new Promise((r) => this.holder!.once('exit', r));
    }
    await this.zone?.stop();
    await this.lab?.down();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

export function runIkeFaults(o: IkeFaultOptions): Promise<ScenarioReport> {
  return new IkeFaults(o).run();
}
