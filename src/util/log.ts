import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** JSON logs on stderr, so that stdout stays free for command output (tables, --json). */
export function createLogger(level: LogLevel = 'info', name = 'oedns'): Logger {
  return pino({ name, level, base: { name } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
