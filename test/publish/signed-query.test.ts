// The signed reads at the primary (src/publish/signed-query.ts) against a server made of a few lines
// of test code: an answer counts only when signed over our query with our key; a recorded answer,
// an unsigned one or one signed with another secret is refused; the server's key errors are reported.
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../src/wire/message';
import { time48 } from '../../src/wire/rdata/tsig';
import { RRType } from '../../src/wire/types';
import { PublishError } from '../../src/publish/errors';
import { signedQuery } from '../../src/publish/signed-query';
import { findTsig, type TsigKey } from '../../src/publish/tsig';
import { withTtl } from './mitm';
import { serverSign } from './tsig-helpers';

const KEY: TsigKey = { name: 'publish-key', algorithm: 'hmac-sha256', secret: new Uint8Array(32).fill(5) };
const NOW = 1_790_000_000;
const RDATA = Uint8Array.of(10, 0, 4, ...new Uint8Array(32).fill(0x11));

/** The server's answer to `query`: one IPSECKEY record with this TTL. */
function answer(query: Uint8Array, ttl = 600, rcode = 0): Uint8Array {
  const q = decodeMessage(query);
  return encodeMessage({
    ...q,
    qr: true,
    aa: true,
    rcode,
    additionals: [],
    edns: undefined,
    answers: rcode ? [] : [{ name: q.questions[0]!.name, type: RRType.IPSECKEY, class: 1, ttl, rdata: RDATA }],
  });
}
const reqMac = (query: Uint8Array): Uint8Array => findTsig(query)!.tsig.mac;

async function ask(
  server: (query: Uint8Array) => Uint8Array,
): Promise<{ ttl?: number; extra?: number; code?: string; changed?: unknown; skew?: unknown }> {
  const q = signedQuery('primary', KEY, { send: async (w) => server(w), now: () => NOW });
  try {
    const m = await q('h.pub.test', RRType.IPSECKEY);
    return { ttl: m.answers[0]?.ttl, extra: m.additionals.length };
  } catch (e) {
    assert.ok(e instanceof PublishError, String(e));
    return { code: e.code, changed: e.changed, skew: e.detail.skew };
  }
}

describe('signed reads at the primary', () => {
  it('takes the answer the server signed over our query (without its TSIG)', async () => {
    assert.deepEqual(await ask((w) => serverSign(answer(w), KEY, reqMac(w), NOW)), { ttl: 600, extra: 0 });
  });

  it('refuses an unsigned answer, one with a rewritten TTL, one signed with another secret', async () => {
    assert.equal((await ask((w) => answer(w, 1))).code, 'read-unauthenticated');
    assert.equal((await ask((w) => withTtl(serverSign(answer(w), KEY, reqMac(w), NOW), RRType.IPSECKEY, 1))).code, 'read-unauthenticated');
    assert.equal(
      (await ask((w) => serverSign(answer(w), { ...KEY, secret: new Uint8Array(32).fill(6) }, reqMac(w), NOW))).code,
      'read-unauthenticated',
    );
  });

  it('refuses a signed answer recorded from an earlier query (replay)', async () => {
    let recorded: Uint8Array | undefined;
    await ask((w) => (recorded = serverSign(answer(w, 1), KEY, reqMac(w), NOW)));
    const r = await ask((w) => {
      const a = recorded!.slice();
      a[0] = w[0]!;
      a[1] = w[1]!;
      return a;
    });
    assert.deepEqual([r.code, r.changed], ['read-unauthenticated', false]);
  });

  it("reports the server's key errors: BADSIG/BADKEY (unsigned, as a server must send them), BADTIME with the skew", async () => {
    const badsig = await ask((w) => serverSign(answer(w, 0, 9), KEY, reqMac(w), NOW, { error: 16, macLen: 0 }));
    assert.deepEqual([badsig.code, badsig.changed], ['tsig-badsig', false]);
    assert.equal((await ask((w) => serverSign(answer(w, 0, 9), KEY, reqMac(w), NOW, { error: 17, macLen: 0 }))).code, 'tsig-badkey');
    const badtime = await ask((w) => serverSign(answer(w, 0, 9), KEY, reqMac(w), NOW, { error: 18, other: time48(NOW + 700) }));
    assert.deepEqual([badtime.code, badtime.skew], ['tsig-badtime', 700]);
  });
});
