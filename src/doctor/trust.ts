// `oedns doctor` checks of what our trust root is worth (review v11 F7): whoever knows the trust seed
// derives the root key and can present a chain root -> own generation -> certificate for ANY identity;
// charon accepts it through every conn that pins no certificate and no CA for its remote peer
// (a foreign VPN accepting "any certificate charon trusts"). So the seed must be readable by us alone,
// and foreign conns should pin their CA. Pure verdicts over data; I/O in the two check functions.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_STATE_PATH } from '../autosp/state';
import { CONN_PREFIX, SELF_CONN, SHUNT_PREFIX } from '../ike-bridge/peer-config';
import { TRUST_SEED_FILE, trustSeedModeProblem, trustSeedPath } from '../ike-bridge/strongswan-trust';
import { ViciClient } from '../ike-bridge/vici-client';
import { list as viciList, str as viciStr, type ViciSection } from '../ike-bridge/vici-codec';
import type { CheckResult, DoctorContext } from './checks';

/** Where serve looks for the seed, in order (src/daemon/engine-config.ts). */
export function trustSeedPaths(c: DoctorContext): string[] {
  return [trustSeedPath(c.config.engineConfig.key), join(dirname(DEFAULT_STATE_PATH), TRUST_SEED_FILE)];
}

export function checkTrustSeed(c: DoctorContext, paths = trustSeedPaths(c)): CheckResult {
  const id = 'trust-seed';
  if (c.config.engine !== 'strongswan') return { id, status: 'skip', detail: `engine ${c.config.engine}: no trust root` };
  const p = paths.find((x) => existsSync(x));
  if (!p) return { id, status: 'pass', detail: `no trust seed yet (made with mode 0600 at first start in ${paths[0]})` };
  let problem: string | null;
  try {
    problem = trustSeedModeProblem(p);
  } catch (e) {
    problem = (e as Error).message;
  }
  if (problem)
    return {
      id,
      status: 'fail',
      detail: problem,
      fix: `chmod 600 ${p} (owned by the user oedns runs as); oedns serve refuses to start with it`,
    };
  return { id, status: 'pass', detail: `${p} is readable by its owner only` };
}

/**
 * Conns (not ours) with a remote round that authenticates by public key and pins neither a
 * certificate, a raw key nor a CA: charon accepts any certificate it trusts there, ours included.
 */
export function connsAcceptingAnyCert(events: readonly ViciSection[]): string[] {
  const out: string[] = [];
  for (const ev of events) {
    for (const [name, conn] of ev) {
      if (!(conn instanceof Map) || name.startsWith(CONN_PREFIX) || name.startsWith(SHUNT_PREFIX) || name === SELF_CONN) continue;
      for (const [k, round] of conn) {
        if (!k.startsWith('remote') || !(round instanceof Map)) continue;
        const cls = (viciStr(round, 'class') ?? viciStr(round, 'auth') ?? '').toLowerCase();
        if (!/public ?key|pubkey/.test(cls)) continue;
        const pinned = ['certs', 'cacerts', 'pubkeys', 'ca_id', 'ca-id'].some((f) => viciList(round, f).length > 0 || viciStr(round, f));
        if (!pinned) {
          out.push(name);
          break;
        }
      }
    }
  }
  return out.sort();
}

export async function checkForeignConns(c: DoctorContext): Promise<CheckResult> {
  const id = 'foreign-conns';
  if (c.config.engine !== 'strongswan') return { id, status: 'skip', detail: `engine ${c.config.engine}: charon not used` };
  const vici = new ViciClient({
    socketPath: c.config.engineConfig.vici,
    timeoutMs: c.timeoutMs ?? 3000,
    connectTimeoutMs: c.timeoutMs ?? 3000,
    reconnect: false,
  });
  try {
    const open = connsAcceptingAnyCert(await vici.listConns());
    if (open.length === 0) return { id, status: 'pass', detail: 'every other conn in charon pins its remote certificate or CA' };
    return {
      id,
      status: 'fail',
      detail: `conns accepting any certificate charon trusts, including those of the oedns trust root: ${open.join(', ')}`,
      fix: 'pin the CA (swanctl.conf remote { cacerts = ... }) or the peer certificate (certs/pubkeys) for each of them',
    };
  } catch (e) {
    return { id, status: 'skip', detail: `charon's conns not listed: ${(e as Error).message}` };
  } finally {
    await vici.close().catch(() => undefined);
  }
}
