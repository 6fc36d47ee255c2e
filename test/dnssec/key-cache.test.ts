// The key cache: entries live until their lifetime (TTL / signature expiry) ends, and the cache is bounded.
import assert from 'node:assert/strict';
import { KeyCache } from '../../src/dnssec/key-cache';

describe('key cache', () => {
  it('forgets an entry when its lifetime ends', () => {
    const c = new KeyCache<string>({ maxEntries: 10, badTtl: 30, maxTtl: 86400 });
    c.set('example.', 'keys', 300, 1000);
    assert.equal(c.get('example.', 1299), 'keys');
    assert.equal(c.get('example.', 1300), undefined);
  });

  it('caps lifetimes at maxTtl and ignores zero lifetimes', () => {
    const c = new KeyCache<string>({ maxEntries: 10, badTtl: 30, maxTtl: 60 });
    c.set('a', 'x', 86400, 0);
    assert.equal(c.get('a', 61), undefined);
    c.set('b', 'y', 0, 0);
    assert.equal(c.size, 0);
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const c = new KeyCache<number>({ maxEntries: 3, badTtl: 30, maxTtl: 86400 });
    for (let i = 0; i < 3; i++) c.set(`z${i}`, i, 100, 0);
    assert.equal(c.get('z0', 1), 0); // z0 is now the most recently used
    c.set('z3', 3, 100, 1);
    assert.equal(c.size, 3);
    assert.equal(c.get('z1', 2), undefined);
    assert.equal(c.get('z0', 2), 0);
  });
});
