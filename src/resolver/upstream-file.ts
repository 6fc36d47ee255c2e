// Upstreams that follow the network. Once oedns is the system's resolver, /etc/resolv.conf names
// oedns itself; the real nameservers of the current network are in a file the network manager keeps
// (NetworkManager: /run/NetworkManager/no-stub-resolv.conf; systemd-resolved:
// /run/systemd/resolve/resolv.conf). We read that file, leave out our own addresses (forwarding to
// ourselves would loop), and re-read it when it changes, so a Wi-Fi change reaches oedns.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../wire/ip';
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

/** An address in one spelling: IPv4-mapped IPv6 (::ffff:a.b.c.d, how a v6 socket reaches v4) as IPv4, IPv6 compressed. */
export function canonicalAddress(host: string): { addr: string; family: 4 | 6 } {
  if (isIP(host) === 4) return { addr: formatIPv4(parseIPv4(host)), family: 4 };
  const b = parseIPv6(host.replace(/%.*$/, ''));
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return { addr: formatIPv4(b.subarray(12)), family: 4 };
  return { addr: formatIPv6(b), family: 6 };
}

const isLoopback = (a: { addr: string; family: 4 | 6 }): boolean => (a.family === 4 ? a.addr.startsWith('127.') : a.addr === '::1');
const isUnspecified = (a: { addr: string }): boolean => a.addr === '0.0.0.0' || a.addr === '::';

/** This host's interface addresses, canonical (a wildcard listener receives on every one of them). */
export function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      try {
        out.push(canonicalAddress(i.address).addr);
      } catch {
        /* not an address we can read: it cannot be in a resolv.conf line either */
      }
    }
  }
  return out;
}

/**
 * Would a query sent to `e` reach one of our listeners? Addresses are compared in canonical form
 * (::ffff:127.0.0.1 is 127.0.0.1); a datagram to 0.0.0.0 or :: goes to this host's loopback; a
 * wildcard listener (0.0.0.0, or :: for IPv6: we bind it IPv6-only) owns its port on every loopback
 * and interface address. Another loopback address on the same port (systemd-resolved's 127.0.0.53)
 * is not ours unless a wildcard listener covers it.
 */
export function isOwnAddress(e: Endpoint, listen: Endpoint[], local: () => string[] = localAddresses): boolean {
  let to: { addr: string; family: 4 | 6 };
  try {
    to = canonicalAddress(e.host);
  } catch {
    return false;
  }
  if (isUnspecified(to)) to = to.family === 4 ? { addr: '127.0.0.1', family: 4 } : { addr: '::1', family: 6 };
  let locals: string[] | undefined;
  return listen.some((l) => {
    if (l.port !== e.port) return false;
    let at: { addr: string; family: 4 | 6 };
    try {
      at = canonicalAddress(l.host);
    } catch {
      return false;
    }
    if (!isUnspecified(at)) return at.addr === to.addr;
    if (at.family !== to.family) return false;
    locals ??= local();
    return isLoopback(to) || locals.includes(to.addr);
  });
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
