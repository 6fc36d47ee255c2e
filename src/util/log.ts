// The one logger (pino) and the three shapes its lines take on stderr: JSON for machines (a pipe, a
// file, `--log-format json`), a short readable line on a terminal, and under systemd a line with an
// sd-daemon(3) `<N>` priority prefix so that the journal files it under the right severity.
import { fstatSync, writeSync } from 'node:fs';
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: ReadonlyArray<LogLevel> = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `auto` picks journal under systemd, pretty on a terminal, JSON otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty' | 'journal';
export const LOG_FORMATS: ReadonlyArray<LogFormat> = ['auto', 'json', 'pretty', 'journal'];

/** pino's numeric levels, and the syslog priority (RFC 5424 §6.2.1) each maps to. */
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const SYSLOG_PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const COLOUR: Record<number, string> = { 10: '\x1b[90m', 20: '\x1b[36m', 30: '\x1b[32m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[35m' };
/** Fields every line carries that a human line leaves out (the level and message are shown apart). */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/**
 * Which format `auto` means here. systemd sets JOURNAL_STREAM to the device:inode of the stream it
 * connected to stderr (systemd.exec(5)); a match means our stderr goes to the journal, not that a
 * child inherited the variable.
 */
export function resolveLogFormat(
  format: LogFormat,
  env: NodeJS.ProcessEnv = process.env,
  stderr: { isTTY: boolean; devIno?: string } = stderrFacts(),
): Exclude<LogFormat, 'auto'> {
  if (format !== 'auto') return format;
  if (env.JOURNAL_STREAM && stderr.devIno && env.JOURNAL_STREAM === stderr.devIno) return 'journal';
  return stderr.isTTY ? 'pretty' : 'json';
}

function stderrFacts(): { isTTY: boolean; devIno?: string } {
  let devIno: string | undefined;
  try {
    const st = fstatSync(2);
    devIno = `${st.dev}:${st.ino}`;
  } catch {
    devIno = undefined;
  }
  return { isTTY: Boolean(process.stderr.isTTY), devIno };
}

function value(v: unknown): string {
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.join(',');
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/** `key=value` pairs of the fields a reader cares about, in the order they were logged. */
export function facts(o: Record<string, unknown>): string {
  return Object.entries(o)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
}

/** One pino JSON record as a terminal line: time, level, message, facts. */
export function prettyLine(o: Record<string, unknown>, colour = false): string {
  const level = typeof o.level === 'number' ? o.level : 30;
  const t = new Date(typeof o.time === 'number' ? o.time : Date.now());
  const hh = (n: number, w = 2): string => String(n).padStart(w, '0');
  const time = `${hh(t.getHours())}:${hh(t.getMinutes())}:${hh(t.getSeconds())}.${hh(t.getMilliseconds(), 3)}`;
  const name = (LEVEL_NAMES[level] ?? String(level)).toUpperCase().padEnd(5);
  const lvl = colour ? `${COLOUR[level] ?? ''}${name}\x1b[0m` : name;
  const rest = facts(o);
  return `${time} ${lvl} ${String(o.msg ?? '')}${rest ? `  ${rest}` : ''}\n`;
}

/** One pino JSON record for the journal: sd-daemon priority prefix, message, facts (no time: the journal has it). */
export function journalLine(o: Record<string, unknown>): string {
  const level = typeof o.level === 'number' ? o.level : 30;
  const rest = facts(o);
  const text = `${String(o.msg ?? '')}${rest ? ` ${rest}` : ''}`.replace(/\n/g, ' ');
  return `<${SYSLOG_PRIORITY[level] ?? 6}>${text}\n`;
}

/** A pino destination that rewrites each JSON line before it reaches fd 2 (synchronously, like the JSON one). */
function rewriting(fmt: (o: Record<string, unknown>) => string): { write(line: string): void } {
  return {
    write(line: string) {
      let out: string;
      try {
        out = fmt(JSON.parse(line) as Record<string, unknown>);
      } catch {
        out = line;
      }
      try {
        writeSync(2, out);
      } catch {
        /* stderr closed: nothing sensible left to do with a log line */
      }
    },
  };
}

/** Logs on stderr, so that stdout stays free for command output (tables, --json). */
export function createLogger(level: LogLevel = 'info', name = 'oedns', format: LogFormat = 'auto'): Logger {
  const f = resolveLogFormat(format);
  const dest =
    f === 'json'
      ? pino.destination({ fd: 2, sync: true })
      : rewriting(f === 'journal' ? journalLine : (o) => prettyLine(o, !process.env.NO_COLOR));
  return pino({ name, level, base: { name } }, dest);
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
