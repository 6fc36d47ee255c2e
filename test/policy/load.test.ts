import assert from 'node:assert/strict';
import { ConfigError } from '../../src/util/errors';
import { parsePolicy, PolicyError, PolicyErrorCode as C } from '../../src/policy';

function fails(text: string, code: string, line?: number, field?: string): PolicyError {
  try {
    parsePolicy(text);
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.ok(e instanceof ConfigError, 'a PolicyError is a ConfigError (exit 2)');
    assert.equal(e.code, code, e.message);
    if (line !== undefined) assert.equal(e.line, line, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return e;
  }
  assert.fail(`parsed, expected ${code}`);
}

describe('policy/load parsePolicy', () => {
  it('parses the documented example with every kind of rule', () => {
    const p = parsePolicy(
      [
        'default: private-or-clear',
        'trust-insecure: false',
        'max-ttl: 3600',
        'fallback: { any-key: false, trusted-fingerprints: [] }',
        'rules:',
        '  - { name: Bank.Example., level: private }',
        '  - { name: "*.corp.example", level: private }',
        '  - { zone: example.org, level: clear }',
        '  - { address: 192.0.2.0/24, level: block }',
        '  - { address: "2001:DB8::/32", level: private, comment: lab v6 }',
      ].join('\n'),
    );
    assert.equal(p.default, 'private-or-clear');
    assert.equal(p.trustInsecure, false);
    assert.equal(p.maxTtl, 3600);
    assert.deepEqual(p.fallback, { anyKey: false, trustedFingerprints: [], method: 'tofu-cert' });
    assert.deepEqual(
      p.rules.map((r) => [r.selector.kind, r.level, r.line]),
      [
        ['name', 'private', 6],
        ['wildcard', 'private', 7],
        ['zone', 'clear', 8],
        ['address', 'block', 9],
        ['address', 'private', 10],
      ],
    );
    assert.deepEqual(p.rules[0]!.selector, { kind: 'name', name: 'bank.example' });
    assert.deepEqual(p.rules[1]!.selector, { kind: 'wildcard', base: 'corp.example' });
    const v6 = p.rules[4]!.selector;
    assert.equal(v6.kind === 'address' && v6.cidr.text, '2001:db8::/32');
    assert.equal(p.rules[4]!.comment, 'lab v6');
    assert.deepEqual(p.warnings, []);
  });

  it('parses JSON with the same meaning as YAML', () => {
    const yaml = parsePolicy('default: private\nrules:\n  - { zone: example.net, level: clear }\n');
    const json = parsePolicy('{"default": "private", "rules": [{"zone": "example.net", "level": "clear"}]}', 'json');
    const strip = (p: typeof yaml) => ({ ...p, rules: p.rules.map(({ line: _l, ...r }) => r) });
    assert.deepEqual(strip(json), strip(yaml));
  });

  it('fills defaults for an almost empty file', () => {
    const p = parsePolicy('rules: []\n');
    assert.equal(p.default, 'private-or-clear');
    assert.equal(p.maxTtl, 3600);
    assert.equal(p.trustInsecure, false);
  });

  it('accepts max-ttl with a unit', () => {
    assert.equal(parsePolicy('max-ttl: 30m\n').maxTtl, 1800);
    assert.equal(parsePolicy('max-ttl: "2h"\n').maxTtl, 7200);
  });

  it('warns when trust-insecure or any-key weaken security', () => {
    const p = parsePolicy('trust-insecure: true\nfallback: { any-key: true }\nrules: [{ zone: example, level: opportunistic }]\n');
    assert.equal(p.warnings.length, 2);
    assert.match(p.warnings.join('\n'), /trust-insecure/);
    assert.match(p.warnings.join('\n'), /any-key/);
  });

  it('normalizes trusted fingerprints', () => {
    const hex = 'AB'.repeat(32);
    const colons = hex.match(/../g)!.join(':');
    const p = parsePolicy(`default: opportunistic\nfallback:\n  trusted-fingerprints: ["sha256:${colons}"]\n`);
    assert.deepEqual(p.fallback.trustedFingerprints, ['ab'.repeat(32)]);
  });

  const errors: Array<{ title: string; text: string; code: string; line?: number; field?: string }> = [
    {
      title: 'an unknown level',
      text: 'default: private\nrules:\n  - { name: a.example, level: secret }\n',
      code: C.BAD_LEVEL,
      line: 3,
      field: 'rules[0].level',
    },
    { title: 'an unknown default level', text: 'default: encrypted\n', code: C.BAD_LEVEL, line: 1, field: 'default' },
    {
      title: 'a CIDR with host bits set',
      text: 'rules:\n  - { address: 192.0.2.1/24, level: clear }\n',
      code: C.BAD_CIDR,
      line: 2,
      field: 'rules[0].address',
    },
    {
      title: 'a prefix longer than the family allows',
      text: 'rules:\n  - { address: 10.0.0.0/33, level: clear }\n',
      code: C.BAD_CIDR,
      line: 2,
    },
    { title: 'an address that is not one', text: 'rules:\n  - { address: 300.1.1.1, level: clear }\n', code: C.BAD_CIDR },
    { title: 'a bad IPv6 prefix', text: 'rules:\n  - { address: "2001:db8:::/48", level: clear }\n', code: C.BAD_CIDR },
    {
      title: 'an unknown top-level key, with a hint',
      text: 'default: clear\ntrust_insecure: true\n',
      code: C.UNKNOWN_KEY,
      line: 2,
      field: 'trust_insecure',
    },
    {
      title: 'an unknown rule key',
      text: 'rules:\n  - { name: a.example, level: clear, levle: private }\n',
      code: C.UNKNOWN_KEY,
      line: 2,
      field: 'rules[0].levle',
    },
    { title: 'an unknown fallback key', text: 'fallback: { anykey: true }\n', code: C.UNKNOWN_KEY, field: 'fallback.anykey' },
    {
      title: 'a duplicate rule (case and trailing dot ignored)',
      text: 'rules:\n  - { name: a.example, level: clear }\n  - { name: A.Example., level: private }\n',
      code: C.DUPLICATE_RULE,
      line: 3,
      field: 'rules[1]',
    },
    {
      title: 'a duplicate CIDR written two ways',
      text: 'rules:\n  - { address: "2001:db8::/32", level: clear }\n  - { address: "2001:0db8:0::/32", level: block }\n',
      code: C.DUPLICATE_RULE,
      line: 3,
    },
    {
      title: 'a rule with two selectors',
      text: 'rules:\n  - { name: a.example, zone: example, level: clear }\n',
      code: C.BAD_RULE,
      line: 2,
    },
    { title: 'a rule without selector', text: 'rules:\n  - { level: clear }\n', code: C.BAD_RULE },
    { title: 'a rule without level', text: 'rules:\n  - { zone: example }\n', code: C.BAD_RULE },
    { title: 'a wildcard in the middle', text: 'rules:\n  - { name: "a.*.example", level: clear }\n', code: C.BAD_NAME },
    { title: 'a wildcard in a zone rule', text: 'rules:\n  - { zone: "*.example", level: clear }\n', code: C.BAD_NAME },
    { title: 'an empty label', text: 'rules:\n  - { name: "a..example", level: clear }\n', code: C.BAD_NAME },
    { title: 'a name with a space', text: 'rules:\n  - { name: "a b.example", level: clear }\n', code: C.BAD_NAME },
    { title: 'a zone rule for the root', text: 'rules:\n  - { zone: ".", level: clear }\n', code: C.BAD_NAME },
    { title: 'max-ttl zero', text: 'max-ttl: 0\n', code: C.BAD_VALUE, field: 'max-ttl' },
    { title: 'max-ttl as a fraction', text: 'max-ttl: 1.5\n', code: C.BAD_VALUE },
    { title: 'trust-insecure as "yes"', text: 'trust-insecure: yes\n', code: C.BAD_VALUE, field: 'trust-insecure' },
    { title: 'rules that are not a list', text: 'rules: { name: a.example }\n', code: C.BAD_VALUE },
    { title: 'a top level that is a list', text: '- default: clear\n', code: C.BAD_VALUE },
    { title: 'an empty document', text: '', code: C.BAD_VALUE },
    { title: 'a short fingerprint', text: 'fallback: { trusted-fingerprints: [abcd] }\n', code: C.BAD_FINGERPRINT },
    {
      title: 'fingerprints with a keyless method',
      text: `fallback: { method: wellknown-psk, trusted-fingerprints: ["${'a'.repeat(64)}"] }\n`,
      code: C.BAD_VALUE,
    },
    { title: 'an unknown fallback method', text: 'fallback: { method: psk }\n', code: C.BAD_VALUE },
    { title: 'broken YAML', text: 'rules:\n  - { name: a.example, level: clear\n', code: C.SYNTAX },
    { title: 'a duplicate YAML key', text: 'default: clear\ndefault: private\n', code: C.SYNTAX, line: 2 },
    { title: 'broken JSON', text: '{"default": "clear",\n "rules": [,]}', code: C.SYNTAX, line: 2 },
  ];
  for (const t of errors) {
    it(`refuses ${t.title} (${t.code})`, () => {
      const e = fails(t.text, t.code, t.line, t.field);
      assert.match(e.message, /policy/);
    });
  }

  it('suggests the key that was probably meant', () => {
    const e = fails('default: clear\ntrust_insecure: true\n', C.UNKNOWN_KEY);
    assert.match(e.message, /did you mean "trust-insecure"/);
  });

  it('says which earlier rule a duplicate repeats', () => {
    const e = fails('rules:\n  - { zone: example, level: clear }\n  - { zone: example., level: block }\n', C.DUPLICATE_RULE);
    assert.match(e.message, /rules\[0\] on line 2/);
  });
});
