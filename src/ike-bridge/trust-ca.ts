// Revocable trust in peer keys for charon, without clear-creds. A raw `pubkeys` entry in a VICI conn
// joins charon's global trusted set bound to the remote id and cannot be taken out again except by
// clear-creds, which also wipes every credential other programs loaded (strongswan-oe-modes.md). So
// instead the engine vouches for each DNSSEC-validated key with an X.509 certificate of its own
// (SAN = the peer's name, CA:FALSE), pins that certificate in the peer's conn, and ends the trust by
// listing its serial in a CRL (VICI load-cert type x509crl; a newer CRL of an issuer replaces the
// older one). charon checks the issuer's CRL for every certificate whose issuer it holds
// (credential_manager verify_trust_chain + the revocation plugin), so a revoked key stops
// authenticating anyone through any conn, ours or foreign, while nothing else is touched.
//
// Two levels keep every CRL small: a root derived from our host key (the same root after an oedns
// restart) signs one intermediate per *generation*; peer certificates come from the current
// generation. Retiring a generation (at every start, and when its CRL grows long) is one entry in
// the root's CRL, which ends the trust in everything it ever issued, including what an earlier
// oedns process left in charon. A peer certificate is a pure function of (generation, name, key)
// with fixed validity, so reinstalling a peer yields the same bytes, which charon stores once.
// Pure: data in, DER out (the caller supplies generation keys and times).
import { createHash, createHmac, createPrivateKey, createPublicKey, type KeyObject, sign, X509Certificate } from 'node:crypto';
import { EngineError } from '../util/errors';

/** Marks our CA in charon's list-certs: `O=oedns trust` (the CN names the host and the key). */
export const CA_ORG = 'oedns trust';

// Fixed validity so that a certificate is a pure function of (CA, name, key): 2000-01-01 to the
// RFC 5280 §4.1.2.5 "no well-defined expiration" value. Lifetimes are the registry's business; a
// key's trust ends by revocation.
const NOT_BEFORE = Date.UTC(2000, 0, 1) / 1000;
const NOT_AFTER = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;
/** A CRL says it is good for this long; a newer one replaces it whenever anything changes. */
const CRL_VALID_SEC = 10 * 365 * 86400;

const ED25519_PKCS8_HEAD = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Marks a generation's common name: `<root CN> gen <n>`. */
const GEN = ' gen ';

