// The one decision of capture mode: given what DNS said (and how sure DNSSEC is of it), install a peer,
// answer in the clear, or refuse. Pure: data in, a Decision out, always with a human reason.
import type { Peer, PeerGateway, PeerKey, PeerOwner, PolicyLevel } from '../peers/model';
import { ipseckeyToKeyObject, KeyError } from '../peers/keys';
import { RRType } from '../wire/types';
import { IpseckeyAlgorithm } from '../wire/rdata/ipseckey';
import { Ede } from '../wire/ede';
import type { Verdict } from '../dnssec/verdict';
import { addressText, formatAddress, parseIPv4, parseIPv6, parseAddress, specialAddress } from './ip';
import { matchChain, matchPeer } from './match';
import { fallbackAllowed, gatewayAllowed, hostnameProblem, nameProblem, foldName, type Policy, type Rule } from './rules';

/** A decoded IPSECKEY RDATA (RFC 4025 §2), as much as policy needs. */
export interface IpseckeyLike {
  precedence: number;
  gatewayType: 0 | 1 | 2 | 3;
  algorithm: number;
  /** IPv4 (type 1), IPv6 (type 2) or a domain name (type 3); null for type 0. */
  gateway: null | string;
  publicKey: Uint8Array;
}

export interface DecideInput {
  name: string;
  qtype: number;
  /** Addresses of the answer (after any CNAME chain). */
  addresses: string[];
  addressVerdict: Verdict;
  addressTtl: number;
  keys: IpseckeyLike[];
  /** Verdict on the IPSECKEY RRset; null when the name has none. */
  keyVerdict: Verdict | null;
  keyTtl: number;
  /** Earliest RRSIG expiration (Unix seconds) among the records used, when known. */
  sigExpiry?: number;
  /** Who asks; 'serve' unless said otherwise. */
  owner?: PeerOwner;
  /**
   * The name that owns the address and key (the end of a CNAME/DNAME chain): the peer's IKE identity.
   * Default: `name`.
   */
  peerName?: string;
  /**
   * Every name of the CNAME/DNAME chain from `name` to the owner of the address (either end may be
   * included). The strictest level among them and `name` applies: an alias cannot lower the level of
   * the name it points to (`www.bank.example` → `cdn.example`), nor a target the level of its alias.
   */
  chain?: string[];
}

/** A key not used, and why. */
export interface IgnoredKey {
  /** Position in `input.keys`. */
  index: number;
  precedence: number;
  algorithm: number;
  reason: string;
}

/** Keys behind another gateway, usable if the first choice fails. */
export interface GatewayAlternative {
  gateway: PeerGateway | { kind: 'name'; name: string };
  keys: PeerKey[];
}

export type RefuseRcode = 'SERVFAIL' | 'REFUSED' | 'NXDOMAIN';

interface Common {
  level: PolicyLevel;
  /** The rule that set the level; null for the default. */
  rule: Rule | null;
  /** Why that level (from matching). */
  why: string;
  /** Why this action, in words for a log line or an EDE EXTRA-TEXT. */
  reason: string;
  ignoredKeys: IgnoredKey[];
}

export type Decision =
  | (Common & {
      action: 'install';
      peer: Peer;
      ttl: number;
      /** Set when the chosen key sits behind a gateway named in DNS: resolve, validate, then completeGateway(). */
      needsGateway?: string;
      alternatives: GatewayAlternative[];
    })
  | (Common & {
      action: 'install-unauthenticated';
      peer: Peer;
      ttl: number;
      /** Fingerprints the engine may accept; with anyKey also any other. */
      trustedFingerprints: string[];
      anyKey: boolean;
    })
  | (Common & { action: 'answer' })
  | (Common & { action: 'refuse'; rcode: RefuseRcode; ede: number });

/** RFC 8914 codes (the one table is src/wire/ede.ts). */
export { Ede };

const ADDRESS_QTYPES: readonly number[] = [RRType.A, RRType.AAAA];

