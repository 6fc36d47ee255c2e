// RFC 5011 trust anchor rollover: the pure state machine (§4.1 transitions, §2.3 timers) and its I/O
// side fed with DNSKEY sets signed by real keys (test/dnssec/signer.ts), as a rolling root would publish them.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { keyObjectToIpseckey } from '../../src/peers/keys';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyObservation,
  boundedTrustPoint,
  keyIdentity,
  MAX_PENDING_KEYS,
  MAX_TRACKED_KEYS,
  mergeConfiguredKeys,
  refreshInterval,
  seedTrustPoint,
  trustedKeys,
  type TrustPointState,
} from '../../src/trust/rfc5011';
import { loadTrustState, parseTrustState, saveTrustState } from '../../src/trust/state-file';
import { TrustAnchorManager } from '../../src/trust/refresher';
import { ValidationBudget } from '../../src/dnssec/budget';
import { ConfigError } from '../../src/util/errors';
import type { Message, RR } from '../../src/wire/types';
import { TestKey } from '../dnssec/signer';
import { dnsResponse } from '../support/messages';

const DAY = 86400;

/** Temporary directories of this file, removed when it is done. */
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'oedns-ta-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const T0 = 1_800_000_000;
const HOLD = { addHoldDownSec: 30 * DAY, removeHoldDownSec: 30 * DAY };

function ksk(flags = 257): Uint8Array {
  const r = new Uint8Array(4 + 32);
  r[0] = flags >> 8;
  r[1] = flags & 0xff;
  r[2] = 3;
  r[3] = 15;
  r.set(keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey).publicKey, 4);
  return r;
}
const revoked = (k: Uint8Array): Uint8Array => {
  const c = new Uint8Array(k);
  c[1]! |= 0x80;
  return c;
};
const obs = (keys: Array<{ rdata: Uint8Array; selfSigned?: boolean }>, validated = true) => ({
  validated,
  keys: keys.map((k) => ({ rdata: k.rdata, selfSigned: k.selfSigned ?? true })),
  origTtl: 172800,
  sigExpiresAt: T0 + 14 * DAY,
});
const states = (tp: TrustPointState): string[] => tp.keys.map((k) => k.state);

