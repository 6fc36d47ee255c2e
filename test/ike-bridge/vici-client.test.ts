import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LogEvent, ViciClient } from '../../src/ike-bridge/vici-client';
import {
  decodePacket,
  encodePacket,
  frame,
  PacketType,
  splitFrames,
  type ViciInput,
  type ViciPacket,
} from '../../src/ike-bridge/vici-codec';
import { ViciError } from '../../src/util/errors';

/** A scripted VICI daemon: `handle` is called per packet with a way to send packets back. */
interface FakeConn {
  reply(message: ViciInput): void;
  event(name: string, message: ViciInput): void;
  confirm(): void;
  raw(b: Buffer): void;
  sock: Socket;
}
type Handler = (p: ViciPacket, c: FakeConn, connIndex: number) => void;

async function fakeVici(path: string, handle: Handler): Promise<{ server: Server; seen: ViciPacket[]; conns: number }> {
  const state = { server: null as unknown as Server, seen: [] as ViciPacket[], conns: 0 };
  state.server = createServer((sock) => {
    const index = state.conns++;
    let rx: Buffer = Buffer.alloc(0);
    const c: FakeConn = {
      sock,
      raw: (b) => sock.write(b),
      reply: (m) => sock.write(frame(encodePacket({ type: PacketType.CMD_RESPONSE, message: m }))),
      event: (name, m) => sock.write(frame(encodePacket({ type: PacketType.EVENT, name, message: m }))),
      confirm: () => sock.write(frame(encodePacket({ type: PacketType.EVENT_CONFIRM }))),
    };
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      rx = Buffer.concat([rx, d]);
      const r = splitFrames(rx);
      rx = r.rest;
      for (const f of r.frames) {
        const p = decodePacket(f);
        state.seen.push(p);
        handle(p, c, index);
      }
    });
  });
  await new Promise<void>((r) => state.server.listen(path, r));
  return state;
}

