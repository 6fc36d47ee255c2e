// The I/O side of RFC 5011: asks for each trust point's DNSKEY RRset when its refresh is due, checks
// it against the keys trusted now and, in a set that validated, each revoked key's self-signature
// (src/dnssec, pure; one work budget per answer), feeds the result to the state machine
// (rfc5011.ts), saves the state file, and tells the daemon when the set of trusted keys changed (the
// validator is then rebuilt with them).
// Layering: src/trust may import src/resolver, src/dnssec, src/wire and src/util.
import { canonicalName, nameEquals } from '../wire/name';
import type { Message, Name, RR } from '../wire/types';
import type { TrustAnchor } from '../dnssec/anchors';
import { decodeRrsig, DNSKEY_REVOKE } from '../dnssec/records';
import { ValidationBudget } from '../dnssec/budget';
import { dsMatchesKey, validateKeySet } from '../dnssec/ds';
import { verifyRrset } from '../dnssec/rrsig';
import { secondsUntil } from '../dnssec/crypto';
import { type Logger, silentLogger } from '../util/log';
import {
  applyObservation,
  boundedTrustPoint,
  keyIdentity,
  mergeConfiguredKeys,
  type Observation,
  RFC5011_DEFAULTS,
  type Rfc5011Options,
  seedTrustPoint,
  trustedKeys,
  type TrustPointState,
} from './rfc5011';
import { loadTrustState, saveTrustState, stateOwners } from './state-file';

const DNSKEY = 48;
const RRSIG = 46;
const revokeBit = (rdata: Uint8Array): boolean => rdata.length >= 2 && (((rdata[0]! << 8) | rdata[1]!) & DNSKEY_REVOKE) !== 0;

export interface TrustAnchorManagerOptions {
  /** The configured anchors (distribution root.key, --trust-anchor file or the built-in DS). */
  configured: readonly TrustAnchor[];
  /** RFC 5011 state file; undefined: static anchors, no rollover. */
  statePath?: string;
  /** DNSKEY lookups, with CD=1 (we judge the answer ourselves). */
  query: (name: Name, type: number) => Promise<Message>;
  /** Unix seconds. */
  now?: () => number;
  onChange?: (anchors: TrustAnchor[]) => void;
  log?: Logger;
  rfc5011?: Rfc5011Options;
  /** uids that may own the state file and its directory (default: root, us, the oedns user). */
  stateOwners?: readonly number[];
  /** The work one refresh of one trust point may cost (default: the validator's per-response budget). */
  budget?: () => ValidationBudget;
}

export interface TrustPointReport {
  zone: string;
  managed: boolean;
  keys: Array<{ tag: number; state: string; since: number }>;
  lastSuccess?: number;
  nextRefresh?: number;
}

/** A trust point seeded from a DS-only anchor and not refreshed yet: it has no keys of its own. */
const neverObserved = (tp: TrustPointState): boolean => tp.keys.length === 0 && tp.lastSuccess === undefined;

const sameKeySet = (a: Uint8Array[], b: Uint8Array[]): boolean => {
  const s = (l: Uint8Array[]): string =>
    l
      .map((k) => Buffer.from(k).toString('base64'))
      .sort()
      .join(',');
  return s(a) === s(b);
};

/** Original TTL and expiry (unix seconds) of the RRSIG that verified the DNSKEY set. */
function signedTimers(sig: RR | undefined, expiration: number | undefined, nowSec: number): { origTtl: number; sigExpiresAt: number } {
  let origTtl = 0;
  try {
    origTtl = sig ? decodeRrsig(sig.rdata).originalTtl : 0;
  } catch {
    /* it verified, so it decodes; 0 leaves the hold-down at its 30 days */
  }
  return { origTtl, sigExpiresAt: expiration === undefined ? nowSec : nowSec + secondsUntil(expiration, nowSec) };
}

