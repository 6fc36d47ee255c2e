// Attack harness, KeyTrap (CVE-2023-50387; issue 10, items 5 and 8): trap.test is properly delegated
// and signed (by our own signer, test/replay, with seeded Ed25519 keys) and served by named; its key
// set holds 256 more keys sharing the ZSK's key tag and every RRset carries 256 RRSIGs with that tag
// that verify with nothing. Trying every key on every signature is 65 000 verifications per RRset.
// See fixture.ts for what every case asserts; here the lookup also has a wall-time bound.
import { attackSuite } from './fixture';

attackSuite(
  'attacks: KeyTrap (real named serving a zone of colliding keys)',
  (attack) => {
    attack({
      name: 'KeyTrap',
      qname: 'www.trap.test',
      qtype: 'A',
      // The zone is the attack: named serves it as it is.
      attack: (x) => x.forward(),
      lookupVerdicts: ['bogus', 'indeterminate'],
      lookupMaxMs: 3000,
      serveRcodes: [2],
    });
  },
  { keytrap: { keys: 256, sigs: 256, genuine: false }, timeoutMs: 300_000 },
);
