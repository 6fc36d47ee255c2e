import { Command } from 'commander';

// Placeholder: the `policy` subcommand is being built (see issues). Replace this whole file.
export function registerPolicy(program: Command): void {
  program.command('policy').description('(policy: not implemented yet)').action(() => {
    process.stderr.write('oedns policy: not implemented yet\n');
    process.exit(2);
  });
}
