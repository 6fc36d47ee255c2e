// Starts the real `oedns serve` (dist/src/cli/oedns.js, its own process) for the reliability suite,
// with the probe preloaded (bench/reliability/probe.ts) and a control socket, and watches it: log
// lines by level (the first error lines kept), exit, /proc figures, the probe's samples and installs.
// Optionally wrapped in a private mount namespace (`unshare -m`) where a small tmpfs can be mounted
// (disk-full and read-only state directory tests); the pid is then still the node process.
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createConnection } from 'node:net';
import type { DaemonStatus } from '../../src/control/status';
import type { ProbeRequest, ProbeSample, RecordedInstall } from './probe';
import { alive, cpuSeconds, fdCount, rssMiB } from './proc';

const ROOT = resolve(__dirname, '../../..');
export const OEDNS_JS = join(ROOT, 'dist/src/cli/oedns.js');
export const AUTOSP_JS = join(ROOT, 'dist/src/cli/autosp.js');
const PROBE_JS = join(ROOT, 'dist/bench/reliability/probe.js');

export interface DaemonOptions {
  /** Arguments after `serve` (listen defaults to 127.0.0.1:0). */
  args: string[];
  control: string;
  /** Shell commands run as root inside a private mount namespace before exec (e.g. mount a tmpfs). */
  mountSetup?: string;
  /** A command the node process is started through, e.g. ['nsenter', '-t', pid, '-m', '--']. */
  wrap?: string[];
  /** Extra node flags (default: --expose-gc so the probe can measure the heap after a full GC). */
  nodeFlags?: string[];
}

export interface LogCounts {
  byLevel: Record<string, number>;
  /** Up to 20 lines at level error or fatal, as written. */
  errors: string[];
  /** Up to 20 lines at level warn. */
  warnings: string[];
  /** Messages of warn-level lines with their counts. */
  warnMsgs: Record<string, number>;
}

export class Daemon {
  readonly proc: ChildProcess;
  readonly pid: number;
  port = 0;
  readonly log: LogCounts = { byLevel: {}, errors: [], warnings: [], warnMsgs: {} };
  /** The last 200 log lines, for failure reports. */
  readonly tail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';
  private nextId = 1;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  private lineWatchers: Array<(line: string) => void> = [];

