// RFC 5702 §6: RSA/SHA-256 and RSA/SHA-512 example signatures over www.example.net. A 192.0.2.91.
export interface SigVector {
  name: string;
  zone: string;
  /** DNSKEY RDATA in presentation form: flags protocol algorithm base64. */
  dnskey: string;
  keyTag: number;
  rrset: { owner: string; ttl: number; type: 'A' | 'MX'; rdata: string[] };
  /** RRSIG RDATA in presentation form (times as YYYYMMDDHHMMSS). */
  rrsig: string;
  /** A moment inside the validity window. */
  nowSec: number;
}

export const RFC5702: SigVector[] = [
  {
    name: 'RFC 5702 §6.1 RSASHA256 (512-bit key)',
    zone: 'example.net',
    dnskey: '256 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=',
    keyTag: 9033,
    rrset: { owner: 'www.example.net', ttl: 3600, type: 'A', rdata: ['192.0.2.91'] },
    rrsig:
      'A 8 3 3600 20300101000000 20000101000000 9033 example.net. kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg==',
    nowSec: 1_600_000_000,
  },
  {
    name: 'RFC 5702 §6.2 RSASHA512 (1024-bit key)',
    zone: 'example.net',
    dnskey:
      '256 3 10 AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL',
    keyTag: 3740,
    rrset: { owner: 'www.example.net', ttl: 3600, type: 'A', rdata: ['192.0.2.91'] },
    rrsig:
      'A 10 3 3600 20300101000000 20000101000000 3740 example.net. tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRaeUw1ep94PzEWzr0iGYgZBWm/zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPlvpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw=',
    nowSec: 1_600_000_000,
  },
];
