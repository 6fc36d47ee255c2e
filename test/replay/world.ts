// The DNS a replay scenario describes: its zones, delegated to each other with NS and DS as a parent
// publishes them (RFC 4035 §2.4), and the upstream that answers the validator from them. The upstream
// behaves like a recursive resolver queried with CD=1 (it follows CNAME/DNAME chains across zones and
// does not judge signatures), or, on request, like one authoritative server that stops a chain at the
// edge of the zone it answered from.
import { canonicalName, isSubdomain, labelCount, parentName } from '../../src/wire/name';
import { encodeNameRdata } from '../../src/wire/rdata';
import type { Message, Name, RR } from '../../src/wire/types';
import { computeDsDigest } from '../../src/dnssec/ds';
import { decodeDs } from '../../src/dnssec/records';
import type { TrustAnchor } from '../../src/dnssec/anchors';
import { encodeDs } from '../../src/wire/rdata';
import { authAnswer, rr, T, type TestKey } from '../dnssec/signer';
import { type Zone } from './zone';

/** One DS record the parent publishes for a child. */
export interface DsSpec {
  /** Role of the child's key the DS points at (default: each key-signing key). */
  key?: string;
  digest: number;
  /** Flip the digest's bytes: a DS that matches no key. */
  wrong?: boolean;
  /** Claim another algorithm number than the key's (an algorithm we do not implement, say). */
  algorithm?: number;
}

export interface Delegation {
  /** Publish NS at the cut in the parent (default true). */
  delegate: boolean;
  ds: DsSpec[];
}

export type UpstreamStyle = 'recursive' | 'authoritative';

export function dsRecords(child: Zone, specs: DsSpec[]): RR[] {
  const out: RR[] = [];
  for (const s of specs) {
    const keys: TestKey[] = s.key ? [child.keyByRole(s.key) ?? fail(`zone ${child.apex || '.'} has no key ${s.key}`)] : child.sepKeys();
    for (const k of keys) {
      let digest = computeDsDigest(child.apex, k.dnskey.rdata, s.digest) ?? new Uint8Array(32);
      if (s.wrong) digest = digest.map((b) => b ^ 0xff);
      out.push(rr(child.apex, T.DS, encodeDs({ keyTag: k.tag, algorithm: s.algorithm ?? k.alg, digestType: s.digest, digest })));
    }
  }
  return out;
}

function fail(msg: string): never {
  throw new Error(msg);
}

export function emptyResponse(name: Name, type: number, rcode = 0): Message {
  return authAnswer(name, type, [], [], rcode);
}

export class World {
  /** Deepest first, so the first enclosing zone found is the closest. */
  readonly zones: Zone[];

  constructor(zones: Zone[], delegations: Map<string, Delegation>) {
    this.zones = [...zones].sort((a, b) => labelCount(b.apex) - labelCount(a.apex));
    for (const child of this.zones) {
      if (child.apex === '') continue;
      const d = delegations.get(canonicalName(child.apex)) ?? { delegate: true, ds: [{ digest: 2 }] };
      const parent = this.zoneOf(parentName(child.apex)!);
      if (!parent || !d.delegate) continue;
      parent.add(rr(child.apex, T.NS, encodeNameRdata(`ns.${child.apex}`)));
      if (child.signed) for (const ds of dsRecords(child, d.ds)) parent.add(ds);
    }
    // Parents sign after their children's DS records are in.
    for (const z of [...this.zones].reverse()) z.finalize();
  }

  zone(apex: Name): Zone | undefined {
    return this.zones.find((z) => canonicalName(z.apex) === canonicalName(apex));
  }

  /** The closest zone whose apex is `name` or above it. */
  zoneOf(name: Name): Zone | undefined {
    return this.zones.find((z) => isSubdomain(name, z.apex));
  }

  /** The zone that answers `name`/`type`: a DS lives in the parent, above the cut. */
  zoneForQuery(name: Name, type: number): Zone | undefined {
    if (type === T.DS && name !== '' && this.zone(name)) return this.zoneOf(parentName(name)!);
    return this.zoneOf(name);
  }

  /** SHA-256 DS anchors for the key-signing keys of `apex`. */
  anchorFor(apex: Name): TrustAnchor {
    const z = this.zone(apex) ?? fail(`no zone ${apex || '.'} to anchor`);
    return { zone: z.apex, ds: dsRecords(z, [{ digest: 2 }]).map((r) => decodeDs(r.rdata)), keys: [] };
  }

  /** The response the upstream gives to `name`/`type`, built from the zones. */
  answer(name: Name, type: number, style: UpstreamStyle = 'recursive'): Message {
    const msg = emptyResponse(name, type);
    const first = this.zoneForQuery(name, type);
    if (!first) return { ...msg, rcode: 5, aa: false }; // REFUSED: nobody serves it
    const seen = new Set<string>();
    let sname = name;
    for (let hop = 0; hop < 16; hop++) {
      if (seen.has(canonicalName(sname))) break;
      seen.add(canonicalName(sname));
      const z = this.zoneForQuery(sname, type);
      if (!z || (style === 'authoritative' && z !== first)) break;
      const r = z.lookup(sname, type);
      switch (r.kind) {
        case 'answer':
          msg.answers.push(...r.rrs, ...r.sigs);
          msg.authorities.push(...r.proof);
          return msg;
        case 'cname':
          msg.answers.push(...r.rrs, ...r.sigs);
          msg.authorities.push(...r.proof);
          sname = r.target;
          continue;
        case 'dname': {
          // RFC 6672 §3.1: the DNAME, then the CNAME synthesized from it (unsigned, the DNAME's TTL).
          msg.answers.push(...r.rrs, ...r.sigs, rr(sname, T.CNAME, encodeNameRdata(r.target), r.rrs[0]!.ttl));
          sname = r.target;
          continue;
        }
        case 'nodata':
          msg.authorities.push(...r.authority);
          return msg;
        case 'nxdomain':
          msg.rcode = 3;
          msg.authorities.push(...r.authority);
          return msg;
        case 'referral':
          // A child zone the scenario did not describe: nobody can answer below it.
          return { ...msg, rcode: 2, aa: false };
      }
    }
    return msg;
  }
}
