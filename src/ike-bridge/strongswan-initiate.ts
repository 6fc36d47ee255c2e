// Initiating (a layer of the strongSwan engine, see strongswan-base.ts): traps start no IKE with
// kernel-libipsec, so the engine initiates itself and reads charon's control log for why it failed;
// a tofu-cert peer's first contact learns certificates from failed attempts and retries.
import { EngineError } from '../util/errors';
import { connName } from './peer-config';
import { str, type ViciSection } from './vici-codec';
import { AUTH_FAILURE, type AuthFailure } from './strongswan-base';
import { StrongswanRevocation } from './strongswan-revocation';

export abstract class StrongswanInitiate extends StrongswanRevocation {
  /**
   * Bring the peer's CHILD_SA up now; EngineError ike-auth-failed / ike-initiate-failed if not.
   * A tofu-cert peer takes up to three exchanges on first contact (seen on 5.9.8): each side learns
   * the other's cert from a failed IKE_AUTH, so after an auth failure we learn, reload and retry.
   */
  async initiate(peerName: string): Promise<void> {
    const held = this.peers.get(peerName);
    if (!this.o.tofu || !held || held.auth.kind !== 'unauthenticated' || held.auth.method !== 'tofu-cert')
      return this.initiateOnce(peerName);
    const attempts = Math.max(1, this.o.tofuAttempts ?? 4);
    for (let i = 1; ; i++) {
      try {
        await this.initiateOnce(peerName);
      } catch (e) {
        if (i >= attempts || !(e instanceof EngineError) || e.code !== 'ike-auth-failed') throw e;
        await this.learnCerts();
        // The peer learns ours from the same failure, on its own schedule: give it a moment.
        await new Promise((r) => setTimeout(r, 150 * i));
        continue;
      }
      // Up at once, or at the last attempt: nothing was learnt meanwhile that could still reload.
      if (i === 1 || i >= attempts) return;
      // A first contact learnt certs on both sides, and a conn reloaded with a new pin ends the SAs
      // it had (a re-pin must end what the old trust let in): one such reload, ours or the peer's,
      // may land just after the SA came up. Resolve only with the SA still up once that settled.
      await this.learning;
      await new Promise((r) => setTimeout(r, 300));
      if (await this.childUp(connName(peerName))) return;
    }
  }

  /** Is the conn's CHILD_SA installed under an established IKE SA now? */
  protected async childUp(conn: string): Promise<boolean> {
    return (await this.use((c) => c.listSas({ ike: conn, noblock: true }))).some(
      (sa) => sa.state === 'ESTABLISHED' && sa.children.some((ch) => ch.name === conn && ch.state === 'INSTALLED'),
    );
  }

  /**
   * Learn certs from charon's cache for every tofu-cert peer we hold (learning flushes the cache, so
   * one pass serves all of them), and reload the conns whose pin changed. Concurrent calls share
   * one pass.
   */
  learnCerts(): Promise<void> {
    if (this.learning) return this.learning;
    const p = (async () => {
      const tofu = this.o.tofu;
      if (!tofu) return;
      const held = [...this.peers.values()].filter((x) => x.auth.kind === 'unauthenticated' && x.auth.method === 'tofu-cert');
      const res = await tofu.learn(
        this.certClient,
        held.map((x) => x.name),
      );
      for (const x of held) if (res.pinned.includes(x.name.toLowerCase())) await this.installInner(x, false);
    })().finally(() => (this.learning = null));
    this.learning = p;
    return p;
  }

  protected async initiateOnce(peerName: string, retried = false): Promise<void> {
    const name = connName(peerName);
    const t = this.o.initiateTimeoutMs ?? 10_000;
    let r: { reply: ViciSection; log: string[] };
    try {
      r = await this.initiator.initiate({ child: name, ike: name, timeout: t, loglevel: 1 }, { timeoutMs: t + 5000 });
    } catch (e) {
      throw this.wrap(e, `initiate ${peerName}`, 'ike-initiate-failed');
    }
    if (str(r.reply, 'success') === 'yes') return;
    // charon refuses a second CHILD_SA with the same selectors (a reinstall of an unchanged peer):
    // fine if that CHILD_SA is really up; if it was on its way out, try once more.
    if (r.log.some((l) => /not establishing CHILD_SA .* due to existing duplicate/.test(l))) {
      if (await this.childUp(name)) return;
      if (!retried) {
        await new Promise((res) => setTimeout(res, 200));
        return this.initiateOnce(peerName, true);
      }
    }
    const why = r.log.filter((l) => AUTH_FAILURE.test(l));
    const detail = `${str(r.reply, 'errmsg') ?? 'failed'}${why.length ? `: ${why.join('; ')}` : r.log.length ? `: ${r.log.slice(-3).join('; ')}` : ''}`;
    if (why.length) {
      this.emitAuthFailure({ name: peerName, connection: name, reason: 'ike-auth-failed', detail }, `initiate:${name}:${Date.now()}`);
      throw new EngineError('ike-auth-failed', `IKE authentication with ${peerName} failed: ${detail}`);
    }
    throw new EngineError('ike-initiate-failed', `initiate ${peerName}: ${detail}`);
  }

  // strongswan-foreign.ts.
  protected abstract emitAuthFailure(f: AuthFailure, key: string): void;
}