export function decide(input: DecideInput, policy: Policy, nowSec: number): Decision {
  const name = foldName(input.name);
  const m = matchChain(
    policy,
    matchPeer(policy, name, input.addresses, { addressesAuthenticated: input.addressVerdict.kind === 'secure' }),
    name,
    [...(input.chain ?? []), ...(input.peerName ? [input.peerName] : [])],
  );
  const base = { level: m.level, rule: m.rule, why: m.why, ignoredKeys: [] as IgnoredKey[] };
  const refuse = (rcode: RefuseRcode, ede: number, reason: string): Decision => ({ ...base, action: 'refuse', rcode, ede, reason });
  const answer = (reason: string): Decision => ({ ...base, action: 'answer', reason });

  if (m.level === 'block') return refuse('REFUSED', Ede.BLOCKED, `${name} is blocked by local policy: ${m.why}`);

  // A validating resolver never hands out data it found forged or could not check (RFC 4035 §5.5),
  // whatever the level: the address is what the program will trust.
  const av = input.addressVerdict;
  if (av.kind === 'bogus') {
    return refuse('SERVFAIL', av.ede, `the address answer for ${name} is bogus (${verdictText(av)})`);
  }
  if (av.kind === 'indeterminate') {
    return refuse('SERVFAIL', Ede.DNSSEC_INDETERMINATE, `the address answer for ${name} could not be validated (${verdictText(av)})`);
  }
  if (!ADDRESS_QTYPES.includes(input.qtype)) return answer(`only A and AAAA queries install peers (qtype ${input.qtype})`);
  if (m.level === 'clear') return answer(`level clear: ${name} is answered without IPsec (${m.why})`);
  if (input.addresses.length === 0) return answer(`no addresses for ${name}: nothing to protect`);
  // Loopback, link-local, multicast...: this host's or this link's, never a remote peer's. A name that
  // lists them must not pull local traffic into a tunnel; what is left is protected as usual.
  const remote = input.addresses.filter((a) => {
    const p = parseAddress(a.trim());
    return p !== null && specialAddress(p) === null;
  });
  if (remote.length === 0) {
    return answer(`${name} has only local or special addresses (${input.addresses.join(', ')}): nothing to protect`);
  }
  if (remote.length < input.addresses.length) input = { ...input, addresses: remote };
  // The peer's name becomes its IKE identity and a conn name in the engine: a hostname or nothing.
  const ident = foldName(input.peerName ?? input.name);
  const identProblem = hostnameProblem(ident);
  if (identProblem) {
    const text = `${ident} cannot be an IKE identity (${identProblem}): nothing installed`;
    return m.level === 'private'
      ? refuse('SERVFAIL', Ede.OTHER, `level private: ${text}`)
      : answer(`level ${m.level}: ${text}; answered in clear`);
  }

  const kv = input.keyVerdict;
  if (kv?.kind === 'bogus') {
    // An attacker who forges the key set would otherwise downgrade the name to clear text.
    return refuse('SERVFAIL', kv.ede, `the IPSECKEY of ${name} is bogus (${verdictText(kv)}); nothing installed`);
  }

  // A gateway other than the host itself only where policy lists the zone (see Policy.gateways).
  // A type 1/2 gateway is "the host itself" only when it is the one address the answer protects:
  // next to other addresses it would carry their traffic, i.e. be a gateway for them (a name listing
  // bob's address and its own host C as "itself" would take bob's traffic to C).
  const own = new Set(input.addresses.map(addressText));
  const gatewayCheck = (gw: ChosenGateway): string | null =>
    gw.kind === 'none' || (gw.kind === 'address' && own.size === 1 && own.has(gw.address)) || gatewayAllowed(policy, ident)
      ? null
      : `gateway ${gw.kind === 'address' ? gw.address : gw.name} is not allowed for ${ident}: only names under the zones of the policy's "gateways" may send their traffic through a security gateway`;
  const sel = kv ? selectKeys(input.keys, gatewayCheck) : { keys: [], gateway: null, ignored: [], alternatives: [] };
  base.ignoredKeys = sel.ignored;
  const trusted = kv !== null && (kv.kind === 'secure' || (kv.kind === 'insecure' && policy.trustInsecure));
  // A proof whose signatures have run out proves nothing now: re-validate, never install (RFC 4035 §5.3.1).
  if (input.sigExpiry !== undefined && input.sigExpiry <= nowSec) {
    return withoutKey(base, input, policy, nowSec, {
      text: `the signatures on the records of ${name} have expired and must be validated again`,
      ede: Ede.SIGNATURE_EXPIRED,
    });
  }

  if (trusted && sel.keys.length > 0 && sel.gateway) {
    const ttl = lifetime([input.addressTtl, input.keyTtl], input.sigExpiry, policy.maxTtl, nowSec);
    const gw = sel.gateway;
    const peer: Peer = {
      name: ident,
      addresses: uniqueAddresses(input.addresses),
      auth: { kind: 'pubkey', keys: sel.keys },
      gateway: gw.kind === 'name' ? { kind: 'none' } : gw,
      level: m.level,
      expiresAt: nowSec + ttl,
      owner: input.owner ?? 'serve',
    };
    const notes: string[] = [];
    if (kv.kind === 'insecure') notes.push('the key is unsigned and trusted only because trust-insecure is on');
    if (av.kind === 'insecure') notes.push('the address is unsigned; the DNSSEC-validated key still authenticates the peer');
    if (sel.ignored.length) notes.push(`${sel.ignored.length} key(s) ignored`);
    const via = gw.kind === 'address' ? ` via gateway ${gw.address}` : gw.kind === 'name' ? ` via gateway ${gw.name} (to be resolved)` : '';
    const d: Decision = {
      ...base,
      action: 'install',
      peer,
      ttl,
      alternatives: sel.alternatives,
      reason:
        `level ${m.level}: ${kv.kind} IPSECKEY for ${name}, ${sel.keys.length} key(s)${via}, for ${ttl} s` +
        (notes.length ? ` (${notes.join('; ')})` : ''),
    };
    if (gw.kind === 'name') d.needsGateway = gw.name;
    return d;
  }

  return withoutKey(base, input, policy, nowSec, noKeyText(name, kv, sel.ignored.length, policy.trustInsecure));
}

