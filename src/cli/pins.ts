// `oedns pins`: the certificates the BTNS fallback (tofu-cert) has pinned, and forgetting one after
// an operator decided that a peer's change of certificate was legitimate.
import { type Command } from 'commander';
import { dirname } from 'node:path';
import { DEFAULT_STATE_PATH } from '../autosp/state';
import { fallbackPlaces, PIN_FILE } from '../ike-bridge/fallback';
import { findPinFile, PinStore } from '../ike-bridge/tofu';
import { exitOnError } from './common';

/** Where serve keeps its pins (src/daemon/engine-config.ts): next to the default key, else the state directory. */
const defaultPinFile = (): string => findPinFile(fallbackPlaces('/etc/oedns/host.key.pem', dirname(DEFAULT_STATE_PATH), PIN_FILE));
const PIN_FILE_HELP = 'pin file (default: /etc/oedns/tofu-pins.json, or /var/lib/oedns/tofu-pins.json where the service keeps it)';

export function registerPins(program: Command): void {
  const pins = program
    .command('pins')
    .description(
      'list or forget the peer certificates pinned by the unauthenticated fallback (tofu-cert); stop `oedns serve` before forgetting: it keeps its pins in memory',
    );
  pins
    .command('list')
    .description('one line per pinned peer: name, SHA-256 fingerprint, how it was accepted, first and last seen')
    .option('--file <path>', PIN_FILE_HELP)
    .option('--json', 'print the pin file as JSON')
    .action((o: { file?: string; json?: boolean }) => {
      try {
        const file = o.file ?? defaultPinFile();
        const state = new PinStore(file).snapshot;
        const all = Object.values(state.pins).sort((a, b) => a.name.localeCompare(b.name));
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all.map(({ der: _der, ...rest }) => rest))}\n`);
          return;
        }
        if (all.length === 0) process.stdout.write(`no pinned certificates in ${file}\n`);
        for (const p of all) {
          const seen = (t: number) => new Date(t * 1000).toISOString();
          process.stdout.write(`${p.name}  ${p.fingerprint}  ${p.source}  first ${seen(p.firstSeen)}  last ${seen(p.lastSeen)}\n`);
        }
      } catch (e) {
        exitOnError(e);
      }
    });
  pins
    .command('forget')
    .argument('<name...>', 'peer names whose pinned certificate is forgotten (the next contact pins anew, if the policy allows)')
    .option('--file <path>', PIN_FILE_HELP)
    .action((names: string[], o: { file?: string }) => {
      try {
        const file = o.file ?? defaultPinFile();
        const store = new PinStore(file);
        let missing = 0;
        for (const n of names) {
          if (store.forget(n)) process.stdout.write(`forgot ${n}\n`);
          else {
            missing++;
            process.stderr.write(`${n} is not pinned in ${file}\n`);
          }
        }
        process.exitCode = missing ? 1 : 0;
      } catch (e) {
        exitOnError(e);
      }
    });
}
