// Cost of the DNS wire codec per message (issue 14: the codec is ~290 µs of the cold path's main-thread
// time per new name, and a compact-tier cache hit decodes and re-encodes an answer). Encodes and decodes
// the messages a validating resolver handles most, with src/wire's codec and, in the same run, the
// frozen copy of the codec before the speed work (test/wire/reference-codec.ts): µs per operation and
// bytes allocated per operation, side by side. Before timing, each message is checked to decode to the
// same structure and encode to the same bytes with both.
//
// Run: npm run build && node dist/bench/wire-codec.js [--ms 200] [--rounds 7] [--write]
//   (--write puts the table into docs/BENCHMARKS.md, section "## Wire codec")
import assert from 'node:assert/strict';
import { Session } from 'node:inspector';
import { cpus, loadavg } from 'node:os';
import { decodeMessage, encodeMessage, makeQuery, makeResponse } from '../src/wire/message';
import { encodeA, encodeDnskey, encodeIpseckey, encodeNsec, encodeNsec3, encodeRrsig, encodeSoa } from '../src/wire/rdata';
import type { Message, RR } from '../src/wire/types';
import * as ref from '../test/wire/reference-codec';
import { writeBenchSection } from './support/doc';

const args = process.argv.slice(2);
const num = (flag: string, def: number): number => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : def);
const MS = num('--ms', 200);
const ROUNDS = num('--rounds', 7);

// Deterministic filler for keys and signatures (their bytes do not matter to the codec, their sizes do).
let seed = 7;
function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    b[i] = seed >>> 24;
  }
  return b;
}

const ZONE = 'cap.test';
const rr = (name: string, type: number, rdata: Uint8Array, ttl = 3600): RR => ({ name, type, class: 1, ttl, rdata });
function sig(owner: string, covered: number, labels: number, signer = ZONE): RR {
  const rdata = encodeRrsig({
    typeCovered: covered,
    algorithm: 13,
    labels,
    originalTtl: 3600,
    expiration: 1_800_000_000,
    inception: 1_760_000_000,
    keyTag: 12345,
    signerName: signer,
    signature: bytes(64),
  });
  return rr(owner, 46, rdata);
}
function response(name: string, type: number, rcode = 0): Message {
  const q = makeQuery(name, type, { id: 0x4242, do: true, udpSize: 1232 });
  return { ...makeResponse(q, rcode), aa: true, ra: true };
}

const soa = encodeSoa({
  mname: `ns1.${ZONE}`,
  rname: `hostmaster.${ZONE}`,
  serial: 2026113001,
  refresh: 3600,
  retry: 900,
  expire: 604800,
  minimum: 300,
});
const hashName = (i: number): string => `${'0123456789abcdefghijklmnopqrstuv'.slice(i, 32)}${'v'.repeat(i)}.${ZONE}`;

function signedA(): Message {
  const m = response(`n42.${ZONE}`, 1);
  m.answers = [rr(`n42.${ZONE}`, 1, encodeA('198.18.0.43')), sig(`n42.${ZONE}`, 1, 3)];
  return m;
}
function signedIpseckey(): Message {
  const m = response(`n42.${ZONE}`, 45);
  const key = encodeIpseckey({ precedence: 10, gatewayType: 0, algorithm: 4, gateway: null, publicKey: bytes(32) });
  m.answers = [rr(`n42.${ZONE}`, 45, key), sig(`n42.${ZONE}`, 45, 3)];
  return m;
}
function dsDenialNsec(): Message {
  const m = response(`n42.${ZONE}`, 43);
  m.authorities = [
    rr(ZONE, 6, soa, 300),
    sig(ZONE, 6, 2),
    rr(`n42.${ZONE}`, 47, encodeNsec({ next: `n420.${ZONE}`, types: [1, 45, 46, 47] }), 300),
    sig(`n42.${ZONE}`, 47, 3),
  ];
  return m;
}
function nxdomainNsec3(): Message {
  const m = response(`nothere.${ZONE}`, 1, 3);
  const n3 = (i: number): RR =>
    rr(
      hashName(i),
      50,
      encodeNsec3({
        hashAlgorithm: 1,
        flags: 0,
        iterations: 0,
        salt: new Uint8Array(0),
        nextHashed: bytes(20),
        types: i === 0 ? [2, 6, 46, 48, 51] : [1, 46],
      }),
      300,
    );
  m.authorities = [rr(ZONE, 6, soa, 300), sig(ZONE, 6, 2)];
  for (let i = 0; i < 3; i++) m.authorities.push(n3(i), sig(hashName(i), 50, 3));
  return m;
}
function dnskeyResponse(): Message {
  const m = response(ZONE, 48);
  m.answers = [
    rr(ZONE, 48, encodeDnskey({ flags: 257, protocol: 3, algorithm: 13, publicKey: bytes(64) })),
    rr(ZONE, 48, encodeDnskey({ flags: 256, protocol: 3, algorithm: 13, publicKey: bytes(64) })),
    sig(ZONE, 48, 2),
  ];
  return m;
}