export class TrustAnchorManager {
  private points = new Map<string, TrustPointState>();
  private untrustedZones: string[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly o: TrustAnchorManagerOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.log = o.log ?? silentLogger;
    if (!o.statePath) return;
    const saved = new Map(loadTrustState(o.statePath, o.stateOwners ?? stateOwners()).map((tp) => [canonicalName(tp.zone), tp]));
    const t = this.now();
    for (const a of o.configured) {
      const k = canonicalName(a.zone);
      const tp = saved.get(k);
      const keep = this.keepRemoved(k);
      this.points.set(
        k,
        tp
          ? mergeConfiguredKeys(boundedTrustPoint(tp, keep), a.keys, t)
          : a.keys.length
            ? seedTrustPoint(k, a.keys, t)
            : { zone: k, keys: [] },
      );
    }
  }

  /**
   * The state as a daemon starting now would load it, for checks (`--check-config`, doctor): no
   * refresh is ever made. ConfigError when the state file is damaged.
   */
  static offline(
    configured: readonly TrustAnchor[],
    statePath: string,
    now?: () => number,
    owners?: readonly number[],
  ): TrustAnchorManager {
    return new TrustAnchorManager({
      configured,
      statePath,
      now,
      stateOwners: owners,
      query: () => Promise.reject(new Error('offline: no refresh')),
    });
  }

  /**
   * Removed keys of `zone` worth remembering: those its configured anchor still lists (forgotten,
   * mergeConfiguredKeys would take them back as Valid at the next start).
   */
  private keepRemoved(zone: string): (identity: string) => boolean {
    const a = this.o.configured.find((x) => canonicalName(x.zone) === zone);
    const ids = new Set((a?.keys ?? []).map((k) => keyIdentity(k)));
    return (id) => ids.has(id);
  }

  get managed(): boolean {
    return this.o.statePath !== undefined;
  }

  /**
   * The anchors the validator should use now. A trust point in `untrusted()` comes out without keys:
   * the validator would call that insecure, so the daemon must refuse its names first (it does,
   * daemonValidation's `untrusted`), never validate them against this anchor.
   */
  anchors(): TrustAnchor[] {
    if (!this.managed) return [...this.o.configured];
    return this.o.configured.map((a) => {
      const tp = this.points.get(canonicalName(a.zone));
      // Never observed yet: the configured anchor (e.g. the built-in DS) until the first refresh.
      if (!tp || neverObserved(tp)) return a;
      return { zone: a.zone, ds: [], keys: trustedKeys(tp) };
    });
  }

  /**
   * Tracked trust points (canonical zone names, '' for the root) that the state leaves with no
   * trusted key: every key revoked, or a damaged or hand-edited state. Their names must fail closed:
   * with no key there is nothing to validate against, and "no anchor" would mean insecure.
   */
  untrusted(): readonly string[] {
    // Asked for every query: kept from the last change of the points.
    this.untrustedZones ??= [...this.points.values()]
      .filter((tp) => !neverObserved(tp) && trustedKeys(tp).length === 0)
      .map((tp) => canonicalName(tp.zone));
    return this.untrustedZones;
  }

  report(): TrustPointReport[] {
    if (!this.managed) return this.o.configured.map((a) => ({ zone: a.zone, managed: false, keys: [] }));
    return [...this.points.values()].map((tp) => ({
      zone: tp.zone,
      managed: true,
      keys: tp.keys.map((k) => ({ tag: k.tag, state: k.state, since: k.since })),
      lastSuccess: tp.lastSuccess,
      nextRefresh: tp.nextRefresh,
    }));
  }

