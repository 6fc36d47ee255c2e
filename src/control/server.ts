// The daemon's end of the control socket. Owner-only: the directory is 0700 and the socket 0600,
// because status reveals which peers this host talks to and later commands change state.
import { createConnection, createServer, Server, Socket } from 'node:net';
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../util/errors';
import { Logger, silentLogger } from '../util/log';
import { ControlRequest, ControlResponse, encodeLine, MAX_LINE_BYTES, parseRequest } from './protocol';

export type ControlHandler = (args: Record<string, unknown>) => unknown | Promise<unknown>;

export interface ControlServerOptions {
  path: string;
  handlers: Record<string, ControlHandler>;
  log?: Logger;
  /** At most this many clients at once; more are closed straight away. */
  maxClients?: number;
}

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const log = opts.log ?? silentLogger;
  const maxClients = opts.maxClients ?? 16;
  await prepareSocketPath(opts.path);
  const clients = new Set<Socket>();
  const server: Server = createServer((sock) => {
    if (clients.size >= maxClients) {
      sock.destroy();
      return;
    }
    clients.add(sock);
    sock.on('close', () => clients.delete(sock));
    sock.on('error', () => sock.destroy());
    serveClient(sock, opts.handlers, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => resolve());
  });
  chmodSync(opts.path, 0o600);
  return {
    path: opts.path,
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (existsSync(opts.path)) unlinkSync(opts.path);
    },
  };
}

async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (existsSync(path)) {
    // Anything but a socket at that path is not ours to delete; a socket someone answers on belongs
    // to a running daemon; only a dead one (left by a crash) is replaced.
    if (!lstatSync(path).isSocket()) throw new ConfigError('control-path', `${path} exists and is not a socket`);
    if (await answers(path)) throw new ConfigError('control-in-use', `another oedns daemon is listening on ${path} (stop it, or give --control another path)`);
    unlinkSync(path);
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function serveClient(sock: Socket, handlers: Record<string, ControlHandler>, log: Logger): void {
  let buf = '';
  let busy = Promise.resolve();
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    if (sock.writableEnded) return;
    buf += chunk;
    if (buf.length > MAX_LINE_BYTES) {
      buf = '';
      sock.end(encodeLine({ ok: false, error: 'request too long' }), () => sock.destroy());
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      // Answers go out in request order, one at a time.
      busy = busy.then(async () => {
        const res = await answer(line, handlers, log);
        if (!sock.destroyed) sock.write(encodeLine(res));
      });
    }
  });
}

async function answer(line: string, handlers: Record<string, ControlHandler>, log: Logger): Promise<ControlResponse> {
  const req = parseRequest(line);
  if ('error' in req) return { ok: false, error: req.error };
  const handler = Object.prototype.hasOwnProperty.call(handlers, req.cmd) ? handlers[req.cmd] : undefined;
  if (!handler) return { ok: false, error: `unknown command "${req.cmd}" (known: ${Object.keys(handlers).join(', ')})` };
  try {
    return { ok: true, result: await handler((req as ControlRequest).args ?? {}) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.error({ cmd: req.cmd, err: msg }, 'control command failed');
    return { ok: false, error: msg };
  }
}
