// RFC 8080 §6: Ed25519 and Ed448 example keys for example.com, with their private keys and DS
// records. The example RRSIGs printed in the RFC do not verify (their presentation also lacks
// fields), so tests sign the example RRset (example.com. 3600 IN MX 10 mail.example.com.) with the
// example private keys — EdDSA is deterministic — and check key tags, DS digests and verification.
export interface EdVector {
  name: string;
  algorithm: 15 | 16;
  privateKey: string;
  dnskey: string;
  keyTag: number;
  ds: string;
}

export const RFC8080_ZONE = 'example.com';
export const RFC8080_RRSET = { owner: 'example.com', ttl: 3600, type: 'MX' as const, rdata: ['10 mail.example.com.'] };
export const RFC8080_TIMES = { inception: 1438207200, expiration: 1440021600, nowSec: 1439000000 };

export const RFC8080: EdVector[] = [
  {
    name: 'RFC 8080 §6.1 ED25519 example 1',
    algorithm: 15,
    privateKey: 'ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=',
    dnskey: '257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=',
    keyTag: 3613,
    ds: '3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b',
  },
  {
    name: 'RFC 8080 §6.1 ED25519 example 2',
    algorithm: 15,
    privateKey: 'DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=',
    dnskey: '257 3 15 zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=',
    keyTag: 35217,
    ds: '35217 15 2 401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c',
  },
  {
    name: 'RFC 8080 §6.2 ED448 example 1',
    algorithm: 16,
    privateKey: 'xZ+5Cgm463xugtkY5B0Jx6erFTXp13rYegst0qRtNsOYnaVpMx0Z/c5EiA9x8wWbDDct/U3FhYWA',
    dnskey: '257 3 16 3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA',
    keyTag: 9713,
    ds: '9713 16 2 6ccf18d5bc5d7fc2fceb1d59d17321402f2aa8d368048db93dd811f5cb2b19c7',
  },
  {
    name: 'RFC 8080 §6.2 ED448 example 2',
    algorithm: 16,
    privateKey: 'WEykD3ht3MHkU8iH4uVOLz8JLwtRBSqiBoM6fF72+Mrp/u5gjxuB1DV6NnPO2BlZdz4hdSTkOdOA',
    dnskey: '257 3 16 kkreGWoccSDmUBGAe7+zsbG6ZAFQp+syPmYUurBRQc3tDjeMCJcVMRDmgcNLp5HlHAMy12VoISsA',
    keyTag: 38353,
    ds: '38353 16 2 645ff078b3568f5852b70cb60e8e696cc77b75bfaaffc118cf79cbda1ba28af4',
  },
];
