// Revocations (a layer of the strongSwan engine, see strongswan-base.ts): the CRL that ends charon's
// trust in removed peers' keys goes out at once or batched, and a generation whose CRL grew long is
// replaced, every held conn reloaded under the write lock.
import { StrongswanConns } from './strongswan-conns';

export abstract class StrongswanRevocation extends StrongswanConns {
  /**
   * Publish the revocations made so far: at once (purgeDelayMs 0), or batched within purgeDelayMs.
   * A generation whose CRL grew long is replaced first (every held conn reloaded with new certificates).
   */
  protected async publishRevocations(): Promise<void> {
    if (this.trust.shouldRotate()) return this.rotateTrust();
    if ((this.o.purgeDelayMs ?? 0) <= 0) {
      await this.trust.publish(this.trustVici).catch((e) => {
        throw this.wrap(e, 'revoke');
      });
    } else if (!this.purgeTimer) {
      this.purgeTimer = setTimeout(() => {
        this.purgeTimer = undefined;
        this.trust.publish(this.trustVici).catch((e) => this.events.emit('error', e));
      }, this.o.purgeDelayMs);
    }
  }

  /** Run a pending batched revocation now (e.g. before shutdown or in tests). */
  async flushPurge(): Promise<void> {
    if (!this.purgeTimer) return;
    clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    await this.trust.publish(this.trustVici);
  }

  /** New trust generation: every held conn gets certificates of it, then the old one is retired. */
  protected async rotateTrust(): Promise<void> {
    await this.lock.write(async () => {
      try {
        // Several removals may have asked for it; the first one's rotation served them all.
        if (!this.trust.shouldRotate()) {
          await this.trust.publish(this.trustVici);
          return;
        }
        const old = this.trust.rotate();
        await this.trust.loadGeneration(this.trustVici);
        // Every peer held now (removals and installs wait for the lock: none is under way).
        const peers = [...this.peers.values()];
        const { failed } = await this.loadManyLocked(peers, { always: true });
        for (const f of failed)
          this.log.warn({ peer: f.name, err: f.reason }, 'strongswan: conn not reloaded for the new trust generation (it fails closed)');
        await this.trust.retire(this.trustVici, old);
        this.log.info({ peers: peers.length, retired: old }, 'strongswan: trust generation renewed');
      } catch (e) {
        throw this.wrap(e, 'renew the trust generation');
      }
    });
  }
}
