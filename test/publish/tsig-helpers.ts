// A few lines of server-side TSIG for the unit tests: sign an answer the way RFC 8945 §5.3 says, over
// the request's MAC, so the client's checks can be exercised without a server.
import { createHmac } from 'node:crypto';
import { concat } from '../../src/wire/bytes';
import { encodeMessage, makeQuery } from '../../src/wire/message';
import { encodeName } from '../../src/wire/name';
import { time48, tsig } from '../../src/wire/rdata/tsig';
import { TSIG_ALGORITHMS, type TsigKey } from '../../src/publish/tsig';
import { unhex } from '../wire/helpers';

/** Signs `answer` as a server would for a request whose MAC was `reqMac` (RFC 8945 §5.3). */
export function serverSign(
  answer: Uint8Array,
  key: TsigKey,
  reqMac: Uint8Array,
  time: number,
  o: { error?: number; other?: Uint8Array; macLen?: number; keyName?: string } = {},
): Uint8Array {
  const other = o.other ?? new Uint8Array(0);
  const vars = concat([
    encodeName(o.keyName ?? key.name, { lowercase: true }),
    unhex('00ff 00000000'),
    encodeName(key.algorithm, { lowercase: true }),
    time48(time),
    unhex('012c'),
    Uint8Array.of((o.error ?? 0) >> 8, (o.error ?? 0) & 0xff, other.length >> 8, other.length & 0xff),
    other,
  ]);
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm].digest, key.secret);
  h.update(Uint8Array.of(reqMac.length >> 8, reqMac.length & 0xff));
  h.update(reqMac);
  h.update(answer);
  h.update(vars);
  const mac = new Uint8Array(h.digest()).subarray(0, o.macLen ?? TSIG_ALGORITHMS[key.algorithm].size);
  const rdata = new Uint8Array(
    tsig.encodingLength({
      algorithm: key.algorithm,
      timeSigned: time,
      fudge: 300,
      mac,
      originalId: (answer[0]! << 8) | answer[1]!,
      error: o.error ?? 0,
      otherData: other,
    }),
  );
  tsig.encode(
    {
      algorithm: key.algorithm,
      timeSigned: time,
      fudge: 300,
      mac,
      originalId: (answer[0]! << 8) | answer[1]!,
      error: o.error ?? 0,
      otherData: other,
    },
    rdata,
    0,
  );
  const out = answer.slice();
  out[11]! += 1;
  return concat([
    out,
    encodeName(o.keyName ?? key.name),
    unhex('00fa 00ff 00000000'),
    Uint8Array.of(rdata.length >> 8, rdata.length & 0xff),
    rdata,
  ]);
}

/** An answer to an UPDATE of pub.test (no records), with this id and rcode. */
export function answerTo(id: number, rcode = 0): Uint8Array {
  const q = makeQuery('pub.test', 6, { id, rd: false });
  return encodeMessage({ ...q, qr: true, opcode: 5, rcode });
}
