// The pure part of the address-leak guard: which HTTPS/SVCB hints go, what stays, RRSIGs of changed RRsets.
import assert from 'node:assert/strict';
import { leakGuardFor, minimalAnyAnswer, stripHints } from '../../src/capture/address-leaks';
import { parsePolicy } from '../../src/policy';
import { makeQuery, makeResponse } from '../../src/wire/message';
import { parseRR } from '../../src/wire/presentation';
import type { Message, RR } from '../../src/wire/types';
import { httpsRR } from '../support/svcb';

const rr = (line: string): RR => parseRR(line, { ttl: 300 });
const POLICY = parsePolicy(
  [
    'default: clear',
    'rules:',
    '  - { zone: corp.test, level: private }',
    '  - { address: 198.51.100.0/24, level: private-or-clear }',
    '',
  ].join('\n'),
);

function response(name: string, type: number, answers: RR[]): Message {
  return { ...makeResponse(makeQuery(name, type, { rd: true }), 0), answers };
}

const hasHint = (r: RR): boolean => Buffer.from(r.rdata).includes(Buffer.from([0, 4, 0, 4]));
const RRSIG_HTTPS = (owner: string): RR => rr(`${owner} 300 IN RRSIG HTTPS 13 2 300 20300101000000 20200101000000 12345 corp.test. AAAA`);

describe('capture/address-leaks', () => {
  it('asks for a guard only for ANY, HTTPS and SVCB in class IN, and ANY only where something is protected', () => {
    assert.equal(leakGuardFor(POLICY, { name: 'www.corp.test', type: 255, class: 1 }), 'minimal-any');
    assert.equal(leakGuardFor(POLICY, { name: 'www.corp.test', type: 65, class: 1 }), 'strip-hints');
    assert.equal(leakGuardFor(POLICY, { name: 'www.corp.test', type: 64, class: 1 }), 'strip-hints');
    assert.equal(leakGuardFor(POLICY, { name: 'www.corp.test', type: 1, class: 1 }), 'none');
    assert.equal(leakGuardFor(POLICY, { name: 'www.corp.test', type: 255, class: 3 }), 'none');
    assert.equal(leakGuardFor(parsePolicy('default: clear\n'), { name: 'x.test', type: 255, class: 1 }), 'none');
    // An address rule may protect any name's addresses: ANY is guarded everywhere then.
    assert.equal(leakGuardFor(POLICY, { name: 'x.other', type: 255, class: 1 }), 'minimal-any');
  });

  it("takes the hints out of a protected owner's record, keeps its other parameters, drops its now wrong RRSIG", () => {
    const m = response('vault.corp.test', 65, [
      httpsRR('vault.corp.test', 1, '.', { alpn: ['h2'], ipv4hint: ['192.0.2.40'], ipv6hint: ['2001:db8::40'] }),
      RRSIG_HTTPS('vault.corp.test.'),
    ]);
    const out = stripHints(POLICY, { ...m, ad: true });
    assert.ok(out);
    assert.equal(out.ad, false);
    assert.equal(out.answers.length, 1);
    assert.ok(!hasHint(out.answers[0]!) && !Buffer.from(out.answers[0]!.rdata).includes(Buffer.from([0, 6, 0, 16])));
    assert.ok(Buffer.from(out.answers[0]!.rdata).includes(Buffer.from('h2')));
  });

  it('protects by target name and by address rule, not only by owner', () => {
    const byTarget = response('www.open.test', 65, [httpsRR('www.open.test', 1, 'vault.corp.test', { ipv4hint: ['192.0.2.40'] })]);
    assert.ok(stripHints(POLICY, byTarget));
    const byAddress = response('www.open.test', 65, [httpsRR('www.open.test', 1, '.', { ipv4hint: ['198.51.100.7'] })]);
    assert.ok(stripHints(POLICY, byAddress));
    const clear = response('www.open.test', 65, [
      httpsRR('www.open.test', 1, '.', { ipv4hint: ['192.0.2.99'] }),
      RRSIG_HTTPS('www.open.test.'),
    ]);
    assert.equal(stripHints(POLICY, clear), null, 'a clear name with clear addresses is left alone');
  });

  it('takes the hint keys out of "mandatory" too (a record naming keys it lacks is malformed), and drops an emptied mandatory', () => {
    const both = stripHints(
      POLICY,
      response('vault.corp.test', 65, [httpsRR('vault.corp.test', 1, '.', { mandatory: [1, 4], alpn: ['h2'], ipv4hint: ['192.0.2.40'] })]),
    );
    const only = stripHints(
      POLICY,
      response('vault.corp.test', 65, [httpsRR('vault.corp.test', 1, '.', { mandatory: [4], ipv4hint: ['192.0.2.40'] })]),
    );
    assert.deepEqual(
      Buffer.from(both!.answers[0]!.rdata),
      Buffer.from(httpsRR('vault.corp.test', 1, '.', { mandatory: [1], alpn: ['h2'] }).rdata),
    );
    assert.deepEqual(Buffer.from(only!.answers[0]!.rdata), Buffer.from(httpsRR('vault.corp.test', 1, '.', {}).rdata));
  });

  it('drops unparsable SVCB RDATA of a protected name whole', () => {
    const bad = { ...httpsRR('vault.corp.test', 1, '.', { alpn: ['h2'] }), rdata: new Uint8Array([0, 1, 0, 0, 4, 0, 9, 1]) };
    const out = stripHints(POLICY, response('vault.corp.test', 65, [bad]));
    assert.ok(out);
    assert.equal(out.answers.length, 0);
  });

  it('answers ANY with one HINFO "RFC8482" and nothing else', () => {
    const out = minimalAnyAnswer({ ...response('vault.corp.test', 255, [rr('vault.corp.test. 300 IN A 192.0.2.40')]), ad: true });
    assert.deepEqual(
      out.answers.map((r) => r.type),
      [13],
    );
    assert.equal(out.ad, false);
  });
});
