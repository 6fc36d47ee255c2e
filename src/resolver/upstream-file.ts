// Upstreams that follow the network. Once oedns is the system's resolver, /etc/resolv.conf names
// oedns itself; the real nameservers of the current network are in a file the network manager keeps
// (NetworkManager: /run/NetworkManager/no-stub-resolv.conf; systemd-resolved:
// /run/systemd/resolve/resolv.conf). We read that file, leave out our own addresses (forwarding to
// ourselves would loop), and re-read it when it changes, so a Wi-Fi change reaches oedns.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { Endpoint, formatEndpoint, parseEndpoint } from './endpoint';

/** The `nameserver` lines of a resolv.conf, in order (zone ids such as %eth0 dropped). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1]!.replace(/%.*$/, ''));
  }
  return out;
}

/** Is `e` one of our own listen addresses (a wildcard listener owns every address on its port)? */
export function isOwnAddress(e: Endpoint, listen: Endpoint[]): boolean {
  return listen.some((l) =>
    l.port === e.port && (l.host === e.host || (l.host === '0.0.0.0' && e.family === 4) || (l.host === '::' && e.family === 6)));
}

/** Upstreams from resolv.conf text, minus oedns's own listen addresses and unparsable lines. */
export function upstreamsFromResolvConf(text: string, listen: Endpoint[]): Endpoint[] {
  const out: Endpoint[] = [];
  for (const s of parseResolvConf(text)) {
    let e: Endpoint;
    try {
      e = parseEndpoint(s);
    } catch {
      continue;
    }
    if (!isOwnAddress(e, listen) && !out.some((o) => o.host === e.host && o.port === e.port)) out.push(e);
  }
  return out;
}

export function sameEndpoints(a: Endpoint[], b: Endpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => formatEndpoint(e) === formatEndpoint(b[i]!));
}

export interface UpstreamFileWatch {
  /** Re-read now (SIGHUP, `oedns control reload`); calls onChange only if the list changed. */
  check(): void;
  close(): void;
}

/**
 * Watches `path` by polling its status (NetworkManager and resolved replace the file by rename, which
 * an inotify watch on the old inode would miss; the file may also not exist yet). On a change of the
 * upstream list, `onChange` gets the new list (possibly empty: no network).
 */
export function watchUpstreamFile(
  path: string,
  listen: Endpoint[],
  current: Endpoint[],
  onChange: (servers: Endpoint[]) => void,
  intervalMs = 1000,
): UpstreamFileWatch {
  let last = current;
  const check = (): void => {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = '';
    }
    const next = upstreamsFromResolvConf(text, listen);
    if (sameEndpoints(next, last)) return;
    last = next;
    onChange(next);
  };
  const listener = (): void => check();
  watchFile(path, { interval: intervalMs, persistent: false }, listener);
  return { check, close: () => unwatchFile(path, listener) };
}
