import { ConfigError, OednsError } from '../util/errors';
import { createLogger, type LogLevel, type Logger } from '../util/log';

/** The logger for a subcommand, honouring the global --log-level. */
export function loggerFor(opts: { logLevel?: string }): Logger {
  return createLogger((opts.logLevel ?? 'info') as LogLevel);
}

/**
 * One clear line on stderr and an exit status scripts can rely on:
 * 2 for usage/configuration errors, 1 for everything else.
 */
export function exitOnError(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${msg}\n`);
  process.exit(err instanceof ConfigError ? 2 : err instanceof OednsError ? 1 : 1);
}
