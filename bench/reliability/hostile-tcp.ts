// Broken TCP clients for the fuzz scenario (RFC 7766 framing abused): short and empty frames, lengths
// that lie in both directions, garbage streams, resets before the answer, pipelined bursts that must
// all be answered, half-closes that must be answered, clients that never read their answers, and
// clients that start a frame and go silent. Each stream reports what the server did with it.
import { connect, type Socket } from 'node:net';
import { FrameReader, frame } from '../../src/resolver/framing';
import { decodeHeader } from '../../src/wire/message';
import { queryBytes } from './dns-client';
import type { Rng } from '../../test/support/rng';

export const STREAM_KINDS = [
  'short-frame',
  'zero-length',
  'lying-long',
  'lying-short',
  'garbage',
  'huge-frame',
  'reset-before-answer',
  'pipelined',
  'half-close',
  'non-reading',
  'stalled-frame',
  'slowloris',
] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

export interface StreamResult {
  kind: StreamKind;
  /** Well-formed answers received. */
  answers: number;
  /** Answers the client could rightly expect (pipelined, half-close). */
  expected: number;
  /** Frames that did not decode as a DNS response header. */
  malformed: number;
  /** The server closed the connection (FIN or RST) before we did. */
  closedByServer: boolean;
  ms: number;
}

export interface StreamOptions {
  port: number;
  rng: Rng;
  /** Names that resolve (cache hits once warm). */
  names: readonly string[];
  /** How long clients that stall or never read keep their connection. */
  holdMs: number;
  /** Queries a non-reading client writes. */
  unreadQueries: number;
  /** A name with a large answer (several KiB): what a non-reading client asks for. */
  bigName: string;
  /** How long a stalled half-frame waits to be closed (longer than the daemon's idle timeout). */
  stallMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function runStream(kind: StreamKind, o: StreamOptions): Promise<StreamResult> {
  const r = o.rng;
  const q = (): Buffer => Buffer.from(queryBytes(r.int(65536), r.pick(o.names), 1));
  return new Promise((resolve) => {
    const t0 = Date.now();
    const res: StreamResult = { kind, answers: 0, expected: 0, malformed: 0, closedByServer: false, ms: 0 };
    const sock: Socket = connect({ host: '127.0.0.1', port: o.port, allowHalfOpen: true });
    const reader = new FrameReader();
    let done = false;
    let weClosed = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      weClosed = true;
      sock.destroy();
      res.ms = Date.now() - t0;
      resolve(res);
    };
    // Every stream ends: its own plan, or this hard deadline.
    const deadline = setTimeout(finish, Math.max(o.holdMs, o.stallMs) + 10_000);
    sock.on('data', (c: Buffer) => {
      for (const f of reader.push(c)) {
        try {
          if (f.length >= 12 && decodeHeader(f).qr) res.answers++;
          else res.malformed++;
        } catch {
          res.malformed++;
        }
      }
      if (res.expected > 0 && res.answers >= res.expected && (kind === 'pipelined' || kind === 'half-close')) finish();
    });
    sock.on('end', () => {
      if (!weClosed) res.closedByServer = true;
      if (kind !== 'non-reading') finish();
    });
    sock.on('close', () => {
      if (!weClosed) res.closedByServer = true;
      finish();
    });
    sock.on('error', () => {
      if (!weClosed) res.closedByServer = true;
      finish();
    });
    sock.on('connect', () => {
      void (async () => {
        switch (kind) {
          case 'short-frame':
            sock.end(Buffer.from([r.int(256)]));
            break;
          case 'zero-length':
            sock.end(Buffer.from([0, 0]));
            break;
          case 'lying-long': {
            const body = q();
            const b = Buffer.alloc(2);
            b.writeUInt16BE(body.length + 1 + r.int(2000));
            sock.end(Buffer.concat([b, body]));
            break;
          }
          case 'lying-short': {
            const body = q();
            const b = Buffer.alloc(2);
            b.writeUInt16BE(Math.max(0, body.length - 1 - r.int(body.length)));
            sock.end(Buffer.concat([b, body, q()]));
            break;
          }
          case 'garbage':
            sock.end(r.bytes(1 + r.int(4096)));
            break;
          case 'huge-frame':
            sock.end(Buffer.concat([Buffer.from([0xff, 0xff]), r.bytes(65535)]));
            break;
          case 'reset-before-answer':
            sock.write(frame(q()));
            sock.resetAndDestroy();
            weClosed = true;
            finish();
            break;
          case 'pipelined': {
            const n = 10 + r.int(60);
            res.expected = n;
            sock.write(Buffer.concat(Array.from({ length: n }, () => frame(q()))));
            break;
          }
          case 'half-close':
            res.expected = 1;
            sock.end(frame(q()));
            break;
          case 'non-reading': {
            // Queries with large cached answers, never read: more than the kernel's socket buffers
            // hold, so only the daemon's own back-pressure keeps its memory bounded.
            sock.pause();
            const burst = Buffer.concat(
              Array.from({ length: Math.min(o.unreadQueries, 2000) }, () => frame(queryBytes(r.int(65536), o.bigName, 45, true))),
            );
            for (let sent = 0; sent < o.unreadQueries; sent += 2000) {
              // A server that stops reading (back-pressure) leaves our writes unsent: stop pushing then.
              if (
                !sock.write(burst) &&
                !(await Promise.race([new Promise((w) => sock.once('drain', () => w(true))), sleep(o.holdMs).then(() => false)]))
              )
                break;
              if (done) return;
            }
            await sleep(o.holdMs);
            finish();
            break;
          }
          case 'slowloris': {
            // A frame trickled a byte at a time, each byte well inside the idle timeout.
            const bytes = Buffer.concat([frame(q()), frame(q())]);
            res.expected = 2;
            const step = Math.max(50, Math.floor(o.holdMs / bytes.length));
            for (let i = 0; i < bytes.length && !done; i++) {
              sock.write(bytes.subarray(i, i + 1));
              await sleep(step);
            }
            // Its two answers may still be on the way on a busy daemon.
            for (let w = 0; w < 50 && !done && res.answers < 2; w++) await sleep(100);
            finish();
            break;
          }
          case 'stalled-frame': {
            // Half a frame, then silence: the idle timeout must end it.
            const body = q();
            sock.write(frame(body).subarray(0, 2 + r.int(body.length)));
            await sleep(o.stallMs);
            finish();
            break;
          }
        }
      })();
    });
  });
}
