// The daemon's edges around the validator. Answers under a negative trust anchor live no longer than
// it. A trust point the RFC 5011 state leaves without a trusted key fails closed: every name under it
// is SERVFAIL with an indeterminate verdict and an extended error, never insecure (which is what the
// validator makes of an anchor with no key). No network: the upstream pool has no server, and
// nothing may be asked of it.
import assert from 'node:assert/strict';
import { daemonValidation } from '../../src/daemon/validation';
import { UpstreamPool, DEFAULT_UPSTREAM } from '../../src/resolver/upstream';
import { NtaSet } from '../../src/trust/nta';
import { Ede } from '../../src/dnssec/verdict';
import { Rcode, RRType } from '../../src/wire/types';
import type { Message } from '../../src/wire/types';
import type { QueryContext } from '../../src/resolver/pipeline';
import { dnsResponse } from '../support/messages';

const answer = (name: string): Message =>
  dnsResponse({
    q: { name, type: RRType.A },
    id: 1,
    rd: true,
    ra: true,
    rcode: Rcode.NOERROR,
    answers: [{ name, type: RRType.A, class: 1, ttl: 300, rdata: new Uint8Array([192, 0, 2, 1]) }],
  });

describe('daemon validation: answers under a negative trust anchor', () => {
  const pool = new UpstreamPool({ ...DEFAULT_UPSTREAM, servers: [] }, true);
  after(() => pool.close());

  it('are kept no longer than the NTA lasts (a config NTA, with no end, leaves the TTL alone)', async () => {
    const now = 1_800_000_000;
    const ntas = new NtaSet();
    ntas.add('broken.example', now, 3);
    ntas.setConfigured(['standing.example']);
    const v = daemonValidation(pool, [], () => now, ntas);
    const q = { name: 'www.broken.example', type: RRType.A, class: 1 };
    const r = await v.validator.validate(q, answer(q.name), {} as QueryContext);
    assert.equal(r.proof!.verdict.kind, 'insecure');
    assert.equal(r.proof!.ttl, 3, "the cache keeps an entry no longer than its proof's ttl");
    const q2 = { name: 'www.standing.example', type: RRType.A, class: 1 };
    const r2 = await v.validator.validate(q2, answer(q2.name), {} as QueryContext);
    assert.equal(r2.proof!.verdict.kind, 'insecure');
    assert.equal(r2.proof!.ttl, undefined);
  });
});

describe('daemon validation: a trust point with no trusted key', () => {
  const pool = new UpstreamPool({ ...DEFAULT_UPSTREAM, servers: [] }, true);
  after(() => pool.close());

  it('answers SERVFAIL (indeterminate, with an extended error) for every name under it', async () => {
    // The anchor as TrustAnchorManager.anchors() gives it for such a point: no key at all.
    const v = daemonValidation(
      pool,
      [{ zone: '', ds: [], keys: [] }],
      () => 1_800_000_000,
      new NtaSet(),
      undefined,
      () => [''],
    );
    const q = { name: 'www.example.org', type: RRType.A, class: 1 };
    const r = await v.validator.validate(q, answer(q.name), {} as QueryContext);
    assert.equal(r.response.rcode, Rcode.SERVFAIL);
    assert.equal(r.response.answers.length, 0);
    assert.equal(r.proof!.verdict.kind, 'indeterminate');
    assert.equal(r.ede!.code, Ede.DNSSEC_INDETERMINATE);
    assert.match(r.ede!.text, /no trusted key for \./);
  });

  it('leaves names outside it alone', async () => {
    // The root keeps a key (only example.org's trust point lost its keys): the validator proper gets the name.
    const root = { zone: '', ds: [{ keyTag: 1, algorithm: 15, digestType: 2, digest: new Uint8Array(32) }], keys: [] };
    const v = daemonValidation(
      pool,
      [root, { zone: 'example.org', ds: [], keys: [] }],
      () => 1_800_000_000,
      new NtaSet(),
      undefined,
      () => ['example.org'],
    );
    const q = { name: 'www.example.net', type: RRType.A, class: 1 };
    const r = await v.validator.validate(q, answer(q.name), {} as QueryContext);
    // The validator proper judged it (here: it cannot fetch anything), not the trust-point guard.
    assert.doesNotMatch(r.ede?.text ?? '', /no trusted key/);
  });
});