describe('vici client (fake daemon on a unix socket)', () => {
  let dir: string;
  let path: string;
  let server: Server | undefined;
  let client: ViciClient | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oedns-vici-'));
    path = join(dir, 'charon.vici');
  });
  afterEach(async () => {
    await client?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    client = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a named command and returns the reply', async () => {
    const f = await fakeVici(path, (p, c) => {
      if (p.type === PacketType.CMD_REQUEST && p.name === 'version') c.reply({ daemon: 'charon', version: '5.9.8' });
    });
    server = f.server;
    client = new ViciClient({ socketPath: path });
    const v = await client.version();
    assert.equal(v.get('version'), '5.9.8');
  });

  it('turns success=no into ViciError carrying errmsg', async () => {
    server = (await fakeVici(path, (p, c) => c.reply({ success: 'no', errmsg: 'invalid value for: auth' }))).server;
    client = new ViciClient({ socketPath: path });
    await assert.rejects(client.loadConn('x', { version: 2 }), (e: unknown) => {
      assert.ok(e instanceof ViciError);
      assert.equal(e.code, 'vici-command-failed');
      assert.match(e.message, /invalid value for: auth/);
      return true;
    });
  });

  it('reports an unknown command', async () => {
    server = (await fakeVici(path, (_p, c) => c.raw(frame(encodePacket({ type: PacketType.CMD_UNKNOWN }))))).server;
    client = new ViciClient({ socketPath: path });
    await assert.rejects(client.request('nope'), { code: 'vici-unknown-command' });
  });

  it('times out a silent daemon, then reconnects for the next command', async () => {
    const f = await fakeVici(path, (p, c, conn) => {
      if (conn > 0) c.reply({ ok: 'yes' });
    });
    server = f.server;
    client = new ViciClient({ socketPath: path, timeoutMs: 200 });
    await assert.rejects(client.stats(), { code: 'vici-timeout' });
    const r = await client.stats();
    assert.equal(r.get('ok'), 'yes');
    assert.equal(f.conns, 2);
  });

  it('collects a streamed command and unregisters after the reply', async () => {
    const f = await fakeVici(path, (p, c) => {
      if (p.type === PacketType.EVENT_REGISTER || p.type === PacketType.EVENT_UNREGISTER) return c.confirm();
      if (p.type === PacketType.CMD_REQUEST && p.name === 'list-sas') {
        c.event('list-sa', {
          'oe-b': {
            uniqueid: '1',
            state: 'ESTABLISHED',
            'remote-id': 'b.example',
            'child-sas': { 'oe-b-1': { name: 'oe-b', state: 'INSTALLED' } },
          },
        });
        c.event('list-sa', { 'oe-c': { uniqueid: '2', state: 'CONNECTING' } });
        c.reply({});
      }
    });
    server = f.server;
    client = new ViciClient({ socketPath: path });
    const sas = await client.listSas();
    assert.deepEqual(
      sas.map((s) => [s.name, s.state, s.remoteId]),
      [
        ['oe-b', 'ESTABLISHED', 'b.example'],
        ['oe-c', 'CONNECTING', undefined],
      ],
    );
    assert.deepEqual(
      sas[0]!.children.map((c) => [c.name, c.state]),
      [['oe-b', 'INSTALLED']],
    );
    assert.deepEqual(
      f.seen.map((p) => [p.type, 'name' in p ? p.name : '']),
      [
        [PacketType.EVENT_REGISTER, 'list-sa'],
        [PacketType.CMD_REQUEST, 'list-sas'],
        [PacketType.EVENT_UNREGISTER, 'list-sa'],
      ],
    );
  });

  it('runs one command at a time, in order', async () => {
    const order: string[] = [];
    server = (
      await fakeVici(path, (p, c) => {
        if (p.type !== PacketType.CMD_REQUEST) return;
        order.push(p.name);
        // Answer late: a client that did not wait would have sent the next command already.
        setTimeout(() => c.reply({ cmd: p.name }), 20);
      })
    ).server;
    client = new ViciClient({ socketPath: path });
    const replies = await Promise.all(['a', 'b', 'c'].map((n) => client!.request(n)));
    assert.deepEqual(
      replies.map((r) => r.get('cmd')),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(order, ['a', 'b', 'c']);
  });

  it('re-registers events after the daemon drops the connection and delivers them typed', async () => {
    const f = await fakeVici(path, (p, c, conn) => {
      if (p.type === PacketType.EVENT_REGISTER) return c.confirm();
      if (p.type === PacketType.CMD_REQUEST && p.name === 'stats') {
        if (conn === 0) return c.sock.destroy();
        // An event in the middle of a command goes to the listeners, not into the reply.
        c.event('log', {
          group: 'IKE',
          level: '1',
          'ikesa-name': 'oe-b',
          'ikesa-uniqueid': '3',
          msg: 'received AUTHENTICATION_FAILED notify error',
        });
        c.reply({ ok: 'yes' });
      }
    });
    server = f.server;
    client = new ViciClient({ socketPath: path, events: ['log'], reconnect: { initialMs: 10, maxMs: 50 } });
    const logs: LogEvent[] = [];
    client.on('log', (e: LogEvent) => logs.push(e));
    await assert.rejects(client.stats(), { code: 'vici-disconnected' });
    assert.equal((await client.stats()).get('ok'), 'yes');
    assert.deepEqual(logs, [
      { group: 'IKE', level: 1, ikeName: 'oe-b', ikeUniqueId: '3', msg: 'received AUTHENTICATION_FAILED notify error' },
    ]);
    assert.equal(f.seen.filter((p) => p.type === PacketType.EVENT_REGISTER).length, 2);
  });

  it('waits for the daemon to appear (restart) within the deadline', async () => {
    client = new ViciClient({ socketPath: path, timeoutMs: 3000, reconnect: { initialMs: 20, maxMs: 100 } });
    const pending = client.version();
    await new Promise((r) => setTimeout(r, 150));
    server = (await fakeVici(path, (_p, c) => c.reply({ daemon: 'charon' }))).server;
    assert.equal((await pending).get('daemon'), 'charon');
  });

  it('fails with vici-connect when no daemon listens', async () => {
    client = new ViciClient({ socketPath: path, reconnect: false });
    await assert.rejects(client.version(), { code: 'vici-connect' });
  });

  it('drops a connection that sends garbage, failing the command with a ViciError', async () => {
    server = (await fakeVici(path, (_p, c) => c.raw(Buffer.from([0, 0, 0, 2, 1, 9])))).server;
    client = new ViciClient({ socketPath: path, reconnect: false });
    await assert.rejects(client.version(), (e: unknown) => e instanceof ViciError && e.code === 'vici-malformed');
  });
});
