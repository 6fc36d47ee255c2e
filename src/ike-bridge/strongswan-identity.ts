// Our side in charon (a layer of the strongSwan engine, see strongswan-base.ts): our private key
// loaded once and old keys of our identity retired, the oedns-self conn, our trust root, a key change
// (`oedns key activate`), and the well-known PSK loaded only while a peer needs it.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { charonKeyType, privateKeyPemForCharon } from './keys';
import { connName, SELF_CONN, selfConn } from './peer-config';
import { WELLKNOWN_PSK } from './fallback';
import { str } from './vici-codec';
import { keyIdentifier } from './trust-ca';
import { StrongswanBase, usesPsk, WELLKNOWN_PSK_ID } from './strongswan-base';

export abstract class StrongswanIdentity extends StrongswanBase {
  protected async ensureIdentity(): Promise<void> {
    // A command connection notices a charon restart (and clears identityLoaded) only when it next
    // talks to charon: connect first, so the check below sees a restart that has not been noticed yet.
    await this.use((c) => c.connect());
    if (this.identityLoaded) return;
    // Trust from an oedns root we lost the seed of fails closed (clear-creds) before ours is loaded.
    await this.trust.clearForeignRoots(this.trustVici, this.o.identity.id);
    const loaded = await this.use((c) => c.loadKey(charonKeyType(this.privateKey), privateKeyPemForCharon(this.privateKey)));
    const ours = str(loaded, 'id');
    if (ours) {
      this.ownKeyIds.add(ours);
      this.currentKeyId = ours;
      await this.retireOldOwnKeys(ours);
    }
    await this.use((c) => c.loadConn(SELF_CONN, selfConn(this.conn)));
    await this.trust.load(this.trustVici);
    this.identityLoaded = true;
    this.pskLoaded = false;
    if ([...this.peers.values()].some(usesPsk)) await this.ensurePsk();
  }

  /**
   * A host that rolled its key still has the old private key in charon, and charon may keep signing
   * with it for our identity: peers that follow DNS then reject us. A key is ours to unload if this
   * process loaded it, or if charon binds its public half to our own IKE identity (an earlier oedns
   * loaded it for this identity, which only oedns configures). Every other key is left alone.
   */
  protected async retireOldOwnKeys(current: string): Promise<void> {
    const bound = new Set<string>();
    try {
      for (const ev of await this.certClient.listCerts({ type: 'pubkey' })) {
        const subject = ev.get('subject');
        const data = ev.get('data');
        if (!(data instanceof Uint8Array) || String(subject ?? '').toLowerCase() !== this.o.identity.id.toLowerCase()) continue;
        try {
          bound.add(keyIdentifier(Buffer.from(data)).toString('hex'));
        } catch {
          /* not a key we can read: not ours */
        }
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'strongswan: could not list the keys bound to our identity');
    }
    for (const id of await this.use((c) => c.getKeys())) {
      if (id === current || !(this.ownKeyIds.has(id) || bound.has(id))) continue;
      await this.use((c) => c.unloadKey(id))
        .then(() => this.log.info({ key: id }, 'strongswan: unloaded an old private key of our identity'))
        .catch((e: Error) => this.log.warn({ key: id, err: e.message }, 'could not unload an old private key'));
      this.ownKeyIds.delete(id);
    }
  }

  /**
   * Sign with another private key from now on (`oedns key activate`): the new key is loaded, bound to
   * our identity, and the old one (ours) unloaded by its id. Peers' conns carry no key of ours, except
   * tofu-cert conns, which present our certificate (the caller renews it first): those are reloaded.
   * Established SAs are not touched.
   */
  async setIdentityKey(privateKey: KeyObject): Promise<void> {
    await this.lock.write(async () => {
      this.privateKey = privateKey;
      this.conn.local = {
        ...this.conn.local,
        publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
      };
      this.identityLoaded = false;
      try {
        await this.ensureIdentity();
        const tofu = [...this.peers.values()].filter((p) => p.auth.kind === 'unauthenticated' && p.auth.method === 'tofu-cert');
        await this.parallel(tofu, (p) => this.use((c) => c.loadConn(connName(p.name), this.prepare(p).body)).then(() => undefined));
      } catch (e) {
        throw this.wrap(e, 'load the new identity key');
      }
    });
  }

  /** The well-known PSK goes into charon only once a peer needs it (it matches any identity). */
  protected async ensurePsk(): Promise<void> {
    if (this.pskLoaded) return;
    await this.use((c) => c.loadShared({ id: WELLKNOWN_PSK_ID, type: 'IKE', data: this.o.wellknownPsk ?? WELLKNOWN_PSK, owners: [] }));
    this.pskLoaded = true;
  }

  /** The PSK goes again when no peer needs it any more (by its id: other shared secrets stay). */
  protected async dropPskIfUnused(): Promise<void> {
    if (!this.pskLoaded || [...this.peers.values()].some(usesPsk)) return;
    await this.use((c) => c.unloadShared(WELLKNOWN_PSK_ID)).catch((e: Error) => this.log.debug({ err: e.message }, 'unload-shared'));
    this.pskLoaded = false;
  }
}
