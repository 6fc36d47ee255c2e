// RFC 4034 examples: §2.3 DNSKEY, §3.3 RRSIG, §4.3 NSEC, §5.4 DS (and its DNSKEY). `hex` is the RDATA as
// BIND 9.18 `named-rrchecker -u` encodes the example; `text` is BIND's one-line printing (base64 split in
// 56-character chunks, as dig prints by default).

const b64 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'base64'));

export const rfc4034_2_3_dnskey = {
  owner: 'example.com',
  ttl: 86400,
  text: '256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8no kfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6z Mv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1U aNvv4w==',
  hex: '010003050103d22a6ca77f35b893206fd35e4c506d8378843709b97e041647e1bff43d8d64c649af1e371973c9e891fce3df519a8c840a63ee42a6d2ebddbb97035d215aa4e417b1fa45fa11a9741ea2098c1dfa5fb5feb332fd4bc8152089aef36ba644cce2413b3b72be18cbef8da253f4e93d2103866d9234a2e28df529a67d5468dbefe3',
  value: {
    flags: 256,
    protocol: 3,
    algorithm: 5,
    publicKey: b64(
      'AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w==',
    ),
  },
  keyTag: 2642,
};

export const rfc4034_3_3_rrsig = {
  owner: 'host.example.com',
  ttl: 86400,
  /** The RRset it covers (§3.3: "host.example.com. 86400 IN A 192.0.2.1"). */
  covers: { name: 'host.example.com', type: 1, class: 1, ttl: 86400, hex: 'c0000201' },
  text: 'A 5 3 86400 20030322173103 20030220173103 2642 example.com. oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKi jVCHX3DDKdfb+v6oB9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNaz PwQKkRN20XPXV6nwwfoXmJQbsLNrLfkGJ5D6fwFm8nN+6pBzeDQfsS3A p3o=',
  hex: '00010503000151803e7c9dd73e5510d70a52076578616d706c6503636f6d00a090755ba58d1affa576f4375831b4310920e481218d18a9f164eb3d81afd3b875d3c75428631e0cf2a28d50875f70c329d7dbfafea807dc1fba1dc34c95d401f23f334ce63bfcf3f1b5b44739e5f0eded18d6b33f040a911376d173d757a9f0c1fa1798941bb0b36b2df9062790fa7f0166f2737eea907378341fb12dc0a77a',
  value: {
    typeCovered: 1,
    algorithm: 5,
    labels: 3,
    originalTtl: 86400,
    expiration: 0x3e7c9dd7, // 2003-03-22 17:31:03 UTC
    inception: 0x3e5510d7, // 2003-02-20 17:31:03 UTC
    keyTag: 2642,
    signerName: 'example.com',
    signature: b64(
      'oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6oB9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkGJ5D6fwFm8nN+6pBzeDQfsS3Ap3o=',
    ),
  },
};

export const rfc4034_4_3_nsec = {
  owner: 'alfa.example.com',
  ttl: 86400,
  text: 'host.example.com. A MX RRSIG NSEC TYPE1234',
  // Byte for byte the wire example printed in §4.3.
  hex: '04686f7374076578616d706c6503636f6d000006400100000003041b000000000000000000000000000000000000000000000000000020',
  value: { next: 'host.example.com', types: [1, 15, 46, 47, 1234] },
};

export const rfc4034_5_4_dnskey = {
  owner: 'dskey.example.com',
  ttl: 86400,
  text: '256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822a J5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBa MbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/r ljwvFw==',
  publicKeyB64:
    'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
  keyTag: 60485,
};

export const rfc4034_5_4_ds = {
  owner: 'dskey.example.com',
  ttl: 86400,
  text: '60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118',
  hex: 'ec4505012bb183af5f22588179a53b0a98631fad1a292118',
  value: {
    keyTag: 60485,
    algorithm: 5,
    digestType: 1,
    digest: Uint8Array.from(Buffer.from('2BB183AF5F22588179A53B0A98631FAD1A292118', 'hex')),
  },
};