describe('trust/rfc5011 (pure)', () => {
  it('adds a new KSK only after the 30-day hold-down, if it stays published', () => {
    const old = ksk();
    const next = ksk();
    let tp = seedTrustPoint('', [old], T0);
    let r = applyObservation(tp, obs([{ rdata: old }, { rdata: next }]), T0 + DAY, HOLD);
    assert.deepEqual(states(r.state), ['Valid', 'AddPend']);
    assert.deepEqual(
      r.transitions.map((t) => `${t.from}->${t.to}`),
      ['Start->AddPend'],
    );
    assert.equal(trustedKeys(r.state).length, 1, 'a pending key is not trusted');
    tp = r.state;
    r = applyObservation(tp, obs([{ rdata: old }, { rdata: next }]), T0 + 20 * DAY, HOLD);
    assert.deepEqual(states(r.state), ['Valid', 'AddPend']);
    r = applyObservation(r.state, obs([{ rdata: old }, { rdata: next }]), T0 + 31 * DAY + 1, HOLD);
    assert.deepEqual(states(r.state), ['Valid', 'Valid']);
    assert.equal(trustedKeys(r.state).length, 2);
  });

  it('forgets a pending key that disappears before its hold-down ends (an attacker cannot plant one)', () => {
    const old = ksk();
    const planted = ksk();
    let r = applyObservation(seedTrustPoint('', [old], T0), obs([{ rdata: old }, { rdata: planted }]), T0, HOLD);
    r = applyObservation(r.state, obs([{ rdata: old }]), T0 + 5 * DAY, HOLD);
    assert.deepEqual(states(r.state), ['Valid']);
    assert.deepEqual(
      r.transitions.map((t) => `${t.from}->${t.to}`),
      ['AddPend->Start'],
    );
  });

  it('changes nothing on an observation that no trusted key validated', () => {
    const old = ksk();
    const tp = seedTrustPoint('', [old], T0);
    const r = applyObservation(tp, obs([{ rdata: ksk() }], false), T0 + 40 * DAY, HOLD);
    assert.deepEqual(states(r.state), ['Valid']);
    assert.equal(r.transitions.length, 0);
    assert.equal(r.state.lastSuccess, undefined);
    assert.ok(r.state.nextRefresh! > T0 + 40 * DAY);
  });

  it('keeps trusting a Valid key that goes missing, and takes it back as Valid', () => {
    const a = ksk();
    const b = ksk();
    let r = applyObservation(seedTrustPoint('', [a, b], T0), obs([{ rdata: b }]), T0, HOLD);
    assert.deepEqual(states(r.state), ['Missing', 'Valid']);
    assert.equal(trustedKeys(r.state).length, 2);
    r = applyObservation(r.state, obs([{ rdata: a }, { rdata: b }]), T0 + DAY, HOLD);
    assert.deepEqual(states(r.state), ['Valid', 'Valid']);
  });

  it('revokes a key at once when it signs the set with its REVOKE bit, never trusts it again, removes it after the hold-down', () => {
    const a = ksk();
    const b = ksk();
    let r = applyObservation(seedTrustPoint('', [a, b], T0), obs([{ rdata: revoked(a), selfSigned: true }, { rdata: b }]), T0, HOLD);
    assert.deepEqual(states(r.state), ['Revoked', 'Valid']);
    assert.equal(trustedKeys(r.state).length, 1);
    assert.equal(keyIdentity(revoked(a)), keyIdentity(a));
    // A configuration that still lists the key does not bring it back.
    assert.deepEqual(states(mergeConfiguredKeys(r.state, [a], T0 + 1)), ['Revoked', 'Valid']);
    r = applyObservation(r.state, obs([{ rdata: b }]), T0 + 10 * DAY, HOLD);
    assert.deepEqual(states(r.state), ['Revoked', 'Valid']);
    const after = applyObservation(r.state, obs([{ rdata: b }]), T0 + 31 * DAY, HOLD);
    assert.deepEqual(states(after.state), ['Valid'], 'Removed is Start: forgotten');
    assert.deepEqual(
      after.transitions.map((t) => `${t.from}->${t.to}`),
      ['Revoked->Removed'],
    );
    // ...unless the configuration still lists it: then it is remembered, and not trusted again.
    const kept = applyObservation(r.state, obs([{ rdata: b }]), T0 + 31 * DAY, { ...HOLD, keepRemoved: (id) => id === keyIdentity(a) });
    assert.deepEqual(states(kept.state), ['Removed', 'Valid']);
    assert.deepEqual(states(mergeConfiguredKeys(kept.state, [a], T0 + 32 * DAY)), ['Removed', 'Valid']);
  });

  it('stays bounded over many rollovers, and the state it saves loads again (70 KSK rollovers)', () => {
    const dir = tempDir();
    let cur = ksk();
    let tp = seedTrustPoint('', [cur], T0);
    let t = T0;
    const step = (keys: Array<{ rdata: Uint8Array }>): void => {
      tp = applyObservation(tp, obs(keys), t, HOLD).state;
    };
    for (let i = 0; i < 70; i++) {
      const next = ksk();
      step([{ rdata: cur }, { rdata: next }]);
      t += 31 * DAY;
      step([{ rdata: cur }, { rdata: next }]);
      step([{ rdata: revoked(cur) }, { rdata: next }]);
      t += 31 * DAY;
      step([{ rdata: next }]);
      cur = next;
    }
    assert.deepEqual(states(tp), ['Valid']);
    saveTrustState(join(dir, 'ta.json'), [tp]);
    assert.equal(loadTrustState(join(dir, 'ta.json'))[0]!.keys.length, 1);
  });

  it('keeps at most a few keys pending at once', () => {
    const a = ksk();
    const many = Array.from({ length: 20 }, () => ({ rdata: ksk() }));
    const r = applyObservation(seedTrustPoint('', [a], T0), obs([{ rdata: a }, ...many]), T0, HOLD);
    assert.equal(r.state.keys.filter((k) => k.state === 'AddPend').length, MAX_PENDING_KEYS);
  });

  it('loads a file an older version filled with Removed keys, cut down; never saves more than it can load', () => {
    const dir = tempDir();
    const path = join(dir, 'ta.json');
    const valid = ksk();
    const tp = seedTrustPoint('', [valid], T0);
    const removed = Array.from({ length: 70 }, () => ({ ...seedTrustPoint('', [ksk()], T0).keys[0]!, state: 'Removed' as const }));
    writeFileSync(path, JSON.stringify({ version: 1, trustPoints: [{ ...tp, keys: [...tp.keys, ...removed] }] }));
    const m = new TrustAnchorManager({
      configured: [{ zone: '', ds: [], keys: [valid] }],
      statePath: path,
      query: async () => {
        throw new Error('none');
      },
    });
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => k.state),
      ['Valid'],
    );
    const big = { ...tp, keys: Array.from({ length: MAX_TRACKED_KEYS + 1 }, () => seedTrustPoint('', [ksk()], T0).keys[0]!) };
    assert.throws(
      () => saveTrustState(path, [big]),
      (e: unknown) => e instanceof ConfigError && /more than 64/.test(e.message),
    );
    assert.equal(boundedTrustPoint({ ...tp, keys: [...tp.keys, ...removed] }).keys.length, 1);
  });

  it('ignores a REVOKE bit the key did not sign itself (anyone can flip a bit)', () => {
    const a = ksk();
    const b = ksk();
    const r = applyObservation(seedTrustPoint('', [a, b], T0), obs([{ rdata: revoked(a), selfSigned: false }, { rdata: b }]), T0, HOLD);
    assert.deepEqual(states(r.state), ['Valid', 'Valid']);
  });

  it('tracks only SEP keys (a ZSK is not a trust anchor)', () => {
    const a = ksk();
    const r = applyObservation(seedTrustPoint('', [a], T0), obs([{ rdata: a }, { rdata: ksk(256) }]), T0, HOLD);
    assert.equal(r.state.keys.length, 1);
  });

  it('refreshes at MAX(1h, MIN(15 days, TTL/2, expiry/2)) and retries at MAX(1h, MIN(1 day, TTL/10, expiry/10)) (§2.3)', () => {
    assert.equal(refreshInterval(172800, T0 + 14 * DAY, T0, false), DAY);
    assert.equal(refreshInterval(600, T0 + 14 * DAY, T0, false), 3600);
    assert.equal(refreshInterval(40 * DAY, T0 + 60 * DAY, T0, false), 15 * DAY);
    assert.equal(refreshInterval(172800, T0 + 14 * DAY, T0, true), 17280);
    assert.equal(refreshInterval(172800, T0 + 2 * DAY, T0, true), 17280);
  });
});

