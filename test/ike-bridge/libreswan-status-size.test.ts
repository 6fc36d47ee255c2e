// A host that drops many addresses has as many pluto conns (one drop shunt per address, with serve's
// bound at 65,536): `whack --status` then prints megabytes. list() (serve's leftovers at start) and
// reconcile read that output whole; cut short, they learn nothing of what pluto holds.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LibreswanEngine } from '../../src/ike-bridge/libreswan';

/** One drop-shunt conn as pluto 4.10 prints it: the topology, the policy, and its other ~16 lines. */
function shuntConn(i: number): string {
  const addr = `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  const c = `000 "oedns-drop-h${i}.oe.test@${addr}":`;
  const filler = Array.from({ length: 16 }, (_, k) => `${c}   line${k}: ${'x'.repeat(70)};`);
  return [
    `${c} 0.0.0.0/0===192.0.2.1[@a.oe.test,+S?C]...${addr}[@h${i}.oe.test,+S?C]; prospective erouted; eroute owner: #0`,
    `${c}   policy: IKEv2+AUTH_NEVER+TUNNEL+DROP+NEVER_NEGOTIATE;`,
    ...filler,
  ].join('\n');
}

describe('ike-bridge/libreswan: whack --status of a host with many drop shunts', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oedns-ls-size-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('list() reads a status larger than 1 MiB whole (every leftover shunt is held at start)', async () => {
    const n = 1000; // about 1.8 MB of status: far below the 65,536 shunts serve may hold
    const status = join(dir, 'status');
    writeFileSync(status, Array.from({ length: n }, (_, i) => shuntConn(i)).join('\n') + '\n');
    const whack = join(dir, 'whack');
    writeFileSync(whack, `#!/bin/sh\ncase "$*" in *--status*) cat '${status}';; esac\nexit 0\n`);
    chmodSync(whack, 0o755);
    const e = new LibreswanEngine({ localId: 'a.oe.test', localAddr: '192.0.2.1', whack });
    const listed = await e.list();
    assert.equal(listed.filter((p) => p.shunt).length, n);
  });
});
