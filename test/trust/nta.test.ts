// Negative trust anchors (RFC 7646): which names they cover, how long they last, what is refused.
import assert from 'node:assert/strict';
import { NtaSet, NTA_MAX_LIFETIME_SEC } from '../../src/trust/nta';
import { ConfigError } from '../../src/util/errors';

const code = (c: string) => (e: unknown) => e instanceof ConfigError && e.code === c;

describe('trust/nta', () => {
  it('covers the name and the names below it, not its parent or a sibling', () => {
    const s = new NtaSet();
    s.add('Broken.Example.', 1000);
    assert.equal(s.covering('broken.example', 1000)?.name, 'broken.example');
    assert.equal(s.covering('www.BROKEN.example', 1000)?.name, 'broken.example');
    assert.equal(s.covering('example', 1000), undefined);
    assert.equal(s.covering('notbroken.example', 1000), undefined);
  });

  it('ends by itself (default one hour, at most a week) and can be removed', () => {
    const s = new NtaSet();
    s.add('a.example', 1000);
    s.add('b.example', 1000, 60);
    assert.ok(s.covering('x.b.example', 1059));
    assert.equal(s.covering('x.b.example', 1060), undefined);
    assert.ok(s.covering('a.example', 1000 + 3599));
    assert.equal(s.covering('a.example', 1000 + 3600), undefined);
    assert.deepEqual(s.list(1000 + 3600), []);
    s.add('c.example', 0);
    assert.equal(s.remove('C.example.'), true);
    assert.equal(s.remove('c.example'), false);
    assert.throws(() => s.add('d.example', 0, NTA_MAX_LIFETIME_SEC + 1), code('nta-lifetime'));
  });

  it('refuses the root (that would switch validation off) and bad names', () => {
    const s = new NtaSet();
    assert.throws(() => s.add('.', 0), code('nta-root'));
    assert.throws(() => s.add('a..b', 0), code('nta-bad-name'));
  });

  it('keeps config-file entries (no expiry) apart from run-time ones on reload', () => {
    const s = new NtaSet();
    s.setConfigured(['lab.example']);
    s.add('tmp.example', 0, 100);
    s.setConfigured(['other.example']);
    assert.deepEqual(
      s.list(1).map((e) => [e.name, e.source]),
      [
        ['other.example', 'config'],
        ['tmp.example', 'control'],
      ],
    );
    assert.ok(s.covering('x.other.example', 10 ** 9));
  });
});
