// One zone of a replay scenario, signed in memory the way dnssec-signzone would sign it (RFC 4035 §2):
// every authoritative RRset gets an RRSIG, delegation NS and glue do not, the NSEC (RFC 4034 §4) or
// NSEC3 (RFC 5155 §7.1, with opt-out) chain covers the authoritative names, and lookups return the
// records and denial proofs an authoritative server would put in a response (RFC 4035 §3.1.3,
// RFC 5155 §7.2). Test-only: it favours plain code over speed.
import { canonicalName, compareCanonical, isSubdomain, labelCount, labelsToName, nameToLabels, parentName } from '../../src/wire/name';
import { encodeNsec, encodeNsec3, encodeNsec3param, encodeRrsig, encodeSoa, encodeNameRdata } from '../../src/wire/rdata';
import type { Name, RR } from '../../src/wire/types';
import { nsec3Hash } from '../../src/dnssec/nsec3';
import { rrsigLabelCount } from '../../src/dnssec/records';
import { base32hex } from '../../src/dnssec/crypto';
import { rr, T, type TestKey } from '../dnssec/signer';
import { createHash } from 'node:crypto';

export const T_SOA = 6,
  T_NSEC3PARAM = 51;

/** A key of the zone and what it signs. */
export interface ZoneKey {
  role: string;
  key: TestKey;
  /** 'dnskey': the DNSKEY RRset only (a KSK); 'data': everything else (a ZSK); 'all': both (a CSK). */
  signs: 'dnskey' | 'data' | 'all' | 'none';
  /** Left out of the DNSKEY RRset (a key the zone does not publish). */
  unpublished?: boolean;
}

export type Denial = { kind: 'nsec' } | { kind: 'nsec3'; salt: Uint8Array; iterations: number; optOut: boolean };

/** Per-RRset signing changes (an expired or missing signature, a signature by the wrong key). */
export interface SignOverride {
  name: Name;
  type: number;
  /** Role of the signing key; 'none' leaves the RRset unsigned. */
  key?: string;
  inception?: number;
  expiration?: number;
}

export interface ZoneInput {
  apex: Name;
  signed: boolean;
  keys: ZoneKey[];
  denial: Denial;
  validity: { inception: number; expiration: number };
  records: RR[];
  /** KeyTrap: DNSKEYs published in the signed key set with no private key behind them. */
  extraKeys?: RR[];
  /** KeyTrap: this many extra RRSIGs that verify with nothing, on every signed RRset. */
  junkSigs?: number;
  /** KeyTrap: leave out the genuine signatures of those RRsets (the DNSKEY set keeps its own). */
  junkOnly?: boolean;
  overrides?: SignOverride[];
}

const key = (n: Name, t: number): string => `${canonicalName(n)}|${t}`;

