// Self-signed X.509 certificates for the BTNS fallback on strongSwan (which has no NULL auth and
// cannot send or learn raw keys: see docs/fallback.md). Creation builds the DER with node-forge's
// ASN.1 layer and signs with node:crypto, so RSA, ECDSA P-256 and Ed25519 host keys all work (forge
// itself signs only with RSA). Parsing checks exactly what makes a learnt cert safe to pin in charon:
// a pinned CA:TRUE cert becomes a trusted CA there and would vouch for any name it signs.
import forge from 'node-forge';
import { createHash, createPublicKey, type KeyObject, sign, X509Certificate } from 'node:crypto';
import { EngineError } from '../util/errors';

const { asn1 } = forge;
const T = asn1.Type;
const C = asn1.Class;

const OID = {
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  extKeyUsage: '2.5.29.37',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ed25519: '1.3.101.112',
} as const;

/** Validity of our own certificate: long, since a peer pins it and a new one triggers warnings. */
export const HOST_CERT_DAYS = 3650;

/** A certificate failed a check: codes `cert-*`. */
export class CertError extends EngineError {}

function der(o: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(o).getBytes(), 'binary');
}
function fromDer(b: Buffer): forge.asn1.Asn1 {
  return asn1.fromDer(forge.util.createBuffer(b.toString('binary')), {
    strict: true,
    parseAllBytes: true,
    decodeBitStrings: false,
  } as unknown as boolean);
}
const seq = (v: forge.asn1.Asn1[]): forge.asn1.Asn1 => asn1.create(C.UNIVERSAL, T.SEQUENCE, true, v);
const oid = (o: string): forge.asn1.Asn1 => asn1.create(C.UNIVERSAL, T.OID, false, asn1.oidToDer(o).getBytes());

function sigAlgorithm(key: KeyObject): { id: forge.asn1.Asn1; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { id: seq([oid(OID.sha256WithRSA), asn1.create(C.UNIVERSAL, T.NULL, false, '')]), hash: 'sha256' };
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') break;
      return { id: seq([oid(OID.ecdsaWithSha256)]), hash: 'sha256' };
    case 'ed25519':
      return { id: seq([oid(OID.ed25519)]), hash: null };
  }
  throw new CertError(
    'cert-key-type',
    `cannot make a certificate with a ${key.asymmetricKeyType} key${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}: use RSA, ECDSA P-256 or Ed25519`,
  );
}

function cnName(cn: string): forge.asn1.Asn1 {
  return seq([
    asn1.create(C.UNIVERSAL, T.SET, true, [seq([oid(OID.commonName), asn1.create(C.UNIVERSAL, T.UTF8, false, forge.util.encodeUtf8(cn))])]),
  ]);
}

function ext(id: string, critical: boolean, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(asn1.create(C.UNIVERSAL, T.BOOLEAN, false, String.fromCharCode(0xff)));
  parts.push(asn1.create(C.UNIVERSAL, T.OCTETSTRING, false, asn1.toDer(value).getBytes()));
  return seq(parts);
}

