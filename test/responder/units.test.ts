// The responder's pure parts: the allow-list, the flood bounds, and reading charon's ike-updown events
// (recorded from the lab) into unknown initiators.
import assert from 'node:assert/strict';
import { parseUpdown } from '../../src/ike-bridge/vici-client';
import { checkAllowed, hostname, parseAllowList } from '../../src/responder/allow-list';
import { ipv4Or6 } from '../../src/responder/address';
import { unknownInitiators } from '../../src/responder/events';
import { HoldDown, TokenBucket } from '../../src/responder/limits';
import { CATCHALL_CONN, catchAllConn, dummyPublicKeyPem } from '../../src/responder/strongswan-catchall';
import { libreswanResponderConf } from '../../src/responder/libreswan-conf';
import { REFUSED_BY_CATCHALL, toSection } from './recorded';

describe('responder allow-list', () => {
  const list = parseAllowList(['alice.oe.test', '.corp.example', '*.Lab.Example.']);

  it('matches exact names, case-insensitively and with a trailing dot', () => {
    assert.deepEqual(checkAllowed(list, 'alice.oe.test'), { allowed: true, name: 'alice.oe.test', rule: 'alice.oe.test' });
    assert.equal(checkAllowed(list, 'ALICE.oe.test.').allowed, true);
    assert.equal(checkAllowed(list, 'bob.oe.test').allowed, false);
  });

  it('matches names strictly below a .zone or *.zone entry, not the zone itself', () => {
    assert.deepEqual(checkAllowed(list, 'h1.corp.example'), { allowed: true, name: 'h1.corp.example', rule: '.corp.example' });
    assert.equal(checkAllowed(list, 'a.b.lab.example').allowed, true);
    assert.equal(checkAllowed(list, 'corp.example').allowed, false);
    // Suffix match is by label, not by string.
    assert.equal(checkAllowed(list, 'evilcorp.example').allowed, false);
    assert.equal(checkAllowed(list, 'x.notcorp.example').allowed, false);
  });

  it('refuses identities that are not host names before any matching', () => {
    for (const id of [
      '192.0.2.1',
      '2001:db8::1',
      'C=CH, O=strongSwan, CN=alice',
      'alice@corp.example',
      'x..corp.example',
      'a_b.corp.example',
      'localhost',
      '',
      `${'a'.repeat(64)}.corp.example`,
    ]) {
      const c = checkAllowed(list, id);
      assert.equal(c.allowed, false, id);
      if (!c.allowed) assert.equal(c.reason, 'not-a-hostname', id);
    }
  });

  it('an empty list allows nothing and says so', () => {
    const c = checkAllowed(parseAllowList([]), 'alice.oe.test');
    assert.equal(c.allowed, false);
    if (!c.allowed) {
      assert.equal(c.reason, 'not-allowed');
      assert.match(c.detail, /empty/);
    }
  });

  it('rejects entries that are not names or are a whole TLD', () => {
    for (const bad of ['.com', '*.com', 'not a name', '*', '192.0.2.1', 'a..b']) {
      assert.throws(
        () => parseAllowList([bad]),
        (e: { code?: string }) => e.code === 'bad-responder-allow',
        bad,
      );
    }
  });

  it('normalises host names', () => {
    assert.equal(hostname(' Alice.OE.test. '), 'alice.oe.test');
    assert.equal(hostname('1.2.3.4'), undefined);
  });
});

