// peersInStatus reads our peer conns back from `whack --status` (Libreswan 4.10 output, as captured
// from the pluto lab in test/ike-bridge/libreswan-pluto): after an oedns restart it is how serve learns
// which addresses the previous process protected.
import assert from 'node:assert/strict';
import { peersInStatus } from '../../src/ike-bridge/libreswan-status';

const STATUS = `000 "oe-b.oe.test": 192.0.2.1[@a.oe.test,+S?C]...192.0.2.2[@b.oe.test,+S?C]; prospective erouted; eroute owner: #0
000 "oe-b.oe.test":     oriented; my_ip=unset; their_ip=unset; my_updown=ipsec _updown;
000 "oe-b.oe.test":   policy: IKEv2+RSASIG+RSASIG_v1_5+ENCRYPT+TUNNEL+PFS+ESN_NO+ESN_YES;
000 "oe-g.oe.test": 192.0.2.1[@a.oe.test,+S?C]...192.0.2.2[@g.oe.test,+S?C]===198.51.100.7/32; prospective erouted; eroute owner: #0
000 "oe-g.oe.test":   policy: IKEv2+RSASIG+RSASIG_v1_5+ENCRYPT+TUNNEL+PFS+ESN_NO+ESN_YES;
000 "oe-two.oe.test/0": 192.0.2.1[ID_NULL,+S?C]...192.0.2.7[ID_NULL,+S?C]; prospective erouted; eroute owner: #0
000 "oe-two.oe.test/0":   policy: IKEv2+AUTH_NULL+ENCRYPT+TUNNEL+PFS+ESN_NO+ESN_YES;
000 "oe-two.oe.test/1": 192.0.2.1[ID_NULL,+S?C]...2001:db8::8[ID_NULL,+S?C]; prospective erouted; eroute owner: #0
000 "oe-two.oe.test/1":   policy: IKEv2+AUTH_NULL+ENCRYPT+TUNNEL+PFS+ESN_NO+ESN_YES;
000 "oe-c.oe.test": 192.0.2.1[@a.oe.test,+S?C]...192.0.2.7[@c.oe.test,+S?C]; prospective erouted; eroute owner: #0
000 "oe-c.oe.test":   policy: IKEv2+AUTH_NEVER+TUNNEL+PASS+NEVER_NEGOTIATE;
000 "oedns-drop-gone.oe.test@192.0.2.9": 0.0.0.0/0===192.0.2.1[@a.oe.test,+S?C]...192.0.2.9[@gone.oe.test,+S?C]; prospective erouted; eroute owner: #0
000 "oedns-drop-gone.oe.test@192.0.2.9":   policy: IKEv2+AUTH_NEVER+TUNNEL+DROP+NEVER_NEGOTIATE;
000 "someone-else": 192.0.2.1...192.0.2.50; routed; eroute owner: #0
`;

describe('ike-bridge/libreswan-status: our peer conns read back from whack --status', () => {
  it('lists each peer once with the addresses its conns protect (the gateway conn: the inner address)', () => {
    assert.deepEqual(peersInStatus(STATUS), [
      { name: 'b.oe.test', conns: ['oe-b.oe.test'], addresses: ['192.0.2.2'], authenticated: true, shunt: false },
      { name: 'g.oe.test', conns: ['oe-g.oe.test'], addresses: ['198.51.100.7'], authenticated: true, shunt: false },
      {
        name: 'two.oe.test',
        conns: ['oe-two.oe.test/0', 'oe-two.oe.test/1'],
        addresses: ['192.0.2.7', '2001:db8::8'],
        authenticated: false,
        shunt: false,
      },
      { name: 'c.oe.test', conns: ['oe-c.oe.test'], addresses: ['192.0.2.7'], authenticated: false, shunt: true },
    ]);
  });

  it('leaves out what it cannot read as a conn we wrote: a subnet client, a mapped address, a line without a right end', () => {
    const odd = [
      '000 "oe-net.oe.test": 192.0.2.1[@a]...192.0.2.2[@net]===198.51.100.0/24; routed; eroute owner: #0',
      '000 "oe-mapped.oe.test": 192.0.2.1[@a]...::ffff:192.0.2.3[@mapped]; routed; eroute owner: #0',
      '000 "oe-half.oe.test": 192.0.2.1[@a]; routed',
      '000 "oe-text.oe.test":   my_updown=ipsec _updown...192.0.2.4; oriented',
    ].join('\n');
    assert.deepEqual(peersInStatus(odd), []);
  });

  it('a peer with one NULL conn among RSA ones does not count as authenticated', () => {
    const mixed = `000 "oe-m.oe.test/0": 192.0.2.1[@a]...192.0.2.5[@m]; routed; eroute owner: #0
000 "oe-m.oe.test/0":   policy: IKEv2+RSASIG+ENCRYPT+TUNNEL;
000 "oe-m.oe.test/1": 192.0.2.1[ID_NULL]...192.0.2.6[ID_NULL]; routed; eroute owner: #0
000 "oe-m.oe.test/1":   policy: IKEv2+AUTH_NULL+ENCRYPT+TUNNEL;
`;
    assert.deepEqual(
      peersInStatus(mixed).map((p) => [p.name, p.addresses, p.authenticated]),
      [['m.oe.test', ['192.0.2.5', '192.0.2.6'], false]],
    );
  });
});
