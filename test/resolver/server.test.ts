// The resolver started in-process (startServer) in front of a real named serving a signed zone, or in
// front of a scripted fake upstream where a test needs to count or delay upstream queries.
import assert from 'node:assert/strict';
import { insecure, SECURE, type Verdict } from '../../src/dnssec/verdict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { FrameReader, frame } from '../../src/resolver/framing';
import { decodeMessage, encodeMessage, makeQuery, makeResponse } from '../../src/wire/message';
import { type Message, RRType, Rcode } from '../../src/wire/types';
import { startServer, type RunningServer } from '../../src/resolver';
import { Pipeline, type Stage } from '../../src/resolver/pipeline';
import { Cache, DEFAULT_CACHE } from '../../src/resolver/cache';
import { UpstreamPool, DEFAULT_UPSTREAM } from '../../src/resolver/upstream';
import { startNamed, namedAvailable, type NamedInstance } from '../support/named';
import { exampleZoneText, integrationSkipped, tcpExchange, tempDir, udpExchange, writeSignedZone } from './helpers';
import { type FakeUpstream, aRecord, answerWith, startFakeUpstream } from './fake-upstream';

const ZONE = 'example.test';

function q(name: string, type: number, opts: Parameters<typeof makeQuery>[2] = {}): Uint8Array {
  return encodeMessage(makeQuery(name, type, opts));
}

async function ask(port: number, name: string, type: number, opts: Parameters<typeof makeQuery>[2] = {}): Promise<Message> {
  const r = await udpExchange(port, q(name, type, opts));
  assert.ok(r, `no answer for ${name}`);
  return decodeMessage(r);
}