  /** Refreshes every trust point that is due (all of them with `force`). */
  refresh(force = false): Promise<void> {
    this.running ??= this.refreshAll(force).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Checks once a minute whether a refresh is due (refreshes are hours or days apart). */
  start(checkEveryMs = 60_000): void {
    if (!this.managed || this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), checkEveryMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refreshAll(force: boolean): Promise<void> {
    if (!this.managed) return;
    const before = this.anchors();
    let changed = false;
    for (const [k, tp] of this.points) {
      if (!force && tp.nextRefresh !== undefined && tp.nextRefresh > this.now()) continue;
      const next = await this.refreshOne(tp);
      this.points.set(k, next);
      this.untrustedZones = undefined;
      changed = true;
    }
    if (!changed) return;
    try {
      saveTrustState(this.o.statePath!, [...this.points.values()]);
    } catch (e) {
      this.log.error({ state: this.o.statePath, err: (e as Error).message }, 'trust anchors: cannot save the RFC 5011 state');
    }
    const after = this.anchors();
    const differs =
      before.length !== after.length || before.some((a, i) => !sameKeySet(a.keys, after[i]!.keys) || a.ds.length !== after[i]!.ds.length);
    if (differs) this.o.onChange?.(after);
  }

  private async refreshOne(tp: TrustPointState): Promise<TrustPointState> {
    const nowSec = this.now();
    const zone = tp.zone;
    const anchor = this.anchors().find((a) => canonicalName(a.zone) === canonicalName(zone));
    let msg: Message;
    try {
      msg = await this.o.query(zone === '' ? '.' : zone, DNSKEY);
    } catch (e) {
      this.log.warn({ zone: zone || '.', err: (e as Error).message }, 'trust anchors: DNSKEY refresh failed; will retry');
      return applyObservation(tp, { validated: false, keys: [], origTtl: 0, sigExpiresAt: 0 }, nowSec, this.o.rfc5011).state;
    }
    const keys: RR[] = msg.answers.filter((r) => r.type === DNSKEY && nameEquals(r.name, zone));
    const sigs: RR[] = msg.answers.filter((r) => r.type === RRSIG && nameEquals(r.name, zone));
    // One budget for everything this answer makes us compute: it comes from the network.
    const budget = this.o.budget?.() ?? new ValidationBudget();
    const checked = anchor && keys.length ? validateKeySet(anchor, keys, sigs, nowSec, budget) : undefined;
    const verdict = checked?.verdict;
    const validated = verdict?.kind === 'secure';
    let current = tp;
    // First validated sight under a DS-only anchor: the keys the DS vouches for are the trusted ones.
    if (validated && tp.keys.length === 0 && anchor) {
      current = seedTrustPoint(
        zone,
        keys
          .map((k) => k.rdata)
          .filter(
            (r) =>
              anchor.ds.some((d) => dsMatchesKey(d, zone, r)) ||
              anchor.keys.some((a) => Buffer.compare(Buffer.from(a), Buffer.from(r)) === 0),
          ),
        nowSec,
      );
    }
    // The original TTL (add hold-down, §2.4.1) and expiry (refresh interval, §2.3) come from the RRSIG
    // that verified, never from any other RRSIG in the answer: anyone on the path can append one.
    // An answer that did not validate gives neither (the retry is then MAX(1 h, ...) = 1 h).
    const { origTtl, sigExpiresAt } = validated
      ? signedTimers(checked!.sig, checked!.expiration, nowSec)
      : { origTtl: 0, sigExpiresAt: nowSec };
    const obs: Observation = {
      validated,
      // A self-signature matters only for a revocation (§2.1) in a set that validated: checked then,
      // for keys with the REVOKE bit only, from the same budget (out of budget: not counted now).
      keys: keys.map((k) => ({
        rdata: k.rdata,
        selfSigned: validated && revokeBit(k.rdata) && verifyRrset(keys, sigs, [k], zone, nowSec, budget).verdict.kind === 'secure',
      })),
      origTtl,
      sigExpiresAt,
    };
    if (!validated)
      this.log.warn({ zone: zone || '.', verdict }, 'trust anchors: the DNSKEY set is not signed by a key we trust; nothing changes');
    const keepRemoved = this.keepRemoved(canonicalName(zone));
    const r = applyObservation(current, obs, nowSec, { ...(this.o.rfc5011 ?? RFC5011_DEFAULTS), keepRemoved });
    for (const t of r.transitions)
      this.log.warn({ zone: zone || '.', keyTag: t.tag, from: t.from, to: t.to }, 'trust anchors: RFC 5011 key state change');
    return boundedTrustPoint(r.state, keepRemoved);
  }
}
