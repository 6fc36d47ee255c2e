import { Command } from 'commander';

// Placeholder: the `serve` subcommand is being built (see issues). Replace this whole file.
export function registerServe(program: Command): void {
  program.command('serve').description('(serve: not implemented yet)').action(() => {
    process.stderr.write('oedns serve: not implemented yet\n');
    process.exit(2);
  });
}