const CASES: { what: string; msg: Message }[] = [
  { what: 'query (A, DO)', msg: makeQuery(`n42.${ZONE}`, 1, { id: 0x4242, do: true, udpSize: 1232 }) },
  { what: 'signed A answer (A + RRSIG)', msg: signedA() },
  { what: 'signed IPSECKEY answer', msg: signedIpseckey() },
  { what: 'DS denial (SOA, NSEC, 2 RRSIG)', msg: dsDenialNsec() },
  { what: 'NXDOMAIN, NSEC3 proof (SOA, 3 NSEC3, 4 RRSIG)', msg: nxdomainNsec3() },
  { what: 'DNSKEY response (2 keys + RRSIG)', msg: dnskeyResponse() },
];

type Impl = { decode: (b: Uint8Array) => Message; encode: (m: Message) => Uint8Array };
const OLD: Impl = { decode: ref.decodeMessage, encode: (m) => ref.encodeMessage(m) };
const NEW: Impl = { decode: decodeMessage, encode: (m) => encodeMessage(m) };

let sink = 0;
/** µs per call of `f`, run for about MS milliseconds. */
function time(f: () => unknown): number {
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(MS) * 1_000_000n;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 100; i++) {
      f();
      n++;
    }
    now = process.hrtime.bigint();
  }
  return Number(now - start) / 1000 / n;
}

const session = new Session();
session.connect();
function post<T>(method: string, params?: object): T {
  let out: T | undefined;
  // The inspector answers a session on the same thread synchronously.
  session.post(method, params, (err, res) => {
    if (err) throw err;
    out = res as T;
  });
  return out!;
}
interface SampleNode {
  selfSize: number;
  children: SampleNode[];
}
const sampled = (n: SampleNode): number => n.children.reduce((t, c) => t + sampled(c), n.selfSize);

/**
 * Bytes the V8 heap allocates per call of `f` (objects, strings, typed arrays' on-heap parts; the
 * out-of-heap stores of larger ArrayBuffers are not counted): V8's sampling heap profiler over 20,000
 * calls, one sample every 32 bytes on average, keeping samples of objects the GC has already freed.
 */
function allocated(f: () => unknown): number {
  const N = 20_000;
  post('HeapProfiler.startSampling', {
    samplingInterval: 32,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < N; i++) f();
  const { profile } = post<{ profile: { head: SampleNode } }>('HeapProfiler.stopSampling');
  return sampled(profile.head) / N;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;

interface Row {
  what: string;
  size: number;
  op: 'decode' | 'encode';
  old: number;
  now: number;
  oldBytes: number;
  newBytes: number;
}

function run(): Row[] {
  const rows: Row[] = [];
  for (const c of CASES) {
    const wire = ref.encodeMessage(c.msg);
    assert.deepEqual(encodeMessage(c.msg), wire, `${c.what}: both encoders give the same bytes`);
    assert.deepEqual(decodeMessage(wire), ref.decodeMessage(wire), `${c.what}: both decoders give the same message`);
    for (const op of ['decode', 'encode'] as const) {
      const call = (impl: Impl) =>
        op === 'decode' ? () => (sink += impl.decode(wire).answers.length) : () => (sink += impl.encode(c.msg).length);
      const fo = call(OLD);
      const fn = call(NEW);
      // Warm both up, then alternate rounds so that the machine's load falls on both alike.
      time(fo);
      time(fn);
      const to: number[] = [];
      const tn: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        to.push(time(fo));
        tn.push(time(fn));
      }
      rows.push({
        what: c.what,
        size: wire.length,
        op,
        old: median(to),
        now: median(tn),
        oldBytes: allocated(fo),
        newBytes: allocated(fn),
      });
    }
  }
  return rows;
}

const started = new Date();
const load = loadavg()[0]!.toFixed(1);
const rows = run();
const f = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const kb = (x: number): string => (Number.isFinite(x) ? `${Math.round(x).toLocaleString('en')} B` : 'n/a');
const table = [
  '| message | bytes | op | before µs | after µs | speed-up | before alloc | after alloc |',
  '|---|---:|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.what} | ${r.size} | ${r.op} | ${f(r.old)} | ${f(r.now)} | ${(r.old / r.now).toFixed(1)}× | ${kb(r.oldBytes)} | ${kb(r.newBytes)} |`,
  ),
].join('\n');
console.log(table);
if (sink === 42) console.log('');
if (args.includes('--write')) {
  const head =
    `\`npm run build && node dist/bench/wire-codec.js --write\`, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
    `${cpus().length} shared cores (${cpus()[0]?.model.trim() ?? '?'}), load average ${load} at start, Node ${process.version}. ` +
    `Median of ${ROUNDS} alternating rounds of ${MS} ms each; "before" is the codec as it was before the speed work ` +
    '(test/wire/reference-codec.ts, a frozen copy), run in the same process; "alloc" is bytes allocated on the V8 heap ' +
    'per operation (sampling heap profiler over 20,000 operations; the out-of-heap stores of ArrayBuffers over 64 bytes are not counted).';
  writeBenchSection('## Wire codec', `${head}\n\n${table}\n`);
}
