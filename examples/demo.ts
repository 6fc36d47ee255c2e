// `npm run demo`: the product in one screen. Two hosts in network namespaces (alice 192.0.2.1,
// bob 192.0.2.2), one strongSwan charon each, BIND serving a DNSSEC-signed zone in which both publish
// their address and IPSECKEY, and oedns as each host's resolver. On alice, `ping bob.oe.test` looks
// the name up the ordinary way; oedns validates bob's address and key, installs bob into charon and
// starts IKE before it answers, so the ping's first packet is already ESP. tcpdump shows the wire.
// Everything is torn down at the end (also on Ctrl-C). Needs root (network namespaces).
import { oeLabUnavailable, oeLabUp, type OeLab } from '../test/support/oe-lab';
import { type OednsHost, startOednsOn } from '../test/support/oe-hosts';
import { watchWire } from '../test/support/lab';

const say = (s: string): void => void process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`);
const show = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

async function main(): Promise<number> {
  const why = oeLabUnavailable();
  if (why) {
    show(`demo needs: ${why}`);
    return 2;
  }
  let oe: OeLab | undefined;
  const hosts: OednsHost[] = [];
  const down = async (): Promise<void> => {
    for (const h of hosts) await h.stop();
    await oe?.down();
  };
  process.once('SIGINT', () => void down().then(() => process.exit(130)));
  try {
    say('bringing up two hosts, two charons, and a signed zone (oe.test) served by named');
    oe = await oeLabUp();
    show(`alice.oe.test = ${oe.lab.a.addr} (netns ${oe.lab.a.ns}), bob.oe.test = ${oe.lab.b.addr} (netns ${oe.lab.b.ns})`);
    show(`bob publishes: bob.oe.test. IN IPSECKEY ${oe.keys.b.rdata.slice(0, 60)}...`);
    say('starting oedns as the resolver of each host (127.0.0.1:53 inside the host)');
    hosts.push(await startOednsOn(oe, 'b'));
    const alice = await startOednsOn(oe, 'a', { initiate: true });
    hosts.push(alice);
    // Bob's side learns alice the same way (so both ends authenticate each other).
    await oe.lab.exec(oe.lab.b, ['getent', 'hosts', oe.names.a]);

    say(`on alice: tcpdump on ${oe.lab.a.iface}, then: ping -c 3 bob.oe.test`);
    const { wire, result: ping } = await watchWire(oe.lab, () =>
      oe!.lab.exec(oe!.lab.a, ['ping', '-c', '3', '-i', '0.3', '-W', '2', oe!.names.b], 30_000),
    );
    show(ping.stdout.trim());
    say('what crossed the wire (tcpdump on alice): IKE, then only ESP');
    show(wire.text.trim());
    say('oedns status on alice');
    show((await alice.cli(['status'])).stdout);
    const clear = wire.clearIcmp > 0;
    say(ping.code === 0 && !clear ? 'OK: the ping went through, and only as ESP' : 'FAILED: see above');
    return ping.code === 0 && !clear ? 0 : 1;
  } finally {
    say('tearing everything down');
    await down();
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`demo failed: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