function uniq(rrs: Array<RR | undefined>): RR[] {
  const seen = new Set<string>();
  return rrs.filter((r): r is RR => {
    if (!r) return false;
    const k = `${canonicalName(r.name)}|${r.type}|${Buffer.from(r.rdata).toString('hex')}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** What a lookup of one name and type finds in one zone. */
export type Lookup =
  | { kind: 'answer'; rrs: RR[]; sigs: RR[]; proof: RR[] }
  | { kind: 'cname'; rrs: RR[]; sigs: RR[]; proof: RR[]; target: Name }
  | { kind: 'dname'; rrs: RR[]; sigs: RR[]; owner: Name; target: Name }
  | { kind: 'nodata'; authority: RR[] }
  | { kind: 'nxdomain'; authority: RR[] }
  | { kind: 'referral'; cut: Name };

export class Zone {
  readonly apex: Name;
  readonly signed: boolean;
  readonly keys: ZoneKey[];
  readonly denial: Denial;
  private readonly input: ZoneInput;
  private readonly sets = new Map<string, RR[]>();
  private readonly sigs = new Map<string, RR[]>();
  private readonly owners = new Map<string, Name>();
  private readonly cuts = new Set<string>();
  private readonly ents = new Set<string>();
  private nsecChain: RR[] = [];
  private nsec3Chain: Array<{ hash: Buffer; rr: RR }> = [];
  private finalized = false;

  constructor(input: ZoneInput) {
    this.input = input;
    this.apex = input.apex;
    this.signed = input.signed;
    this.keys = input.keys;
    this.denial = input.denial;
    for (const r of input.records) this.add(r);
  }

  add(r: RR): void {
    if (this.finalized) throw new Error(`zone ${this.apex || '.'} is already signed`);
    if (!isSubdomain(r.name, this.apex)) throw new Error(`${r.name} is outside zone ${this.apex || '.'}`);
    const k = key(r.name, r.type);
    const list = this.sets.get(k) ?? [];
    if (!list.some((x) => Buffer.compare(Buffer.from(x.rdata), Buffer.from(r.rdata)) === 0)) list.push(r);
    this.sets.set(k, list);
    this.owners.set(canonicalName(r.name), r.name);
  }

  has(name: Name, type: number): boolean {
    return (this.sets.get(key(name, type))?.length ?? 0) > 0;
  }

  get(name: Name, type: number): RR[] {
    return this.sets.get(key(name, type)) ?? [];
  }

  sigsOf(name: Name, type: number): RR[] {
    return this.sigs.get(key(name, type)) ?? [];
  }

  typesAt(name: Name): number[] {
    const c = canonicalName(name);
    const out: number[] = [];
    for (const [k, v] of this.sets) {
      const i = k.lastIndexOf('|');
      if (k.slice(0, i) === c && v.length > 0) out.push(Number(k.slice(i + 1)));
    }
    return out.sort((a, b) => a - b);
  }

  keyByRole(role: string): TestKey | undefined {
    return this.keys.find((k) => k.role === role)?.key;
  }

  /** Keys whose DS the parent publishes by default and an anchor names: the key-signing ones. */
  sepKeys(): TestKey[] {
    return this.keys.filter((k) => (k.signs === 'dnskey' || k.signs === 'all') && !k.unpublished).map((k) => k.key);
  }

  isCut(name: Name): boolean {
    return this.cuts.has(canonicalName(name));
  }

  /** Below a cut (glue, occluded data): not authoritative. The cut itself is half-authoritative. */
  private occluded(name: Name): boolean {
    for (
      let n: Name | null = parentName(name);
      n !== null && isSubdomain(n, this.apex) && canonicalName(n) !== canonicalName(this.apex);
      n = parentName(n)
    ) {
      if (this.isCut(n)) return true;
    }
    return false;
  }

  /** The name owns records or is an empty non-terminal (RFC 4592 §2.2.2), inside the zone's authority. */
  exists(name: Name): boolean {
    const c = canonicalName(name);
    if (this.occluded(name)) return false;
    return (this.owners.has(c) && this.typesAt(name).length > 0) || this.ents.has(c);
  }

  closestEncloser(name: Name): Name {
    for (let n: Name | null = name; n !== null; n = parentName(n)) {
      if (!isSubdomain(n, this.apex)) break;
      if (this.exists(n)) return n;
    }
    return this.apex;
  }

  /** Signs the zone and builds its denial chain. Called once, after delegations were added. */
  finalize(): void {
    const soaName = this.apex === '' ? 'ns' : `ns.${this.apex}`;
    if (!this.has(this.apex, T_SOA)) {
      this.add(
        rr(
          this.apex,
          T_SOA,
          encodeSoa({
            mname: soaName,
            rname: this.apex === '' ? 'hostmaster' : `hostmaster.${this.apex}`,
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 300,
          }),
        ),
      );
    }
    if (!this.has(this.apex, T.NS)) this.add(rr(this.apex, T.NS, encodeNameRdata(soaName)));
    if (this.signed) {
      for (const k of this.keys) if (!k.unpublished) this.add(k.key.dnskey);
      for (const x of this.input.extraKeys ?? []) this.add(x);
      if (this.denial.kind === 'nsec3') {
        const d = this.denial;
        this.add(rr(this.apex, T_NSEC3PARAM, encodeNsec3param({ hashAlgorithm: 1, flags: 0, iterations: d.iterations, salt: d.salt }), 0));
      }
    }
    for (const [c, n] of this.owners) {
      if (c !== canonicalName(this.apex) && this.has(n, T.NS)) this.cuts.add(c);
    }
    // Empty non-terminals: ancestors of authoritative names (and of cuts) that own nothing themselves.
    for (const n of this.owners.values()) {
      if (this.occluded(n) || this.typesAt(n).length === 0) continue;
      for (
        let p = parentName(n);
        p !== null && isSubdomain(p, this.apex) && canonicalName(p) !== canonicalName(this.apex);
        p = parentName(p)
      ) {
        if (!this.owners.has(canonicalName(p)) || this.typesAt(p).length === 0) this.ents.add(canonicalName(p));
      }
    }
    if (!this.signed) {
      this.finalized = true;
      return;
    }
    if (this.denial.kind === 'nsec') this.buildNsec();
    else this.buildNsec3();
    this.finalized = true;
    for (const k of [...this.sets.keys()]) {
      const rrs = this.sets.get(k)!;
      if (rrs.length === 0) continue;
      const name = rrs[0]!.name;
      const type = rrs[0]!.type;
      if (this.occluded(name)) continue; // glue
      if (this.isCut(name) && type !== T.DS && type !== T.NSEC) continue; // delegation NS (RFC 4035 §2.2)
      this.sigs.set(k, this.signSet(rrs));
    }
    for (const { rr: n3 } of this.nsec3Chain) this.sigs.set(key(n3.name, T.NSEC3), this.signSet([n3]));
  }

  /** RRSIGs over `rrs` as the zone's signer makes them (overrides and KeyTrap junk applied). */
  private signSet(rrs: RR[]): RR[] {
    const name = rrs[0]!.name;
    const type = rrs[0]!.type;
    const o = (this.input.overrides ?? []).find((x) => canonicalName(x.name) === canonicalName(name) && x.type === type);
    if (o?.key === 'none') return [];
    const signers = o?.key
      ? this.keys.filter((k) => k.role === o.key)
      : this.keys.filter((k) => k.signs === 'all' || (type === T.DNSKEY ? k.signs === 'dnskey' : k.signs === 'data'));
    if (o?.key && signers.length === 0) throw new Error(`zone ${this.apex || '.'}: no key with role ${o.key}`);
    const v = { inception: o?.inception ?? this.input.validity.inception, expiration: o?.expiration ?? this.input.validity.expiration };
    const out: RR[] = [];
    const junk = this.input.junkSigs ?? 0;
    if (junk > 0 && type !== T.DNSKEY) {
      // KeyTrap: signatures that look like the zone's own (same tag, algorithm, signer) and verify with nothing.
      const like = signers[0]!.key;
      for (let i = 0; i < junk; i++) {
        const sig = new Uint8Array(createHash('sha512').update(`junk/${name}/${type}/${i}`).digest());
        const fields = encodeRrsig({
          typeCovered: type,
          algorithm: like.alg,
          labels: rrsigLabelCount(name),
          originalTtl: rrs[0]!.ttl,
          expiration: v.expiration >>> 0,
          inception: v.inception >>> 0,
          keyTag: like.tag,
          signerName: this.apex,
          signature: sig,
        });
        out.push(rr(name, T.RRSIG, fields, rrs[0]!.ttl));
      }
    }
    if (junk > 0 && type !== T.DNSKEY && this.input.junkOnly) return out;
    for (const s of signers) out.push(s.key.sign(rrs, v));
    return out;
  }

  private nsecTtl(): number {
    return 300; // RFC 9077: min(SOA TTL, SOA MINIMUM) of the generated SOA
  }

  private chainNames(): Name[] {
    const names: Name[] = [];
    for (const [, n] of this.owners) {
      if (this.occluded(n) || this.typesAt(n).length === 0) continue;
      names.push(n);
    }
    return names.sort(compareCanonical);
  }

  private buildNsec(): void {
    const names = this.chainNames();
    this.nsecChain = names.map((n, i) => {
      const next = names[(i + 1) % names.length]!;
      const types = this.isCut(n) ? this.typesAt(n).filter((t) => t === T.NS || t === T.DS) : this.typesAt(n);
      return rr(n, T.NSEC, encodeNsec({ next, types: [...new Set([...types, T.RRSIG, T.NSEC])].sort((a, b) => a - b) }), this.nsecTtl());
    });
    for (const r of this.nsecChain) this.add(r);
  }

  private nsec3Params(): { salt: Uint8Array; iterations: number; optOut: boolean } {
    if (this.denial.kind !== 'nsec3') throw new Error('not an NSEC3 zone');
    return this.denial;
  }

  hashOf(name: Name): Buffer {
    const p = this.nsec3Params();
    return Buffer.from(nsec3Hash(name, p.salt, p.iterations));
  }

  private buildNsec3(): void {
    const p = this.nsec3Params();
    const insecureCut = (n: Name): boolean => this.isCut(n) && !this.has(n, T.DS);
    // RFC 5155 §7.1: with opt-out, insecure delegations (and the empty non-terminals only they need)
    // get no NSEC3 RR.
    const owners = this.chainNames().filter((n) => !(p.optOut && insecureCut(n)));
    const ents = [...this.ents].filter((e) => !p.optOut || owners.some((o) => isSubdomain(o, e) && canonicalName(o) !== e));
    const nodes = [
      ...owners.map((n) => ({ n, types: this.isCut(n) ? this.typesAt(n).filter((t) => t === T.NS || t === T.DS) : this.typesAt(n) })),
      ...ents.map((n) => ({ n, types: [] as number[] })),
    ];
    const hashed = nodes.map((x) => ({ ...x, hash: this.hashOf(x.n) })).sort((a, b) => Buffer.compare(a.hash, b.hash));
    this.nsec3Chain = hashed.map((x, i) => {
      const next = hashed[(i + 1) % hashed.length]!.hash;
      // RRSIG is listed when the name has signed RRsets (not at an insecure delegation, not at an ENT).
      const signedHere = x.types.length > 0 && !insecureCut(x.n);
      const types = [...new Set([...x.types, ...(signedHere ? [T.RRSIG] : [])])].sort((a, b) => a - b);
      const owner = `${base32hex(x.hash)}.${this.apex}`.replace(/\.$/, '');
      return {
        hash: x.hash,
        rr: rr(
          owner,
          T.NSEC3,
          encodeNsec3({ hashAlgorithm: 1, flags: p.optOut ? 1 : 0, iterations: p.iterations, salt: p.salt, nextHashed: next, types }),
          this.nsecTtl(),
        ),
      };
    });
  }

  /** Every record of the signed zone, RRSIGs and denial chain included (to write a zone file for named). */
  allRecords(): RR[] {
    const out: RR[] = [];
    for (const rrs of this.sets.values()) out.push(...rrs);
    for (const sigs of this.sigs.values()) out.push(...sigs);
    for (const { rr: n3 } of this.nsec3Chain) out.push(n3);
    return out;
  }

  // ------------------------------------------------------------------------------- denial proofs

  private withSigs(rrs: RR[]): RR[] {
    return rrs.flatMap((r) => [r, ...(r.type === T.NSEC3 ? this.sigsOf(r.name, T.NSEC3) : this.sigsOf(r.name, r.type))]);
  }

  /** The NSEC whose owner matches `name`, else the one that covers it (greatest owner before it). */
  nsecFor(name: Name): RR {
    let best = this.nsecChain[this.nsecChain.length - 1]!;
    for (const r of this.nsecChain) {
      if (compareCanonical(r.name, name) <= 0) best = r;
      else break;
    }
    return best;
  }

  nsec3Match(name: Name): RR | undefined {
    const h = this.hashOf(name);
    return this.nsec3Chain.find((x) => x.hash.equals(h))?.rr;
  }

  nsec3Cover(name: Name): RR {
    const h = this.hashOf(name);
    let best = this.nsec3Chain[this.nsec3Chain.length - 1]!;
    for (const x of this.nsec3Chain) {
      if (Buffer.compare(x.hash, h) < 0) best = x;
      else break;
    }
    return best.rr;
  }

  /** `ce` plus the next label of `name` toward it (RFC 5155 §1.3 "next closer name"). */
  static nextCloser(name: Name, ce: Name): Name {
    const l = nameToLabels(name);
    return labelsToName(l.slice(l.length - labelCount(ce) - 1));
  }

  private soa(): RR[] {
    const soa = this.get(this.apex, T_SOA).map((r) => ({ ...r, ttl: Math.min(r.ttl, 300) }));
    return [...soa, ...this.sigsOf(this.apex, T_SOA)];
  }

  /** RFC 5155 §7.2.1: match for the closest provable encloser, cover for the next closer name. */
  private closestEncloserProof(name: Name): RR[] {
    for (let n: Name | null = parentName(name); n !== null && isSubdomain(n, this.apex); n = parentName(n)) {
      const m = this.nsec3Match(n);
      if (m) return [m, this.nsec3Cover(Zone.nextCloser(name, n))];
    }
    return [];
  }

  proveNxdomain(name: Name): RR[] {
    if (!this.signed) return [];
    const ce = this.closestEncloser(name);
    const wild = ce === '' ? '*' : `*.${ce}`;
    if (this.denial.kind === 'nsec') return this.withSigs(uniq([this.nsecFor(name), this.nsecFor(wild)]));
    return this.withSigs(uniq([this.nsec3Match(ce), this.nsec3Cover(Zone.nextCloser(name, ce)), this.nsec3Cover(wild)]));
  }

  proveNodata(name: Name): RR[] {
    if (!this.signed) return [];
    if (this.denial.kind === 'nsec') return this.withSigs([this.nsecFor(name)]);
    const m = this.nsec3Match(name);
    return this.withSigs(m ? [m] : uniq(this.closestEncloserProof(name)));
  }

  proveWildcardNodata(name: Name, ce: Name): RR[] {
    if (!this.signed) return [];
    const wild = ce === '' ? '*' : `*.${ce}`;
    if (this.denial.kind === 'nsec') return this.withSigs(uniq([this.nsecFor(name), this.nsecFor(wild)]));
    return this.withSigs(uniq([this.nsec3Match(ce), this.nsec3Cover(Zone.nextCloser(name, ce)), this.nsec3Match(wild)]));
  }

  proveWildcardAnswer(name: Name, ce: Name): RR[] {
    if (!this.signed) return [];
    if (this.denial.kind === 'nsec') return this.withSigs([this.nsecFor(name)]);
    return this.withSigs([this.nsec3Cover(Zone.nextCloser(name, ce))]);
  }

  // ------------------------------------------------------------------------------------- lookup

  /** What this zone's authoritative server says about `name`/`type` (RFC 1034 §4.3.2, RFC 4592, RFC 6672). */
  lookup(name: Name, type: number): Lookup {
    const labels = nameToLabels(name);
    const depthApex = labelCount(this.apex);
    for (let d = depthApex + 1; d <= labels.length; d++) {
      const n = labelsToName(labels.slice(labels.length - d));
      const atName = d === labels.length;
      if (this.isCut(n) && !(atName && type === T.DS)) return { kind: 'referral', cut: n };
      if (!atName && this.has(n, T.DNAME) && !this.occluded(n)) {
        const dn = this.get(n, T.DNAME);
        const tail = labels.slice(0, labels.length - d);
        const target = labelsToName([...tail, ...nameToLabels(dnameTarget(dn[0]!))]);
        return { kind: 'dname', rrs: dn, sigs: this.sigsOf(n, T.DNAME), owner: n, target };
      }
    }
    if (this.exists(name)) {
      if (this.has(name, type)) return { kind: 'answer', rrs: this.get(name, type), sigs: this.sigsOf(name, type), proof: [] };
      if (type !== T.CNAME && this.has(name, T.CNAME)) {
        const c = this.get(name, T.CNAME);
        return { kind: 'cname', rrs: c, sigs: this.sigsOf(name, T.CNAME), proof: [], target: dnameTarget(c[0]!) };
      }
      return { kind: 'nodata', authority: [...this.soa(), ...this.proveNodata(name)] };
    }
    const ce = this.closestEncloser(name);
    const wild = ce === '' ? '*' : `*.${ce}`;
    if (this.exists(wild)) {
      // RFC 4592 §3.3.1: the wildcard's RRsets, owned by the query name; RFC 4035 §5.3.4: the RRSIG keeps
      // the wildcard's label count, which is how a validator sees the expansion.
      const expand = (t: number): { rrs: RR[]; sigs: RR[] } => ({
        rrs: this.get(wild, t).map((r) => ({ ...r, name })),
        sigs: this.sigsOf(wild, t).map((r) => ({ ...r, name })),
      });
      const proof = this.proveWildcardAnswer(name, ce);
      if (this.has(wild, type)) return { kind: 'answer', ...expand(type), proof };
      if (type !== T.CNAME && this.has(wild, T.CNAME)) {
        const c = expand(T.CNAME);
        return { kind: 'cname', ...c, proof, target: dnameTarget(c.rrs[0]!) };
      }
      return { kind: 'nodata', authority: [...this.soa(), ...this.proveWildcardNodata(name, ce)] };
    }
    return { kind: 'nxdomain', authority: [...this.soa(), ...this.proveNxdomain(name)] };
  }
}

/** The name in a CNAME's or DNAME's RDATA. */
function dnameTarget(r: RR): Name {
  const labels: Uint8Array[] = [];
  let i = 0;
  while (r.rdata[i] !== 0) {
    labels.push(r.rdata.subarray(i + 1, i + 1 + r.rdata[i]!));
    i += r.rdata[i]! + 1;
  }
  return labelsToName(labels);
}