describe('resolver/server (in-process)', function () {
  let named: NamedInstance | undefined;
  let server: RunningServer | undefined;
  let t = 1_700_000_000_000;
  const now = (): number => t;

  before(async function () {
    if (integrationSkipped || !namedAvailable()) return this.skip();
    const dir = tempDir();
    named = await startNamed({ zones: [{ name: ZONE, file: writeSignedZone(dir, ZONE, exampleZoneText(ZONE)) }] });
    server = await startServer({ listen: ['127.0.0.1:0'], upstream: [named.endpoint] }, { now });
  });
  after(async () => {
    await server?.stop();
    await named?.stop();
  });
  const port = (): number => server!.addresses[0]!.port;

  it('answers from the cache with TTLs lowered by the time elapsed on the injected clock', async () => {
    const first = await ask(port(), `www.${ZONE}`, RRType.A, { do: true });
    assert.equal(first.answers.find((r) => r.type === RRType.A)!.ttl, 300);
    const upstreamBefore = server!.stats().upstream.queries;
    t += 100_000;
    const udp = await ask(port(), `www.${ZONE}`, RRType.A, { do: true });
    assert.deepEqual(
      udp.answers.map((r) => r.ttl),
      udp.answers.map(() => 200),
    );
    const plain = await ask(port(), `www.${ZONE}`, RRType.A);
    assert.equal(plain.answers[0]!.ttl, 200);
    const [tcp] = await tcpExchange(port(), [q(`www.${ZONE}`, RRType.A, { do: true })]);
    assert.equal(decodeMessage(tcp!).answers[0]!.ttl, 200);
    assert.equal(server!.stats().upstream.queries, upstreamBefore, 'served from cache');
    t += 250_000;
    const fresh = await ask(port(), `www.${ZONE}`, RRType.A);
    assert.equal(fresh.answers[0]!.ttl, 300);
    assert.equal(server!.stats().upstream.queries, upstreamBefore + 1, 'expired: asked upstream again');
  });

  it("keeps the client's id and question case in cached answers", async () => {
    await ask(port(), `alias.${ZONE}`, RRType.A);
    const m = await ask(port(), `AlIaS.ExAmPlE.tEsT`, RRType.A, { id: 4242 });
    assert.equal(m.id, 4242);
    assert.equal(m.questions[0]!.name, 'AlIaS.ExAmPlE.tEsT');
    assert.deepEqual(
      m.answers.map((r) => r.type),
      [RRType.CNAME, RRType.A],
    );
  });

  it('includes RRSIGs only for clients that set DO', async () => {
    const withDo = await ask(port(), `www.${ZONE}`, RRType.AAAA, { do: true });
    assert.ok(withDo.answers.some((r) => r.type === RRType.RRSIG));
    assert.equal(withDo.edns?.do, true);
    const without = await ask(port(), `www.${ZONE}`, RRType.AAAA, { udpSize: 1232 });
    assert.deepEqual(
      without.answers.map((r) => r.type),
      [RRType.AAAA],
    );
    const noEdns = await ask(port(), `www.${ZONE}`, RRType.AAAA);
    assert.equal(noEdns.edns, undefined);
    assert.deepEqual(
      noEdns.answers.map((r) => r.type),
      [RRType.AAAA],
    );
  });

  it('truncates UDP answers to the client size (512 without EDNS, never over 1232) and sends them whole over TCP', async () => {
    for (const [opts, limit] of [
      [{}, 512],
      [{ udpSize: 4096, do: true }, 1232],
      [{ udpSize: 1000 }, 1000],
    ] as const) {
      const raw = await udpExchange(port(), q(`big.${ZONE}`, RRType.IPSECKEY, opts));
      assert.ok(raw && raw.length <= limit, `${raw?.length} > ${limit}`);
      assert.equal(decodeMessage(raw).tc, true);
    }
    const [tcp] = await tcpExchange(port(), [q(`big.${ZONE}`, RRType.IPSECKEY, { do: true })]);
    const m = decodeMessage(tcp!);
    assert.equal(m.tc, false);
    assert.equal(m.answers.filter((r) => r.type === RRType.IPSECKEY).length, 3);
    assert.ok(tcp!.length > 1600);
  });

  it('answers several queries on one TCP connection', async () => {
    const msgs = [
      makeQuery(`www.${ZONE}`, RRType.A, { id: 1 }),
      makeQuery(`nx.${ZONE}`, RRType.A, { id: 2 }),
      makeQuery(`www.${ZONE}`, RRType.MX, { id: 3 }),
      makeQuery(`small.${ZONE}`, RRType.IPSECKEY, { id: 4 }),
    ];
    const replies = (
      await tcpExchange(
        port(),
        msgs.map((m) => encodeMessage(m)),
      )
    ).map((b) => decodeMessage(b));
    const byId = new Map(replies.map((r) => [r.id, r]));
    assert.equal(byId.get(1)!.answers[0]!.type, RRType.A);
    assert.equal(byId.get(2)!.rcode, Rcode.NXDOMAIN);
    assert.equal(byId.get(3)!.rcode, Rcode.NOERROR);
    assert.equal(byId.get(3)!.answers.length, 0);
    assert.equal(byId.get(4)!.answers[0]!.type, RRType.IPSECKEY);
  });

  it('survives garbage, truncated and oversize packets and keeps answering', async () => {
    const good = q(`www.${ZONE}`, RRType.A, { id: 77 });
    // Shorter than a header: dropped.
    assert.equal(await udpExchange(port(), Buffer.from([1, 2, 3]), 300), null);
    // QR=1 (a response): dropped, never answered.
    const resp = Buffer.from(good);
    resp[2]! |= 0x80;
    assert.equal(await udpExchange(port(), resp, 300), null);
    // Unknown opcode: NOTIMP.
    const status = Buffer.from(good);
    status[2] = (status[2]! & 0x87) | (2 << 3);
    assert.equal(decodeMessage((await udpExchange(port(), status))!).rcode, Rcode.NOTIMP);
    // Two questions: FORMERR.
    const two = Buffer.from(good);
    two[5] = 2;
    assert.equal((await udpExchange(port(), two))![3]! & 0x0f, Rcode.FORMERR);
    // Question cut off: FORMERR, with the id echoed.
    const cut = await udpExchange(port(), Buffer.from(good).subarray(0, good.length - 3));
    assert.equal(cut![3]! & 0x0f, Rcode.FORMERR);
    assert.equal(cut!.readUInt16BE(0), 77);
    // Random bytes, large and small, and a pointer loop.
    for (let i = 0; i < 30; i++) await udpExchange(port(), Buffer.concat([Buffer.from([0, i, 0, 0]), randomBytes(8 + i * 150)]), 50);
    const loop = Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    assert.equal((await udpExchange(port(), loop))![3]! & 0x0f, Rcode.FORMERR);
    // TCP: a garbage frame gets FORMERR and the connection still serves the next query.
    const replies = await tcpExchange(port(), [Buffer.from([0, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff]), good]);
    // Matched by id: over TCP a cached answer may overtake an earlier query's (RFC 7766 §7).
    const [bad, ok] = [5, 77].map((id) => replies.find((r) => r.readUInt16BE(0) === id));
    assert.equal(bad![3]! & 0x0f, Rcode.FORMERR);
    assert.equal(decodeMessage(ok!).answers[0]!.type, RRType.A);
    assert.equal((await ask(port(), `www.${ZONE}`, RRType.A)).rcode, Rcode.NOERROR);
    assert.equal(server!.stats().pipeline.internalErrors, 0);
  });

  it('answers BADVERS to EDNS version 1 and NOTIMP to zone transfers', async () => {
    const m = makeQuery(`www.${ZONE}`, RRType.A, { udpSize: 1232 });
    m.edns!.version = 1;
    const r = decodeMessage((await udpExchange(port(), encodeMessage(m)))!);
    assert.equal(r.rcode, Rcode.BADVERS);
    assert.equal((await ask(port(), ZONE, RRType.AXFR)).rcode, Rcode.NOTIMP);
  });
});

