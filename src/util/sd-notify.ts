// Readiness for systemd (Type=notify, sd_notify(3)): tell the service manager "READY=1" once every
// listener is bound, privileges are dropped and the first reconcile ran, so units ordered after
// oedns (and `systemctl start`) wait for a resolver that answers.
//
// The protocol is one datagram on the AF_UNIX socket named by $NOTIFY_SOCKET. Node cannot send one:
// node:dgram knows only udp4/udp6, node:net only stream sockets, and a native addon is not worth a
// dependency. So we run systemd-notify(1), which sends the datagram for us. It is not our main PID,
// hence NotifyAccess=all in packaging/oedns.service; since systemd 246 it also waits until the manager
// has read the message (sd_notify_barrier), which closes the race where a short-lived sender exits
// before systemd can tell which unit it belongs to.
import { execFile } from 'node:child_process';

export interface Notifier {
  /** True when started by systemd with a notify socket. */
  readonly enabled: boolean;
  /** Sends `KEY=value` assignments (READY=1, RELOADING=1, STOPPING=1, STATUS=...); resolves when done. */
  notify(assignments: Record<string, string>): Promise<boolean>;
}

/**
 * Reads $NOTIFY_SOCKET once and takes it out of `env` (our own environment by default): with
 * NotifyAccess=all, any child that inherited it (ipsec whack, swanctl, a shell of an updown script)
 * could tell systemd we are ready, reloading or stopping. Only systemd-notify gets it back.
 */
export function sdNotifier(env: NodeJS.ProcessEnv = process.env, binary = 'systemd-notify', timeoutMs = 5000): Notifier {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  const enabled = Boolean(socket);
  return {
    enabled,
    notify(assignments) {
      if (!enabled) return Promise.resolve(false);
      const args = Object.entries(assignments).map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`);
      return new Promise((resolve) => {
        execFile(binary, args, { timeout: timeoutMs, env: { ...env, NOTIFY_SOCKET: socket } }, (err) => resolve(!err));
      });
    },
  };
}
