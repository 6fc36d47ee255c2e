// RFC 5155 Appendix A example zone: NSEC3PARAM and one NSEC3 record (the apex's), encoded by BIND 9.18
// `named-rrchecker -u`. BIND prints salt and hash in upper case and the type list in numeric order.
export const rfc5155Nsec3param = {
  owner: 'example',
  text: '1 0 12 AABBCCDD',
  input: '1 0 12 aabbccdd',
  hex: '0100000c04aabbccdd',
  value: { hashAlgorithm: 1, flags: 0, iterations: 12, salt: Uint8Array.from([0xaa, 0xbb, 0xcc, 0xdd]) },
};

export const rfc5155Nsec3 = {
  owner: '0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example',
  input: '1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG )',
  text: '1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR NS SOA MX RRSIG DNSKEY NSEC3PARAM',
  hex: '0101000c04aabbccdd14174eb2409fe28bcb4887a1836f957f0a8425e27b000722010000000290',
  value: {
    hashAlgorithm: 1,
    flags: 1,
    iterations: 12,
    salt: Uint8Array.from([0xaa, 0xbb, 0xcc, 0xdd]),
    nextHashed: Uint8Array.from(Buffer.from('174eb2409fe28bcb4887a1836f957f0a8425e27b', 'hex')),
    types: [2, 6, 15, 46, 48, 51],
  },
};