describe('responder flood bounds', () => {
  it('a token bucket gives its burst, then its rate', () => {
    const b = new TokenBucket(2, 3, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
    assert.equal(b.take(400), false); // 0.8 token
    assert.equal(b.take(500), true); // 1 token after 0.5 s at 2/s
    assert.equal(b.take(500), false);
    // A long pause refills to the burst, not beyond.
    assert.deepEqual([b.take(60_000), b.take(60_000), b.take(60_000), b.take(60_000)], [true, true, true, false]);
  });

  it('a clock going backwards does not mint tokens', () => {
    const b = new TokenBucket(1, 1, 10_000);
    assert.equal(b.take(10_000), true);
    assert.equal(b.take(5_000), false);
    assert.equal(b.take(10_500), false);
  });

  it('the hold-down holds a name until its deadline and forgets the oldest beyond its size', () => {
    const h = new HoldDown(2);
    h.hold('a', 100);
    assert.equal(h.held('a', 50), true);
    assert.equal(h.held('a', 100), false);
    h.hold('a', 1000);
    h.hold('b', 1000);
    h.hold('c', 1000);
    assert.equal(h.size, 2);
    assert.equal(h.held('a', 0), false);
    assert.equal(h.held('c', 0), true);
  });
});

describe('responder events (recorded ike-updown)', () => {
  const refused = parseUpdown(toSection(REFUSED_BY_CATCHALL));

  it('finds the IDi and address of an initiator refused by the catch-all', () => {
    assert.deepEqual(unknownInitiators(refused, CATCHALL_CONN), [
      { identity: 'alice.oe.test', address: '192.0.2.1', connection: CATCHALL_CONN, uniqueId: '1' },
    ]);
  });

  it('also when no conn fit at all ((unnamed))', () => {
    const m = toSection({ '(unnamed)': { ...REFUSED_BY_CATCHALL[CATCHALL_CONN], 'remote-id': 'carol.oe.test' } });
    assert.deepEqual(
      unknownInitiators(parseUpdown(m), CATCHALL_CONN).map((i) => i.identity),
      ['carol.oe.test'],
    );
  });

  it('ignores SAs going up or down, our own initiations and other conns', () => {
    const base = REFUSED_BY_CATCHALL[CATCHALL_CONN];
    const cases = {
      up: toSection({ up: 'yes', [CATCHALL_CONN]: base }),
      established: toSection({ [CATCHALL_CONN]: { ...base, state: 'ESTABLISHED' } }),
      ours: toSection({ [CATCHALL_CONN]: { ...base, initiator: 'yes' } }),
      peer: toSection({ 'oe-alice.oe.test': base }),
      noId: toSection({ [CATCHALL_CONN]: { ...base, 'remote-id': '' } }),
    };
    for (const [what, m] of Object.entries(cases)) assert.deepEqual(unknownInitiators(parseUpdown(m), CATCHALL_CONN), [], what);
  });

  it('addresses compare in one spelling', () => {
    assert.equal(ipv4Or6('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(ipv4Or6('192.0.2.1[4500]'), '192.0.2.1');
    assert.equal(ipv4Or6('alice'), undefined);
  });
});

describe('responder catch-all conn', () => {
  it('matches any address and any id, and pins a key nobody holds', () => {
    const pem = dummyPublicKeyPem();
    const c = catchAllConn({ localId: 'bob.oe.test', ikeProposals: ['aes128-sha256-x25519'], dummyPem: pem }) as Record<string, any>;
    assert.deepEqual(c.remote_addrs, ['%any']);
    assert.deepEqual(c.remote, { auth: 'pubkey', id: '%any', pubkeys: [pem] });
    assert.equal(c.local.id, 'bob.oe.test');
    assert.equal(c.children, undefined);
    assert.notEqual(dummyPublicKeyPem(), pem);
    // Not an `oe-` name: the engine would take it for one of its peers and unload it.
    assert.equal(CATCHALL_CONN.startsWith('oe-'), false);
  });
});

describe('responder Libreswan configuration', () => {
  it('writes one %dnsondemand conn per allowed name and leaves zone suffixes out, saying why', () => {
    const { text, skipped } = libreswanResponderConf({
      localId: 'bob.oe.test',
      allow: parseAllowList(['alice.oe.test', '.corp.example']),
      anchorsFile: '/etc/oedns/anchors',
    });
    assert.match(text, /^config setup\n {4}dnssec-enable=yes\n {4}dnssec-anchors=\/etc\/oedns\/anchors$/m);
    assert.match(
      text,
      /^conn oe-responder-alice\.oe\.test\n(?: {4}.*\n)*? {4}rightid=@alice\.oe\.test\n {4}rightrsasigkey=%dnsondemand\n/m,
    );
    assert.match(text, /^ {4}leftid=@bob\.oe\.test$/m);
    assert.equal((text.match(/^conn /gm) ?? []).length, 1);
    assert.deepEqual(skipped, ['.corp.example']);
    assert.match(text, /# Not written: \.corp\.example/);
    assert.doesNotMatch(text, /^ +rightid=%any/m);
  });
});
