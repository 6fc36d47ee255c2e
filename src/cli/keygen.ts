import { Command } from 'commander';

// Placeholder: the `keygen` subcommand is being built (see issues). Replace this whole file.
export function registerKeygen(program: Command): void {
  program.command('keygen').description('(keygen: not implemented yet)').action(() => {
    process.stderr.write('oedns keygen: not implemented yet\n');
    process.exit(2);
  });
}
