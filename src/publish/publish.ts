// `oedns publish` without the command line: find the zone and its primary, read the IPSECKEY RRset
// there, send one TSIG-signed UPDATE that makes it hold exactly our keys, then watch the name through
// our own validator until the zone serves it signed (bounded). Every read at the primary is a
// TSIG-signed query with a signed answer (signed-query.ts): what we base the update, its TTL and our
// report on is the server's, now. All I/O comes in through PublishIo, so tests can drive it with the
// real named and the CLI with real sockets.
// Layering: src/publish may import src/ike-bridge, the peer model, src/dnssec, src/wire and src/util.
import { randomInt } from 'node:crypto';
import type { TrustAnchor } from '../dnssec/anchors';
import type { QueryFn } from '../dnssec/fetcher';
import { createValidator } from '../dnssec/validator';
import { OednsError, TransportError } from '../util/errors';
import { encodeMessage } from '../wire/message';
import { isSubdomain, nameEquals } from '../wire/name';
import { decodeA, decodeAaaa, decodeSoa, type Soa } from '../wire/rdata';
import { RRType, type Message, type Name } from '../wire/types';
import { checkUpdateAnswer } from './answer';
import { PublishError } from './errors';
import { confirmServers, primarySoa, zoneServers, type ServerCheck } from './servers';
import { signedQuery } from './signed-query';
import { DEFAULT_FUDGE, signRequest, type TsigKey } from './tsig';
import { buildIpseckeyUpdate, describeChange, sameRdataSet } from './update';

export interface Endpoint {
  host: string;
  port: number;
}

export interface PublishIo {
  /** A recursive resolver: the zone's SOA, the primary's address, and the chain above the zone. */
  resolver: QueryFn;
  /** One message over TCP to the primary (the UPDATE, and our signed queries); resolves with the answer's bytes. */
  send(server: Endpoint, wire: Uint8Array): Promise<Uint8Array>;
  /** Plain queries straight to one of the zone's servers (RD off): is it serving the new serial yet? */
  direct(server: Endpoint): QueryFn;
  /** Unix seconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface PublishRequest {
  name: Name;
  zone?: Name;
  server?: Endpoint;
  /** TTL for the records; default: the TTL of the RRset there now, else 3600. */
  ttl?: number;
  /** RDATA of every IPSECKEY the name must hold afterwards. */
  records: Uint8Array[];
  key: TsigKey;
  anchors: readonly TrustAnchor[];
  dryRun?: boolean;
  /** How long to wait for the zone to serve the records signed, seconds (0: do not check). */
  waitSec: number;
  fudge?: number;
  /** Milliseconds between looks while waiting. */
  pollMs?: number;
  /** Servers that must serve the new zone version before we report (default: the zone's NS set). */
  servers?: Endpoint[];
}

export interface Verification {
  verdict: 'secure' | 'insecure' | 'bogus' | 'indeterminate';
  reason: string;
  /** The validated RRset holds exactly the records we published. */
  matches: boolean;
  /** Seconds from sending the update until this result. */
  waitedSec: number;
}

export interface PublishReport {
  name: Name;
  zone: Name;
  server: Endpoint;
  ttl: number;
  action: 'updated' | 'unchanged' | 'dry-run';
  before: Uint8Array[];
  beforeTtl?: number;
  after: Uint8Array[];
  removed: Uint8Array[];
  added: Uint8Array[];
  verification?: Verification;
  /** The zone's SOA serial and refresh at the primary once the records validated (signed read). */
  soa?: { serial: number; refresh: number };
  /** Whether each name server of the zone serves that serial (or a later one) yet. */
  servers?: ServerCheck[];
}

export const DEFAULT_TTL = 3600;

/** The zone holding `name` and its SOA, from the SOA query's answer or authority section. */
export async function findZone(name: Name, query: QueryFn): Promise<{ zone: Name; soa: Soa }> {
  let m: Message;
  try {
    m = await query(name, RRType.SOA);
  } catch (e) {
    throw new PublishError('zone-not-found', `cannot ask for the SOA of ${name}: ${(e as Error).message}`, false, {}, { cause: e });
  }
  if (m.rcode !== 0 && m.rcode !== 3)
    throw new PublishError('zone-not-found', `the SOA query for ${name} answered rcode ${m.rcode}; give --zone`);
  const soa =
    m.answers.find((r) => r.type === RRType.SOA && nameEquals(r.name, name)) ??
    m.authorities.find((r) => r.type === RRType.SOA && isSubdomain(name, r.name));
  if (!soa) throw new PublishError('zone-not-found', `no SOA for ${name} or above it in the answer; give --zone`);
  return { zone: soa.name, soa: decodeSoa(soa.rdata) };
}

