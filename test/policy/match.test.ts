import assert from 'node:assert/strict';
import { matchAddress, matchName, matchPeer, parseAddress, parseCidr, parsePolicy, formatAddress } from '../../src/policy';

const policy = parsePolicy(`
default: private-or-clear
rules:
  - { name: bank.example, level: private }
  - { name: "*.corp.example", level: private }
  - { zone: corp.example, level: clear }
  - { zone: lab.corp.example, level: opportunistic }
  - { name: "*.dev.lab.corp.example", level: clear }
  - { zone: example.org, level: clear }
  - { name: www.example.org, level: private-or-clear }
  - { zone: ads.example, level: block }
  - { address: 192.0.2.0/24, level: block }
  - { address: 192.0.2.128/25, level: clear }
  - { address: 198.51.100.0/24, level: private }
  - { address: 203.0.113.0/24, level: clear }
  - { address: "2001:db8::/32", level: private }
  - { address: "2001:db8:1::/48", level: opportunistic }
  - { address: "::/0", level: private-or-clear }
`);

describe('policy/match', () => {
  describe('matchName: most specific first', () => {
    const table: Array<[string, string, string | null]> = [
      // [name, level, selector of the winning rule (null = default)]
      ['bank.example', 'private', 'name:bank.example'],
      ['BANK.Example.', 'private', 'name:bank.example'],
      ['www.bank.example', 'private-or-clear', null],
      ['corp.example', 'clear', 'zone:corp.example'],
      ['a.corp.example', 'private', 'wildcard:corp.example'],
      ['a.b.corp.example', 'private', 'wildcard:corp.example'],
      ['lab.corp.example', 'opportunistic', 'zone:lab.corp.example'],
      ['x.lab.corp.example', 'opportunistic', 'zone:lab.corp.example'],
      ['dev.lab.corp.example', 'opportunistic', 'zone:lab.corp.example'],
      ['a.dev.lab.corp.example', 'clear', 'wildcard:dev.lab.corp.example'],
      ['example.org', 'clear', 'zone:example.org'],
      ['www.example.org', 'private-or-clear', 'name:www.example.org'],
      ['mail.example.org', 'clear', 'zone:example.org'],
      ['notexample.org', 'private-or-clear', null],
      ['tracker.ads.example', 'block', 'zone:ads.example'],
      ['example', 'private-or-clear', null],
    ];
    for (const [name, level, winner] of table) {
      it(`${name} → ${level} (${winner ?? 'default'})`, () => {
        const m = matchName(policy, name);
        assert.equal(m.level, level, m.why);
        const s = m.rule?.selector;
        const key = s
          ? s.kind === 'name'
            ? `name:${s.name}`
            : s.kind === 'wildcard'
              ? `wildcard:${s.base}`
              : s.kind === 'zone'
                ? `zone:${s.zone}`
                : 'address'
          : null;
        assert.equal(key, winner);
        assert.ok(m.why.length > 0);
      });
    }

    it('prefers *.base over zone base at the same depth, and says why', () => {
      const m = matchName(policy, 'host.corp.example');
      assert.equal(m.rule?.selector.kind, 'wildcard');
      assert.match(m.why, /wildcard/);
      assert.match(m.why, /line \d+/);
    });

    it('ignores rule order: a later, more specific rule still wins', () => {
      const p = parsePolicy('rules:\n  - { zone: example, level: clear }\n  - { zone: a.example, level: private }\n');
      const q = parsePolicy('rules:\n  - { zone: a.example, level: private }\n  - { zone: example, level: clear }\n');
      assert.equal(matchName(p, 'x.a.example').level, 'private');
      assert.equal(matchName(q, 'x.a.example').level, 'private');
    });
  });

  describe('matchAddress: longest prefix', () => {
    const table: Array<[string, string, string | null]> = [
      ['192.0.2.1', 'block', '192.0.2.0/24'],
      ['192.0.2.200', 'clear', '192.0.2.128/25'],
      ['198.51.100.7', 'private', '198.51.100.0/24'],
      ['::ffff:198.51.100.7', 'private', '198.51.100.0/24'],
      ['10.0.0.1', 'private-or-clear', null],
      ['2001:db8::1', 'private', '2001:db8::/32'],
      ['2001:db8:1:2::1', 'opportunistic', '2001:db8:1::/48'],
      ['2001:DB8:0001::5', 'opportunistic', '2001:db8:1::/48'],
      ['fe80::1', 'private-or-clear', '::/0'],
    ];
    for (const [addr, level, cidr] of table) {
      it(`${addr} → ${level} (${cidr ?? 'default'})`, () => {
        const m = matchAddress(policy, addr);
        assert.equal(m.level, level, m.why);
        const s = m.rule?.selector;
        assert.equal(s && s.kind === 'address' ? s.cidr.text : null, cidr);
      });
    }
  });

  describe('matchPeer: name and address together, the stricter wins', () => {
    const table: Array<[string, string[], string, string]> = [
      // name rule clear, address rule private → private
      ['mail.example.org', ['198.51.100.7'], 'private', 'address'],
      // name rule private, address rule clear → private
      ['bank.example', ['203.0.113.9'], 'private', 'name'],
      // any rule, address block → block
      ['bank.example', ['192.0.2.9'], 'block', 'address'],
      // name block beats an address rule
      ['tracker.ads.example', ['198.51.100.7'], 'block', 'name'],
      // default name, address rule applies even if weaker than the default
      ['plain.example', ['203.0.113.9'], 'clear', 'address'],
      // no address rule: the name rule
      ['mail.example.org', ['10.1.1.1'], 'clear', 'name'],
      // several addresses: the strictest address rule
      ['plain.example', ['203.0.113.9', '198.51.100.1'], 'private', 'address'],
      ['mail.example.org', [], 'clear', 'name'],
    ];
    const p4 = parsePolicy(`
default: private-or-clear
rules:
  - { name: bank.example, level: private }
  - { zone: example.org, level: clear }
  - { zone: ads.example, level: block }
  - { address: 192.0.2.0/24, level: block }
  - { address: 198.51.100.0/24, level: private }
  - { address: 203.0.113.0/24, level: clear }
`);
    for (const [name, addrs, level, from] of table) {
      it(`${name} at [${addrs.join(', ')}] → ${level} from the ${from} rule`, () => {
        const m = matchPeer(p4, name, addrs);
        assert.equal(m.level, level, m.why);
        assert.equal(m.rule?.selector.kind === 'address' ? 'address' : 'name', from, m.why);
        assert.equal(m.addresses.length, addrs.length);
      });
    }

    it('an unsigned address can raise the default but not lower it', () => {
      const unsigned = { addressesAuthenticated: false };
      const lowered = matchPeer(p4, 'plain.example', ['203.0.113.9'], unsigned);
      assert.equal(lowered.level, 'private-or-clear');
      assert.equal(lowered.rule, null);
      assert.match(lowered.why, /not DNSSEC-signed/);
      assert.equal(matchPeer(p4, 'plain.example', ['198.51.100.7'], unsigned).level, 'private');
      assert.equal(matchPeer(p4, 'plain.example', ['192.0.2.1'], unsigned).level, 'block');
    });

    it('explains that the stricter rule overrode the other', () => {
      const m = matchPeer(p4, 'mail.example.org', ['198.51.100.7']);
      assert.match(m.why, /stricter/);
      assert.match(m.why, /198\.51\.100\.0\/24/);
      assert.match(m.why, /example\.org/);
    });
  });
});

