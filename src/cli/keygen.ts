// `oedns keygen`: make this host's IKE key and print the IPSECKEY record that publishes it.
// --next makes the next key of a rollover beside the current one; --show re-prints the records of the
// keys already there (docs/publish.md).
import { type Command, Option } from 'commander';
import type { KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { exitOnError } from './common';
import { generateHostKey, type HostKeyType, ipseckeyLine, writeHostKey } from '../ike-bridge/identity';
import { ConfigError } from '../util/errors';
import { checkKeyDir } from '../publish/files';
import { clearRollover, readCurrent, readRollover, readSlot, slotPaths, writeNext } from '../publish/keydir';

/** The type (and RSA size) of an existing key, so a next key matches the current one by default. */
function typeOf(k: KeyObject): { type: HostKeyType; bits?: number } {
  switch (k.asymmetricKeyType) {
    case 'ed25519':
      return { type: 'ed25519' };
    case 'ec':
      return { type: 'ecdsa-p256' };
    default:
      return { type: 'rsa', bits: k.asymmetricKeyDetails?.modulusLength };
  }
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description(
      "create this host's IKE key (private key mode 0600, or 0640 keeping the group of the key it replaces) and print the IPSECKEY record to publish",
    )
    .addOption(new Option('--type <type>', 'key type').choices(['rsa', 'ed25519', 'ecdsa-p256']).default('rsa'))
    .option('--bits <n>', 'RSA modulus size', '3072')
    .option('--out <dir>', 'directory for host.key.pem and host.pub.pem', '/etc/oedns')
    .option('--name <fqdn>', "this host's name (its IKE identity)", hostname())
    .option('--precedence <n>', 'IPSECKEY precedence', '10')
    .option('--force', 'replace an existing key', false)
    .option('--next', 'rollover: make the next key (host.next.key.pem) beside the current one; same type unless --type/--bits', false)
    .option('--show', 'print the records of the keys already in --out (current, and next if any); make nothing', false)
    .action(function (
      this: Command,
      o: { type: HostKeyType; bits: string; out: string; name: string; precedence: string; force: boolean; next: boolean; show: boolean },
    ) {
      try {
        const bits = Number(o.bits);
        const prec = Number(o.precedence);
        if (!Number.isInteger(bits)) throw new ConfigError('keygen-bits', `--bits must be an integer, not ${o.bits}`);
        if (!Number.isInteger(prec) || prec < 0 || prec > 255) throw new ConfigError('keygen-precedence', '--precedence must be 0..255');
        if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(o.name)) {
          throw new ConfigError('keygen-name', `--name must be a host name, not ${JSON.stringify(o.name)}`);
        }
        if (o.show && o.next) throw new ConfigError('usage', '--show and --next: give one');
        // Whoever else can write there could swap our keys or plant links we would write through.
        checkKeyDir(o.out);
        if (o.show) {
          const cur = readCurrent(o.out);
          process.stderr.write(`current key ${slotPaths(o.out, 'current').privateKey}:\n`);
          process.stdout.write(`${ipseckeyLine(o.name, cur, prec)}\n`);
          for (const slot of ['next', 'old'] as const) {
            const k = readSlot(o.out, slot);
            if (!k) continue;
            process.stderr.write(`${slot} key ${slotPaths(o.out, slot).privateKey}:\n`);
            process.stdout.write(`${ipseckeyLine(o.name, k, prec)}\n`);
          }
          return;
        }
        if (o.next) {
          const cur = readCurrent(o.out);
          // A new next key while the old one is kept would let the next activation delete the old
          // private key while DNS still publishes it: finish that rollover first.
          if (readSlot(o.out, 'old')) {
            throw new ConfigError(
              'rollover-state',
              `an old key is still kept (${slotPaths(o.out, 'old').privateKey}): finish the previous rollover with oedns publish --withdraw-old first`,
            );
          }
          const replaced = readSlot(o.out, 'next');
          const given = (opt: string): boolean => this.getOptionValueSource(opt) === 'cli';
          const like = typeOf(cur);
          const type = given('type') ? o.type : like.type;
          const key = generateHostKey(type, given('bits') ? bits : (like.bits ?? bits));
          const paths = writeNext(o.out, key, o.force);
          // The add recorded for the replaced next key does not publish this one: start over.
          if (replaced && readRollover(o.out)?.step === 'added') {
            clearRollover(o.out);
            process.stderr.write(
              `replaced the next key that oedns publish --add had published: ${slotPaths(o.out, 'next').privateKey} must be published with --add again before oedns key activate\n`,
            );
          }
          process.stderr.write(
            `wrote ${paths.privateKey} (mode 0${paths.mode.toString(8)}) and ${paths.publicKey}; the current key is unchanged\n` +
              `next: oedns publish --add --name ${o.name} --key-dir ${o.out} ... (publishes both keys)\n`,
          );
          process.stdout.write(`${ipseckeyLine(o.name, key, prec)}\n`);
          return;
        }
        const key = generateHostKey(o.type, bits);
        const paths = writeHostKey(o.out, key, o.force);
        process.stderr.write(
          `wrote ${paths.privateKey} (mode 0${paths.mode.toString(8)}) and ${paths.publicKey}\npublish this record in ${o.name}'s signed zone:\n`,
        );
        process.stdout.write(`${ipseckeyLine(o.name, key, prec)}\n`);
      } catch (e) {
        exitOnError(e);
      }
    });
}
