// HTTPS/SVCB RDATA for tests (the wire codec has no text form for them): priority, target, and the
// parameters the address-leak tests need (alpn, ipv4hint, ipv6hint), in key order as RFC 9460 requires.
import { encodeName } from '../../src/wire/name';
import { parseAddress } from '../../src/policy/ip';
import type { RR } from '../../src/wire/types';

export interface SvcbParams {
  mandatory?: number[];
  alpn?: string[];
  ipv4hint?: string[];
  ipv6hint?: string[];
}

export function svcbRdata(priority: number, target: string, p: SvcbParams): Uint8Array {
  const params: Array<[number, Buffer]> = [];
  if (p.mandatory) params.push([0, Buffer.from(p.mandatory.flatMap((k) => [k >> 8, k & 0xff]))]);
  if (p.alpn) params.push([1, Buffer.concat(p.alpn.map((a) => Buffer.concat([Buffer.from([a.length]), Buffer.from(a)])))]);
  if (p.ipv4hint) params.push([4, Buffer.concat(p.ipv4hint.map((a) => Buffer.from(parseAddress(a)!.bytes)))]);
  if (p.ipv6hint) params.push([6, Buffer.concat(p.ipv6hint.map((a) => Buffer.from(parseAddress(a)!.bytes)))]);
  const head = Buffer.from([priority >> 8, priority & 0xff]);
  const body = params.map(([k, v]) => Buffer.concat([Buffer.from([k >> 8, k & 0xff, v.length >> 8, v.length & 0xff]), v]));
  return new Uint8Array(Buffer.concat([head, Buffer.from(encodeName(target)), ...body]));
}

export function httpsRR(owner: string, priority: number, target: string, p: SvcbParams, ttl = 300): RR {
  return { name: owner.replace(/\.$/, ''), type: 65, class: 1, ttl, rdata: svcbRdata(priority, target, p) };
}
