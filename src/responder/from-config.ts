// The responder as `oedns serve` configures it: off unless the allow-list names something.
// eslint-disable-next-line no-restricted-imports -- known exception (docs/CONTRIBUTING.md): serve's config type
import type { ServeConfig } from '../config/serve';
import { ConfigError } from '../util/errors';
import type { Logger } from '../util/log';
import type { ResponderOptions } from './service';
import { StrongswanCatchAll } from './strongswan-catchall';

export function responderFromConfig(c: ServeConfig, log: Logger): ResponderOptions | undefined {
  if (c.responderAllow.length === 0) return undefined;
  if (c.engine !== 'strongswan') {
    // Libreswan looks initiators up by itself (docs/responder.md); dry-run has no IKE daemon to ask.
    throw new ConfigError(
      'responder-engine',
      `--responder-allow needs --engine strongswan (got ${c.engine}); for Libreswan see docs/responder.md`,
    );
  }
  const e = c.engineConfig;
  return {
    allow: c.responderAllow,
    hook: new StrongswanCatchAll({ socketPath: e.vici, localId: e.identity, log }),
    // Initiating back is what brings the SA up (the initiator does not retry), whatever --initiate says.
    initiate: true,
  };
}
