// RFC 8914 extended DNS errors: the one table of INFO-CODEs oedns sends (the validator's reasons for a
// SERVFAIL, policy's refusals), and the EDNS option that carries them. dnssec/verdict.ts and
// policy/decide.ts re-export `Ede` from here, so no code is written out twice.

/** RFC 8914 §4 INFO-CODEs used by oedns (IANA "Extended DNS Error Codes"). */
export const Ede = {
  OTHER: 0,
  UNSUPPORTED_DNSKEY_ALGORITHM: 1,
  UNSUPPORTED_DS_DIGEST: 2,
  DNSSEC_INDETERMINATE: 5,
  DNSSEC_BOGUS: 6,
  SIGNATURE_EXPIRED: 7,
  SIGNATURE_NOT_YET_VALID: 8,
  DNSKEY_MISSING: 9,
  RRSIGS_MISSING: 10,
  NO_ZONE_KEY_BIT: 11,
  NSEC_MISSING: 12,
  BLOCKED: 15,
  NO_REACHABLE_AUTHORITY: 22,
  UNSUPPORTED_NSEC3_ITERATIONS: 27,
} as const;

/** A code's name in words ('dnssec bogus'), for counters and logs; unknown codes by number. */
export function edeName(code: number): string {
  for (const [k, v] of Object.entries(Ede)) if (v === code) return k.toLowerCase().replace(/_/g, ' ');
  return `ede ${code}`;
}

/** EDNS option code of an extended DNS error (RFC 8914 §2). */
export const EDE_OPTION_CODE = 15;