describe('trust/state-file', () => {
  const dir = tempDir();
  it('writes and reads back the state, and names a damaged file', () => {
    const path = join(dir, 'state.json');
    assert.deepEqual(loadTrustState(path), []);
    const tp = seedTrustPoint('', [ksk()], T0);
    saveTrustState(path, [tp]);
    assert.deepEqual(loadTrustState(path), [tp]);
    const bad = (text: string): void =>
      assert.throws(
        () => parseTrustState(text, 'x'),
        (e: unknown) => e instanceof ConfigError && e.code === 'trust-anchor-state',
      );
    bad('{');
    bad('{"version":2,"trustPoints":[]}');
    bad(JSON.stringify({ version: 1, trustPoints: [{ zone: '', keys: [{ ...tp.keys[0], state: 'Trusted' }] }] }));
    bad(JSON.stringify({ version: 1, trustPoints: [{ zone: '', keys: [{ ...tp.keys[0], rdata: 'not base64!' }] }] }));
    bad(JSON.stringify({ version: 1, trustPoints: [{ zone: '', keys: Array(65).fill(tp.keys[0]) }] }));
  });
});

describe('trust/state-file: who may have written it', () => {
  it('writes under a random name, exclusively: a link planted at the old predictable name is not followed; mode 0600', () => {
    const dir = tempDir();
    const path = join(dir, 'ta.json');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched\n');
    for (const name of [`${path}.tmp-${process.pid}`, `${path}.tmp`, `${path}.${process.pid}.tmp`]) symlinkSync(victim, name);
    saveTrustState(path, [seedTrustPoint('', [ksk()], T0)]);
    assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(lstatSync(path).isFile(), true);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp') && !f.startsWith('ta.json')),
      [],
      'no temporary file left',
    );
  });

  it('refuses to load a state others could write, or that belongs to someone else', function () {
    const dir = tempDir();
    const path = join(dir, 'ta.json');
    saveTrustState(path, [seedTrustPoint('', [ksk()], T0)]);
    const me = [0, process.getuid!()];
    const refused = (re: RegExp): void =>
      assert.throws(
        () => loadTrustState(path, me),
        (e: unknown) => e instanceof ConfigError && e.code === 'trust-anchor-state-unsafe' && re.test(e.message),
      );
    assert.equal(loadTrustState(path, me).length, 1);
    chmodSync(path, 0o666);
    refused(/ta\.json is writable by others \(mode 666\)/);
    chmodSync(path, 0o600);
    chmodSync(dir, 0o777);
    refused(/is writable by others \(mode 777\), who could replace ta\.json/);
    chmodSync(dir, 0o700);
    const link = join(dir, 'link.json');
    symlinkSync(path, link);
    assert.throws(() => loadTrustState(link, me), /not a regular file/);
    if (process.getuid?.() === 0) {
      chownSync(path, 1000, 1000);
      refused(/belongs to uid 1000/);
      assert.throws(
        () =>
          new TrustAnchorManager({
            configured: [],
            statePath: path,
            query: async () => {
              throw new Error('none');
            },
            stateOwners: me,
          }),
        /cannot be trusted/,
      );
    }
  });
});