  private constructor(readonly opts: DaemonOptions) {
    const flags = opts.nodeFlags ?? ['--expose-gc'];
    const argv = [
      ...flags,
      '-r',
      PROBE_JS,
      OEDNS_JS,
      'serve',
      ...(opts.args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0']),
      '--control',
      opts.control,
      '--log-level',
      'info',
      ...opts.args,
    ];
    const [cmd, cmdArgs]: [string, string[]] = opts.mountSetup
      ? ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${opts.mountSetup} && exec "$0" "$@"`, process.execPath, ...argv]]
      : opts.wrap
        ? [opts.wrap[0]!, [...opts.wrap.slice(1), process.execPath, ...argv]]
        : [process.execPath, argv];
    this.proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.pid = this.proc.pid!;
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (d: string) => this.onData(d));
    this.proc.on('message', (m: { id: number; result: unknown }) => {
      const w = this.waiting.get(m.id);
      if (w) {
        this.waiting.delete(m.id);
        w(m.result);
      }
    });
    // A daemon killed with -9 closes the channel; pending questions get no answer.
    this.proc.on('error', () => undefined);
  }

  /** Starts the daemon and waits for its "listening" line (15 s). */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    await d.waitForLine(/"msg":"listening"/, 15_000).catch(async (e: Error) => {
      await d.kill();
      throw new Error(`${e.message}\n${d.tail.join('\n')}`);
    });
    const listening = d.tail.find((l) => l.includes('"msg":"listening"'))!;
    d.port = Number(/"listen":\["127\.0\.0\.1:(\d+)"/.exec(listening)![1]);
    return d;
  }

  private onData(d: string): void {
    const text = this.partial + d;
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      if (!line) continue;
      this.tail.push(line);
      if (this.tail.length > 200) this.tail.shift();
      const m = /"level":(\d+)/.exec(line);
      const level = m ? Number(m[1]) : 0;
      const name = level >= 50 ? 'error' : level >= 40 ? 'warn' : level >= 30 ? 'info' : level > 0 ? 'debug' : 'other';
      this.log.byLevel[name] = (this.log.byLevel[name] ?? 0) + 1;
      if (level >= 50 && this.log.errors.length < 20) this.log.errors.push(line);
      if (level === 40) {
        if (this.log.warnings.length < 20) this.log.warnings.push(line);
        const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? '?';
        this.log.warnMsgs[msg] = (this.log.warnMsgs[msg] ?? 0) + 1;
      }
      for (const w of this.lineWatchers) w(line);
    }
  }

  /** Resolves with the first line (from now on) matching `re`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((res, rej) => {
      const t = setTimeout(() => {
        this.lineWatchers = this.lineWatchers.filter((w) => w !== watch);
        rej(new Error(`oedns did not log ${re} within ${timeoutMs} ms`));
      }, timeoutMs);
      const watch = (line: string): void => {
        if (!re.test(line)) return;
        clearTimeout(t);
        this.lineWatchers = this.lineWatchers.filter((w) => w !== watch);
        res(line);
      };
      this.lineWatchers.push(watch);
      void this.exited.then(({ code, signal }) => {
        clearTimeout(t);
        rej(new Error(`oedns exited (${code ?? signal}) before logging ${re}`));
      });
    });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && alive(this.pid);
  }

  private ask<T>(req: { cmd: ProbeRequest['cmd']; gc?: boolean }, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((res, rej) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        rej(new Error(`probe: no answer to ${req.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (v) => {
        clearTimeout(t);
        res(v as T);
      });
      this.proc.send({ ...req, id });
    });
  }

  /** Inside figures; with gc, after a full collection (heap that is really held). */
  sample(gc = false): Promise<ProbeSample> {
    return this.ask<ProbeSample>({ cmd: 'sample', gc });
  }

  /** Dry-run installs since the last call. */
  async installs(): Promise<{ installs: RecordedInstall[]; overflow: number }> {
    return this.ask({ cmd: 'installs' });
  }

  status(timeoutMs = 10_000): Promise<DaemonStatus> {
    return this.control('status', undefined, timeoutMs) as Promise<DaemonStatus>;
  }

  /**
   * One request on the control socket (the protocol of src/control: a JSON line each way). Our own
   * client, because `oedns status`'s caps its answer at 1 MiB and thousands of peers pass that.
   */
  control(cmd: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.opts.control);
      const chunks: Buffer[] = [];
      const t = setTimeout(() => finish(new Error(`control ${cmd}: no answer within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err: Error | null, v?: unknown): void => {
        clearTimeout(t);
        sock.destroy();
        if (err) reject(err);
        else resolve(v);
      };
      sock.on('connect', () => sock.write(`${JSON.stringify({ cmd, args })}\n`));
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        if (!c.includes(10)) return;
        const line = Buffer.concat(chunks).toString('utf8');
        try {
          const r = JSON.parse(line.slice(0, line.indexOf('\n'))) as { ok: boolean; result?: unknown; error?: string };
          finish(r.ok ? null : new Error(`control ${cmd}: ${r.error}`), r.result);
        } catch (e) {
          finish(e as Error);
        }
      });
      sock.on('error', (e) => finish(e));
    });
  }

  rssMiB(): number {
    return rssMiB(this.pid);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  fds(): number {
    return fdCount(this.pid);
  }

  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code (0 = clean stop). */
  async stop(): Promise<number | null> {
    if (!this.running) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    const r = await this.exited;
    clearTimeout(t);
    return r.code;
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}
