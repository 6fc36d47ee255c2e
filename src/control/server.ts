// The daemon's end of the control socket. Owner-only: the socket is 0600 in a directory only we can
// write, because status reveals which peers this host talks to and other commands change state
// (flush, reload, negative trust anchors). The directory is one we create, or one that already
// belongs to us and that nobody else can write or swap (checked up to /, like OpenSSH's safe_path):
// otherwise another local user could put their own socket there and answer our clients.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, lstatSync, mkdirSync, type Stats, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../util/errors';
import { type Logger, silentLogger } from '../util/log';
import { type ControlResponse, encodeLine, MAX_LINE_BYTES, parseRequest } from './protocol';

/** Returns the reply's data, or a promise of it. */
export type ControlHandler = (args: Record<string, unknown>) => unknown;

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
  // Absolute first: the directories above a relative path's directory are checked too (dirname of
  // 'ctl/control.sock' stops at '.', above which anyone might own a directory).
  const path = resolve(opts.path);
  await prepareSocketPath(path);
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
  await new Promise<void>((done, reject) => {
    server.once('error', reject);
    server.listen(path, () => done());
  });
  chmodSync(path, 0o600);
  return {
    path,
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((done) => server.close(() => done()));
      if (existsSync(path)) unlinkSync(path);
    },
  };
}

type Lstat = (path: string) => Pick<Stats, 'uid' | 'mode' | 'isDirectory' | 'isSymbolicLink'>;

/**
 * Why `dir` is not safe for our socket, or undefined when it is: it must be a real directory (not a
 * symlink) owned by `uid`, writable by nobody else; every directory above it must be owned by root or
 * `uid` and, if others may write it, sticky (so nobody can rename our directory away).
 */
export function unsafeSocketDir(dir: string, uid: number, lstat: Lstat = lstatSync): string | undefined {
  dir = resolve(dir);
  const st = lstat(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} belongs to uid ${st.uid}, not to us (uid ${uid})`;
  if (st.mode & 0o022) return `${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8)})`;
  for (let d = dirname(dir), prev = dir; d !== prev; prev = d, d = dirname(d)) {
    const a = lstat(d);
    if (a.isSymbolicLink()) return `${d} is a symbolic link`;
    if (a.uid !== 0 && a.uid !== uid) return `${d} belongs to uid ${a.uid}, who could replace ${dir}`;
    if (a.mode & 0o022 && !(a.mode & 0o1000)) return `${d} is writable by others and not sticky`;
  }
  return undefined;
}

async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  const uid = process.getuid?.() ?? 0;
  if (!existsSync(dir)) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      throw new ConfigError(
        'control-path',
        `cannot create the control socket directory ${dir}: ${(e as Error).message} (give --control a path in a directory of your own, or 'none')`,
      );
    }
    chmodSync(dir, 0o700);
  }
  const unsafe = unsafeSocketDir(dir, uid);
  if (unsafe)
    throw new ConfigError(
      'control-dir-unsafe',
      `control socket directory not safe: ${unsafe} (give --control a path in a directory of our own, or 'none')`,
    );
  if (existsSync(path)) {
    // Anything but a socket at that path is not ours to delete; a socket someone answers on belongs
    // to a running daemon; only a dead one (left by a crash) is replaced.
    if (!lstatSync(path).isSocket()) throw new ConfigError('control-path', `${path} exists and is not a socket`);
    if (await answers(path))
      throw new ConfigError('control-in-use', `another oedns daemon is listening on ${path} (stop it, or give --control another path)`);
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
      sock.end(encodeLine({ ok: false, code: 'too-long', error: 'request too long' }), () => sock.destroy());
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
  if ('error' in req) return { ok: false, code: 'bad-request', error: req.error };
  const handler = Object.prototype.hasOwnProperty.call(handlers, req.cmd) ? handlers[req.cmd] : undefined;
  if (!handler)
    return { ok: false, code: 'unknown-command', error: `unknown command "${req.cmd}" (known: ${Object.keys(handlers).join(', ')})` };
  try {
    return { ok: true, result: await handler(req.args ?? {}) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.error({ cmd: req.cmd, err: msg }, 'control command failed');
    return { ok: false, code: 'failed', error: msg };
  }
}