/** The first address of `host` (A, then AAAA) through the resolver. */
export async function addressOf(host: Name, query: QueryFn): Promise<string> {
  for (const type of [RRType.A, RRType.AAAA]) {
    let m: Message;
    try {
      m = await query(host, type);
    } catch {
      continue;
    }
    const rr = m.answers.find((r) => r.type === type);
    if (rr) return type === RRType.A ? decodeA(rr.rdata) : decodeAaaa(rr.rdata);
  }
  throw new PublishError('server-unresolvable', `no address for the zone's primary ${host}; give --server HOST[:PORT]`);
}

/** The IPSECKEY RRset at `name` as the primary serves it now (`q`: signedQuery to the primary). */
export async function readRRset(name: Name, zone: Name, q: QueryFn, server: Endpoint): Promise<{ rdata: Uint8Array[]; ttl?: number }> {
  let m: Message;
  try {
    m = await q(name, RRType.IPSECKEY);
  } catch (e) {
    if (e instanceof PublishError) throw e;
    throw new PublishError(
      'server-unreachable',
      `${server.host}:${server.port} does not answer: ${(e as Error).message}`,
      false,
      {},
      { cause: e },
    );
  }
  if (m.rcode === 5 || m.rcode === 9 || (!m.aa && m.rcode !== 2)) {
    throw new PublishError(
      'zone-not-served',
      `${server.host}:${server.port} is not authoritative for ${zone || '.'} (rcode ${m.rcode}${m.aa ? '' : ', no AA'}); send to the zone's primary with --server`,
    );
  }
  if (m.rcode !== 0 && m.rcode !== 3)
    throw new PublishError('zone-not-served', `${server.host}:${server.port} answered rcode ${m.rcode} for ${name} IPSECKEY`);
  const rrs = m.answers.filter((r) => r.type === RRType.IPSECKEY && nameEquals(r.name, name));
  return { rdata: rrs.map((r) => r.rdata), ttl: rrs[0]?.ttl };
}

/**
 * Validated lookups go to the primary for names in the zone (fresh data, no cache in between) and
 * to the resolver for everything above it, including the zone's DS, which lives in the parent.
 */
export function splitQuery(zone: Name, primary: QueryFn, resolver: QueryFn): QueryFn {
  return (n, type) => (isSubdomain(n, zone) && !(type === RRType.DS && nameEquals(n, zone)) ? primary(n, type) : resolver(n, type));
}

/** Signed queries to the primary over `io.send`. */
function primaryQuery(req: PublishRequest, server: Endpoint, io: PublishIo): QueryFn {
  return signedQuery(
    `${server.host}:${server.port}`,
    req.key,
    { send: (w) => io.send(server, w), now: () => io.now() },
    req.fudge ?? DEFAULT_FUDGE,
  );
}

async function verify(req: PublishRequest, zone: Name, server: Endpoint, io: PublishIo, startedAt: number): Promise<Verification> {
  const query = splitQuery(zone, primaryQuery(req, server, io), io.resolver);
  const validator = createValidator({ anchors: req.anchors, query });
  const deadline = startedAt + req.waitSec;
  for (;;) {
    let v: Verification;
    try {
      const msg = await query(req.name, RRType.IPSECKEY);
      const res = await validator.validate({ name: req.name, type: RRType.IPSECKEY, class: 1 }, msg, io.now());
      // Only what the validator vouches for: the RRsets it hands on with its verdict.
      const got = res.rrsets
        .filter((x) => x.role !== 'denial' && x.type === RRType.IPSECKEY && nameEquals(x.name, req.name))
        .flatMap((x) => x.records.map((r) => r.rdata));
      const reason = res.verdict.kind === 'secure' ? res.verdict.reason : `${res.verdict.reason}: ${res.verdict.detail}`;
      v = { verdict: res.verdict.kind, reason, matches: sameRdataSet(got, req.records), waitedSec: Math.round(io.now() - startedAt) };
    } catch (e) {
      if (!(e instanceof OednsError)) throw e;
      v = { verdict: 'indeterminate', reason: `fetch-failed: ${e.message}`, matches: false, waitedSec: Math.round(io.now() - startedAt) };
    }
    // A secure answer with other records is the old signed version (inline signing lags): wait on.
    if ((v.verdict === 'secure' && v.matches) || io.now() >= deadline) return v;
    await io.sleep(req.pollMs ?? 500);
  }
}

