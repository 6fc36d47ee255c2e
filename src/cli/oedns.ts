#!/usr/bin/env node
// Entry point of the `oedns` command. Each subcommand lives in its own module and registers itself;
// this file only decides their order in --help and how errors end the process.
// Layering: src/cli may import every folder; nothing imports it.
import { Command, CommanderError } from 'commander';
import { registerServe } from './serve';
import { registerLookup } from './lookup';
import { registerKeygen } from './keygen';
import { registerPolicy } from './policy';
import { registerStatus } from './status';
import { registerPins } from './pins';
import { registerKey, registerPublish } from './publish';
import { registerControl } from './control';
import { registerDoctor } from './doctor';
import { registerInstall } from './install';
import { exitOnError } from './common';
import { VERSION } from '../util/version';

export function buildProgram(): Command {
  const program = new Command('oedns')
    .description(
      'Opportunistic IPsec authenticated by DNSSEC: a validating local resolver that installs ' +
        'IPSECKEY-published peer keys into the IKE daemon before it answers.',
    )
    .version(VERSION)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
    .exitOverride();
  registerServe(program);
  registerLookup(program);
  registerKeygen(program);
  registerPublish(program);
  registerKey(program);
  registerStatus(program);
  registerControl(program);
  registerDoctor(program);
  registerInstall(program);
  registerPolicy(program);
  registerPins(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
      exitOnError(err);
    });
}
