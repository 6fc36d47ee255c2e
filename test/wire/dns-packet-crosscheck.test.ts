// A second implementation as a cross-check: messages dns-packet builds decode here to the values it was
// given, and ours decode in dns-packet. Also pins down why the layer does not lean on dns-packet: it has
// no IPSECKEY or NSEC3PARAM codec and loses label boundaries when a label contains a dot.
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/message';
import { formatRdata, parseRR } from '../../src/wire/presentation';
import type { Message } from '../../src/wire/types';

describe('wire cross-check with dns-packet', () => {
  it('decodes a dns-packet response with the common types to the same values', () => {
    const buf = dnsPacket.encode({
      type: 'response',
      id: 77,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [{ type: 'A', name: 'Www.Example.com' }],
      answers: [
        { type: 'A', name: 'Www.Example.com', ttl: 60, data: '192.0.2.1' },
        { type: 'AAAA', name: 'www.example.com', ttl: 60, data: '2001:db8::1' },
        { type: 'CNAME', name: 'c.example.com', ttl: 60, data: 'www.Example.com' },
        { type: 'MX', name: 'example.com', ttl: 60, data: { preference: 5, exchange: 'mx.example.com' } },
        { type: 'TXT', name: 'example.com', ttl: 60, data: ['a b', 'c'] },
        { type: 'SRV', name: '_x._tcp.example.com', ttl: 60, data: { priority: 1, weight: 2, port: 3, target: 't.example.com' } },
        {
          type: 'DS',
          name: 'example.com',
          ttl: 60,
          data: { keyTag: 60485, algorithm: 5, digestType: 1, digest: Buffer.from('2BB183AF5F22588179A53B0A98631FAD1A292118', 'hex') },
        },
      ],
      authorities: [
        {
          type: 'SOA',
          name: 'example.com',
          ttl: 60,
          data: { mname: 'ns.example.com', rname: 'h.example.com', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 },
        },
        { type: 'NS', name: 'example.com', ttl: 60, data: 'ns.example.com' },
      ],
    });
    const m = decodeMessage(buf);
    assert.equal(m.id, 77);
    assert.ok(m.aa && m.qr);
    assert.deepEqual(
      [...m.answers, ...m.authorities].map((r) => `${r.name} ${formatRdata(r.type, r.rdata)}`),
      [
        'Www.Example.com 192.0.2.1',
        'www.example.com 2001:db8::1',
        'c.example.com www.Example.com.',
        'example.com 5 mx.example.com.',
        'example.com "a b" "c"',
        '_x._tcp.example.com 1 2 3 t.example.com.',
        'example.com 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118',
        'example.com ns.example.com. h.example.com. 1 2 3 4 5',
        'example.com ns.example.com.',
      ],
    );
  });

  it('produces messages dns-packet reads', () => {
    const m: Message = {
      ...makeQuery('a.example', 15, { id: 9, do: true }),
      qr: true,
      answers: [parseRR('a.example. 30 IN MX 10 Mail.a.example.'), parseRR('a.example. 30 IN A 10.0.0.1')],
    };
    const d = dnsPacket.decode(Buffer.from(encodeMessage(m)));
    assert.equal(d.id, 9);
    assert.deepEqual(
      (d.answers ?? []).map((a) => ('data' in a ? a.data : null)),
      [{ preference: 10, exchange: 'Mail.a.example' }, '10.0.0.1'],
    );
    assert.ok((d.additionals ?? []).some((a) => a.type === 'OPT'));
  });

  it('shows the dns-packet gaps this layer fills', () => {
    const m: Message = {
      ...makeQuery('x', 1, { id: 1 }),
      qr: true,
      answers: [
        parseRR('odd\\.label.example. 1 IN TXT "x"'),
        parseRR('h.example. 1 IN IPSECKEY 10 1 2 192.0.2.1 AQID'),
        parseRR('example. 1 IN NSEC3PARAM 1 0 0 -'),
      ],
    };
    const d = dnsPacket.decode(Buffer.from(encodeMessage(m)));
    const ans = d.answers ?? [];
    // The escaped dot is gone: 'odd.label.example' would re-encode as three labels.
    assert.equal(ans[0]!.name, 'odd.label.example');
    assert.equal(decodeMessage(encodeMessage(m)).answers[0]!.name, 'odd\\.label.example');
    // IPSECKEY and NSEC3PARAM come back as opaque buffers.
    assert.ok(Buffer.isBuffer((ans[1] as { data: unknown }).data));
    assert.ok(Buffer.isBuffer((ans[2] as { data: unknown }).data));
  });
});
