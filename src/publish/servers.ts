// Peers ask the zone's name servers (its NS set), not the primary we updated. A secondary serves the
// old RRset until it has transferred the new zone version (on NOTIFY, else at the SOA refresh), so a
// rollover's wait must not start while one still lags. This finds the servers and waits, bounded, until
// each serves the primary's SOA serial (or a later one). A server that does not confirm in time is
// reported; the caller adds the SOA refresh to the rollover's wait for it.
import type { QueryFn } from '../dnssec/fetcher';
import { OednsError } from '../util/errors';
import { nameEquals } from '../wire/name';
import { decodeA, decodeAaaa, decodeNameRdata, decodeSoa } from '../wire/rdata';
import { RRType, type Name } from '../wire/types';
import type { Endpoint } from './publish';

export interface ServerCheck {
  server: string;
  /** The NS name it was found under, when found from the NS set. */
  ns?: Name;
  /** The SOA serial it served last. */
  serial?: number;
  /** It served the primary's serial or a later one. */
  confirmed: boolean;
  error?: string;
}

/** a ≥ b in serial number arithmetic (RFC 1982, 32 bits). */
export function serialAtLeast(a: number, b: number): boolean {
  return a === b || (a - b + 2 ** 32) % 2 ** 32 < 2 ** 31;
}

/** The zone's SOA serial and refresh as the primary serves them (`primary`: signed queries). */
export async function primarySoa(zone: Name, primary: QueryFn): Promise<{ serial: number; refresh: number }> {
  const m = await primary(zone, RRType.SOA);
  const rr = m.answers.find((r) => r.type === RRType.SOA && nameEquals(r.name, zone));
  if (!rr) throw new OednsError('no-soa', `the primary served no SOA for ${zone || '.'}`);
  const soa = decodeSoa(rr.rdata);
  return { serial: soa.serial, refresh: soa.refresh };
}

/** Every address (A and AAAA, port 53) of every name in the zone's NS set (read from the primary). */
export async function zoneServers(zone: Name, primary: QueryFn, resolver: QueryFn): Promise<Array<{ ns: Name; endpoint: Endpoint }>> {
  const m = await primary(zone, RRType.NS);
  const names = m.answers.filter((r) => r.type === RRType.NS && nameEquals(r.name, zone)).map((r) => decodeNameRdata(r.rdata));
  const out: Array<{ ns: Name; endpoint: Endpoint }> = [];
  for (const ns of names) {
    for (const type of [RRType.A, RRType.AAAA]) {
      let a;
      try {
        a = await resolver(ns, type);
      } catch {
        continue;
      }
      for (const r of a.answers.filter((x) => x.type === type)) {
        out.push({ ns, endpoint: { host: type === RRType.A ? decodeA(r.rdata) : decodeAaaa(r.rdata), port: 53 } });
      }
    }
    if (!out.some((x) => x.ns === ns)) out.push({ ns, endpoint: { host: ns, port: 0 } }); // reported as unresolvable
  }
  return out;
}

export interface ConfirmIo {
  /** Plain queries straight to one server (RD off). */
  direct(server: Endpoint): QueryFn;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * Polls each server's SOA until it serves `serial` or later, until `deadline` (Unix seconds; one round
 * at least). Unresolvable NS names (port 0) are reported unconfirmed at once.
 */
export async function confirmServers(
  zone: Name,
  serial: number,
  servers: Array<{ ns?: Name; endpoint: Endpoint }>,
  io: ConfirmIo,
  deadline: number,
  pollMs = 500,
): Promise<ServerCheck[]> {
  const checks: ServerCheck[] = servers.map((s) => ({
    server: s.endpoint.port
      ? `${s.endpoint.host.includes(':') ? `[${s.endpoint.host}]` : s.endpoint.host}:${s.endpoint.port}`
      : s.endpoint.host,
    ns: s.ns,
    confirmed: false,
    ...(s.endpoint.port ? {} : { error: 'no address' }),
  }));
  for (;;) {
    await Promise.all(
      servers.map(async (s, i) => {
        const c = checks[i]!;
        if (c.confirmed || !s.endpoint.port) return;
        try {
          const m = await io.direct(s.endpoint)(zone, RRType.SOA);
          const rr = m.answers.find((r) => r.type === RRType.SOA && nameEquals(r.name, zone));
          if (!m.aa || !rr) {
            c.error = `not authoritative for ${zone || '.'} (rcode ${m.rcode})`;
            return;
          }
          c.serial = decodeSoa(rr.rdata).serial;
          c.confirmed = serialAtLeast(c.serial, serial);
          c.error = undefined;
        } catch (e) {
          c.error = (e as Error).message;
        }
      }),
    );
    if (checks.every((c) => c.confirmed) || io.now() >= deadline) return checks;
    await io.sleep(pollMs);
  }
}
