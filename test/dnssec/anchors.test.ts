// Trust anchor files: zone-file DS/DNSKEY lines and BIND's trust-anchors { } syntax.
import assert from 'node:assert/strict';
import { closestAnchor, parseTrustAnchors, ROOT_ANCHORS } from '../../src/dnssec/anchors';
import { ConfigError } from '../../src/util/errors';
import { keyTag } from '../../src/dnssec/records';

const KSK2017 =
  'AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=';

describe('trust anchor files', () => {
  it('reads DS and DNSKEY lines for several owners, with TTL/class, comments and parentheses', () => {
    const a = parseTrustAnchors(`
; root and a private island
. 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
corp.example. IN DNSKEY 257 3 8 ( ${KSK2017.slice(0, 100)}
    ${KSK2017.slice(100)} ) ; KSK
corp.example. DS 1234 13 2 ( 0011223344556677 8899AABBCCDDEEFF0011223344556677 8899AABBCCDDEEFF )
`);
    assert.deepEqual(
      a.map((x) => [x.zone, x.ds.length, x.keys.length]),
      [
        ['', 1, 0],
        ['corp.example', 1, 1],
      ],
    );
    assert.equal(keyTag(a[1]!.keys[0]!), 20326);
    assert.equal(closestAnchor(a, 'www.corp.example')!.zone, 'corp.example');
    assert.equal(closestAnchor(a, 'www.other.example')!.zone, '');
  });

  it('keeps "//" inside a quoted key (base64 has it) while taking out //, # and /* */ comments elsewhere', () => {
    // KSK2017 with a "//" spliced in keeps its length class but is another key: the tag must follow it.
    const withSlashes = `${KSK2017.slice(0, 40)}//${KSK2017.slice(42)}`;
    const a = parseTrustAnchors(`trust-anchors { // the island
  corp.example. static-key 257 3 8 "${withSlashes}"; # trailing
  /* nothing */ };
`);
    assert.equal(a.length, 1);
    const direct = parseTrustAnchors(`corp.example. IN DNSKEY 257 3 8 ${withSlashes}`);
    assert.equal(keyTag(a[0]!.keys[0]!), keyTag(direct[0]!.keys[0]!));
  });

  it("reads BIND's trust-anchors { } with static-key, initial-key, static-ds and initial-ds", () => {
    const a = parseTrustAnchors(`
# bind.keys style
trust-anchors {
  /* the 2017 KSK */
  . initial-key 257 3 8 "${KSK2017.slice(0, 60)}
        ${KSK2017.slice(60)}";
  . initial-ds 38696 8 2 "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A
        4C0FB2B16";
  lab.test. static-ds 4242 13 2 "0011223344556677889900112233445566778899001122334455667788990011";
  lab.test. static-key 257 3 15 "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=";
};`);
    assert.deepEqual(
      a.map((x) => [x.zone, x.ds.map((d) => d.keyTag), x.keys.map(keyTag)]),
      [
        ['', [38696], [20326]],
        ['lab.test', [4242], [3613]],
      ],
    );
    assert.deepEqual(Buffer.from(a[0]!.ds[0]!.digest), Buffer.from(ROOT_ANCHORS[0]!.ds[1]!.digest));
  });

  it('rejects a file with other record types, bad digests or no anchors (ConfigError code trust-anchor)', () => {
    for (const text of ['example. IN A 192.0.2.1', '. DS 1 8 2 XYZ', '', 'trust-anchors { . bogus-kind 1 2 3 "x"; };']) {
      assert.throws(
        () => parseTrustAnchors(text),
        (e: unknown) => e instanceof ConfigError && e.code === 'trust-anchor',
        text,
      );
    }
  });
});
