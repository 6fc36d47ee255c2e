// RFC 6605 §6: ECDSA P-256/SHA-256 and P-384/SHA-384 examples over www.example.net. A 192.0.2.1,
// with the DS records the RFC gives for the keys.
import type { SigVector } from './rfc5702';

export const RFC6605: Array<SigVector & { ds: string }> = [
  {
    name: 'RFC 6605 §6.1 ECDSAP256SHA256',
    zone: 'example.net',
    dnskey: '257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==',
    keyTag: 55648,
    ds: '55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17',
    rrset: { owner: 'www.example.net', ttl: 3600, type: 'A', rdata: ['192.0.2.1'] },
    rrsig:
      'A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==',
    nowSec: 1_283_000_000,
  },
  {
    name: 'RFC 6605 §6.2 ECDSAP384SHA384',
    zone: 'example.net',
    dnskey:
      '257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40',
    keyTag: 10771,
    ds: '10771 14 4 72D7B62976CE06438E9C0BF319013CF801F09ECC84B8D7E9495F27E305C6A9B0563A9B5F4D288405C3008A946DF983D6',
    rrset: { owner: 'www.example.net', ttl: 3600, type: 'A', rdata: ['192.0.2.1'] },
    rrsig:
      'A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm',
    nowSec: 1_283_000_000,
  },
];
