// What charon trusts on our behalf, and how that trust ends (trust-ca.ts has the why). Keeps the
// bookkeeping: which certificate vouches for which peer now, which serials are revoked, which
// generations are retired; and talks to charon only through its own certificate commands: load-cert
// (our root, our generation, our CRLs), list-certs (to find generations an earlier oedns left) and
// flush-certs of cached CRLs (charon's cert cache may hold a CRL we replaced, and the first cached
// CRL it finds wins). It never unloads or clears anything: nothing else in charon is touched.
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import {
  buildCrl,
  crlInfo,
  deriveTrustCa,
  isForeignRootFor,
  issuedBy,
  issuePeerCert,
  newGeneration,
  normSerial,
  type TrustCa,
} from './trust-ca';
import { checkSuccess } from './vici-client';
import type { ViciInput, ViciSection } from './vici-codec';

/** The VICI calls this needs: a command client, and a list-certs that returns DER as Buffers. */
export interface TrustVici {
  request(cmd: string, msg: ViciInput): Promise<ViciSection>;
  listCaCerts(): Promise<Buffer[]>;
  /** The CRLs charon holds (DER); absent: CRL numbers follow the clock alone. */
  listCrls?(): Promise<Buffer[]>;
}

export interface CharonTrustOptions {
  /** Revoked serials in one generation before it is retired and a new one takes over. Default 4096. */
  rotateAt?: number;
  /** Unix seconds. */
  now?: () => number;
  log?: Logger;
}

/** Held CRL numbers at or above this are not numbered on from (see load()). */
const CRL_NUMBER_MAX = 2n ** 120n;

export class CharonTrust {
  readonly root: TrustCa;
  private gen: TrustCa;
  private genNo: bigint;
  /** Generations retired: their serials (under the root). */
  private readonly retired = new Set<string>();
  /** Peer certificate serials of the current generation that charon must no longer trust. */
  private readonly revoked = new Set<string>();
  /** Peer → serials of the certificates that vouch for its keys now. */
  private readonly held = new Map<string, Set<string>>();
  /** Number of the last CRL published (public for tests that simulate a clock step). */
  crlNo: bigint;
  private chain: Promise<void> = Promise.resolve();
  private readonly issued = new Map<string, { der: Buffer; serial: string }>();
  private readonly rotateAt: number;
  private readonly now: () => number;
  private readonly log: Logger;
  /** What clearForeignRoots() listed, for the load() that follows it. */
  private prefetched: { cas: Buffer[]; crls: Buffer[] } | undefined;
  /** Root, generation and CRLs are in charon (false after a restart or a clear-creds by anyone). */
  loaded = false;

  constructor(secret: KeyObject | Buffer, id: string, o: CharonTrustOptions = {}) {
    this.root = deriveTrustCa(secret, id);
    this.now = o.now ?? (() => Date.now() / 1000);
    this.rotateAt = Math.max(1, o.rotateAt ?? 4096);
    this.log = o.log ?? silentLogger;
    // CRL numbers only grow, across processes too (charon keeps the newer CRL of an issuer).
    this.crlNo = BigInt(Math.floor(Date.now())) * 1000n;
    // Milliseconds: an oedns restarted within the same second must still get a generation of its own.
    this.genNo = BigInt(Math.floor(this.now() * 1000));
    this.gen = newGeneration(this.root, this.genNo, generateKeyPairSync('ed25519').privateKey);
  }

  /** Serial of the current generation (for tests and status). */
  get generation(): string {
    return this.genNo.toString();
  }

  get revokedCount(): number {
    return this.revoked.size;
  }

  /**
   * Put root and generation into charon, retire every other generation of our root found there (an
   * earlier oedns process: its peers' trust ends here), publish both CRLs. The held peers' conns must
   * be (re)loaded by the caller afterwards if charon lost them.
   */
  async load(v: TrustVici): Promise<void> {
    // Listed by clearForeignRoots() just before our key was loaded, when the engine called it: no
    // round trip between our key and our CAs (a peer initiating meanwhile finds no trust).
    const pre = this.prefetched;
    this.prefetched = undefined;
    const cas = pre?.cas ?? (await v.listCaCerts());
    const crls = pre?.crls ?? (await v.listCrls?.()) ?? [];
    // CRL numbers and generation serials must grow across processes whatever the clock did: above
    // every CRL of our root charon holds, above every generation of our root it holds.
    for (const der of crls) {
      const c = crlInfo(der);
      // Bounded: anyone who can load-cert over VICI can load a CRL with our issuer name and any number
      // (charon does not check it at load). Below 2^120 we can go on numbering within RFC 5280's 20
      // octets for ever; a clock stepped back by any real amount stays far below that.
      if (c && c.issuerDer.equals(this.root.nameDer) && c.number >= this.crlNo && c.number < CRL_NUMBER_MAX) {
        this.log.warn(
          { held: c.number.toString(), clock: this.crlNo.toString() },
          'strongswan: charon holds a newer root CRL than the clock gives (clock stepped back?): numbering on from it',
        );
        this.crlNo = c.number + 1n;
      }
    }
    let newest = -1n;
    for (const der of cas) {
      // Our own generation, loaded by this process before (a reload after our key changed): not an
      // earlier process's, and moving past it would retire every certificate it issued.
      if (Buffer.from(der).equals(Buffer.from(this.gen.certDer))) continue;
      const serial = issuedBy(this.root, der);
      if (serial) newest = BigInt(`0x${serial}`) > newest ? BigInt(`0x${serial}`) : newest;
    }
    if (newest >= this.genNo) {
      this.genNo = newest + 1n;
      this.gen = newGeneration(this.root, this.genNo, generateKeyPairSync('ed25519').privateKey);
      this.issued.clear();
    }
    await this.loadCa(v, this.root);
    await this.loadCa(v, this.gen);
    const ours = normSerial(this.genNo.toString(16));
    for (const der of cas) {
      const serial = issuedBy(this.root, der);
      if (serial && serial !== ours && !this.retired.has(serial)) {
        this.retired.add(serial);
        this.log.info({ generation: BigInt(`0x${serial}`).toString() }, 'strongswan: retiring trust left by an earlier oedns');
      }
    }
    this.loaded = true;
    await this.publish(v, true);
  }

