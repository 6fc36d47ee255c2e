// Test helper: a zone with real keys (node:crypto) that signs hand-built RRsets, so unit tests can feed
// the pure validator exact good and bad inputs without a name server.
import { generateKeyPairSync, type KeyObject, sign as cryptoSign } from 'node:crypto';
import type { Message, Name, RR } from '../../src/wire/types';
import { encodeA, encodeDnskey, encodeDs, encodeMx, encodeNameRdata, encodeNsec, encodeNsec3, encodeRrsig } from '../../src/wire/rdata';
import { canonicalRRsetWire, concat, keyTag, rrsigSignedPrefix, rrsigLabelCount, wildcardOf } from '../../src/dnssec/records';
import { computeDsDigest } from '../../src/dnssec/ds';
import { dnsResponse } from '../support/messages';
import { keyObjectToIpseckey } from '../../src/peers/keys';

export const T = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  DNAME: 39,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
} as const;

export function rr(name: string, type: number, rdata: Uint8Array, ttl = 3600): RR {
  return { name, type, class: 1, ttl, rdata };
}
export const a = (name: string, addr: string, ttl = 3600): RR => rr(name, T.A, encodeA(addr), ttl);
export const cname = (name: string, target: string): RR => rr(name, T.CNAME, encodeNameRdata(target));
export const mx = (name: string, pref: number, host: string): RR => rr(name, T.MX, encodeMx({ preference: pref, exchange: host }));
export const nsec = (name: string, next: string, types: number[]): RR => rr(name, T.NSEC, encodeNsec({ next, types }));
export function nsec3(
  owner: string,
  next: Uint8Array,
  types: number[],
  o: { iterations?: number; salt?: Uint8Array; optOut?: boolean } = {},
): RR {
  return rr(
    owner,
    T.NSEC3,
    encodeNsec3({
      hashAlgorithm: 1,
      flags: o.optOut ? 1 : 0,
      iterations: o.iterations ?? 0,
      salt: o.salt ?? new Uint8Array(),
      nextHashed: next,
      types,
    }),
  );
}

export type Alg = 8 | 13 | 15;

export class TestKey {
  readonly privateKey: KeyObject;
  readonly dnskey: RR;
  readonly tag: number;
  constructor(
    readonly zone: string,
    readonly alg: Alg = 15,
    flags = 257,
    pair?: { privateKey: KeyObject; publicKey: KeyObject },
  ) {
    const kp =
      pair ??
      (alg === 8
        ? generateKeyPairSync('rsa', { modulusLength: 1024 })
        : alg === 13
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519'));
    this.privateKey = kp.privateKey;
    // DNSKEY's public key field has IPSECKEY's layout for these algorithms (RFC 3110, RFC 6605, RFC 8080).
    const pub: Uint8Array = keyObjectToIpseckey(kp.publicKey).publicKey;
    this.dnskey = rr(zone, T.DNSKEY, encodeDnskey({ flags, protocol: 3, algorithm: alg, publicKey: pub }));
    this.tag = keyTag(this.dnskey.rdata);
  }

  ds(digestType = 2): RR {
    return rr(
      this.zone,
      T.DS,
      encodeDs({ keyTag: this.tag, algorithm: this.alg, digestType, digest: computeDsDigest(this.zone, this.dnskey.rdata, digestType)! }),
    );
  }

  /** An RRSIG over `rrs` with overridable fields (to build broken ones). */
  sign(
    rrs: RR[],
    o: Partial<{
      inception: number;
      expiration: number;
      labels: number;
      originalTtl: number;
      signer: string;
      keyTag: number;
      algorithm: number;
      typeCovered: number;
      owner: string;
    }> = {},
  ): RR {
    const owner = o.owner ?? rrs[0]!.name;
    const labels = o.labels ?? rrsigLabelCount(owner);
    const fields = {
      typeCovered: o.typeCovered ?? rrs[0]!.type,
      algorithm: o.algorithm ?? this.alg,
      labels,
      originalTtl: o.originalTtl ?? rrs[0]!.ttl,
      expiration: (o.expiration ?? 2_000_000_000) >>> 0,
      inception: (o.inception ?? 1_000_000_000) >>> 0,
      keyTag: o.keyTag ?? this.tag,
      signerName: o.signer ?? this.zone,
      signature: new Uint8Array(),
    };
    const prefix = rrsigSignedPrefix(encodeRrsig(fields));
    const signedOwner = labels < rrsigLabelCount(owner) ? wildcardOf(owner, labels) : owner;
    const data = concat([prefix, canonicalRRsetWire(rrs, fields.originalTtl, signedOwner)]);
    const sig =
      this.alg === 8
        ? cryptoSign('sha256', data, this.privateKey)
        : this.alg === 13
          ? cryptoSign('sha256', data, { key: this.privateKey, dsaEncoding: 'ieee-p1363' })
          : cryptoSign(null, data, this.privateKey);
    return rr(owner, T.RRSIG, encodeRrsig({ ...fields, signature: new Uint8Array(sig) }), rrs[0]!.ttl);
  }
}

export const NOW = 1_500_000_000;

/** An authoritative answer to `name`/`type` with CD set, as the chain-walk tests script an upstream. */
export function authAnswer(name: Name, type: number, answers: RR[], authorities: RR[] = [], rcode = 0): Message {
  return dnsResponse({ q: { name, type }, id: 1, aa: true, cd: true, rcode, answers, authorities });
}

/** `rrs` followed by `k`'s RRSIG over them. */
export const signed = (k: TestKey, rrs: RR[], o: Parameters<TestKey['sign']>[1] = {}): RR[] => [...rrs, k.sign(rrs, o)];

/** `k`'s zone's DNSKEY RRset, self-signed, as an upstream answers a DNSKEY query. */
export const keyset = (k: TestKey): Message => authAnswer(k.zone, T.DNSKEY, signed(k, [k.dnskey]));

/**
 * A scripted upstream's answers for a chain of trust, keyed `name|type` as the chain-walk tests look
 * them up: each zone's DNSKEY RRset and, below the first, its DS signed by the zone before it.
 * `keys` runs from the top down (root, tld, zone).
 */
export function chainAnswers(...keys: TestKey[]): Record<string, Message> {
  const table: Record<string, Message> = {};
  keys.forEach((k, i) => {
    table[`${k.zone}|${T.DNSKEY}`] = keyset(k);
    const parent = keys[i - 1];
    if (parent) table[`${k.zone}|${T.DS}`] = authAnswer(k.zone, T.DS, signed(parent, [k.ds()]));
  });
  return table;
}