/** A root whose DNSKEY RRset the test changes, signed by real keys, answering like an upstream. */
function rollingRoot(): { query: (name: string, type: number) => Promise<Message>; publish(keys: TestKey[], signers: TestKey[]): void } {
  let answers: RR[] = [];
  return {
    publish(keys, signers) {
      const set = keys.map((k) => ({ ...k.dnskey, ttl: 172800 }));
      answers = [...set, ...signers.map((s) => s.sign(set, { inception: T0 - DAY, expiration: T0 + 100 * DAY }))];
    },
    query: async (name, type) =>
      dnsResponse({ q: { name, type }, id: 1, rd: true, ra: true, cd: true, answers: answers.map((r) => ({ ...r })) }),
  };
}

describe('trust/refresher (real signatures, no network)', () => {
  it('follows a root KSK rollover from a DS anchor to the new key, saving the state', async () => {
    const dir = tempDir();
    const state = join(dir, 'ta.json');
    const old = new TestKey('', 15);
    const pair = generateKeyPairSync('ed25519');
    const next = new TestKey('', 15, 257, pair);
    const root = rollingRoot();
    let now = T0;
    const changes: number[][] = [];
    const mk = () =>
      new TrustAnchorManager({
        configured: [{ zone: '', ds: [{ keyTag: old.tag, algorithm: 15, digestType: 2, digest: readDs(old) }], keys: [] }],
        statePath: state,
        query: root.query,
        now: () => now,
        rfc5011: { addHoldDownSec: 30 * DAY, removeHoldDownSec: 30 * DAY },
        onChange: (a) => changes.push(a[0]!.keys.map((k) => k.length)),
      });
    let m = mk();
    assert.equal(m.anchors()[0]!.ds.length, 1, 'before the first refresh: the configured DS');
    root.publish([old], [old]);
    await m.refresh(true);
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => [k.tag, k.state]),
      [[old.tag, 'Valid']],
    );
    assert.equal(m.anchors()[0]!.keys.length, 1);
    // The new KSK appears, signed by the old one: pending for 30 days, across a restart.
    root.publish([old, next], [old]);
    now += DAY;
    await m.refresh(true);
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => k.state),
      ['Valid', 'AddPend'],
    );
    m = mk();
    now += 31 * DAY;
    await m.refresh(true);
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => k.state),
      ['Valid', 'Valid'],
    );
    // The old key revokes itself; the set is signed by both (the revoked key signs its own revocation).
    const oldRevoked = new TestKey('', 15, 257 | 0x80, { privateKey: old.privateKey, publicKey: publicOf(old) });
    root.publish([oldRevoked, next], [oldRevoked, next]);
    now += DAY;
    await m.refresh(true);
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => [k.tag, k.state]),
      [
        [oldRevoked.tag, 'Revoked'],
        [next.tag, 'Valid'],
      ],
    );
    assert.equal(m.anchors()[0]!.keys.length, 1, 'only the new key anchors the root now');
    assert.ok(changes.length >= 2, 'the daemon was told when the trusted keys changed');
    assert.match(readFileSync(state, 'utf8'), /"Revoked"/);
  });

  it('moves nothing when the DNSKEY set is signed by a key it does not trust', async () => {
    const dir = tempDir();
    const trusted = new TestKey('', 15);
    const attacker = new TestKey('', 15);
    const root = rollingRoot();
    const now = T0;
    const state = join(dir, 'ta.json');
    writeFileSync(state, JSON.stringify({ version: 1, trustPoints: [seedTrustPoint('', [trusted.dnskey.rdata], now)] }));
    const m = new TrustAnchorManager({
      configured: [{ zone: '', ds: [], keys: [trusted.dnskey.rdata] }],
      statePath: state,
      query: root.query,
      now: () => now,
    });
    root.publish([trusted, attacker], [attacker]);
    await m.refresh(true);
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => [k.tag, k.state]),
      [[trusted.tag, 'Valid']],
    );
  });
});

