// The compact cache tier's byte form must give back exactly what was stored: the message record for
// record and the proof RRset for RRset, or nothing at all. Checked on every replay scenario's real
// validator output (secure, insecure, denials, wildcards, CNAME/DNAME chains) and on shapes the format
// must refuse.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCachedAnswer, encodeCachedAnswer } from '../../src/resolver/entry-codec';
import { isUsable, proofOf, provenMessage, type Proof } from '../../src/dnssec/proof';
import { bogus, Ede, SECURE } from '../../src/dnssec/verdict';
import { encodeMessage } from '../../src/wire/message';
import type { Message, RR } from '../../src/wire/types';
import { loadScenario } from '../replay/scenario';
import { runScenario } from '../replay/run';
import { dnsResponse } from '../support/messages';

const SCENARIOS = join(__dirname, '..', '..', '..', 'test', 'replay', 'scenarios');

/** A comparable form: bytes as hex, absent and undefined fields alike. */
function plain(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
}

function wire(m: Message): string {
  return Buffer.from(encodeMessage({ ...m, id: 0, edns: undefined })).toString('hex');
}

function a(name: string, ttl: number, last: number): RR {
  return { name, type: 1, class: 1, ttl, rdata: Uint8Array.from([192, 0, 2, last]) };
}

function msg(answers: RR[]): Message {
  return dnsResponse({ q: { name: 'Www.Example.TEST', type: 1 }, id: 7, rd: true, ra: true, answers });
}

describe('resolver/entry-codec', () => {
  it('round-trips the proven message and proof of every replay scenario with a usable verdict', async () => {
    let usable = 0;
    const kinds = new Set<string>();
    // By the proof's first byte: 1 secure, 2 insecure (general form), 3 a plain secure answer (short form).
    const shapes = [0, 0, 0, 0];
    for (const f of readdirSync(SCENARIOS)
      .filter((x) => /\.ya?ml$/.test(x))
      .sort()) {
      const s = loadScenario(join(SCENARIOS, f));
      if (s.open) continue;
      const o = await runScenario(s);
      const proof = proofOf(o.result);
      if (!isUsable(proof)) {
        assert.equal(encodeCachedAnswer(o.response, proof), null, `${s.id}: a ${proof.verdict.kind} proof must not be encoded`);
        continue;
      }
      const message = provenMessage(o.response, proof);
      const bytes = encodeCachedAnswer(message, proof);
      assert.ok(bytes, `${s.id}: not encoded`);
      const back = decodeCachedAnswer(bytes);
      assert.equal(wire(back.message), wire(message), `${s.id}: message`);
      assert.deepEqual(plain(back.proof), plain(proof), `${s.id}: proof`);
      usable++;
      const shape = bytes[2 + ((bytes[0]! << 8) | bytes[1]!)]! & 0x7f;
      shapes[shape] = (shapes[shape] ?? 0) + 1;
      kinds.add(`${proof.verdict.kind}/${proof.negative ?? 'data'}/${proof.rrsets.map((r) => r.role).join('+')}`);
    }
    // The corpus covers secure and insecure data, denials and chains: the check is not vacuous.
    assert.ok(usable >= 25, `only ${usable} usable scenarios`);
    assert.ok(kinds.size >= 6, [...kinds].join(', '));
    assert.ok(shapes[1]! >= 5 && shapes[2]! >= 3 && shapes[3]! >= 5, `both forms exercised: ${shapes.join(' ')}`);
  });

  it('keeps a proof record whose TTL differs from the message copy, and the name case as stored', () => {
    const rr = a('Www.Example.TEST', 300, 1);
    const proof: Proof = {
      verdict: SECURE,
      negative: null,
      rcode: 0,
      ttl: 120,
      rrsets: [
        {
          name: 'www.example.test',
          type: 1,
          class: 1,
          records: [{ ...rr, ttl: 120 }],
          sigs: [],
          ttl: 120,
          sigExpiry: 2_000_000_000,
          security: 'secure',
          role: 'answer',
        },
      ],
    };
    const back = decodeCachedAnswer(encodeCachedAnswer(msg([rr]), proof)!);
    assert.equal(back.message.answers[0]!.ttl, 300);
    assert.equal(back.message.questions[0]!.name, 'Www.Example.TEST');
    assert.deepEqual(plain(back.proof), plain(proof));
    // The proof's records are its own objects: aging one never changes the message.
    assert.notEqual(back.proof!.rrsets[0]!.records[0], back.message.answers[0]);
  });

  it('refuses what it cannot say exactly: bogus verdicts, proof records missing from the message, oversized messages', () => {
    const rr = a('www.example.test', 300, 1);
    const bad: Proof = { verdict: bogus('sig-invalid', Ede.DNSSEC_BOGUS, 'x'), negative: null, rcode: 2, rrsets: [] };
    assert.equal(encodeCachedAnswer(msg([rr]), bad), null);
    const elsewhere: Proof = {
      verdict: SECURE,
      negative: null,
      rcode: 0,
      ttl: 300,
      rrsets: [
        {
          name: 'www.example.test',
          type: 1,
          class: 1,
          records: [a('www.example.test', 300, 9)],
          sigs: [],
          ttl: 300,
          security: 'secure',
          role: 'answer',
        },
      ],
    };
    assert.equal(encodeCachedAnswer(msg([rr]), elsewhere), null);
    const many = Array.from({ length: 128 }, (_, i) => a('www.example.test', 300, i));
    assert.equal(encodeCachedAnswer(msg(many), undefined), null);
    assert.ok(encodeCachedAnswer(msg(many.slice(0, 127)), undefined));
  });

  it('keeps an answer stored without a validator as one without a proof', () => {
    const back = decodeCachedAnswer(encodeCachedAnswer(msg([a('www.example.test', 300, 1)]), undefined)!);
    assert.equal(back.proof, undefined);
    assert.equal(back.message.answers.length, 1);
  });
});

describe('resolver/entry-codec without signatures', () => {
  it('leaves out exactly the RRSIGs of the proof and keeps records, verdict, TTLs and expiry of every replay scenario', async () => {
    let stripped = 0;
    for (const f of readdirSync(SCENARIOS)
      .filter((x) => /\.ya?ml$/.test(x))
      .sort()) {
      const s = loadScenario(join(SCENARIOS, f));
      if (s.open) continue;
      const o = await runScenario(s);
      const proof = proofOf(o.result);
      if (!isUsable(proof)) continue;
      const message = provenMessage(o.response, proof);
      const back = decodeCachedAnswer(encodeCachedAnswer(message, proof, { withoutSigs: true })!);
      const sigCount = proof.rrsets.reduce((n, r) => n + r.sigs.length, 0);
      assert.equal(back.sigless, sigCount > 0, s.id);
      const all = (m: Message): RR[] => [...m.answers, ...m.authorities, ...m.additionals];
      assert.equal(all(back.message).length, all(message).length - sigCount, `${s.id}: only the proof's RRSIGs go`);
      const noSigs = (p: Proof): unknown => plain({ ...p, rrsets: p.rrsets.map((r) => ({ ...r, sigs: [] })) });
      assert.deepEqual(plain(back.proof), noSigs(proof), s.id);
      if (sigCount > 0) stripped++;
    }
    assert.ok(stripped >= 20, String(stripped));
  });
});
