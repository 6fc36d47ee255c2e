#!/usr/bin/env node
// Entry point of the `autosp` command: IPsec peers known by name in advance (issue: known-name mode).
import { Command, CommanderError } from 'commander';
import { exitOnError } from './common';

export function buildAutosp(): Command {
  const program = new Command('autosp')
    .description('Load keys and policies for IPsec peers named in advance, validated with DNSSEC, and keep them fresh.')
    .version(require('../../../package.json').version)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
    .exitOverride();
  return program;
}

if (require.main === module) {
  buildAutosp().parseAsync(process.argv).catch((err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    exitOnError(err);
  });
}