/** What happens when no trusted, usable key exists; `why` says which case it is. */
function withoutKey(
  base: Omit<Common, 'reason'>,
  input: DecideInput,
  policy: Policy,
  nowSec: number,
  why: { text: string; ede: number },
): Decision {
  switch (base.level) {
    case 'private':
      return {
        ...base,
        action: 'refuse',
        rcode: 'SERVFAIL',
        ede: why.ede,
        reason: `level private requires a DNSSEC-validated key: ${why.text}`,
      };
    case 'opportunistic': {
      if (!fallbackAllowed(policy.fallback)) {
        return {
          ...base,
          action: 'answer',
          reason: `level opportunistic, ${why.text}, and the fallback is off (no any-key, no trusted fingerprints): answered in clear`,
        };
      }
      const ttls = [input.addressTtl];
      if (input.keyVerdict !== null) ttls.push(input.keyTtl);
      const ttl = lifetime(ttls, input.sigExpiry, policy.maxTtl, nowSec);
      const f = policy.fallback;
      const peer: Peer = {
        name: foldName(input.peerName ?? input.name),
        addresses: uniqueAddresses(input.addresses),
        auth: { kind: 'unauthenticated', method: f.method },
        gateway: { kind: 'none' },
        level: base.level,
        expiresAt: nowSec + ttl,
        owner: input.owner ?? 'serve',
      };
      return {
        ...base,
        action: 'install-unauthenticated',
        peer,
        ttl,
        anyKey: f.anyKey,
        trustedFingerprints: [...f.trustedFingerprints],
        reason:
          `level opportunistic, ${why.text}: encrypted WITHOUT authentication (${f.method}), for ${ttl} s; ` +
          'this stops passive eavesdropping only',
      };
    }
    default:
      return { ...base, action: 'answer', reason: `level ${base.level}, ${why.text}: answered in clear` };
  }
}

function noKeyText(name: string, kv: Verdict | null, ignored: number, trustInsecure: boolean): { text: string; ede: number } {
  if (kv === null) return { text: `${name} publishes no IPSECKEY`, ede: Ede.OTHER };
  switch (kv.kind) {
    case 'insecure':
      if (!trustInsecure)
        return { text: `the IPSECKEY of ${name} is unsigned (${verdictText(kv)}) and trust-insecure is off`, ede: Ede.OTHER };
      break;
    case 'indeterminate':
      return { text: `the IPSECKEY of ${name} could not be validated (${verdictText(kv)})`, ede: Ede.DNSSEC_INDETERMINATE };
    default:
      break;
  }
  if (ignored > 0) return { text: `none of the ${ignored} IPSECKEY record(s) of ${name} is usable`, ede: Ede.OTHER };
  return { text: `${name} publishes no IPSECKEY`, ede: Ede.OTHER };
}

/**
 * Finish an install whose key sits behind a gateway named in DNS (IPSECKEY gateway type 3), once the
 * caller has resolved and validated that name. The gateway answer gets the same scrutiny as the
 * host's own address: bogus never installs.
 */
