// Builds the configured IKE engine. Shared by `oedns serve` and `autosp` so both name connections and
// load our identity the same way (they must agree on `oe-<name>` to share peers).
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Engine } from '../ike-bridge/engine';
import { createEngine } from '../ike-bridge';
import type { EngineConfig } from '../config/serve';
import { ConfigError } from '../util/errors';
import type { Logger } from '../util/log';
import type { FallbackPolicy } from '../policy';
import { checkFallbackMethod, fallbackPlaces, HOST_CERT_FILE, PIN_FILE, renewHostCert, strongswanFallback } from '../ike-bridge/fallback';
import { findPinFile } from '../ike-bridge/tofu';
import { findTrustSeed, TRUST_SEED_FILE, trustSeedPath } from '../ike-bridge/strongswan-trust';
import { DEFAULT_STATE_PATH } from '../autosp/state';
import { dirname, join } from 'node:path';
import { StrongswanEngine } from '../ike-bridge/strongswan';
import { watchKeyFile } from '../publish/key-watch';

/**
 * `fallback`: the policy's BTNS knobs; with strongSwan and `tofu-cert` they make the engine carry our
 * self-signed certificate and learn peers' certificates (src/ike-bridge/fallback.ts).
 */
export async function engineFromConfig(
  c: EngineConfig,
  log: Logger,
  fallback?: FallbackPolicy,
  nowSec = Math.floor(Date.now() / 1000),
): Promise<Engine> {
  switch (c.kind) {
    case 'dry-run':
      return createEngine('dry-run', { logger: log });
    case 'libreswan': {
      if (fallback) checkFallbackMethod('libreswan', fallback.method);
      // pluto signs with the key in its NSS database; it must be told which one (--ckaid, derived from
      // our key). Without a readable key file pluto finds none ("RSA private key not found").
      let localKey: KeyObject | undefined;
      if (c.key) {
        try {
          localKey = createPublicKey(readFileSync(c.key, 'utf8'));
        } catch (e) {
          log.warn({ key: c.key, err: (e as Error).message }, 'cannot read our key: pluto will not know which NSS key is ours');
        }
        if (localKey && localKey.asymmetricKeyType !== 'rsa') {
          throw new ConfigError(
            'key-unsupported',
            `${c.key} is a ${localKey.asymmetricKeyType} key: the libreswan engine signs with RSA only (oedns keygen --type rsa)`,
          );
        }
      }
      return createEngine('libreswan', { localId: c.identity, localKey, initiate: c.initiate, logger: log });
    }
    case 'strongswan': {
      let pem: string;
      try {
        pem = readFileSync(c.key, 'utf8');
      } catch (e) {
        throw new ConfigError(
          'key-unreadable',
          `cannot read our private key ${c.key} (${(e as Error).message}); create one with \`oedns keygen --out DIR\` and pass --key DIR/host.key.pem`,
        );
      }
      let privateKey;
      try {
        privateKey = createPrivateKey(pem);
      } catch (e) {
        throw new ConfigError('key-invalid', `${c.key} is not a PEM private key: ${(e as Error).message}`);
      }
      const stateDir = dirname(DEFAULT_STATE_PATH);
      const certPaths = fallbackPlaces(c.key, stateDir, HOST_CERT_FILE);
      const btns = fallback
        ? strongswanFallback({
            fallback,
            certPaths,
            pinFile: findPinFile(fallbackPlaces(c.key, stateDir, PIN_FILE)),
            identity: c.identity,
            privateKey,
            log,
            nowSec,
          })
        : {};
      // Built as itself, not through createEngine: the key watch and the start below use its own methods.
      const engine = new StrongswanEngine({
        socketPath: c.vici,
        identity: { id: c.identity, privateKey },
        // The trust root outlives host key rollovers (it can then retire what the old key's peers had).
        trustSeed: findTrustSeed([trustSeedPath(c.key), join(dirname(DEFAULT_STATE_PATH), TRUST_SEED_FILE)], log),
        initiate: c.initiate,
        ikeProposals: c.ipsec?.ikeProposals,
        espProposals: c.ipsec?.espProposals,
        mode: c.ipsec?.mode,
        ikeRekeySec: c.ipsec?.ikeLifetime,
        childRekeySec: c.ipsec?.childLifetime,
        logger: log,
        ...btns,
      });
      // `oedns key activate` renames a new key over c.key: sign with it without a restart. tofu-cert
      // conns present a certificate of our key, so it is made anew first (setIdentityKey reloads them).
      const keyWatch = watchKeyFile(
        c.key,
        privateKey,
        async (k) => {
          btns.tofu?.setLocalCert(renewHostCert(certPaths, k, c.identity, Math.floor(Date.now() / 1000), log));
          await engine.setIdentityKey(k);
        },
        log,
      );
      const close = engine.close.bind(engine);
      engine.close = async () => {
        keyWatch.close();
        await close();
      };
      // Events (auth failures, reconnects) need the watcher; a daemon that is down now is not fatal:
      // the client reconnects, and the daemon reconciles when it is back.
      await engine
        .start()
        .catch((e: Error) => log.warn({ vici: c.vici, err: e.message }, 'charon is not reachable yet; peers will be installed when it is'));
      return engine;
    }
  }
}
