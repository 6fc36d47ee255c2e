// Our own host key: where `oedns keygen` writes it, how the engines read it back, and the
// IPSECKEY record that publishes it (RFC 4025 §3.1 presentation: precedence, gateway type,
// algorithm, gateway, base64 key; "." is the empty gateway of type 0).
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file';
import { ConfigError } from '../util/errors';
import { keyObjectToIpseckey, privateKeyPemForCharon } from './keys';

export type HostKeyType = 'rsa' | 'ed25519' | 'ecdsa-p256';

export function hostKeyPaths(dir: string): { privateKey: string; publicKey: string } {
  return { privateKey: join(dir, 'host.key.pem'), publicKey: join(dir, 'host.pub.pem') };
}

export function generateHostKey(type: HostKeyType, rsaBits = 3072): KeyObject {
  switch (type) {
    case 'rsa':
      if (rsaBits < 2048) throw new ConfigError('keygen-bits', `RSA keys below 2048 bits are not made (asked ${rsaBits})`);
      return generateKeyPairSync('rsa', { modulusLength: rsaBits, publicExponent: 65537 }).privateKey;
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    default:
      throw new ConfigError('keygen-type', `unknown key type ${String(type)} (rsa, ed25519, ecdsa-p256)`);
  }
}

/**
 * Writes a private key file: 0600, or 0640 with the group of `like` (an existing key) when that one is a
 * group-readable regular file. A daemon that dropped root reads its key through its group (install.sh:
 * root:oedns 0640); a key written over or beside that one must stay readable to it. Returns the mode.
 */
export function writePrivateKeyFile(path: string, pem: string, like: string): number {
  let st;
  try {
    st = lstatSync(like);
  } catch {
    st = undefined;
  }
  if (st?.isFile() && st.mode & 0o040) {
    try {
      writeFileAtomic(path, pem, 0o640, st.gid);
      return 0o640;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      // Not allowed to give it that group: ours alone.
    }
  }
  writeFileAtomic(path, pem, 0o600);
  return 0o600;
}

/**
 * Write the private key (0600, or 0640 keeping the group of the key it replaces: writePrivateKeyFile)
 * and its public half; refuses to overwrite unless `force`.
 */
export function writeHostKey(dir: string, key: KeyObject, force = false): { privateKey: string; publicKey: string; mode: number } {
  const paths = hostKeyPaths(dir);
  if (!force && existsSync(paths.privateKey)) {
    throw new ConfigError('keygen-exists', `${paths.privateKey} exists; use --force to replace this host's key`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // New files renamed into place: the mode from the first byte, and a link planted at either path (by
  // whoever could write into `dir`) is replaced, never written through, also with --force as root.
  const mode = writePrivateKeyFile(paths.privateKey, privateKeyPemForCharon(key), paths.privateKey);
  writeFileAtomic(paths.publicKey, publicPem(key), 0o644);
  return { ...paths, mode };
}

function publicPem(key: KeyObject): string {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'pem' }).toString();
}

export function readHostKey(dir: string): KeyObject {
  const { privateKey } = hostKeyPaths(dir);
  try {
    return createPrivateKey(readFileSync(privateKey));
  } catch (e) {
    throw new ConfigError('host-key', `cannot read host key ${privateKey}: ${(e as Error).message} (run oedns keygen)`, { cause: e });
  }
}

/** `NAME. IN IPSECKEY <precedence> 0 <alg> . <base64>` for a key with no gateway. */
export function ipseckeyLine(name: string, key: KeyObject, precedence = 10): string {
  const { algorithm, publicKey } = keyObjectToIpseckey(key);
  const owner = name.endsWith('.') ? name : `${name}.`;
  return `${owner} IN IPSECKEY ${precedence} 0 ${algorithm} . ${publicKey.toString('base64')}`;
}
