import { Command } from 'commander';

// Placeholder: the `lookup` subcommand is being built (see issues). Replace this whole file.
export function registerLookup(program: Command): void {
  program.command('lookup').description('(lookup: not implemented yet)').action(() => {
    process.stderr.write('oedns lookup: not implemented yet\n');
    process.exit(2);
  });
}
