// Drop shunts for the Libreswan engine, as whack spells them (pure: names, checks, arguments). What
// pluto 4.10 does shaped this (run in test/ike-bridge/libreswan-shunts-pluto.test.ts):
// - two conns with the same selectors cannot both be routed ("cannot install eroute -- it is in use"),
//   so a shunt is one conn per address, `oedns-drop-<name>@<address>`: changing a shunt adds the
//   conns of new addresses and deletes those of addresses that left; a kept address is never touched;
// - our end's client is 0.0.0.0/0 (or ::/0): the block policy covers every source address, and differs
//   from a peer conn's selectors (our address/32), so both are routed at once; the peer conn's policy
//   is more specific and wins while it is there (pluto's priorities), the shunt drops once it goes;
// - a conn to the same remote client must agree on the route ("cannot route -- route already in use"):
//   the shunt's far end is the address itself, as a host-to-host peer's, and `--nexthop` the gateway
//   when the peer held under the name reaches the address through one;
// - `--updown %disabled`: the shunt changes no route (updown's route-client is for tunnels).
import { isIP } from 'node:net';
import { EngineError } from '../util/errors';

export const LS_SHUNT_PREFIX = 'oedns-drop-';

/** A peer name as it may reach whack: a host name (what peerKey() makes of a DNS name). */
export function checkName(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(name) || name.length > 253) {
    throw new EngineError('engine-bad-peer', `not a peer name: ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * A literal address in one spelling (IPv6 as the URL standard compresses it), or engine-bad-peer. Two
 * spellings of one address would be two conns with the same selectors, which pluto refuses to route.
 */
export function checkAddress(a: string): string {
  const v = typeof a === 'string' ? isIP(a) : 0;
  if (v === 4) return a;
  if (v === 6 && !a.includes('%')) return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  throw new EngineError('engine-bad-peer', `not an IP address: ${JSON.stringify(a)}`);
}

export function shuntConnName(name: string, addr: string): string {
  return `${LS_SHUNT_PREFIX}${name}@${addr}`;
}

/** The name and address a shunt conn of ours stands for, or undefined (not ours, or not well formed). */
export function parseShuntConn(conn: string): { name: string; addr: string } | undefined {
  if (!conn.startsWith(LS_SHUNT_PREFIX)) return undefined;
  const rest = conn.slice(LS_SHUNT_PREFIX.length);
  const at = rest.lastIndexOf('@');
  if (at <= 0) return undefined;
  try {
    const name = checkName(rest.slice(0, at));
    const addr = checkAddress(rest.slice(at + 1));
    return addr === rest.slice(at + 1) ? { name, addr } : undefined;
  } catch {
    return undefined;
  }
}

const hostPrefix = (a: string): string => (a.includes(':') ? `${a}/128` : `${a}/32`);

/** `whack` arguments defining the drop conn for one address (checked values only). */
export function shuntAddArgs(o: { conn: string; addr: string; local: string; localId: string; nexthop?: string; name: string }): string[] {
  const all = o.addr.includes(':') ? '::/0' : '0.0.0.0/0';
  return [
    '--name',
    o.conn,
    '--ikev2',
    '--drop',
    '--auth-never', // pluto refuses a shunt with any other auth
    '--host',
    o.local,
    '--client',
    all,
    '--id',
    `@${o.localId}`,
    '--updown',
    '%disabled',
    ...(o.nexthop ? ['--nexthop', o.nexthop] : []),
    '--to',
    '--host',
    o.addr,
    '--client',
    hostPrefix(o.addr),
    '--id',
    `@${o.name}`,
  ];
}
