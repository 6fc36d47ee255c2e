// One DNS message over TCP (RFC 7766 framing), one answer back, for `oedns publish` (UPDATE to the
// zone's primary: an UPDATE with RSA keys easily passes 512 bytes) and `oedns lookup` (a truncated UDP
// answer asked again). A refused connection tells us for certain that the server never saw the
// message (code 'unreachable'); a silence after sending does not ('no-answer').
import { connect } from 'node:net';
import { TransportError } from '../util/errors';

/** The largest answer a two-byte length can announce. */
const MAX_ANSWER = 65_535;

export function tcpExchange(host: string, port: number, wire: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let buf = Buffer.alloc(0);
    let sent = false;
    let done = false;
    const finish = (err: Error | null, m?: Uint8Array): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(m!);
    };
    const timer = setTimeout(
      () =>
        finish(
          sent
            ? new TransportError('no-answer', `${host}:${port}: no TCP answer within ${timeoutMs} ms`)
            : new TransportError('unreachable', `${host}:${port}: no TCP connection within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    s.on('error', (e) => finish(new TransportError(sent ? 'no-answer' : 'unreachable', `${host}:${port}: ${e.message}`)));
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(wire.length);
      s.write(Buffer.concat([len, Buffer.from(wire)]));
      sent = true;
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2) return;
      const n = buf.readUInt16BE(0);
      if (n > MAX_ANSWER) return finish(new TransportError('no-answer', 'oversized answer'));
      if (buf.length >= 2 + n) finish(null, new Uint8Array(buf.subarray(2, 2 + n)));
    });
    s.on('end', () => finish(new TransportError('no-answer', `${host}:${port} closed the TCP connection without an answer`)));
  });
}
