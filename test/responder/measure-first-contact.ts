// Measures IKE-queries-DNS first contact in the two-host lab and prints the figures (not a test: no
// timing is asserted anywhere). Bob runs the responder in this process (catch-all hook on his charon,
// strongswan engine, validator over the lab's named); alice initiates with a strongswan engine. Per
// round: alice's initiate → refused → bob's event → lookup+validation → install → bob initiates back →
// SA up at alice. Then bob forgets alice, so the next round is a first contact again.
//
//   npx tsc -p . && node dist/test/responder/measure-first-contact.js [rounds]
import { readFileSync } from 'node:fs';
import { createPeerResolver, validatingLookup } from '../../src/autosp/resolve';
import { parseTrustAnchors } from '../../src/dnssec/anchors';
import { netQuery } from '../../src/resolver/net-query';
import { createValidator } from '../../src/dnssec/validator';
import type { Peer } from '../../src/ike-bridge/engine';
import { StrongswanEngine } from '../../src/ike-bridge/strongswan';
import { type UpdownEvent, ViciClient } from '../../src/ike-bridge/vici-client';
import { PeerSync } from '../../src/peers';
import { defaultPolicy } from '../../src/policy';
import { ResponderService } from '../../src/responder/service';
import { StrongswanCatchAll } from '../../src/responder/strongswan-catchall';
import { type HostKey, oeLabUnavailable, oeLabUp } from '../support/oe-lab';

function keyOf(h: HostKey) {
  const f = h.rdata.split(/\s+/);
  return { precedence: Number(f[0]), algorithm: Number(f[2]), publicKey: Buffer.from(f[4]!, 'base64') };
}
const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, min ${s[0]!.toFixed(1)}, max ${s[s.length - 1]!.toFixed(1)} (n=${s.length})`;
};

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 10);
  const why = oeLabUnavailable();
  if (why) {
    console.log(`cannot measure: ${why}`);
    return;
  }
  const oe = await oeLabUp();
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const rawA = new ViciClient({ socketPath: oe.lab.a.vici, events: ['ike-updown'] });
    await rawA.connect();
    closers.push(() => rawA.close());
    const alice = new StrongswanEngine({
      socketPath: oe.lab.a.vici,
      identity: { id: oe.names.a, privateKey: readFileSync(oe.keys.a.privateKeyFile, 'utf8') },
      trap: false,
    });
    closers.push(() => alice.close());
    const bobEngine = new StrongswanEngine({
      socketPath: oe.lab.b.vici,
      identity: { id: oe.names.b, privateKey: readFileSync(oe.keys.b.privateKeyFile, 'utf8') },
      trap: false,
    });
    const sync = new PeerSync({ engine: bobEngine });
    closers.push(async () => (await sync.close(), await bobEngine.close()));
    const anchors = parseTrustAnchors(readFileSync(oe.anchorFile, 'utf8'));
    const query = netQuery({ host: oe.named.address, port: oe.named.port, timeoutMs: 1000 });

    for (const mode of ['cold', 'warm'] as const) {
      // cold: a fresh validator each round (DNSKEY chain fetched again); warm: one validator, keys cached.
      const shared = createValidator({ anchors, query });
      const phases: Record<string, number[]> = { refused: [], event: [], lookup: [], installed: [], up: [] };
      for (let i = 0; i < rounds; i++) {
        const validator = mode === 'cold' ? createValidator({ anchors, query }) : shared;
        const resolve = createPeerResolver({ resolver: validatingLookup(query, validator), policy: defaultPolicy() });
        const t: Record<string, number> = {};
        const hook = new StrongswanCatchAll({ socketPath: oe.lab.b.vici, localId: oe.names.b });
        hook.events.on('initiator', () => (t.event ??= performance.now()));
        const svc = new ResponderService({
          hook,
          sync,
          allow: [oe.names.a],
          limits: { holdDownMs: 0 },
          resolvePeer: async (n) => {
            const r = await resolve(n);
            t.lookup = performance.now();
            return r;
          },
        });
        await svc.start();
        const upSeen = new Promise<void>((res) => {
          const on = (e: UpdownEvent): void => {
            if (e.up && e.sas.some((s) => s.name === `oe-${oe.names.b}`)) {
              t.up = performance.now();
              rawA.off('ike-updown', on);
              res();
            }
          };
          rawA.on('ike-updown', on);
        });
        const bobPeer: Peer = {
          name: oe.names.b,
          addresses: [oe.lab.b.addr],
          auth: { kind: 'pubkey', keys: [keyOf(oe.keys.b)] },
          gateway: { kind: 'none' },
          level: 'private',
          expiresAt: 0,
          owner: 'autosp',
          initiate: false,
        };
        await alice.install(bobPeer);
        const handled = new Promise<void>((res) => {
          const orig = svc.handle.bind(svc);
          svc.handle = (x) => orig(x).then((r) => ((t.installed = performance.now()), res(), r));
        });
        hook.events.removeAllListeners('initiator');
        hook.events.on('initiator', (x) => {
          t.event ??= performance.now();
          void svc.handle(x);
        });
        const t0 = performance.now();
        await alice.initiate(oe.names.b).catch(() => (t.refused = performance.now()));
        await Promise.race([Promise.all([upSeen, handled]), new Promise((r) => setTimeout(r, 5000))]);
        for (const k of Object.keys(phases)) if (t[k] !== undefined) phases[k]!.push(t[k] - t0);
        await svc.close();
        await sync.release(oe.names.a, 'responder');
        await alice.remove(oe.names.b);
      }
      console.log(`first contact, ${mode} validator (ms after alice's initiate):`);
      console.log(`  alice's initiate refused:        ${stats(phases.refused!)}`);
      console.log(`  bob's hook reports alice:        ${stats(phases.event!)}`);
      console.log(`  lookup + validation done:        ${stats(phases.lookup!)}`);
      console.log(`  installed + bob's initiate back: ${stats(phases.installed!)}`);
      console.log(`  SA up at alice:                  ${stats(phases.up!)}`);
    }
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await oe.down();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
