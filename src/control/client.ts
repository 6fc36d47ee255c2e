// The CLI's end of the control socket: one request, one answer.
import { createConnection } from 'node:net';
import { OednsError } from '../util/errors';
import { type ControlRefusal, type ControlResponse, encodeLine, MAX_LINE_BYTES } from './protocol';

/**
 * `code` says how the request went (control-unreachable, control-timeout, control-protocol,
 * control-refused); for a refusal, `refusal` is the daemon's own reason, undefined from a daemon
 * that sends none.
 */
export class ControlError extends OednsError {
  constructor(
    code: string,
    message: string,
    readonly refusal?: ControlRefusal,
  ) {
    super(code, message);
  }
}

export async function controlRequest(path: string, cmd: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlError('control-timeout', `no answer from the daemon on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (fn: () => void) => {
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(encodeLine({ cmd, args })));
    sock.on('error', (err: NodeJS.ErrnoException) =>
      done(() =>
        reject(
          new ControlError(
            'control-unreachable',
            err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
              ? `no oedns daemon is listening on ${path} (is \`oedns serve\` running? --control sets the path)`
              : `cannot reach ${path}: ${err.message}`,
          ),
        ),
      ),
    );
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 16 * MAX_LINE_BYTES) return done(() => reject(new ControlError('control-protocol', 'answer too long')));
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let res: ControlResponse;
      try {
        res = JSON.parse(buf.slice(0, nl)) as ControlResponse;
      } catch {
        return done(() => reject(new ControlError('control-protocol', 'the daemon sent an answer that is not JSON')));
      }
      done(() => (res.ok ? resolve(res.result) : reject(new ControlError('control-refused', res.error, res.code))));
    });
  });
}