  /**
   * Before anything of ours is loaded: does charon trust an oedns root for our identity that is not
   * ours (another seed: lost, replaced, unreadable)? What it vouched for cannot be revoked without its
   * key, and it authenticates through any conn that pins no certificate. Fail closed: clear charon's
   * VICI credentials (clear-creds) so that it forgets that root and all it issued; our key, root and
   * conns are loaded again right after by the caller. Credentials other programs loaded over VICI
   * (swanctl --load-creds) go too and must be loaded again: logged as an error saying so.
   * True when it cleared.
   */
  async clearForeignRoots(v: TrustVici, id: string): Promise<boolean> {
    // Only what was loaded counts: charon's certificate cache also holds roots that IKE peers sent
    // (a self-signed "oedns trust for <our id>" root costs an initiator nothing) and list-certs shows
    // them; without the flush any initiator could make us clear-creds every VPN's credentials.
    checkSuccess(await v.request('flush-certs', { type: 'x509' }), 'flush-certs');
    const cas = await v.listCaCerts();
    const foreign = cas.filter((der) => isForeignRootFor(this.root, id, der));
    if (foreign.length === 0) {
      this.prefetched = { cas, crls: (await v.listCrls?.()) ?? [] };
      return false;
    }
    this.prefetched = undefined;
    checkSuccess(await v.request('clear-creds', {}), 'clear-creds');
    this.log.error(
      { roots: foreign.length },
      'strongswan: charon trusted keys vouched for by another oedns trust root for our identity (trust-root.seed lost or replaced): ' +
        'cleared its credentials (clear-creds) so that they stop authenticating; credentials other programs loaded must be loaded again (swanctl --load-creds)',
    );
    return true;
  }

  private async loadCa(v: TrustVici, ca: TrustCa): Promise<void> {
    checkSuccess(await v.request('load-cert', { type: 'x509', flag: 'CA', data: ca.certDer }), 'load-cert (oedns trust)');
  }

  /**
   * The certificates that vouch for `name`'s keys (PEM SubjectPublicKeyInfo), from the current
   * generation. Does not change what is trusted: bind() does.
   */
  vouch(name: string, spkiPems: string[]): { certs: Buffer[]; serials: string[] } {
    const certs: Buffer[] = [];
    const serials: string[] = [];
    for (const pem of spkiPems) {
      // Reinstalls (an address added, a refresh after a restart) reuse the certificate: same bytes anyway.
      const k = `${this.gen.keyId}\0${name}\0${pem}`;
      let c = this.issued.get(k);
      if (!c) {
        c = issuePeerCert(this.gen, name, pem);
        if (this.issued.size >= 65_536) this.issued.clear();
        this.issued.set(k, c);
      }
      certs.push(c.der);
      serials.push(c.serial);
    }
    return { certs, serials };
  }

  /**
   * `name` is now vouched for by exactly `serials`: returns whether a CRL must be published before
   * its conn is loaded (a serial revoked earlier is trusted again) and marks the serials it replaced
   * as revoked (publish after loading).
   */
  bind(name: string, serials: string[]): { unrevoke: boolean; revoke: boolean } {
    const now = new Set(serials);
    let unrevoke = false;
    for (const s of now) if (this.revoked.delete(s)) unrevoke = true;
    let revoke = false;
    for (const s of this.held.get(name) ?? []) {
      if (!now.has(s)) {
        this.revoked.add(s);
        revoke = true;
      }
    }
    this.held.set(name, now);
    return { unrevoke, revoke };
  }

  /** `name` is gone: its certificates are revoked (publish afterwards). True if anything changed. */
  unbind(name: string): boolean {
    const had = this.held.get(name);
    this.held.delete(name);
    if (!had || had.size === 0) return false;
    for (const s of had) this.revoked.add(s);
    return true;
  }