export function completeGateway(
  d: Decision,
  gw: { addresses: string[]; verdict: Verdict; ttl: number; sigExpiry?: number },
  input: DecideInput,
  policy: Policy,
  nowSec: number,
): Decision {
  if (d.action !== 'install' || d.needsGateway === undefined) return d;
  const gname = d.needsGateway;
  const base = { level: d.level, rule: d.rule, why: d.why, ignoredKeys: d.ignoredKeys };
  if (gw.verdict.kind === 'bogus') {
    return {
      ...base,
      action: 'refuse',
      rcode: 'SERVFAIL',
      ede: gw.verdict.ede,
      reason: `the address of gateway ${gname} is bogus (${verdictText(gw.verdict)}); nothing installed`,
    };
  }
  const usable = gw.addresses.map((a) => parseAddress(a)).filter((a) => a !== null);
  if (gw.verdict.kind === 'indeterminate' || usable.length === 0) {
    const text =
      usable.length === 0
        ? `gateway ${gname} has no address`
        : `the address of gateway ${gname} could not be validated (${verdictText(gw.verdict)})`;
    return withoutKey(base, input, policy, nowSec, {
      text,
      ede: gw.verdict.kind === 'indeterminate' ? Ede.DNSSEC_INDETERMINATE : Ede.OTHER,
    });
  }
  const address = formatAddress(usable[0]!.bytes);
  const ttl = Math.max(1, Math.min(d.ttl, lifetime([gw.ttl], gw.sigExpiry, policy.maxTtl, nowSec)));
  const peer: Peer = { ...d.peer, gateway: { kind: 'address', address }, expiresAt: nowSec + ttl };
  const { needsGateway: _done, ...rest } = d;
  return {
    ...rest,
    peer,
    ttl,
    reason: `${d.reason.replace(/ \(to be resolved\)/, '')}; gateway ${gname} is ${address} (${gw.verdict.kind})`,
  };
}

/**
 * The engine could not install what `d` asked for (daemon down, queue full, refused key). `private`
 * fails closed; every other level answers in clear, and the reason says so for the log.
 */
export function engineFailed(d: Decision, error: string): Decision {
  if (d.action !== 'install' && d.action !== 'install-unauthenticated') return d;
  const base = { level: d.level, rule: d.rule, why: d.why, ignoredKeys: d.ignoredKeys };
  if (d.level === 'private') {
    return {
      ...base,
      action: 'refuse',
      rcode: 'SERVFAIL',
      ede: Ede.OTHER,
      reason: `level private and the IKE engine could not install ${d.peer.name}: ${error}`,
    };
  }
  return { ...base, action: 'answer', reason: `the IKE engine could not install ${d.peer.name} (${error}): answered in clear` };
}

/** min(TTLs, RRSIG expiry − now, max-ttl), at least one second. */
export function lifetime(ttls: number[], sigExpiry: number | undefined, maxTtl: number, nowSec: number): number {
  let t = maxTtl;
  for (const x of ttls) if (Number.isFinite(x)) t = Math.min(t, x);
  if (sigExpiry !== undefined && Number.isFinite(sigExpiry)) t = Math.min(t, sigExpiry - nowSec);
  return Math.max(1, Math.floor(t));
}

type ChosenGateway = PeerGateway | { kind: 'name'; name: string };

export interface KeySelection {
  /** Keys for the chosen gateway, preferred first. */
  keys: PeerKey[];
  gateway: ChosenGateway | null;
  ignored: IgnoredKey[];
  alternatives: GatewayAlternative[];
}

/**
 * RFC 4025 §2.2: lower precedence is preferred. The preferred usable record picks the gateway; the
 * other records for the same gateway back it up (key rollover publishes two), and records for other
 * gateways become alternatives. Equal precedence keeps record order, so the result is deterministic.
 */
