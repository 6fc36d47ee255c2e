// The in-process daemons of the tests give their peers documentation addresses (192.0.2.0/24,
// 2001:db8::/32), and on the lab machines eth0 itself is 192.0.2.2/24 with router 192.0.2.1: the
// host's real reserved set (src/daemon/reserved-addresses) would refuse bob for being this host.
// These tests reserve only what they say; test/peers and test/attack/capture-address-claim test the
// reserved set itself.
export function reservedOnly(...addresses: string[]): () => ReadonlySet<string> {
  const set = new Set(addresses);
  return () => set;
}