describe('resolver/server with a scripted upstream', function () {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  before(function () {
    if (integrationSkipped) this.skip();
  });
  async function setup(
    script: Parameters<typeof startFakeUpstream>[0],
    extra: Parameters<typeof startServer>[1] = {},
  ): Promise<{ fake: FakeUpstream; server: RunningServer }> {
    const fake = await startFakeUpstream(script);
    cleanup.push(() => fake.close());
    const server = await startServer({ listen: ['127.0.0.1:0'], upstream: [fake.endpoint] }, extra);
    cleanup.push(() => server.stop());
    return { fake, server };
  }

  it('sends one upstream query for many identical concurrent questions (coalescing)', async () => {
    const { fake, server } = await setup((m, reply) => setTimeout(() => reply(answerWith(m, [aRecord('co.test', '192.0.2.3')])), 150));
    const port = server.addresses[0]!.port;
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => udpExchange(port, q(i % 2 ? 'co.test' : 'CO.TEST', RRType.A, { id: 1000 + i }))),
    );
    assert.equal(fake.received.length, 1);
    replies.forEach((r, i) => {
      const m = decodeMessage(r!);
      assert.equal(m.id, 1000 + i);
      assert.equal(Array.from(m.answers[0]!.rdata).join('.'), '192.0.2.3');
    });
  });

  it('answers pipelined TCP queries as they complete, out of order', async () => {
    const { server } = await setup((m, reply) => {
      const name = m.questions[0]!.name;
      setTimeout(() => reply(answerWith(m, [aRecord(name, '192.0.2.4')])), name.startsWith('slow') ? 400 : 0);
    });
    const replies = await tcpExchange(server.addresses[0]!.port, [q('slow.test', 1, { id: 1 }), q('fast.test', 1, { id: 2 })]);
    assert.deepEqual(
      replies.map((r) => r.readUInt16BE(0)),
      [2, 1],
    );
  });

  it('closes a client TCP connection that stays idle past tcpIdleMs, but not while a query is in flight', async () => {
    const fake = await startFakeUpstream((m, reply) => setTimeout(() => reply(answerWith(m, [aRecord('slow.test', '192.0.2.5')])), 400));
    cleanup.push(() => fake.close());
    const server = await startServer({ listen: ['127.0.0.1:0'], upstream: [fake.endpoint], tcpIdleMs: 150, upstreamTimeoutMs: 2000 });
    cleanup.push(() => server.stop());
    const sock = connect({ host: '127.0.0.1', port: server.addresses[0]!.port });
    const reader = new FrameReader();
    const events: string[] = [];
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('data', (d: Buffer) => reader.push(d).forEach(() => events.push('answer')));
    sock.on('close', () => events.push('close'));
    sock.on('error', () => undefined);
    sock.write(frame(q('slow.test', 1)));
    await closed;
    assert.deepEqual(events, ['answer', 'close']);
    assert.equal(server.stats().server.tcpIdleClosed, 1);
  });

  it('closes a connection whose query frame is not whole within the configured tcpFrameMs', async () => {
    const fake = await startFakeUpstream((m, reply) => reply(answerWith(m, [])));
    cleanup.push(() => fake.close());
    // Idle far longer than the frame deadline: only tcpFrameMs can close it this soon.
    const server = await startServer({ listen: ['127.0.0.1:0'], upstream: [fake.endpoint], tcpIdleMs: 60_000, tcpFrameMs: 200 });
    cleanup.push(() => server.stop());
    const sock = connect({ host: '127.0.0.1', port: server.addresses[0]!.port });
    sock.on('error', () => undefined);
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write(Buffer.from([0, 40, 1, 2])); // a 40-byte frame begun, never finished
    const t0 = Date.now();
    await closed;
    assert.ok(Date.now() - t0 < 2500, `closed after ${Date.now() - t0} ms, not at the 3000 ms default`);
    assert.equal(server.stats().server.tcpSlowClosed, 1);
  });

  it('answers SERVFAIL when every upstream fails', async () => {
    const { server } = await setup((m, reply) => reply({ ...answerWith(m, []), rcode: Rcode.SERVFAIL }));
    const m = await ask(server.addresses[0]!.port, 'fail.test', 1);
    assert.equal(m.rcode, Rcode.SERVFAIL);
    assert.equal(server.stats().pipeline.servfail, 1);
  });

  it('lets the capture stage delay or refuse an answer, for cached answers too', async () => {
    const seen: string[] = [];
    // A capture stage as startServer takes one (src/capture's Capture is the real one): it runs after
    // the answer is in and before it goes out, and sees cached answers too (passesCached: false).
    const stage: Stage = {
      name: 'capture',
      passesCached: () => false,
      handle: async (ctx, next) => {
        const out = await next();
        if (out.kind !== 'answer') return out;
        await new Promise((r) => setTimeout(r, 20));
        seen.push(ctx.question.name);
        if (!ctx.question.name.startsWith('deny')) return out;
        return { kind: 'answer', answer: { message: makeResponse(ctx.query, Rcode.REFUSED), source: 'local' } };
      },
    };
    const { fake, server } = await setup((m, reply) => reply(answerWith(m, [aRecord(m.questions[0]!.name, '192.0.2.8')])), {
      capture: () => ({ stage: () => stage }),
    });
    const port = server.addresses[0]!.port;
    assert.equal((await ask(port, 'ok.test', 1)).answers.length, 1);
    assert.equal((await ask(port, 'ok.test', 1)).answers.length, 1);
    assert.equal((await ask(port, 'deny.test', 1)).rcode, Rcode.REFUSED);
    assert.deepEqual(seen, ['ok.test', 'ok.test', 'deny.test']);
    assert.equal(fake.received.length, 2, 'the second ok.test came from the cache and still passed the hook');
  });

  it('passes upstream answers to the validator before caching, and sets AD only for a secure verdict', async () => {
    let validated = 0;
    const { fake, server } = await setup(
      (m, reply) => reply({ ...answerWith(m, [aRecord(m.questions[0]!.name, '192.0.2.9')]), ad: true }),
      {
        validator: {
          validate: async (question, response) => {
            validated++;
            const verdict: Verdict = question.name.startsWith('sec') ? SECURE : insecure('unsigned-delegation', 'test', 'unsigned');
            return { response, proof: { verdict, rrsets: [], negative: null, rcode: 0 } };
          },
        },
      },
    );
    const port = server.addresses[0]!.port;
    assert.equal((await ask(port, 'sec.test', 1, { do: true })).ad, true);
    assert.equal((await ask(port, 'sec.test', 1, { do: true })).ad, true, 'cached verdict');
    assert.equal((await ask(port, 'plain.test', 1, { do: true })).ad, false, 'upstream AD is not passed through');
    assert.equal(validated, 2);
    assert.equal(fake.received.length, 2);
  });
});

describe('resolver/pipeline ACL', () => {
  it('drops queries from clients outside the allow list without answering', async () => {
    const cache = new Cache({ ...DEFAULT_CACHE, now: Date.now });
    const upstream = new UpstreamPool({ ...DEFAULT_UPSTREAM, servers: [{ host: '127.0.0.1', port: 9, family: 4 }] });
    const p = new Pipeline({ allow: (a) => a === '127.0.0.1', cache, upstream, maxUdpSize: 1232 });
    const query = q('www.example.test', 1);
    assert.equal(await p.handle(query, { address: '192.0.2.1', port: 5000, transport: 'udp' }), null);
    assert.equal(await p.handle(query, { address: '192.0.2.1', port: 5000, transport: 'tcp' }), null);
    assert.equal(p.stats.refusedByAcl, 2);
    upstream.close();
  });
});
