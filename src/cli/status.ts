import { type Command } from 'commander';
import { controlRequest } from '../control/client';
import { defaultControlPath } from '../control/protocol';
import { type DaemonStatus, formatStatus } from '../control/status';
import { exitOnError } from './common';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show what a running `oedns serve` holds: peers, their key source and IKE state, counters')
    .option('--control <path>', 'control socket of the daemon', defaultControlPath())
    .option('--json', 'print one JSON object')
    .action(async (opts: { control: string; json?: boolean }) => {
      try {
        const status = (await controlRequest(opts.control, 'status')) as DaemonStatus;
        process.stdout.write(opts.json ? `${JSON.stringify(status)}\n` : `${formatStatus(status)}\n`);
      } catch (err) {
        exitOnError(err);
      }
    });
}