describe('policy/ip', () => {
  const good: Array<[string, string]> = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.0.2.7', '192.0.2.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8:0:0:0:0:0:0/32', '2001:db8::/32'],
    ['::/0', '::/0'],
    ['::1', '::1/128'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1/128'],
    ['2001:0:0:1:0:0:0:0/64', '2001:0:0:1::/64'],
    ['::ffff:192.0.2.1', '192.0.2.1/32'],
    ['::ffff:192.0.2.0/120', '192.0.2.0/24'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::fffe:0:0/95', '::fffe:0:0/95'],
  ];
  for (const [inp, out] of good) {
    it(`parses ${inp} as ${out}`, () => {
      const r = parseCidr(inp);
      assert.ok(r.ok, r.ok ? '' : r.why);
      assert.equal(r.cidr.text, out);
    });
  }
  const bad = [
    '10.0.0/8',
    '010.0.0.0/8',
    '256.0.0.0',
    '1.2.3.4/-1',
    '1.2.3.4/ 8',
    '::1::/64',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    '2001:db8::g',
    'example.com',
    '',
    '1.2.3.4/',
  ];
  for (const b of bad) {
    it(`refuses "${b}"`, () => assert.equal(parseCidr(b).ok, false));
  }
  it('reads embedded IPv4 in IPv6 and maps ::ffff: to IPv4', () => {
    assert.deepEqual(parseAddress('::ffff:192.0.2.1'), { bytes: Uint8Array.from([192, 0, 2, 1]), family: 4 });
    const v6 = parseAddress('64:ff9b::192.0.2.1');
    assert.equal(v6?.family, 6);
    assert.equal(formatAddress(v6.bytes), '64:ff9b::c000:201');
    assert.equal(matchAddress(parsePolicy('rules:\n  - { address: "::ffff:192.0.2.0/120", level: block }\n'), '192.0.2.7').level, 'block');
  });
});