describe('trust/refresher: timers come from the signature that verified', () => {
  // An on-path attacker cannot sign the root's DNSKEY set, but can append RRSIGs that verify with
  // nothing. Their original TTL and expiry must not set the add hold-down or the refresh interval
  // (review F10: one junk RRSIG with original TTL 2^31-1 kept a new KSK in AddPend for 68 years and
  // stretched the refresh interval from 1 day to 15).
  const junk = (o: { originalTtl?: number; expiration?: number }): RR =>
    new TestKey('', 15).sign([{ ...new TestKey('', 15).dnskey, ttl: 172800 }], {
      inception: T0 - DAY,
      expiration: o.expiration ?? T0 + 100 * DAY,
      originalTtl: o.originalTtl ?? 172800,
    });
  function withJunk(root: ReturnType<typeof rollingRoot>, extra: () => RR[]): (name: string, type: number) => Promise<Message> {
    return async (name, type) => {
      const m = await root.query(name, type);
      return { ...m, answers: [...m.answers, ...extra()] };
    };
  }

  it("ignores an unverified RRSIG's original TTL: the new KSK is trusted after the 30-day hold-down, refreshes stay daily", async () => {
    const old = new TestKey('', 15);
    const next = new TestKey('', 15);
    const root = rollingRoot();
    root.publish([old, next], [old]);
    let now = T0;
    const m = new TrustAnchorManager({
      configured: [{ zone: '', ds: [], keys: [old.dnskey.rdata] }],
      statePath: join(tempDir(), 'ta.json'),
      now: () => now,
      query: withJunk(root, () => [junk({ originalTtl: 0x7fffffff })]),
    });
    await m.refresh(true);
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => k.state),
      ['Valid', 'AddPend'],
    );
    // §2.3 with the genuine RRSIG: MIN(15 days, 172800/2, 100 days/2) = 1 day.
    assert.equal(m.report()[0]!.nextRefresh! - now, DAY);
    now += 30 * DAY + 1;
    await m.refresh(true);
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => k.state),
      ['Valid', 'Valid'],
    );
  });

  it("ignores an unverified RRSIG's expiry (an early one would shorten the interval to an hour)", async () => {
    const old = new TestKey('', 15);
    const root = rollingRoot();
    root.publish([old], [old]);
    const m = new TrustAnchorManager({
      configured: [{ zone: '', ds: [], keys: [old.dnskey.rdata] }],
      statePath: join(tempDir(), 'ta.json'),
      now: () => T0,
      query: withJunk(root, () => [junk({ expiration: T0 + 7200 })]),
    });
    await m.refresh(true);
    assert.equal(m.report()[0]!.nextRefresh! - T0, DAY);
  });

  it('takes nothing from the RRSIGs of an answer that did not validate: retries after an hour', async () => {
    const trusted = new TestKey('', 15);
    const attacker = new TestKey('', 15);
    const root = rollingRoot();
    root.publish([trusted, attacker], [attacker]);
    const m = new TrustAnchorManager({
      configured: [{ zone: '', ds: [], keys: [trusted.dnskey.rdata] }],
      statePath: join(tempDir(), 'ta.json'),
      now: () => T0,
      query: withJunk(root, () => [junk({ originalTtl: 0x7fffffff, expiration: T0 + 1000 * DAY })]),
    });
    await m.refresh(true);
    assert.equal(m.report()[0]!.nextRefresh! - T0, 3600);
  });
});