  /** Time for a new generation (the current CRL is long)? */
  shouldRotate(): boolean {
    return this.revoked.size >= this.rotateAt;
  }

  /**
   * Start a new generation; returns the old one's serial. The caller reloads every held peer's conn
   * with certificates of the new generation (vouch + bind again), then calls retire(). Until then the
   * old generation still vouches for what it vouched for.
   */
  rotate(): string {
    const old = normSerial(this.genNo.toString(16));
    const t = BigInt(Math.floor(this.now() * 1000));
    this.genNo = this.genNo + 1n > t ? this.genNo + 1n : t;
    this.gen = newGeneration(this.root, this.genNo, generateKeyPairSync('ed25519').privateKey);
    this.held.clear();
    this.revoked.clear();
    return old;
  }

  /** After rotate() and the reload: the old generation and all it issued stop being trusted. */
  async retire(v: TrustVici, generation: string): Promise<void> {
    await this.loadCa(v, this.gen);
    this.retired.add(generation);
    await this.publish(v, true);
  }

  /** Load the current generation's certificate (after rotate(), before conns use it). */
  async loadGeneration(v: TrustVici): Promise<void> {
    await this.loadCa(v, this.gen);
    await this.publish(v, false);
  }

  /**
   * Make charon see the current revocations: a new CRL of the generation (and of the root when
   * `withRoot`), then drop cached CRLs. Calls are serialised; each builds from the state at its turn.
   */
  publish(v: TrustVici, withRoot = false): Promise<void> {
    const run = async (): Promise<void> => {
      const now = Math.floor(this.now());
      if (withRoot) {
        this.crlNo++;
        checkSuccess(
          await v.request('load-cert', { type: 'x509crl', data: buildCrl(this.root, this.retired, this.crlNo, now) }),
          'load-cert (oedns root CRL)',
        );
      }
      this.crlNo++;
      checkSuccess(
        await v.request('load-cert', { type: 'x509crl', data: buildCrl(this.gen, this.revoked, this.crlNo, now) }),
        'load-cert (oedns CRL)',
      );
      // The cert cache may hold the CRL just replaced, and charon takes the first cached CRL it finds.
      checkSuccess(await v.request('flush-certs', { type: 'x509crl' }), 'flush-certs x509crl');
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p.catch((e: unknown) => {
      throw e instanceof EngineError
        ? e
        : new EngineError('engine-trust', `publishing the revocation list failed: ${e instanceof Error ? e.message : String(e)}`, {
            cause: e,
          });
    });
  }
}

/** The seed's file name, next to the host key or in the state directory. */
export const TRUST_SEED_FILE = 'trust-root.seed';

/** Where the trust seed lives by default: next to the host key, like the tofu pins. */
export function trustSeedPath(hostKeyPath: string): string {
  return join(dirname(hostKeyPath), TRUST_SEED_FILE);
}

/**
 * The trust seed from the first of `paths` that holds one, else a new one made in the first of them
 * we may write (a service running as its own user cannot write next to a root-owned key, but can in
 * its state directory). Undefined, with a warning, when none can be made: the root then comes from
 * the host key. A seed that exists but cannot be used (unreadable, too short, readable by group or
 * others) is an EngineError: starting with another root would leave what the old one vouched for
 * trusted and unrevokable, and a seed others can read lets them mint certificates charon accepts.
 */
export function findTrustSeed(paths: string[], log: Logger = silentLogger): Buffer | undefined {
  for (const p of paths) {
    if (existsSync(p)) return ensureTrustSeed(p);
  }
  for (const p of paths) {
    try {
      return ensureTrustSeed(p);
    } catch {
      /* not writable here: try the next place */
    }
  }
  log.warn(
    { tried: paths },
    'strongswan: no trust seed could be kept; the trust root comes from the host key (a host key rollover then cannot retire what the old key vouched for until charon restarts)',
  );
  return undefined;
}

/** Why the seed file's mode is unsafe (group or other may read or write it, or it is not a regular file), or null. */
export function trustSeedModeProblem(path: string): string | null {
  const st = lstatSync(path);
  if (!st.isFile()) return `${path} is not a regular file`;
  if (st.mode & 0o077) {
    return (
      `${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: group or others can read it, and whoever knows the seed can make ` +
      `certificates our trust root vouches for, for any identity; run \`chmod 600 ${path}\``
    );
  }
  return null;
}

/**
 * The seed of our trust root (32 random bytes, mode 0600), created on first use. Keeping it across host
 * key rollovers lets a new oedns retire what the old one vouched for in a charon that kept running.
 * EngineError engine-trust when it cannot be read or made.
 */
export function ensureTrustSeed(path: string): Buffer {
  try {
    if (existsSync(path)) {
      const bad = trustSeedModeProblem(path);
      if (bad) throw new Error(bad);
      const b = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
      if (b.length < 32) throw new Error('shorter than 32 bytes');
      return b;
    }
    const seed = randomBytes(32);
    writeFileSync(path, `${seed.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return seed;
  } catch (e) {
    throw new EngineError('engine-trust', `trust seed ${path}: ${(e as Error).message}`, { cause: e });
  }
}
