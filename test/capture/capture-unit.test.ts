// The Capture stage without BIND (issue 17's unit tier for capture): its lookups come from an
// in-process InternalLookups that hands back Proofs shaped exactly as the validator hands them on
// (a Verdict and the RRsets it judged), the engine is the dry-run engine behind a real PeerSync, and the
// stage runs in front of a `next()` that returns the address answer. The integration tests
// (capture-daemon, capture-lab, test/attack) check the same rules against real named and charon; this
// tier pins down the decisions quickly: the answer waits for the install, a bogus or unvalidated key
// never installs, and each level's fallback when there is no key.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Capture, MAX_REFUSAL_KINDS } from '../../src/capture/capture';
import type { Proof } from '../../src/dnssec/proof';
import { bogus, Ede, SECURE, type Verdict } from '../../src/dnssec/verdict';
import type { ValidatedRRset } from '../../src/dnssec/validate';
import { DryRunEngine } from '../../src/ike-bridge/dry-run';
import type { Peer } from '../../src/ike-bridge/engine';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import { PeerSync } from '../../src/peers';
import { parsePolicy } from '../../src/policy';
import type { Outcome, QueryContext } from '../../src/resolver/pipeline';
import { silentLogger } from '../../src/util/log';
import { makeQuery, makeResponse } from '../../src/wire/message';
import { encodeIpseckey } from '../../src/wire/rdata';
import { type Message, type Question, Rcode, type RR, RRClass, RRType } from '../../src/wire/types';

const NAME = 'bob.example';
const ADDRESS = [192, 0, 2, 10];
const now = (): number => Math.floor(Date.now() / 1000);

const key = keyObjectToIpseckey(generateKeyPairSync('ed25519').publicKey);
const IPSECKEY_RDATA = encodeIpseckey({
  precedence: 10,
  gatewayType: 0,
  algorithm: key.algorithm,
  gateway: null,
  publicKey: Uint8Array.from(key.publicKey),
});

/** A proof as the validator hands it on: the verdict, and the RRset only when the verdict lets it out. */
function proof(verdict: Verdict, type: number, rdatas: Uint8Array[]): Proof {
  const records: RR[] = rdatas.map((rdata) => ({ name: NAME, type, class: RRClass.IN, ttl: 300, rdata }));
  const usable = verdict.kind === 'secure' || verdict.kind === 'insecure';
  const set: ValidatedRRset = {
    name: NAME,
    type,
    class: RRClass.IN,
    records,
    sigs: [],
    ttl: 300,
    sigExpiry: now() + 3600,
    security: verdict.kind === 'secure' ? 'secure' : 'insecure',
    role: 'answer',
  };
  return {
    verdict,
    rrsets: usable && records.length ? [set] : [],
    negative: usable && !records.length ? 'nodata' : null,
    rcode: Rcode.NOERROR,
    ttl: 300,
  };
}

function responseTo(q: Question, p: Proof | undefined, records: RR[]): Message {
  return { ...makeResponse(makeQuery(q.name, q.type), p && p.verdict.kind === 'bogus' ? Rcode.SERVFAIL : Rcode.NOERROR), answers: records };
}

interface World {
  capture: Capture;
  engine: DryRunEngine;
  /** What happened, in order: installs as the engine finishes them, then the answer. */
  events: string[];
  ask(addressProof: Proof | undefined): Promise<Outcome>;
}

function world(policyText: string, keyProof: Proof | undefined): World {
  const engine = new DryRunEngine();
  const events: string[] = [];
  const install = engine.install.bind(engine);
  // The install takes a moment, so that an answer not waiting for it would overtake it.
  engine.install = async (peer: Peer) => {
    await new Promise((r) => setTimeout(r, 30));
    await install(peer);
    events.push(`installed ${peer.name}`);
  };
  const sync = new PeerSync({ engine, log: silentLogger });
  const capture = new Capture({
    policy: parsePolicy(policyText, 'yaml'),
    sync,
    now,
    resolver: {
      resolve: async (q) => {
        assert.equal(q.type, RRType.IPSECKEY, 'capture looks up only the IPSECKEY itself');
        return { message: responseTo(q, keyProof, keyProof?.rrsets.flatMap((s) => s.records) ?? []), proof: keyProof };
      },
    },
    log: silentLogger,
  });
  const stage = capture.stage();
  const ask = async (addressProof: Proof | undefined): Promise<Outcome> => {
    const query = makeQuery(NAME, RRType.A, { do: true });
    const question = query.questions[0]!;
    const ctx = {
      raw: new Uint8Array(0),
      client: { address: '127.0.0.1', port: 5353, transport: 'udp' },
      log: silentLogger,
      query,
      question,
      view: { edns: true, do: true },
      maxSize: 1232,
    } as QueryContext;
    const records = addressProof?.rrsets.flatMap((s) => s.records) ?? [];
    const out = await stage.handle(ctx, async () => ({
      kind: 'answer',
      answer: { message: responseTo(question, addressProof, records), source: 'upstream', proof: addressProof },
    }));
    events.push('answered');
    return out;
  };
  return { capture, engine, events, ask };
}

