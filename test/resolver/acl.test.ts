import assert from 'node:assert/strict';
import { makeAcl, parseCidr, LOOPBACK_CIDRS } from '../../src/resolver/acl';
import { ConfigError } from '../../src/util/errors';

describe('resolver/acl', () => {
  it('serves only loopback clients by default', () => {
    const allow = makeAcl(LOOPBACK_CIDRS);
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(allow(a), true, a);
    for (const a of ['192.0.2.1', '10.0.0.1', '::2', '2001:db8::1', '::ffff:192.0.2.1', 'fe80::1%eth0', 'garbage', '']) {
      assert.equal(allow(a), false, a);
    }
  });

  it('widens to the networks given with --allow, and no further', () => {
    const allow = makeAcl([...LOOPBACK_CIDRS, '192.168.10.0/24', '2001:db8:1::/48', '198.51.100.7']);
    assert.equal(allow('192.168.10.200'), true);
    assert.equal(allow('::ffff:192.168.10.9'), true);
    assert.equal(allow('192.168.11.1'), false);
    assert.equal(allow('2001:db8:1:ffff::5'), true);
    assert.equal(allow('2001:db8:2::5'), false);
    assert.equal(allow('198.51.100.7'), true);
    assert.equal(allow('198.51.100.8'), false);
  });

  it('handles prefix lengths that do not fall on a byte boundary', () => {
    const allow = makeAcl(['10.0.0.0/13']);
    assert.equal(allow('10.7.255.255'), true);
    assert.equal(allow('10.8.0.0'), false);
    assert.equal(makeAcl(['0.0.0.0/0'])('203.0.113.1'), true);
  });

  it('rejects malformed CIDRs with a ConfigError', () => {
    for (const bad of ['10.0.0.0/33', '::/129', 'example.com', '10.0.0.0/x', '10.0.0.0/']) {
      assert.throws(
        () => parseCidr(bad),
        (e: unknown) => e instanceof ConfigError && e.code === 'bad-cidr',
        bad,
      );
    }
  });
});
