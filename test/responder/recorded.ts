// ike-updown messages as charon 5.9.8 sent them in the two-host lab (test/support/oe-lab.ts), turned
// into the ViciSection maps the VICI client hands on. Recorded 2026-11-23 on bob (192.0.2.2) with the
// catch-all loaded, while alice (192.0.2.1) initiated with her key, before bob knew her.
import type { ViciSection, ViciValue } from '../../src/ike-bridge/vici-codec';

type J = string | J[] | { [k: string]: J };
export function toSection(o: { [k: string]: J }): ViciSection {
  const conv = (v: J): ViciValue => (typeof v === 'string' ? v : Array.isArray(v) ? (v as string[]) : toSection(v));
  return new Map(Object.entries(o).map(([k, v]) => [k, conv(v)]));
}

/** Alice refused by bob's catch-all in IKE_AUTH: no `up`, state CONNECTING, remote-id = her IDi. */
export const REFUSED_BY_CATCHALL = {
  'oedns-catchall': {
    uniqueid: '1',
    version: '2',
    state: 'CONNECTING',
    'local-host': '192.0.2.2',
    'local-port': '4500',
    'local-id': 'bob.oe.test',
    'remote-host': '192.0.2.1',
    'remote-port': '4500',
    'remote-id': 'alice.oe.test',
    'initiator-spi': '1ca7b7cbf4159f46',
    'responder-spi': '4394eaab8537577e',
    'nat-remote': 'yes',
    'nat-any': 'yes',
    'encr-alg': 'AES_CBC',
    'encr-keysize': '128',
    'integ-alg': 'HMAC_SHA2_256_128',
    'prf-alg': 'PRF_HMAC_SHA2_256',
    'dh-group': 'CURVE_25519',
    'tasks-passive': ['IKE_AUTH', 'IKE_CERT_POST', 'IKE_CONFIG', 'IKE_MOBIKE', 'IKE_ESTABLISH', 'IKE_AUTH_LIFETIME', 'CHILD_CREATE'],
  },
};
