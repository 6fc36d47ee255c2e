// The local control protocol between `oedns status` (and friends) and a running daemon:
// one JSON object per line each way. Kept tiny and pure so both ends share the framing rules.
// Layering: src/control may import src/ike-bridge, the peer model (src/peers/model.ts) and src/util.

/** A request line is at most this long; anything longer is a broken or hostile client. */
export const MAX_LINE_BYTES = 64 * 1024;

export interface ControlRequest {
  cmd: string;
  args?: Record<string, unknown>;
}

/**
 * Why the daemon refused a request, for a client to act on (the `error` text is for people and may
 * change): `unknown-command` lets a client tell a daemon without its command (an older or other
 * build) from one whose command failed, without reading the text.
 */
export type ControlRefusal = 'bad-request' | 'too-long' | 'unknown-command' | 'failed';

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string; code?: ControlRefusal };

export function parseRequest(line: string): ControlRequest | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: 'request is not valid JSON' };
  }
  if (typeof v !== 'object' || v === null || typeof (v as { cmd?: unknown }).cmd !== 'string') {
    return { error: 'request must be an object with a string "cmd"' };
  }
  const args = (v as { args?: unknown }).args;
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    return { error: '"args" must be an object' };
  }
  return { cmd: (v as { cmd: string }).cmd, args: args as Record<string, unknown> | undefined };
}

export function encodeLine(v: ControlRequest | ControlResponse): string {
  return `${JSON.stringify(v)}\n`;
}

/**
 * Default socket path. root: /run/oedns; a daemon under systemd: its RuntimeDirectory (/run/oedns);
 * another user: an oedns directory in their XDG runtime directory. Never a guessable path in a
 * world-writable directory such as /tmp, where another user could create it first.
 */
export function defaultControlPath(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.OEDNS_CONTROL) return env.OEDNS_CONTROL;
  if (uid === 0) return SYSTEM_CONTROL_PATH;
  const runtime = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (runtime) return `${runtime}/control.sock`;
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/oedns/control.sock`;
  // The system daemon's socket: a client may try it; a daemon can only serve it if /run/oedns is its own.
  return SYSTEM_CONTROL_PATH;
}

export const SYSTEM_CONTROL_PATH = '/run/oedns/control.sock';