function time(sec: number): forge.asn1.Asn1 {
  const d = new Date(sec * 1000);
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050
    ? asn1.create(C.UNIVERSAL, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(C.UNIVERSAL, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

export interface SelfSignedOptions {
  /** Unix seconds; notBefore is an hour earlier to tolerate clock skew between peers. */
  now: number;
  days?: number;
  /** 8..20 bytes; the caller supplies randomness (keeps this function deterministic under test). */
  serial: Uint8Array;
}

/**
 * A self-signed end-entity certificate for `id`: CN and SAN dNSName = id, basicConstraints CA:FALSE
 * (critical), keyUsage digitalSignature only, so it can sign IKE AUTH payloads and nothing else.
 * Returns PEM.
 */
export function createSelfSignedCert(id: string, privateKey: KeyObject, o: SelfSignedOptions): string {
  if (privateKey.type !== 'private') throw new CertError('cert-key-type', 'a private key is needed to sign a certificate');
  if (!/^[A-Za-z0-9_.-]+$/.test(id) || id.length > 253) throw new CertError('cert-bad-id', `not a host name: ${JSON.stringify(id)}`);
  if (o.serial.length < 8 || o.serial.length > 20) throw new CertError('cert-bad-serial', 'serial must be 8..20 bytes');
  const alg = sigAlgorithm(privateKey);
  const serial = Buffer.from(o.serial);
  serial[0]! &= 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  if (serial[0] === 0) serial[0] = 1;
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const name = id.replace(/\.$/, '').toLowerCase();
  const tbs = seq([
    asn1.create(C.CONTEXT_SPECIFIC, 0, true, [asn1.create(C.UNIVERSAL, T.INTEGER, false, String.fromCharCode(2))]),
    asn1.create(C.UNIVERSAL, T.INTEGER, false, serial.toString('binary')),
    alg.id,
    cnName(name),
    seq([time(o.now - 3600), time(o.now + (o.days ?? HOST_CERT_DAYS) * 86400)]),
    cnName(name),
    fromDer(spki),
    asn1.create(C.CONTEXT_SPECIFIC, 3, true, [
      seq([
        ext(OID.basicConstraints, true, seq([])), // empty SEQUENCE = cA FALSE (DER omits the default)
        ext(OID.keyUsage, true, asn1.create(C.UNIVERSAL, T.BITSTRING, false, String.fromCharCode(7, 0x80))),
        ext(OID.subjectAltName, false, seq([asn1.create(C.CONTEXT_SPECIFIC, 2, false, name)])),
      ]),
    ]),
  ]);
  const tbsDer = der(tbs);
  const signature = sign(alg.hash, tbsDer, privateKey);
  const cert = seq([tbs, alg.id, asn1.create(C.UNIVERSAL, T.BITSTRING, false, '\x00' + signature.toString('binary'))]);
  return derToPem(der(cert));
}

export function derToPem(d: Uint8Array): string {
  const b64 = Buffer.from(d).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new CertError('cert-malformed', 'no PEM certificate found');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** SHA-256 of the DER, lowercase hex without colons (the form of policy `trusted-fingerprints`). */
export function certFingerprint(d: Uint8Array): string {
  return createHash('sha256').update(d).digest('hex');
}

export interface CertInfo {
  der: Buffer;
  fingerprint: string;
  subject: string;
  /** SAN dNSNames, lowercased, without trailing dot. */
  dnsNames: string[];
  version: number;
  /** basicConstraints present; `isCA` its cA flag. */
  hasBasicConstraints: boolean;
  isCA: boolean;
  /** keyUsage present and it asserts keyCertSign or cRLSign. */
  canSignCerts: boolean;
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  /** Its own signature verifies with its own key. */
  selfSigned: boolean;
}

/** Parse a DER certificate (any key type); CertError cert-malformed if it is not one. */
export function parseCert(d: Uint8Array): CertInfo {
  const buf = Buffer.from(d);
  let x: X509Certificate;
  let root: forge.asn1.Asn1;
  try {
    x = new X509Certificate(buf);
    root = fromDer(buf);
  } catch (e) {
    throw new CertError('cert-malformed', `not a DER X.509 certificate: ${(e as Error).message}`, { cause: e });
  }
  const tbs = (root.value as forge.asn1.Asn1[])[0]!;
  const parts = tbs.value as forge.asn1.Asn1[];
  let version = 1;
  let exts: forge.asn1.Asn1[] = [];
  for (const p of parts) {
    if (p.tagClass !== C.CONTEXT_SPECIFIC) continue;
    const inner = (p.value as forge.asn1.Asn1[])[0]!;
    if (p.type === 0) version = inner.value.length ? (inner.value as string).charCodeAt(inner.value.length - 1) + 1 : 1;
    if (p.type === 3) exts = inner.value as forge.asn1.Asn1[];
  }
  let hasBasicConstraints = false;
  let isCA = false;
  let canSignCerts = false;
  const dnsNames: string[] = [];
  for (const e of exts) {
    const v = e.value as forge.asn1.Asn1[];
    const id = asn1.derToOid(forge.util.createBuffer(v[0]!.value as string));
    const body = fromDer(Buffer.from(v[v.length - 1]!.value as string, 'binary'));
    if (id === OID.basicConstraints) {
      hasBasicConstraints = true;
      const f = (body.value as forge.asn1.Asn1[])[0];
      isCA = !!f && f.type === T.BOOLEAN && (f.value as string) !== '\x00';
    } else if (id === OID.keyUsage) {
      const bits = body.value as string;
      const first = bits.length > 1 ? bits.charCodeAt(1) : 0;
      canSignCerts = (first & 0x04) !== 0 || (first & 0x02) !== 0; // keyCertSign(5), cRLSign(6)
    } else if (id === OID.subjectAltName) {
      for (const g of body.value as forge.asn1.Asn1[]) {
        if (g.tagClass === C.CONTEXT_SPECIFIC && g.type === 2) dnsNames.push((g.value as string).toLowerCase().replace(/\.$/, ''));
      }
    }
  }
  return {
    der: buf,
    fingerprint: certFingerprint(buf),
    subject: x.subject,
    dnsNames,
    version,
    hasBasicConstraints,
    isCA,
    canSignCerts,
    notBefore: Math.floor(Date.parse(x.validFrom) / 1000),
    notAfter: Math.floor(Date.parse(x.validTo) / 1000),
    publicKey: x.publicKey,
    selfSigned: safeVerify(x),
  };
}

function safeVerify(x: X509Certificate): boolean {
  try {
    return x.verify(x.publicKey);
  } catch {
    return false;
  }
}

const MIN_RSA_BITS = 2048;

/**
 * May this certificate be pinned for `peerName`? Throws CertError with the first failed check:
 * cert-ca (CA:TRUE, keyCertSign, missing basicConstraints or not v3: charon could treat it as a CA),
 * cert-id-mismatch (no SAN dNSName equal to the name the peer claims), cert-expired / cert-not-yet-valid,
 * cert-key (weak or unsupported key), cert-signature (not validly self-signed).
 */
export function checkPeerCert(c: CertInfo, peerName: string, nowSec: number): void {
  const want = peerName.toLowerCase().replace(/\.$/, '');
  if (c.version !== 3 || !c.hasBasicConstraints || c.isCA || c.canSignCerts) {
    throw new CertError(
      'cert-ca',
      `certificate ${c.fingerprint.slice(0, 16)}… for ${want} is not a plain end-entity certificate (` +
        `${c.version !== 3 ? `X.509 v${c.version}` : !c.hasBasicConstraints ? 'no basicConstraints' : c.isCA ? 'CA:TRUE' : 'keyUsage allows signing certificates'}); ` +
        'pinning it would make charon trust it as a CA',
    );
  }
  if (!c.dnsNames.includes(want)) {
    throw new CertError(
      'cert-id-mismatch',
      `certificate ${c.fingerprint.slice(0, 16)}… names ${c.dnsNames.join(', ') || 'no DNS name'}, not ${want}`,
    );
  }
  if (nowSec > c.notAfter)
    throw new CertError('cert-expired', `certificate of ${want} expired at ${new Date(c.notAfter * 1000).toISOString()}`);
  if (nowSec < c.notBefore)
    throw new CertError('cert-not-yet-valid', `certificate of ${want} is valid only from ${new Date(c.notBefore * 1000).toISOString()}`);
  const k = c.publicKey;
  const ok =
    (k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS) ||
    (k.asymmetricKeyType === 'ec' && ['prime256v1', 'secp384r1'].includes(k.asymmetricKeyDetails?.namedCurve ?? '')) ||
    k.asymmetricKeyType === 'ed25519';
  if (!ok)
    throw new CertError(
      'cert-key',
      `certificate of ${want} has an unusable key (${k.asymmetricKeyType}${k.asymmetricKeyDetails?.modulusLength ? ` ${k.asymmetricKeyDetails.modulusLength} bits` : ''})`,
    );
  if (!c.selfSigned) throw new CertError('cert-signature', `certificate of ${want} is not validly self-signed`);
}
