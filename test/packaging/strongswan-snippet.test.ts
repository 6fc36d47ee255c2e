// The strongSwan snippet install.sh writes (packaging/strongswan-vici.conf), read by a real charon laid
// out as Debian's strongswan.conf does (plugin files first, then strongswan.d/*.conf): its VICI socket
// gets the group, and the updown plugin, through which a member of that group could have charon run
// any command as root, is not loaded. charon runs in its own network and mount namespaces.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ViciClient } from '../../src/ike-bridge/vici-client';
import { list } from '../../src/ike-bridge/vici-codec';
import { labUnavailable } from '../support/lab';
import { stopChild, until } from '../support/wait';

const SNIPPET = resolve(__dirname, '../../../packaging/strongswan-vici.conf');
const CHARON = process.env.CHARON ?? '/usr/lib/ipsec/charon';

describe('packaging: the strongSwan snippet in a real charon', function () {
  this.timeout(30_000);
  before(function () {
    if (labUnavailable() || !existsSync('/etc/strongswan.d/charon/updown.conf')) this.skip();
  });

  it('gives the VICI socket the group and leaves the updown plugin unloaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oedns-snippet-'));
    mkdirSync(join(dir, 'run'));
    const vici = join(dir, 'charon.vici');
    // nogroup stands in for vici: it exists on every Debian system and the test adds no group.
    writeFileSync(join(dir, 'oedns-vici.conf'), readFileSync(SNIPPET, 'utf8').replaceAll('@VICI_GROUP@', 'nogroup'));
    writeFileSync(
      join(dir, 'strongswan.conf'),
      [
        'charon {',
        '  load_modular = yes',
        '  plugins {',
        '    include /etc/strongswan.d/charon/*.conf',
        `    vici { socket = unix://${vici} }`,
        '    kernel-libipsec { load = no }',
        '  }',
        '}',
        `include ${join(dir, 'oedns-vici.conf')}`,
        '',
      ].join('\n'),
    );
    const proc = spawn(
      'unshare',
      ['-n', '-m', 'sh', '-c', `mount --bind '${dir}/run' /run && STRONGSWAN_CONF='${dir}/strongswan.conf' exec '${CHARON}'`],
      { stdio: 'ignore' },
    );
    const exited = new Promise((r) => proc.once('exit', r));
    const client = new ViciClient({ socketPath: vici, timeoutMs: 5000, reconnect: false });
    try {
      await until('charon VICI socket', () => existsSync(vici), 15_000);
      const stats = await client.request('stats');
      const plugins = list(stats, 'plugins');
      assert.ok(plugins.includes('vici') && plugins.includes('pubkey'), plugins.join(' '));
      assert.ok(!plugins.includes('updown'), `updown is loaded: ${plugins.join(' ')}`);
      const st = statSync(vici);
      const nogroup = Number(/^nogroup:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))![1]);
      assert.equal(st.gid, nogroup, 'the group from the snippet');
      assert.equal(st.mode & 0o777, 0o770);
    } finally {
      await client.close().catch(() => undefined);
      await stopChild(proc, exited);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
