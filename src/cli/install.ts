// `oedns install` / `oedns install --uninstall`: the install step for a globally installed package,
// which has no checkout to run scripts/install.sh from. It runs the copy shipped in the package with
// this very command as the unit's ExecStart, so the service runs the oedns that installed it.
import { type Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const INSTALL_SCRIPT = resolve(__dirname, '../../../scripts/install.sh');

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description(
      "make oedns this machine's resolver service: user oedns, /etc/oedns, the systemd unit, charon's VICI group (scripts/install.sh; run as root)",
    )
    .option('--uninstall', 'remove the unit, the strongSwan snippet and the user (keeps /etc/oedns and /var/lib/oedns)')
    .option('--purge', 'with --uninstall: also delete /etc/oedns and /var/lib/oedns')
    .option('--destdir <dir>', 'install under DIR instead of /')
    .option('--identity <fqdn>', 'our IKE identity for a new /etc/oedns/oedns.yaml (default: hostname -f)')
    .option('--vici-group <name>', "group that may use charon's VICI socket (default vici)")
    .option('--no-strongswan', "leave strongSwan's configuration alone")
    .option('--enable', 'also systemctl enable --now oedns')
    .action(
      (o: {
        uninstall?: boolean;
        purge?: boolean;
        destdir?: string;
        identity?: string;
        viciGroup?: string;
        strongswan?: boolean;
        enable?: boolean;
      }) => {
        const args = [INSTALL_SCRIPT, o.uninstall ? 'uninstall' : 'install', '--bin', resolve(process.argv[1]!)];
        if (o.purge) args.push('--purge');
        if (o.destdir) args.push('--destdir', o.destdir);
        if (o.identity) args.push('--identity', o.identity);
        if (o.viciGroup) args.push('--vici-group', o.viciGroup);
        if (o.strongswan === false) args.push('--no-strongswan');
        if (o.enable) args.push('--enable');
        const r = spawnSync('bash', args, { stdio: 'inherit' });
        process.exitCode = r.status ?? 1;
      },
    );
}
