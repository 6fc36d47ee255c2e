import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { UpstreamPool, DEFAULT_UPSTREAM } from '../../src/resolver/upstream';
import { parseEndpoint } from '../../src/resolver/endpoint';
import { decodeMessage, encodeMessage, makeResponse } from '../../src/wire/message';
import { TransportError } from '../../src/util/errors';
import { freePort } from '../support/ports';
import { type FakeUpstream, aRecord, answerWith, startFakeUpstream } from './fake-upstream';

const Q = { name: 'www.example.test', type: 1, class: 1 };
const addrOf = (m: { answers: { rdata: Uint8Array }[] }): string => Array.from(m.answers[0]!.rdata).join('.');

describe('resolver/upstream', function () {
  const fakes: FakeUpstream[] = [];
  const pools: UpstreamPool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) p.close();
    for (const f of fakes.splice(0)) await f.close();
  });
  const pool = (endpoints: string[], extra: Partial<typeof DEFAULT_UPSTREAM> = {}): UpstreamPool => {
    const p = new UpstreamPool({ ...DEFAULT_UPSTREAM, timeoutMs: 300, ...extra, servers: endpoints.map((e) => parseEndpoint(e)) });
    pools.push(p);
    return p;
  };
  const fake = async (...args: Parameters<typeof startFakeUpstream>): Promise<FakeUpstream> => {
    const f = await startFakeUpstream(...args);
    fakes.push(f);
    return f;
  };

  it('sends DO=1 with a 1232-byte EDNS size, RD=1, and the question as asked', async () => {
    const f = await fake((q, reply) => reply(answerWith(q, [aRecord(q.questions[0]!.name, '192.0.2.1')])));
    await pool([f.endpoint]).query(Q);
    const q = f.received[0]!;
    assert.equal(q.edns?.do, true);
    assert.equal(q.edns?.udpSize, 1232);
    assert.equal(q.rd, true);
    assert.deepEqual(q.questions, [Q]);
  });

  it('uses random ids, and source ports that keep changing (a socket is retired after a few uses)', async () => {
    const f = await fake((q, reply) => reply(answerWith(q, [aRecord(q.questions[0]!.name, '192.0.2.1')])));
    const p = pool([f.endpoint]);
    for (let i = 0; i < 96; i++) await p.query(Q);
    const ports = new Set(f.sources.map((s) => s.port));
    const ids = new Set(f.received.map((m) => m.id));
    assert.ok(ports.size >= 4, `only ${ports.size} distinct source ports in 96 queries`);
    assert.ok(ids.size >= 90, `only ${ids.size} distinct ids in 96 queries`);
    assert.ok([...ports].every((port) => port >= 1024));
  });

  it('uses a fresh source port for every query when usesPerSocket is 1', async () => {
    const f = await fake((q, reply) => reply(answerWith(q, [aRecord(q.questions[0]!.name, '192.0.2.1')])));
    const p = pool([f.endpoint], { channels: { socketsPerServer: 4, usesPerSocket: 1 } });
    for (let i = 0; i < 16; i++) await p.query(Q);
    assert.equal(new Set(f.sources.map((s) => s.port)).size, 16);
  });

  it('ignores answers with a wrong id, wrong question or wrong source, and garbage, then takes the right one', async () => {
    const spoofer = createSocket('udp4');
    await new Promise<void>((r) => spoofer.bind(0, '127.0.0.1', () => r()));
    const f = await fake((q, reply, rinfo) => {
      const good = answerWith(q, [aRecord('www.example.test', '192.0.2.1')]);
      reply({ ...answerWith(q, [aRecord('www.example.test', '6.6.6.1')]), id: (q.id + 1) & 0xffff });
      reply(answerWith({ ...q, questions: [{ name: 'evil.example.test', type: 1, class: 1 }] }, [aRecord('evil.example.test', '6.6.6.2')]));
      reply(answerWith({ ...q, questions: [{ ...q.questions[0]!, type: 28 }] }, []));
      reply(Buffer.concat([Buffer.from(encodeMessage(good)).subarray(0, 2), Buffer.from([0x81, 0x80, 0xff, 0xff, 0, 0, 0, 0, 0, 0])]));
      // Right id and question, but from another port than the one we asked (the kernel filters it
      // for our connected socket; the source check is the second line of defence).
      spoofer.send(encodeMessage({ ...good, answers: [aRecord('www.example.test', '6.6.6.3')] }), rinfo.port, rinfo.address);
      setTimeout(() => reply(good), 50);
    });
    const p = pool([f.endpoint]);
    try {
      const m = await p.query({ ...Q, name: 'WWW.example.TEST' });
      assert.equal(addrOf(m), '192.0.2.1');
      const s = p.stats();
      assert.ok(s.mismatches >= 3, `mismatches ${s.mismatches}`);
      assert.equal(s.malformed, 1);
    } finally {
      spoofer.close();
    }
  });

  it('fails over to the next upstream when the first stays silent, and then prefers the one that works', async () => {
    const silent = await fake(() => undefined);
    const good = await fake((q, reply) => reply(answerWith(q, [aRecord('www.example.test', '192.0.2.9')])));
    const p = pool([silent.endpoint, good.endpoint]);
    assert.equal(addrOf(await p.query(Q)), '192.0.2.9');
    assert.equal(p.stats().timeouts, 1);
    assert.equal(addrOf(await p.query(Q)), '192.0.2.9');
    assert.equal(silent.received.length, 1, 'the failed upstream is not asked first again');
  });

  it('moves on when an upstream answers SERVFAIL or REFUSED', async () => {
    const bad = await fake((q, reply) => reply(makeResponse(q, 2)));
    const refusing = await fake((q, reply) => reply(makeResponse(q, 5)));
    const good = await fake((q, reply) => reply(answerWith(q, [aRecord('www.example.test', '192.0.2.7')])));
    const p = pool([bad.endpoint, refusing.endpoint, good.endpoint]);
    assert.equal(addrOf(await p.query(Q)), '192.0.2.7');
    assert.equal(p.stats().serverFailures, 2);
  });

  it('moves on when an upstream answers an rcode that proves nothing for a query (NOTAUTH, YXDOMAIN, NOTZONE)', async () => {
    const odd = await Promise.all([9, 6, 10].map((rcode) => fake((q, reply) => reply(makeResponse(q, rcode)))));
    const nx = await fake((q, reply) => reply(makeResponse(q, 3)));
    const p = pool([...odd.map((f) => f.endpoint), nx.endpoint]);
    assert.equal((await p.query(Q)).rcode, 3, 'NXDOMAIN is an answer');
    assert.equal(p.stats().serverFailures, 3);
    assert.deepEqual(
      odd.map((f) => f.received.length),
      [1, 1, 1],
    );
  });

  // Review 20: the rcode that decides is the full 12-bit one (header + OPT extended rcode, RFC 6891
  // §6.1.3). A header NOERROR or NXDOMAIN with extended-rcode bits set (BADVERS 16, BADCOOKIE 23, 19) is
  // no answer about the name either.
  it('moves on when the OPT record extends the rcode (BADVERS, BADCOOKIE), whatever the header says', async () => {
    const odd = await Promise.all([16, 23, 19].map((rcode) => fake((q, reply) => reply(makeResponse(q, rcode)))));
    const ok = await fake((q, reply) => reply(answerWith(q, [aRecord(q.questions[0]!.name, '192.0.2.7')])));
    const p = pool([...odd.map((f) => f.endpoint), ok.endpoint]);
    assert.equal(addrOf(await p.query(Q)), '192.0.2.7');
    assert.equal(p.stats().serverFailures, 3);
  });

  it('throws all-upstreams-failed when every upstream is dead or silent', async () => {
    const silent = await fake(() => undefined);
    const nothing = `127.0.0.1:${await freePort()}`;
    const p = pool([nothing, silent.endpoint], { timeoutMs: 150 });
    await assert.rejects(p.query(Q), (e: unknown) => e instanceof TransportError && e.code === 'all-upstreams-failed');
    assert.equal(silent.received.length, 2, 'two rounds');
  });

  it('repeats a truncated (TC=1) answer over TCP and returns the complete one', async () => {
    const f = await fake(
      (q, reply) => reply({ ...makeResponse(q, 0), tc: true }),
      (q) =>
        answerWith(
          q,
          Array.from({ length: 40 }, (_, i) => aRecord('www.example.test', `192.0.2.${i + 1}`)),
        ),
    );
    const p = pool([f.endpoint]);
    const m = await p.query(Q);
    assert.equal(m.tc, false);
    assert.equal(m.answers.length, 40);
    assert.equal(f.tcpReceived.length, 1);
    assert.equal(p.stats().truncatedRetries, 1);
  });

  it("talks to an IPv6 upstream written in long form (sources compared in the kernel's spelling)", async () => {
    const s6 = createSocket('udp6');
    await new Promise<void>((r) => s6.bind(0, '::1', () => r()));
    try {
      s6.on('message', (b, ri) => {
        const m = decodeMessage(b);
        s6.send(encodeMessage(answerWith(m, [aRecord('www.example.test', '192.0.2.6')])), ri.port, ri.address);
      });
      const p = pool([`[0:0:0:0:0:0:0:1]:${s6.address().port}`]);
      assert.equal(addrOf(await p.query(Q)), '192.0.2.6');
      assert.equal(p.stats().mismatches, 0);
    } finally {
      s6.close();
    }
  });

  it('fails fast with busy beyond the bound on outstanding queries', async () => {
    const silent = await fake(() => undefined);
    const p = pool([silent.endpoint], { maxOutstanding: 2, timeoutMs: 200, rounds: 1 });
    const a = p.query(Q).catch((e: unknown) => e);
    const b = p.query(Q).catch((e: unknown) => e);
    await assert.rejects(p.query(Q), (e: unknown) => e instanceof TransportError && e.code === 'busy');
    await Promise.all([a, b]);
    assert.equal(p.stats().busy, 1);
  });
});