export function selectKeys(
  records: readonly IpseckeyLike[],
  gatewayCheck: (gw: ChosenGateway) => string | null = () => null,
): KeySelection {
  const ignored: IgnoredKey[] = [];
  const usable: Array<{ index: number; key: PeerKey; gw: ChosenGateway; gwKey: string }> = [];
  records.forEach((r, index) => {
    const problem = keyProblem(r);
    const gw = problem ? null : gatewayOf(r);
    const refused = gw !== null && typeof gw !== 'string' ? gatewayCheck(gw) : null;
    if (problem || typeof gw === 'string' || gw === null || refused) {
      ignored.push({ index, precedence: r.precedence, algorithm: r.algorithm, reason: problem ?? refused ?? (gw as string) });
      return;
    }
    usable.push({
      index,
      key: { algorithm: r.algorithm, publicKey: r.publicKey, precedence: r.precedence },
      gw,
      gwKey: gw.kind === 'none' ? 'none' : gw.kind === 'address' ? `a:${gw.address}` : `n:${gw.name}`,
    });
  });
  usable.sort((a, b) => a.key.precedence - b.key.precedence || a.index - b.index);
  if (usable.length === 0) return { keys: [], gateway: null, ignored, alternatives: [] };
  const groups = new Map<string, GatewayAlternative>();
  for (const u of usable) {
    const g = groups.get(u.gwKey);
    if (g) g.keys.push(u.key);
    else groups.set(u.gwKey, { gateway: u.gw, keys: [u.key] });
  }
  const [first, ...alternatives] = [...groups.values()];
  if (!first) return { keys: [], gateway: null, ignored, alternatives: [] };
  return { keys: first.keys, gateway: first.gateway, ignored, alternatives };
}

function gatewayOf(r: IpseckeyLike): ChosenGateway | string {
  switch (r.gatewayType) {
    case 0:
      return { kind: 'none' };
    case 1: {
      const b = r.gateway ? parseIPv4(r.gateway) : null;
      return b ? { kind: 'address', address: formatAddress(b) } : `gateway type 1 needs an IPv4 address, got ${JSON.stringify(r.gateway)}`;
    }
    case 2: {
      const b = r.gateway ? parseIPv6(r.gateway) : null;
      return b ? { kind: 'address', address: formatAddress(b) } : `gateway type 2 needs an IPv6 address, got ${JSON.stringify(r.gateway)}`;
    }
    case 3: {
      // The name goes to the resolver and from there into engine configuration: only plain hostnames.
      const n = foldName(r.gateway ?? '');
      const p = nameProblem(n);
      return p ? `gateway name ${JSON.stringify(r.gateway)} ${p}` : { kind: 'name', name: n };
    }
    default:
      return `unknown gateway type ${String(r.gatewayType)}`;
  }
}

/**
 * Why a key cannot be used, or null. Decoded with the IKE bridge's own converter, so that a key this
 * accepts is one the engine can install (e.g. Ed448 and off-curve ECDSA points are refused here, not
 * at install time after the answer was held back).
 */
/**
 * keyProblem() answers per key: a cache hit of a name decides again with the same key bytes, and
 * building a KeyObject to check a key is the costliest part of a decision. Bounded; pure memo.
 */
const keyProblems = new Map<string, string | null>();
const KEY_PROBLEMS_MAX = 4096;

export function keyProblem(r: IpseckeyLike): string | null {
  const id = `${r.algorithm}/${Buffer.from(r.publicKey.buffer, r.publicKey.byteOffset, r.publicKey.byteLength).toString('base64')}`;
  const known = keyProblems.get(id);
  if (known !== undefined) return known;
  const p = keyProblemOf(r);
  if (keyProblems.size >= KEY_PROBLEMS_MAX) keyProblems.delete(keyProblems.keys().next().value as string);
  keyProblems.set(id, p);
  return p;
}

function keyProblemOf(r: IpseckeyLike): string | null {
  switch (r.algorithm) {
    case 0:
      return 'no public key in the record (algorithm 0)';
    case IpseckeyAlgorithm.DSA:
      return 'DSA (algorithm 1) is not used: obsolete, and the IKE engines here take no DSA raw keys';
    case IpseckeyAlgorithm.RSA:
    case IpseckeyAlgorithm.ECDSA:
    case IpseckeyAlgorithm.EdDSA:
      try {
        ipseckeyToKeyObject(r.algorithm, r.publicKey);
        return null;
      } catch (e) {
        return e instanceof KeyError ? e.message.replace(/^oedns [^:]*: /, '') : `unusable key: ${String(e)}`;
      }
    default:
      return `unknown key algorithm ${r.algorithm}`;
  }
}

function uniqueAddresses(addrs: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of addrs) {
    const p = parseAddress(a.trim());
    const s = p ? formatAddress(p.bytes) : a.trim();
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

function verdictText(v: Verdict): string {
  const parts = [v.kind, v.reason, 'detail' in v ? v.detail : ''].filter((x) => x.length > 0);
  return [...new Set(parts)].join(': ');
}
