// IPSECKEY RDATA, RFC 4025 §2. The gateway is a name in wire form that is never compressed (§2.5), an
// address, or absent; the algorithm field is an open registry (1 DSA, 2 RSA, 3 ECDSA per RFC 4025, 4 EdDSA
// per RFC 9373; other numbers are kept as-is).
import { ParseError, WireError } from '../../util/errors';
import { checkUint, Out, Reader } from '../bytes';
import { encodeName } from '../name';
import type { Codec } from '../codec';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../ip';

export const IpseckeyAlgorithm = { none: 0, DSA: 1, RSA: 2, ECDSA: 3, EdDSA: 4 } as const;
export const GatewayType = { none: 0, ipv4: 1, ipv6: 2, name: 3 } as const;

export interface Ipseckey {
  precedence: number;
  gatewayType: 0 | 1 | 2 | 3;
  algorithm: number;
  /** null for type 0; an IPv4 or IPv6 literal; or a Name for type 3. */
  gateway: null | string;
  publicKey: Uint8Array;
}

function gatewayBytes(v: Ipseckey): Uint8Array {
  switch (v.gatewayType) {
    case 0:
      if (v.gateway !== null && v.gateway !== '.' && v.gateway !== '')
        throw new ParseError('ipseckey-gateway', 'gateway type 0 takes no gateway');
      return new Uint8Array(0);
    case 1:
      return parseIPv4(v.gateway ?? '');
    case 2:
      return parseIPv6(v.gateway ?? '');
    case 3:
      if (v.gateway === null) throw new ParseError('ipseckey-gateway', 'gateway type 3 needs a name');
      return encodeName(v.gateway);
    default:
      throw new ParseError('ipseckey-gateway-type', `unknown gateway type ${String(v.gatewayType)}`);
  }
}

export const ipseckey: Codec<Ipseckey> = {
  encodingLength: (v) => 3 + gatewayBytes(v).length + v.publicKey.length,
  encode: (v, out, at) =>
    new Out(out, at)
      .u8(checkUint(v.precedence, 8, 'precedence'))
      .u8(v.gatewayType)
      .u8(checkUint(v.algorithm, 8, 'algorithm'))
      .bytes(gatewayBytes(v))
      .bytes(v.publicKey).p,
  decode(b, at, end) {
    const r = new Reader(b, at, end, 'IPSECKEY');
    const precedence = r.u8();
    const gatewayType = r.u8();
    const algorithm = r.u8();
    let gateway: string | null;
    switch (gatewayType) {
      case 0:
        gateway = null;
        break;
      case 1:
        gateway = formatIPv4(r.bytes(4));
        break;
      case 2:
        gateway = formatIPv6(r.bytes(16));
        break;
      case 3:
        gateway = r.name();
        break;
      default:
        throw new WireError('ipseckey-gateway-type', `IPSECKEY gateway type ${gatewayType} is not defined (RFC 4025 §2.3)`);
    }
    return { value: { precedence, gatewayType, algorithm, gateway, publicKey: r.rest() }, next: r.p };
  },
};
