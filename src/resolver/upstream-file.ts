// Upstreams that follow the network. Once oedns is the system's resolver, /etc/resolv.conf names
// oedns itself; the real nameservers of the current network are in a file the network manager keeps
// (NetworkManager: /run/NetworkManager/no-stub-resolv.conf; systemd-resolved:
// /run/systemd/resolve/resolv.conf). We read that file, leave out our own addresses (forwarding to
// ourselves would loop), and re-read it when it changes, so a Wi-Fi change reaches oedns.
import { readFileSync, realpathSync, type Stats, statSync, unwatchFile, watchFile } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { networkInterfaces } from 'node:os';
import { formatAddress, parseAddress } from '../wire/ip';
import { ParseError } from '../util/errors';
import { type Endpoint, formatEndpoint, parseEndpoint } from './endpoint';

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
  const p = parseAddress(host.replace(/%.*$/, ''));
  if (!p) throw new ParseError('bad-address', `'${host}' is not an IP address`);
  return { addr: formatAddress(p.bytes), family: p.family };
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
type Stat = Pick<Stats, 'uid' | 'mode' | 'isDirectory' | 'isFile'>;

export interface FileSafetyOps {
  /** stat(2), following symbolic links (default fs.statSync). */
  stat?: (p: string) => Stat;
  realpath?: (p: string) => string;
  /** uids that may own the file and its directory: root and, where it exists, systemd-resolve. */
  owners?: () => number[];
}

/** Owners whose files we follow: root, and the user systemd-resolved writes its resolv.conf as. */
export function trustedOwners(readPasswd = (): string => readFileSync('/etc/passwd', 'utf8')): number[] {
  const out = [0];
  try {
    for (const line of readPasswd().split('\n')) {
      const f = line.split(':');
      if (f[0] === 'systemd-resolve' && f.length >= 4 && /^\d+$/.test(f[2]!)) out.push(Number(f[2]));
    }
  } catch {
    /* no passwd: root only */
  }
  return out;
}

/**
 * Why the upstream file cannot be trusted, or undefined. Whoever can write it (or replace it, or
 * create it while it is missing) picks the servers every query goes to, and so sees them all and
 * answers every unsigned name. So the file, and the directory it is in (through symlinks as
 * resolved), must belong to root (or systemd-resolve, which writes /run/systemd/resolve/resolv.conf)
 * and be writable by no one else; the directories above must be owned likewise and, if others may
 * write them, sticky (as control socket directories, src/control/server.ts).
 */
export function upstreamFileProblem(path: string, ops: FileSafetyOps = {}): string | undefined {
  const stat = ops.stat ?? ((p: string) => statSync(p));
  const realpath = ops.realpath ?? ((p: string) => realpathSync(p));
  const owners = (ops.owners ?? trustedOwners)();
  const abs = resolvePath(path);
  const who = (uid: number): boolean => owners.includes(uid);
  const mode = (m: number): string => (m & 0o7777).toString(8);
  let file: Stat | undefined;
  try {
    file = stat(abs);
  } catch {
    file = undefined;
  }
  if (file) {
    if (!file.isFile()) return `${abs} is not a regular file`;
    if (!who(file.uid)) return `${abs} belongs to uid ${file.uid}, who could send every query to a server of their choosing`;
    if (file.mode & 0o022)
      return `${abs} is writable by others (mode ${mode(file.mode)}): whoever writes it picks the server every query goes to`;
  }
  // The directory of the name we were given (where the link or file can be replaced) and, for a link,
  // the directory of what it points to. The first existing one up from each.
  const dirs = new Set<string>();
  const existing = (d: string): string | undefined => {
    for (let x = d, prev = ''; x !== prev; prev = x, x = dirname(x)) {
      try {
        return realpath(x);
      } catch {
        /* not there (yet): its parent decides who may make it */
      }
    }
    return undefined;
  };
  const own = existing(dirname(abs));
  if (own) dirs.add(own);
  if (file) {
    try {
      dirs.add(dirname(realpath(abs)));
    } catch {
      /* gone meanwhile */
    }
  }
  for (const dir of dirs) {
    const st = stat(dir);
    if (!who(st.uid)) return `${dir} belongs to uid ${st.uid}, who could replace ${abs}`;
    // Not even sticky: the file may be missing now (before the network is up) and anyone could create it.
    if (st.mode & 0o022) return `${dir} is writable by others (mode ${mode(st.mode)}): anyone could replace or create ${abs}`;
    for (let d = dirname(dir), prev = dir; d !== prev; prev = d, d = dirname(d)) {
      const a = stat(d);
      if (!who(a.uid)) return `${d} belongs to uid ${a.uid}, who could replace ${abs}`;
      if (a.mode & 0o022 && !(a.mode & 0o1000)) return `${d} is writable by others and not sticky: anyone could replace ${abs}`;
    }
  }
  return undefined;
}

export function watchUpstreamFile(
  path: string,
  listen: Endpoint[],
  current: Endpoint[],
  onChange: (servers: Endpoint[]) => void,
  intervalMs = 1000,
  /** The file became unsafe (upstreamFileProblem): it is not read, the servers stay as they were. */
  onUnsafe: (problem: string) => void = () => undefined,
  safety: FileSafetyOps = {},
): UpstreamFileWatch {
  let last = current;
  let lastProblem: string | undefined;
  const check = (): void => {
    const problem = upstreamFileProblem(path, safety);
    if (problem) {
      if (problem !== lastProblem) onUnsafe(problem);
      lastProblem = problem;
      return;
    }
    lastProblem = undefined;
    let text: string;
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
  // watchFile compares each poll with its first stat, which it takes asynchronously: a file written
  // before that first stat returns is its baseline and raises no event. One more look closes the gap.
  const settle = setTimeout(check, intervalMs + 50);
  settle.unref();
  return {
    check,
    close: () => {
      clearTimeout(settle);
      unwatchFile(path, listener);
    },
  };
}