const rcodeOf = (out: Outcome): number => (out.kind === 'answer' ? out.answer.message.rcode : -1);
const addressesOf = (out: Outcome): string[] =>
  out.kind === 'answer' ? out.answer.message.answers.filter((r) => r.type === RRType.A).map((r) => [...r.rdata].join('.')) : [];

describe('capture: the stage without BIND (in-process lookups, dry-run engine)', () => {
  const secureA = (): Proof => proof(SECURE, RRType.A, [Uint8Array.from(ADDRESS)]);

  it('private, secure address and key: the peer is installed before the answer goes out', async () => {
    const w = world('default: private\n', proof(SECURE, RRType.IPSECKEY, [IPSECKEY_RDATA]));
    const out = await w.ask(secureA());
    assert.equal(rcodeOf(out), Rcode.NOERROR);
    assert.deepEqual(addressesOf(out), ['192.0.2.10']);
    assert.deepEqual(w.events, [`installed ${NAME}`, 'answered']);
    const held = await w.engine.list();
    assert.equal(held.length, 1);
    assert.deepEqual(held[0]!.addresses, ['192.0.2.10']);
    assert.equal(w.capture.counters.installed, 1);
  });

  it("private, bogus key: SERVFAIL with the validator's EDE, nothing installed", async () => {
    const w = world(
      'default: private\n',
      proof(bogus('sig-expired', Ede.SIGNATURE_EXPIRED, 'RRSIG expired'), RRType.IPSECKEY, [IPSECKEY_RDATA]),
    );
    const out = await w.ask(secureA());
    assert.equal(rcodeOf(out), Rcode.SERVFAIL);
    assert.equal(out.kind === 'answer' && out.answer.ede?.code, Ede.SIGNATURE_EXPIRED);
    assert.deepEqual(await w.engine.list(), []);
    assert.deepEqual(w.events, ['answered']);
  });

  it("private, key lookup with no validator's word (no proof): not-validated is never trusted, nothing installed", async () => {
    const w = world('default: private\n', undefined);
    const out = await w.ask(secureA());
    assert.equal(rcodeOf(out), Rcode.SERVFAIL);
    assert.match(out.kind === 'answer' ? (out.answer.ede?.text ?? '') : '', /not-validated/);
    assert.deepEqual(await w.engine.list(), []);
  });

  it("private, an address answer with no validator's word (no proof): SERVFAIL, its addresses never go out", async () => {
    const w = world('default: private\n', proof(SECURE, RRType.IPSECKEY, [IPSECKEY_RDATA]));
    const q = { name: NAME, type: RRType.A, class: RRClass.IN };
    const stage = w.capture.stage();
    const query = makeQuery(NAME, RRType.A, { do: true });
    const ctx = {
      raw: new Uint8Array(0),
      client: { address: '127.0.0.1', port: 5353, transport: 'udp' },
      log: silentLogger,
      query,
      question: q,
      view: { edns: true, do: true },
      maxSize: 1232,
    } as QueryContext;
    const raw: RR = { name: NAME, type: RRType.A, class: RRClass.IN, ttl: 300, rdata: Uint8Array.from(ADDRESS) };
    const out = await stage.handle(ctx, async () => ({
      kind: 'answer',
      answer: { message: responseTo(q, undefined, [raw]), source: 'upstream' },
    }));
    assert.equal(rcodeOf(out), Rcode.SERVFAIL);
    assert.deepEqual(addressesOf(out), []);
    assert.deepEqual(await w.engine.list(), []);
  });

  it('counts a refusal by its kind (level and extended error), never by a text that names the peer', async () => {
    const w = world('default: private\n', undefined);
    await w.ask(secureA());
    const kinds = [...w.capture.refusals.keys()];
    assert.equal(kinds.length, 1);
    assert.match(kinds[0]!, /^level private, [a-z0-9 ]+$/);
    assert.ok(!kinds[0]!.includes(NAME.split('.')[0]!), kinds[0]);
  });

  it('counts refusals by kind for status, and at most MAX_REFUSAL_KINDS kinds however many names are refused', async () => {
    const w = world('default: private\n', undefined);
    for (let i = 0; i < MAX_REFUSAL_KINDS; i++) w.capture.refusals.set(`seen ${i}`, 1);
    await w.ask(secureA());
    assert.equal(w.capture.refusals.size, MAX_REFUSAL_KINDS + 1, 'the new kind went under "other"');
    assert.equal(w.capture.refusals.get('other'), 1);
  });

  it('private-or-clear, a name that provably has no IPSECKEY: answered in clear, nothing installed', async () => {
    const w = world('default: private-or-clear\n', proof(SECURE, RRType.IPSECKEY, []));
    const out = await w.ask(secureA());
    assert.equal(rcodeOf(out), Rcode.NOERROR);
    assert.deepEqual(addressesOf(out), ['192.0.2.10']);
    assert.deepEqual(await w.engine.list(), []);
    assert.equal(w.capture.counters.answeredClear, 1);
  });

  it('a name at level clear is not captured: the answer passes untouched and no key is looked up', async () => {
    const w = world(`default: private\nrules:\n  - name: ${NAME}\n    level: clear\n`, undefined);
    const out = await w.ask(secureA());
    assert.equal(rcodeOf(out), Rcode.NOERROR);
    assert.equal(w.capture.counters.captured, 0);
    assert.deepEqual(await w.engine.list(), []);
  });
});
