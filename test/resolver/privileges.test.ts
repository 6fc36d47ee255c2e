import assert from 'node:assert/strict';
import { lookupUser } from '../../src/resolver/privileges';

describe('resolver/privileges', () => {
  it('finds uid and gid of a user in passwd text', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
    assert.deepEqual(lookupUser(passwd, 'nobody'), { uid: 65534, gid: 65534 });
    assert.equal(lookupUser(passwd, 'nob'), undefined);
  });
});