export async function publish(req: PublishRequest, io: PublishIo): Promise<PublishReport> {
  if (req.records.length === 0) throw new PublishError('rollover-state', 'nothing to publish');
  let zone = req.zone;
  let soa: Soa | undefined;
  if (zone === undefined) ({ zone, soa } = await findZone(req.name, io.resolver));
  if (!isSubdomain(req.name, zone)) throw new PublishError('update-notzone', `${req.name} is not inside zone ${zone || '.'}`);
  let server = req.server;
  if (!server) {
    // The zone's primary: MNAME of its SOA (RFC 2136 §4.3).
    soa ??= (await findZone(zone, io.resolver)).soa;
    server = { host: await addressOf(soa.mname, io.resolver), port: 53 };
  }
  const before = await readRRset(req.name, zone, primaryQuery(req, server, io), server);
  const ttl = req.ttl ?? before.ttl ?? DEFAULT_TTL;
  const diff = describeChange({ zone: zone, name: req.name, ttl, seen: before.rdata, want: req.records });
  const base: Omit<PublishReport, 'action'> = {
    name: req.name,
    zone: zone,
    server,
    ttl,
    before: before.rdata,
    beforeTtl: before.ttl,
    after: req.records,
    removed: diff.removed,
    added: diff.added,
  };
  if (req.dryRun) return { ...base, action: 'dry-run' };
  const startedAt = io.now();
  let action: PublishReport['action'] = 'unchanged';
  if (!sameRdataSet(before.rdata, req.records) || before.ttl !== ttl) {
    await sendUpdate(req, zone, server, before.rdata, ttl, io);
    action = 'updated';
  }
  const verification = req.waitSec > 0 ? await verify(req, zone, server, io, startedAt) : undefined;
  if (!verification || !(verification.verdict === 'secure' && verification.matches)) return { ...base, action, verification };
  // Peers ask the zone's name servers: the report (and a rollover's clock) waits until they serve the
  // version the primary validated, bounded by --wait (one round at least).
  const primary = primaryQuery(req, server, io);
  let soaNow: { serial: number; refresh: number };
  try {
    soaNow = await primarySoa(zone, primary);
  } catch (e) {
    if (!(e instanceof OednsError)) throw e;
    return {
      ...base,
      action,
      verification,
      servers: [{ server: `${server.host}:${server.port}`, confirmed: false, error: `no SOA serial from the primary: ${e.message}` }],
    };
  }
  let list: Array<{ ns?: Name; endpoint: Endpoint }>;
  try {
    list = req.servers ? req.servers.map((endpoint) => ({ endpoint })) : await zoneServers(zone, primary, io.resolver);
  } catch (e) {
    if (!(e instanceof OednsError)) throw e;
    return {
      ...base,
      action,
      verification,
      soa: soaNow,
      servers: [{ server: `NS of ${zone || '.'}`, confirmed: false, error: e.message }],
    };
  }
  const servers = await confirmServers(zone, soaNow.serial, list, io, Math.max(startedAt + req.waitSec, io.now()), req.pollMs ?? 500);
  return { ...base, action, verification, soa: soaNow, servers };
}

async function sendUpdate(
  req: PublishRequest,
  zone: Name,
  server: Endpoint,
  seen: Uint8Array[],
  ttl: number,
  io: PublishIo,
): Promise<void> {
  const msg = buildIpseckeyUpdate({ zone, name: req.name, ttl, seen, want: req.records }, randomInt(0, 65536));
  const fudge = req.fudge ?? DEFAULT_FUDGE;
  const now = io.now();
  const signed = signRequest(encodeMessage(msg, { compress: true }), req.key, now, fudge);
  let answer: Uint8Array;
  try {
    answer = await io.send(server, signed.wire);
  } catch (e) {
    // Refused or unreachable before anything was written: the server never saw the update.
    if (e instanceof TransportError && e.code === 'unreachable') {
      throw new PublishError('server-unreachable', `${server.host}:${server.port}: ${e.message}`, false, {}, { cause: e });
    }
    throw new PublishError(
      'update-no-answer',
      `the update was sent to ${server.host}:${server.port} but no answer came (${(e as Error).message}): it may or may not have been applied; check with oedns lookup ${req.name} IPSECKEY`,
      'unknown',
      {},
      { cause: e },
    );
  }
  let id: number;
  try {
    id = (answer[0]! << 8) | answer[1]!;
    if (answer.length < 12 || id !== msg.id || (answer[2]! & 0x80) === 0) throw new Error('the answer does not match the update');
    checkUpdateAnswer(answer, { zone, name: req.name, key: req.key, requestMac: signed.mac, timeSigned: Math.floor(now), fudge }, io.now());
  } catch (e) {
    if (e instanceof PublishError) throw e;
    throw new PublishError(
      'tsig-response-bad',
      `the answer to the update is not usable (${(e as Error).message}): it may or may not have been applied; check with oedns lookup`,
      'unknown',
      {},
      { cause: e },
    );
  }
}
