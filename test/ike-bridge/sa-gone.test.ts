// charon's replies to `terminate` for an IKE SA that is already gone count as done (review v13: the
// reply "no matching SAs to terminate found" did not match, so a rolled key's later SAs were never ended).
import assert from 'node:assert/strict';
import { SA_GONE } from '../../src/ike-bridge/strongswan-conns';

describe('ike-bridge/strongswan: an IKE SA already gone', () => {
  it("matches charon 5.9's replies for an unknown ike_id, not other failures", () => {
    for (const msg of ['no matching SAs to terminate found', 'IKE_SA not found', 'no IKE_SA named x']) assert.match(msg, SA_GONE, msg);
    for (const msg of ['terminating SA failed', 'timeout', 'unable to terminate']) assert.doesNotMatch(msg, SA_GONE, msg);
  });
});