describe('trust/refresher: a state with no trusted key', () => {
  it('names the trust point as untrusted (it must fail closed), not a DS anchor that was never observed', () => {
    const dir = tempDir();
    const state = join(dir, 'ta.json');
    const k = ksk();
    const tp = seedTrustPoint('', [k], T0);
    tp.keys[0]!.state = 'Revoked';
    tp.lastSuccess = T0;
    saveTrustState(state, [tp]);
    const configured = [{ zone: '', ds: [], keys: [k] }];
    const m = TrustAnchorManager.offline(configured, state, () => T0);
    assert.deepEqual(m.untrusted(), ['']);
    assert.equal(m.anchors()[0]!.keys.length, 0, 'a revoked configured key does not come back');
    const fresh = join(dir, 'none.json');
    const ds = TrustAnchorManager.offline(
      [{ zone: '', ds: [{ keyTag: 1, algorithm: 15, digestType: 2, digest: new Uint8Array(32) }], keys: [] }],
      fresh,
      () => T0,
    );
    assert.deepEqual(ds.untrusted(), [], 'no state yet: the configured DS anchors until the first refresh');
  });
});

describe('trust/refresher: the work an answer may cost', () => {
  it('checks no self-signature in a set that did not validate, however many keys it carries', async () => {
    const dir = tempDir();
    const trusted = new TestKey('', 15);
    const attacker = Array.from({ length: 12 }, () => new TestKey('', 15, 257 | 0x80));
    const root = rollingRoot();
    root.publish([trusted, ...attacker], attacker);
    const budgets: ValidationBudget[] = [];
    const m = new TrustAnchorManager({
      configured: [{ zone: '', ds: [], keys: [trusted.dnskey.rdata] }],
      statePath: join(dir, 'ta.json'),
      query: root.query,
      now: () => T0,
      budget: () => {
        budgets.push(new ValidationBudget());
        return budgets.at(-1)!;
      },
    });
    await m.refresh(true);
    assert.equal(budgets.length, 1);
    assert.equal(budgets[0]!.verifications, 0, 'no signature by a trusted key: nothing verified');
    assert.deepEqual(
      m.report()[0]!.keys.map((k) => k.state),
      ['Valid'],
    );
  });

  it('takes the self-signature checks of a validated set from the same budget as its validation', async () => {
    const dir = tempDir();
    const a = new TestKey('', 15);
    const b = new TestKey('', 15);
    const aRevoked = new TestKey('', 15, 257 | 0x80, { privateKey: a.privateKey, publicKey: publicOf(a) });
    const root = rollingRoot();
    root.publish([aRevoked, b], [b, aRevoked]);
    const configured = [{ zone: '', ds: [], keys: [a.dnskey.rdata, b.dnskey.rdata] }];
    // One verification in all: validating the set uses it up, the revocation is not counted this time.
    const tight = new TrustAnchorManager({
      configured,
      statePath: join(dir, 'tight.json'),
      query: root.query,
      now: () => T0,
      budget: () => new ValidationBudget({ maxVerifications: 1 }),
    });
    await tight.refresh(true);
    assert.deepEqual(
      tight.report()[0]!.keys.map((k) => k.state),
      ['Valid', 'Valid'],
    );
    const normal = new TrustAnchorManager({ configured, statePath: join(dir, 'normal.json'), query: root.query, now: () => T0 });
    await normal.refresh(true);
    assert.deepEqual(
      normal.report()[0]!.keys.map((k) => k.state),
      ['Revoked', 'Valid'],
    );
  });
});

function readDs(k: TestKey): Uint8Array {
  const ds = k.ds(2).rdata;
  return ds.slice(4);
}

function publicOf(k: TestKey): KeyObject {
  return createPublicKey(k.privateKey);
}
