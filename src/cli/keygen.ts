// `oedns keygen`: make this host's IKE key and print the IPSECKEY record that publishes it.
import { Command, Option } from 'commander';
import { hostname } from 'node:os';
import { exitOnError } from './common';
import { generateHostKey, HostKeyType, ipseckeyLine, writeHostKey } from '../ike-bridge/identity';
import { ConfigError } from '../util/errors';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description("create this host's IKE key (private key mode 0600) and print the IPSECKEY record to publish")
    .addOption(new Option('--type <type>', 'key type').choices(['rsa', 'ed25519', 'ecdsa-p256']).default('rsa'))
    .option('--bits <n>', 'RSA modulus size', '3072')
    .option('--out <dir>', 'directory for host.key.pem and host.pub.pem', '/etc/oedns')
    .option('--name <fqdn>', "this host's name (its IKE identity)", hostname())
    .option('--precedence <n>', 'IPSECKEY precedence', '10')
    .option('--force', 'replace an existing key', false)
    .action((o: { type: HostKeyType; bits: string; out: string; name: string; precedence: string; force: boolean }) => {
      try {
        const bits = Number(o.bits);
        const prec = Number(o.precedence);
        if (!Number.isInteger(bits)) throw new ConfigError('keygen-bits', `--bits must be an integer, not ${o.bits}`);
        if (!Number.isInteger(prec) || prec < 0 || prec > 255) throw new ConfigError('keygen-precedence', '--precedence must be 0..255');
        if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(o.name)) {
          throw new ConfigError('keygen-name', `--name must be a host name, not ${JSON.stringify(o.name)}`);
        }
        const key = generateHostKey(o.type, bits);
        const paths = writeHostKey(o.out, key, o.force);
        process.stderr.write(`wrote ${paths.privateKey} (mode 0600) and ${paths.publicKey}\npublish this record in ${o.name}'s signed zone:\n`);
        process.stdout.write(`${ipseckeyLine(o.name, key, prec)}\n`);
      } catch (e) {
        exitOnError(e);
      }
    });
}
