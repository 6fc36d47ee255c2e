// Private keys in the forms charon's load-key takes. The IPSECKEY public key conversions are part of
// the peer model (src/peers/keys.ts, which policy reads too) and are re-exported here for the engines.
import type { KeyObject } from 'node:crypto';
import { KeyError } from '../peers/keys';

export {
  ipseckeyToKeyObject,
  ipseckeyToSpkiPem,
  KeyError,
  keyObjectToIpseckey,
  MIN_RSA_BITS,
  parseRfc3110,
  publicKeyFields,
} from '../peers/keys';

/** charon's load-key `type` for a private key. */
export function charonKeyType(k: KeyObject): 'rsa' | 'ecdsa' | 'ed25519' {
  switch (k.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'ec':
      return 'ecdsa';
    case 'ed25519':
      return 'ed25519';
    default:
      throw new KeyError('key-unsupported-algorithm', `key type ${k.asymmetricKeyType} cannot be loaded into charon`);
  }
}

/**
 * The PEM charon's load-key accepts for a private key: PKCS#1 for RSA, SEC1 for EC (the types
 * charon's pkcs1/openssl loaders read for an explicit key type), PKCS#8 for Ed25519.
 */
export function privateKeyPemForCharon(k: KeyObject): string {
  switch (k.asymmetricKeyType) {
    case 'rsa':
      return k.export({ type: 'pkcs1', format: 'pem' }).toString();
    case 'ec':
      return k.export({ type: 'sec1', format: 'pem' }).toString();
    default:
      return k.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
}
