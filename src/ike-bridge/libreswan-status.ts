// Our peer conns as pluto holds them, read back from `whack --status`. The engine keeps what it
// installed in memory, but pluto outlives oedns: after an oedns restart (or a crash) the conns of the
// previous process are still routed in pluto, and serve must see them to keep a `private` peer's
// addresses closed until it has validated them again (src/daemon/leftovers.ts). Without this, only
// the closed-set file (written every 2 s) knew of them. Pure: text in, data out.
import { formatAddress, parseAddress } from '../wire/ip';

/** One peer's conns in pluto's status: `oe-NAME` or `oe-NAME/i` (one conn per address). */
export interface StatusPeer {
  name: string;
  conns: string[];
  /** The protected addresses: the right client of a gateway conn, else the right host. */
  addresses: string[];
  /** An RSA-signature conn (a key from DNS); false for NULL auth and for pass/drop conns. */
  authenticated: boolean;
  /** A `--pass` or `--drop` conn (policy `clear` or `block`). */
  shunt: boolean;
}

const ADDRESS = /^[0-9A-Fa-f:.]+$/;

/** The address text of a status field if it is one, in canonical form; undefined otherwise. */
function addressOf(text: string): string | undefined {
  if (!ADDRESS.test(text)) return undefined;
  const p = parseAddress(text);
  // We never write an IPv4 destination as ::ffff:a.b.c.d; such a conn is not ours.
  if (!p || (p.family === 4 && text.includes(':'))) return undefined;
  return formatAddress(p.bytes);
}

/**
 * The main line of a conn: `"oe-x": 192.0.2.1[@a]...192.0.2.2[@x]; routed; ...` with, for a conn
 * through a gateway, `...GATEWAY[@x]===INNER/32;`. Returns the address the conn protects.
 */
function protectedAddress(rest: string): string | undefined {
  if (!/^[0-9A-Fa-f:.]+[[=/]/.test(rest)) return undefined; // another line of the conn
  const dots = rest.indexOf('...');
  if (dots < 0) return undefined;
  const right = rest.slice(dots + 3);
  const m = /^([0-9A-Fa-f:.]+)(?:\[[^\]]*\])?(?:===([0-9A-Fa-f:.]+)\/(\d+))?[;\s]/.exec(right);
  if (!m) return undefined;
  if (m[2] !== undefined) {
    const inner = addressOf(m[2]);
    const hostBits = inner?.includes(':') ? '128' : '32';
    return inner !== undefined && m[3] === hostBits ? inner : undefined;
  }
  return addressOf(m[1]!);
}

/**
 * Peers whose conns (`oe-` prefix) pluto lists, with the addresses each protects. A conn whose line
 * does not read as we write conns is left out (it is removed by reconcile as ours-but-not-wanted).
 */
export function peersInStatus(status: string, prefix = 'oe-'): StatusPeer[] {
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const peers = new Map<string, StatusPeer>();
  const policies = new Map<string, string>();
  for (const m of status.matchAll(new RegExp(`^\\d{3} "(${esc}[^"/]+)(/\\d+)?":\\s+policy: (\\S+)`, 'gm'))) {
    policies.set(m[1]! + (m[2] ?? ''), m[3]!);
  }
  for (const m of status.matchAll(new RegExp(`^\\d{3} "(${esc}([^"/]+))(/\\d+)?": ([^\\n]*)$`, 'gm'))) {
    const conn = m[1]! + (m[3] ?? '');
    const address = protectedAddress(m[4]!);
    if (address === undefined) continue;
    const name = m[2]!;
    const policy = policies.get(conn) ?? '';
    const p = peers.get(name) ?? { name, conns: [], addresses: [], authenticated: true, shunt: false };
    p.conns.push(conn);
    if (!p.addresses.includes(address)) p.addresses.push(address);
    // Every conn of the peer must be an RSA one for the peer to count as authenticated.
    p.authenticated &&= /\bRSASIG\b/.test(policy) && !/AUTH_NEVER|AUTHNULL|AUTH_NULL/.test(policy);
    p.shunt ||= /\b(PASS|DROP|REJECT)\b/.test(policy) && !/\bENCRYPT\b/.test(policy);
    peers.set(name, p);
  }
  return [...peers.values()];
}
