// Typed RDATA for the types the resolver, validator and IKE bridge look inside. RR.rdata stays raw; these
// functions are the views onto it. Each decoder consumes exactly the RDATA and throws WireError otherwise.
import { decodeWith, encodeWith } from './bytes';
import { a, aaaa, nameRdata } from './rdata/simple';
import { dnskey, type Dnskey } from './rdata/dnskey';
import { ds, type Ds } from './rdata/ds';
import { rrsig, type Rrsig } from './rdata/rrsig';
import { nsec, type Nsec } from './rdata/nsec';
import { nsec3, nsec3param, type Nsec3, type Nsec3param } from './rdata/nsec3';
import { ipseckey, type Ipseckey } from './rdata/ipseckey';
import { soa, type Soa } from './rdata/soa';
import { mx, type Mx } from './rdata/mx';
import { txt } from './rdata/txt';
import type { Name } from './types';

export type { Dnskey, Ds, Rrsig, Nsec, Nsec3, Nsec3param, Ipseckey, Soa, Mx };
export { IpseckeyAlgorithm, GatewayType } from './rdata/ipseckey';
export { decodeTypeBitmap, encodeTypeBitmap } from './rdata/bitmap';
export { a, aaaa, nameRdata, dnskey, ds, rrsig, nsec, nsec3, nsec3param, ipseckey, soa, mx, txt };

export const decodeDnskey = (rdata: Uint8Array): Dnskey => decodeWith(dnskey, rdata, 'DNSKEY');
export const encodeDnskey = (v: Dnskey): Uint8Array => encodeWith(dnskey, v);
export const decodeDs = (rdata: Uint8Array): Ds => decodeWith(ds, rdata, 'DS');
export const encodeDs = (v: Ds): Uint8Array => encodeWith(ds, v);
export const decodeRrsig = (rdata: Uint8Array): Rrsig => decodeWith(rrsig, rdata, 'RRSIG');
export const encodeRrsig = (v: Rrsig): Uint8Array => encodeWith(rrsig, v);
export const decodeNsec = (rdata: Uint8Array): Nsec => decodeWith(nsec, rdata, 'NSEC');
export const encodeNsec = (v: Nsec): Uint8Array => encodeWith(nsec, v);
export const decodeNsec3 = (rdata: Uint8Array): Nsec3 => decodeWith(nsec3, rdata, 'NSEC3');
export const encodeNsec3 = (v: Nsec3): Uint8Array => encodeWith(nsec3, v);
export const decodeNsec3param = (rdata: Uint8Array): Nsec3param => decodeWith(nsec3param, rdata, 'NSEC3PARAM');
export const encodeNsec3param = (v: Nsec3param): Uint8Array => encodeWith(nsec3param, v);
export const decodeIpseckey = (rdata: Uint8Array): Ipseckey => decodeWith(ipseckey, rdata, 'IPSECKEY');
export const encodeIpseckey = (v: Ipseckey): Uint8Array => encodeWith(ipseckey, v);
export const decodeSoa = (rdata: Uint8Array): Soa => decodeWith(soa, rdata, 'SOA');
export const encodeSoa = (v: Soa): Uint8Array => encodeWith(soa, v);
export const decodeMx = (rdata: Uint8Array): Mx => decodeWith(mx, rdata, 'MX');
export const encodeMx = (v: Mx): Uint8Array => encodeWith(mx, v);
export const decodeTxt = (rdata: Uint8Array): Uint8Array[] => decodeWith(txt, rdata, 'TXT');
export const encodeTxt = (v: Uint8Array[]): Uint8Array => encodeWith(txt, v);
export const decodeA = (rdata: Uint8Array): string => decodeWith(a, rdata, 'A');
export const encodeA = (v: string): Uint8Array => encodeWith(a, v);
export const decodeAaaa = (rdata: Uint8Array): string => decodeWith(aaaa, rdata, 'AAAA');
export const encodeAaaa = (v: string): Uint8Array => encodeWith(aaaa, v);
/** NS, CNAME, DNAME, PTR (and MB, MG, MR, MD, MF). */
export const decodeNameRdata = (rdata: Uint8Array): Name => decodeWith(nameRdata, rdata, 'name');
export const encodeNameRdata = (v: Name): Uint8Array => encodeWith(nameRdata, v);