// ---- a minimal DER writer (a peer certificate is built per install: it must cost microseconds) ----

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  const n = body.length;
  const head =
    n < 0x80
      ? Buffer.from([tag, n])
      : n < 0x100
        ? Buffer.from([tag, 0x81, n])
        : n < 0x10000
          ? Buffer.from([tag, 0x82, n >> 8, n & 255])
          : Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 255, n & 255]);
  return Buffer.concat([head, body]);
}
const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const utf8 = (v: string): Buffer => tlv(0x0c, Buffer.from(v, 'utf8'));
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);
const explicit = (n: number, ...c: Buffer[]): Buffer => tlv(0xa0 | n, ...c);
const implicit = (n: number, b: Buffer): Buffer => tlv(0x80 | n, b);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const v of parts.slice(2)) {
    const bytes = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) bytes.unshift((x & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}

const OID = {
  commonName: oid('2.5.4.3'),
  organization: oid('2.5.4.10'),
  basicConstraints: oid('2.5.29.19'),
  keyUsage: oid('2.5.29.15'),
  subjectAltName: oid('2.5.29.17'),
  subjectKeyIdentifier: oid('2.5.29.14'),
  authorityKeyIdentifier: oid('2.5.29.35'),
  crlNumber: oid('2.5.29.20'),
  nameConstraints: oid('2.5.29.30'),
};

/**
 * Name constraints on the root and every generation (strongSwan 5.9 constraints plugin: an issuer's
 * constraints bind its direct subjects, and a sub-CA must carry (inherit) its issuer's, so what the
 * root says binds every chain below it, also one minted by whoever learnt the seed). Subjects must
 * lie under `O=oedns trust` (so no certificate of ours can claim a directory-name identity such as
 * `C=CH, O=corp, CN=ceo` that a foreign conn expects), and the only e-mail address allowed in a
 * subjectAltName is nobody@oedns.invalid (no e-mail identity either). Host names cannot be narrowed:
 * we vouch for whatever name is looked up. docs/ike-bridge.md.
 */
const NAME_CONSTRAINTS = (): Buffer =>
  ext(
    OID.nameConstraints,
    true,
    seq(
      tlv(
        0xa0,
        seq(tlv(0xa4, seq(set(seq(OID.organization, utf8(CA_ORG)))))),
        seq(tlv(0x81, Buffer.from('nobody@oedns.invalid', 'ascii'))),
      ),
    ),
  );
const ED25519_ALG = seq(oid('1.3.101.112'));
const V3 = explicit(0, integer(Buffer.from([2])));

/** A positive DER INTEGER from big-endian bytes (leading zeros trimmed, a zero byte added if the top bit is set). */
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(sec: number): Buffer {
  const d = new Date(sec * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  return y < 2050 ? tlv(0x17, Buffer.from(`${p(y % 100)}${rest}`)) : tlv(0x18, Buffer.from(`${y}${rest}`));
}

function name(cn: string, org?: string): Buffer {
  const rdn = (id: Buffer, v: string): Buffer => set(seq(id, utf8(v)));
  return seq(...(org ? [rdn(OID.organization, org)] : []), rdn(OID.commonName, cn));
}

function ext(id: Buffer, critical: boolean, value: Buffer): Buffer {
  return seq(id, ...(critical ? [TRUE] : []), octets(value));
}

/** The elements of a DER SEQUENCE (or any constructed value) as [tag, content] pairs. */
function children(d: Buffer): { tag: number; content: Buffer }[] {
  const out: { tag: number; content: Buffer }[] = [];
  const outer = readTlv(d, 0);
  for (let off = outer.start; off < outer.end;) {
    const t = readTlv(d, off);
    out.push({ tag: t.tag, content: d.subarray(t.start, t.end) });
    off = t.end;
  }
  return out;
}

function readTlv(d: Buffer, off: number): { tag: number; start: number; end: number } {
  const tag = d[off]!;
  let len = d[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3) throw new EngineError('engine-trust', 'unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | d[start + i]!;
    start += n;
  }
  if (start + len > d.length) throw new EngineError('engine-trust', 'truncated DER');
  return { tag, start, end: start + len };
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes (charon's key id). */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const bits = children(spkiDer)[1];
  if (!bits || bits.tag !== 0x03) throw new EngineError('engine-trust', 'not a SubjectPublicKeyInfo');
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

function signed(tbs: Buffer, key: KeyObject): Buffer {
  return seq(tbs, ED25519_ALG, bitString(sign(null, tbs, key)));
}

function checkName(n: string): string {
  const v = n.replace(/\.$/, '').toLowerCase();
  if (!/^[a-z0-9_.-]+$/.test(v) || v.length > 253) throw new EngineError('engine-bad-peer', `not a host name: ${JSON.stringify(n)}`);
  return v;
}

/** An issuer: the root (self-signed) or a generation (signed by the root). */
export interface TrustCa {
  /** DER of its certificate (CA:TRUE, keyCertSign + cRLSign). */
  certDer: Buffer;
  /** Its subjectKeyIdentifier, hex: names it in charon and in certificates it issues. */
  keyId: string;
  /** Its subject as node's X509Certificate prints it (for recognising our certificates in list-certs). */
  subject: string;
  /** Its subject Name, DER: the issuer of what it signs, byte for byte. */
  nameDer: Buffer;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/**
 * The root for `secret` and identity `id`: an Ed25519 key derived from the secret (HMAC-SHA256 with a
 * fixed label), so every oedns process with this secret has the same root and can retire what an
 * earlier one issued. The secret is a seed kept next to the host key (strongswan-trust.ts
 * ensureTrustSeed), or else the host key itself (then a host key rollover starts a new root, and what
 * the old root vouched for stays trusted until charon restarts). Its private half never leaves this process.
 */
export function deriveTrustCa(secret: KeyObject | Buffer, id: string): TrustCa {
  const ikm = Buffer.isBuffer(secret) ? secret : secret.export({ type: 'pkcs8', format: 'der' });
  if (ikm.length < 16) throw new EngineError('engine-trust', 'the trust seed is too short');
  const seed = createHmac('sha256', ikm).update('oedns trust CA v1').digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_HEAD, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ski = keyIdentifier(spki);
  const subject = name(`oedns trust for ${checkName(id)} ${ski.toString('hex').slice(0, 16)}`, CA_ORG);
  const certDer = signed(caTbs(ski.subarray(0, 16), subject, subject, spki, ski, null, 1), privateKey);
  return { certDer, keyId: ski.toString('hex'), subject: new X509Certificate(certDer).subject, nameDer: subject, publicKey, privateKey };
}

/**
 * Generation `n` under `root`, with a fresh key `key` (Ed25519, from the caller): the issuer of peer
 * certificates until it is retired. Its serial is `n`, so the root's CRL can name it.
 */
export function newGeneration(root: TrustCa, n: bigint, key: KeyObject): TrustCa {
  if (key.asymmetricKeyType !== 'ed25519' || key.type !== 'private')
    throw new EngineError('engine-trust', 'a generation key must be a private Ed25519 key');
  const publicKey = createPublicKey(key);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ski = keyIdentifier(spki);
  const rootCn = root.subject
    .split('\n')
    .find((l) => l.startsWith('CN='))!
    .slice(3);
  const subject = name(`${rootCn}${GEN}${n}`, CA_ORG);
  const certDer = signed(caTbs(bigBytes(n), root.nameDer, subject, spki, ski, Buffer.from(root.keyId, 'hex'), 0), root.privateKey);
  return {
    certDer,
    keyId: ski.toString('hex'),
    subject: new X509Certificate(certDer).subject,
    nameDer: subject,
    publicKey,
    privateKey: key,
  };
}

function bigBytes(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
}

function hexBytes(h: string): Buffer {
  return Buffer.from(h.length % 2 ? `0${h}` : h, 'hex');
}

function aki(keyId: Buffer): Buffer {
  return ext(OID.authorityKeyIdentifier, false, seq(implicit(0, keyId)));
}

function caTbs(serial: Buffer, issuer: Buffer, subject: Buffer, spki: Buffer, ski: Buffer, akiId: Buffer | null, pathLen: number): Buffer {
  return seq(
    V3,
    integer(serial),
    ED25519_ALG,
    issuer,
    seq(time(NOT_BEFORE), time(NOT_AFTER)),
    subject,
    spki,
    explicit(
      3,
      seq(
        // cA TRUE with a path length: the root signs generations, a generation signs end entities only.
        ext(OID.basicConstraints, true, seq(TRUE, integer(Buffer.from([pathLen])))),
        // keyCertSign (bit 5) + cRLSign (bit 6): 0b00000110, one unused bit.
        ext(OID.keyUsage, true, tlv(0x03, Buffer.from([1, 0x06]))),
        ext(OID.subjectKeyIdentifier, false, octets(ski)),
        ...(akiId ? [aki(akiId)] : []),
        NAME_CONSTRAINTS(),
      ),
    ),
  );
}

/** Serial of the certificate for (name, key): the same pair always gets the same serial (16 bytes, positive). */
export function peerCertSerial(ca: TrustCa, peerName: string, spkiDer: Buffer): string {
  const h = createHash('sha256')
    .update('oedns peer cert\0')
    .update(ca.keyId)
    .update('\0')
    .update(checkName(peerName))
    .update('\0')
    .update(spkiDer)
    .digest();
  const s = Buffer.from(h.subarray(0, 16));
  s[0] = s[0]! & 0x7f || 1;
  return normSerial(s.toString('hex'));
}

/** SubjectPublicKeyInfo DER of a PEM public key, without a round trip through a KeyObject. */
function spkiOf(pem: string): Buffer {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

/**
 * The certificate by which `ca` vouches that `spkiPem` is the key of `peerName`: CN and SAN dNSName
 * = the name, CA:FALSE, keyUsage digitalSignature. Deterministic (Ed25519 signatures are).
 */
export function issuePeerCert(ca: TrustCa, peerName: string, spkiPem: string): { der: Buffer; serial: string } {
  const n = checkName(peerName);
  const spki = spkiOf(spkiPem);
  keyIdentifier(spki); // a SubjectPublicKeyInfo, or EngineError
  const serial = peerCertSerial(ca, n, spki);
  const tbs = seq(
    V3,
    integer(hexBytes(serial)),
    ED25519_ALG,
    ca.nameDer,
    seq(time(NOT_BEFORE), time(NOT_AFTER)),
    name(n, CA_ORG), // under the roots' permitted directory name (NAME_CONSTRAINTS)
    spki,
    explicit(
      3,
      seq(
        ext(OID.basicConstraints, true, seq()), // empty SEQUENCE = cA FALSE (DER omits the default)
        ext(OID.keyUsage, true, tlv(0x03, Buffer.from([7, 0x80]))), // digitalSignature only
        ext(OID.subjectAltName, false, seq(implicit(2, Buffer.from(n, 'ascii')))),
        aki(Buffer.from(ca.keyId, 'hex')),
      ),
    ),
  );
  return { der: signed(tbs, ca.privateKey), serial };
}

/**
 * A complete CRL of `ca` revoking `serials` (hex). `number` must grow from one CRL to the next: charon
 * keeps the newer of two CRLs of one issuer (mem_cred add_crl), so a serial left out of a newer CRL is
 * trusted again. `nowSec` is thisUpdate.
 */
export function buildCrl(ca: TrustCa, serials: Iterable<string>, number: bigint, nowSec: number): Buffer {
  const when = time(nowSec);
  const revoked = [...new Set([...serials].map(normSerial))].sort().map((x) => seq(integer(hexBytes(x)), when));
  const tbs = seq(
    integer(Buffer.from([1])), // v2
    ED25519_ALG,
    ca.nameDer,
    when,
    time(nowSec + CRL_VALID_SEC),
    ...(revoked.length ? [seq(...revoked)] : []),
    explicit(0, seq(aki(Buffer.from(ca.keyId, 'hex')), ext(OID.crlNumber, false, integer(bigBytes(number))))),
  );
  return signed(tbs, ca.privateKey);
}

/** Is `certDer` a certificate issued by `ca` (issuer name and signature both checked)? Its serial if so. */
export function issuedBy(ca: TrustCa, certDer: Buffer): string | undefined {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certDer);
  } catch {
    return undefined;
  }
  if (x.issuer !== ca.subject || x.subject === ca.subject) return undefined;
  try {
    if (!x.verify(ca.publicKey)) return undefined;
  } catch {
    return undefined;
  }
  return normSerial(x.serialNumber);
}

/**
 * The issuer (subject Name DER) and CRL number of a CRL, or undefined for bytes that are not one. A
 * starting oedns reads the CRLs charon holds for its root: its next root CRL must have a higher number
 * than any of them, whatever the clock says (a clock stepped back gave a lower number, and charon kept
 * the older CRL, which did not retire the previous process's generation).
 */
export function crlInfo(der: Buffer): { issuerDer: Buffer; number: bigint } | undefined {
  try {
    const tbs = readTlv(der, readTlv(der, 0).start);
    const parts = items(der, tbs.start, tbs.end);
    const i = parts[0]?.tag === 0x02 ? 1 : 0; // version present (v2)
    const issuer = parts[i + 1];
    const exts = parts.find((p) => p.tag === 0xa0);
    if (!issuer || issuer.tag !== 0x30 || !exts) return undefined;
    const list = readTlv(der, exts.start);
    for (const e of items(der, list.start, list.end)) {
      const [id, ...rest] = items(der, e.start, e.end);
      if (!id || id.tag !== 0x06 || !der.subarray(id.start, id.end).equals(OID.crlNumber.subarray(2))) continue;
      const value = rest[rest.length - 1];
      if (!value || value.tag !== 0x04) return undefined;
      const n = readTlv(der, value.start);
      if (der[value.start] !== 0x02) return undefined;
      return {
        issuerDer: der.subarray(issuer.off, issuer.end),
        number: BigInt(`0x${der.subarray(n.start, n.end).toString('hex') || '0'}`),
      };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** The TLVs between `start` and `end` of `d`, each with its offset. */
function items(d: Buffer, start: number, end: number): { tag: number; start: number; end: number; off: number }[] {
  const out: { tag: number; start: number; end: number; off: number }[] = [];
  for (let off = start; off < end;) {
    const t = readTlv(d, off);
    out.push({ ...t, off });
    off = t.end;
  }
  return out;
}

/**
 * Is `certDer` an oedns trust root for identity `id` other than `root` (a root derived from another
 * seed: the seed was lost, replaced or unreadable)? Such a root, and what its generations vouched
 * for, cannot be revoked by us: we do not have its key.
 */
export function isForeignRootFor(root: TrustCa, id: string, certDer: Buffer): boolean {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certDer);
  } catch {
    return false;
  }
  if (x.subject === root.subject || x.issuer !== x.subject) return false;
  const lines = x.subject.split('\n');
  const cn = lines.find((l) => l.startsWith('CN='))?.slice(3) ?? '';
  return lines.includes(`O=${CA_ORG}`) && cn.startsWith(`oedns trust for ${checkName(id)} `) && !cn.includes(GEN);
}

/** Serials compared as lowercase hex without leading zeros. */
export function normSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}
