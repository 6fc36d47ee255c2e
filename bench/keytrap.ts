// What one hostile response can cost the validator, before and after the work budget (KeyTrap,
// CVE-2023-50387 and CVE-2023-50868 class). The material is built as an attacker who owns a properly
// signed zone would (test/dnssec/keytrap.ts): a DNSKEY response full of Ed25519 keys forced onto one key
// tag, an answer carrying as many RRSIGs with that tag as fit in 64 KiB, an RSA key with a 3000-bit
// exponent, NSEC3 at 150 iterations. "Before" is the same code with every limit lifted (it then does
// exactly the work the validator did before the budget); "after" is the default budget. Also measures
// the per-operation costs behind the worst-case bound, and a worker-thread round trip.
// Times are CPU time of the process (process.cpuUsage), so a busy machine inflates them less than wall
// time. Prints Markdown for docs/dnssec.md.
// Run: npx tsc -p . && node dist/bench/keytrap.js [--sample 10] [--full] [--runs 5]
import { createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type BudgetLimits, DEFAULT_BUDGET_LIMITS, ValidationBudget } from '../src/dnssec/budget';
import { nsec3HashBytes } from '../src/dnssec/crypto';
import { verifyRrset } from '../src/dnssec/rrsig';
import { canonicalRRsetWire, canonicalWire, concat, decodeDs, decodeRrsig, rrsigSignedPrefix } from '../src/dnssec/records';
import { createValidator } from '../src/dnssec/validator';
import type { TrustAnchor } from '../src/dnssec/anchors';
import { encodeMessage } from '../src/wire/message';
import type { Message, Name } from '../src/wire/types';
import { a, authAnswer, NOW, nsec, T, TestKey } from '../test/dnssec/signer';
import { bigExponentRsaKey, keyTrapZone } from '../test/dnssec/keytrap';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FULL = process.argv.includes('--full');
const SAMPLE = arg('sample', 10);
const RUNS = arg('runs', 5);
const UNBOUNDED: Partial<BudgetLimits> = {
  maxVerifications: 1e9,
  maxFailures: 1e9,
  maxSigsPerRrset: 1e9,
  maxKeysPerTag: 1e9,
  maxDigests: 1e9,
  maxNsec3Hashes: 1e9,
};

// CPU time of this process (user + system), not wall time: the machines these run on are shared, and
// CPU time is what one response takes away from every other query.
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
function time<T>(f: () => T): [T, number] {
  const t0 = cpuMs();
  const r = f();
  return [r, cpuMs() - t0];
}
async function timeAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = cpuMs();
  const r = await f();
  return [r, cpuMs() - t0];
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

const msg = authAnswer;
const wireSize = (m: Message): number => encodeMessage(m, { compress: true }).length;

/** CPU microseconds per call of `f`, over `n` calls. */
function perOp(n: number, f: () => void): number {
  const t0 = cpuMs();
  for (let i = 0; i < n; i++) f();
  return ((cpuMs() - t0) * 1000) / n;
}

/** Steadier per-call cost: three rounds of at least 200 ms CPU each (bounded to 20 000 calls), best round. */
function steadyPerOp(f: () => void): number {
  f();
  const rounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = cpuMs();
    let n = 0;
    while (cpuMs() - t0 < 200 && n < 20_000) {
      f();
      n++;
    }
    rounds.push(((cpuMs() - t0) * 1000) / n);
  }
  return Math.min(...rounds);
}

function verifyCost(label: string, alg: 'ed25519' | 'p256' | 'p384' | 'rsa2048' | 'rsa4096' | 'rsa4096e35'): [string, number] {
  const data = Buffer.alloc(120, 7);
  let kp;
  let hash: string | null = null;
  let opts: Record<string, unknown> = {};
  if (alg === 'ed25519') kp = generateKeyPairSync('ed25519');
  else if (alg === 'p256' || alg === 'p384') {
    kp = generateKeyPairSync('ec', { namedCurve: alg === 'p256' ? 'P-256' : 'P-384' });
    hash = alg === 'p256' ? 'sha256' : 'sha384';
    opts = { dsaEncoding: 'ieee-p1363' };
  } else if (alg === 'rsa4096e35') {
    kp = bigExponentRsaKey(4096, 35);
    hash = 'sha256';
  } else {
    kp = generateKeyPairSync('rsa', { modulusLength: alg === 'rsa2048' ? 2048 : 4096 });
    hash = 'sha256';
  }
  const sig = cryptoSign(hash, data, { key: kp.privateKey, ...opts });
  sig[sig.length - 1]! ^= 1; // a failing check costs as much as a passing one
  return [label, steadyPerOp(() => cryptoVerify(hash, data, { key: kp.publicKey, ...opts }, sig))];
}

async function workerRoundTrip(n: number): Promise<number> {
  const w = new Worker(
    `
    const { parentPort } = require('node:worker_threads');
    const { verify } = require('node:crypto');
    parentPort.on('message', (m) => parentPort.postMessage(m.key ? verify(null, m.data, m.key, m.sig) : false));
  `,
    { eval: true },
  );
  try {
    const data = new Uint8Array(120);
    const ask = (): Promise<unknown> =>
      new Promise((res) => {
        w.once('message', res);
        w.postMessage({ data });
      });
    await ask();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await ask();
    return Number(process.hrtime.bigint() - t0) / 1e3 / n; // wall: the job waits on the other thread
  } finally {
    await w.terminate();
  }
}

async function main(): Promise<void> {
  console.log(
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );

  // --- KeyTrap: colliding key tags (LockCram) × many RRSIGs (SigJam), sized to 64 KiB responses. ---
  const KEYS = 1300,
    SIGS = 560;
  const [z, buildMs] = time(() => keyTrapZone('keytrap.test', KEYS - 2, SIGS));
  const dnskeyMsg = msg(z.zone, T.DNSKEY, [...z.dnskeys, z.dnskeySig]);
  const answerMsg = msg(`www.${z.zone}`, T.A, [...z.answer, ...z.answerSigs]);
  const sizes = [wireSize(dnskeyMsg), wireSize(answerMsg)];
  if (sizes.some((s) => s > 65535)) throw new Error(`KeyTrap messages too large: ${sizes.join(', ')}`);
  const tried = z.dnskeys.length - 1; // every key with the ZSK's tag (the KSK has another)
  console.error(`built the KeyTrap zone in ${buildMs.toFixed(0)} ms: DNSKEY response ${sizes[0]} bytes, answer ${sizes[1]} bytes`);

  // Before: every (RRSIG, key) pair; measured over SAMPLE RRSIGs, or all of them with --full.
  const sigs = FULL ? z.answerSigs : [...z.answerSigs.slice(0, SAMPLE), z.answerSigs[z.answerSigs.length - 1]!];
  const before = new ValidationBudget(UNBOUNDED);
  const [bv, beforeMs] = time(() => verifyRrset(z.answer, sigs, z.dnskeys, z.zone, NOW, before));
  if (bv.verdict.kind !== 'secure') throw new Error('the KeyTrap answer should verify when unbounded');
  const perCheck = (beforeMs * 1000) / before.verifications;
  const fullChecks = SIGS * tried + 1;
  const fullBeforeS = FULL ? beforeMs / 1000 : (fullChecks * perCheck) / 1e6;

  // After: the whole response through the validator, cold caches (root → test → keytrap.test walk).
  const root = new TestKey('', 15);
  const tld = new TestKey('test', 13);
  const anchors: TrustAnchor[] = [{ zone: '', ds: [decodeDs(root.ds().rdata)], keys: [] }];
  const table: Record<string, Message> = {
    '|48': msg('', T.DNSKEY, [root.dnskey, root.sign([root.dnskey])]),
    'test|48': msg('test', T.DNSKEY, [tld.dnskey, tld.sign([tld.dnskey])]),
    'test|43': msg('test', T.DS, [tld.ds(), root.sign([tld.ds()])]),
    'keytrap.test|43': msg('keytrap.test', T.DS, [z.ksk.ds(), tld.sign([z.ksk.ds()])]),
    'keytrap.test|48': dnskeyMsg,
  };
  const notCut = (name: Name): Message => {
    const n = nsec(name, `\\000.${name}`, [T.A, T.RRSIG, T.NSEC]);
    return msg(name, T.DS, [], [n, z.zsk.sign([n])]);
  };
  const query = async (name: Name, type: number): Promise<Message> => table[`${name}|${type}`] ?? notCut(name);
  const after: number[] = [];
  let verdict = '';
  for (let i = 0; i < RUNS; i++) {
    const v = createValidator({ anchors, query });
    const [r, t] = await timeAsync(() => v.validate({ name: `www.${z.zone}`, type: T.A, class: 1 }, answerMsg, NOW));
    after.push(t);
    verdict = r.verdict.kind === 'secure' ? 'secure' : `${r.verdict.kind} (${r.verdict.reason})`;
  }
  const pure = new ValidationBudget();
  const [, pureMs] = time(() => verifyRrset(z.answer, z.answerSigs, z.dnskeys, z.zone, NOW, pure));

  console.log(
    `| KeyTrap response: ${tried} DNSKEYs sharing one tag (${sizes[0]} B), an answer with ${SIGS + 1} RRSIGs claiming it (${sizes[1]} B) | |`,
  );
  console.log('|---|---:|');
  console.log(`| one Ed25519 check, CPU (measured over ${before.verifications.toLocaleString('en')} checks) | ${perCheck.toFixed(0)} µs |`);
  console.log(
    `| before: every (RRSIG, key) pair, ${fullChecks.toLocaleString('en')} checks${FULL ? '' : ' (extrapolated from the measured rate)'} | ${fullBeforeS.toFixed(1)} s |`,
  );
  console.log(`| after: the answer RRset alone, default budget (${pure.summary()}) | ${pureMs.toFixed(1)} ms |`);
  console.log(
    `| after: the whole response through the validator, cold caches, median of ${RUNS} → ${verdict} | ${median(after).toFixed(1)} ms |`,
  );

  // --- RSA with a 3000-bit public exponent (RFC 3110 allows 4096). ---
  const big = new TestKey('bigexp.test', 8, 257, bigExponentRsaKey(3072, 3000));
  const www = [a('www.bigexp.test', '192.0.2.1')];
  const sig = big.sign(www);
  const data = concat([rrsigSignedPrefix(sig.rdata), canonicalRRsetWire(www, 3600)]);
  const pub = createPublicKey(big.privateKey);
  const s = decodeRrsig(sig.rdata).signature;
  const rsaBefore = perOp(10, () => {
    if (!cryptoVerify('sha256', data, pub, s)) throw new Error('big-exponent signature should verify');
  });
  let refused = '';
  const rsaAfter = perOp(200, () => {
    refused = verifyRrset(www, [sig], [big.dnskey], 'bigexp.test', NOW).verdict.kind;
  });
  console.log(`\n| RSA key with a 3000-bit public exponent, 3072-bit modulus | per RRSIG |`);
  console.log('|---|---:|');
  console.log(`| before: verified (the signature is genuine) | ${(rsaBefore / 1000).toFixed(1)} ms |`);
  console.log(`| after: refused before any arithmetic → ${refused} (unusable-key) | ${rsaAfter.toFixed(0)} µs |`);

  // --- The bound: what the default budget lets one response cost at most. ---
  const ops = [
    verifyCost('Ed25519', 'ed25519'),
    verifyCost('ECDSA P-256', 'p256'),
    verifyCost('ECDSA P-384', 'p384'),
    verifyCost('RSA-2048, e = 65537', 'rsa2048'),
    verifyCost('RSA-4096, e = 65537', 'rsa4096'),
    verifyCost('RSA-4096, 35-bit e (largest allowed)', 'rsa4096e35'),
  ];
  const worstVerify = Math.max(...ops.map(([, v]) => v));
  const salt = Uint8Array.of(0xab, 0xcd);
  const owner = canonicalWire('www.example.test');
  const hash150 = steadyPerOp(() => nsec3HashBytes(owner, salt, 150));
  const L = DEFAULT_BUDGET_LIMITS;
  console.log(`\n| operation | µs |`);
  console.log('|---|---:|');
  for (const [l, v] of ops) console.log(`| signature check, ${l} | ${v.toFixed(0)} |`);
  console.log(`| NSEC3 hash at the 150-iteration limit | ${hash150.toFixed(0)} |`);
  const worst = (L.maxVerifications * worstVerify + L.maxNsec3Hashes * hash150) / 1000;
  console.log(
    `\nWorst case the default budget allows for one response: ${L.maxVerifications} checks × ${worstVerify.toFixed(0)} µs + ${L.maxNsec3Hashes} hashes × ${hash150.toFixed(0)} µs ≈ ${worst.toFixed(0)} ms (DS digests, ${L.maxDigests} × ~1 µs, are negligible).`,
  );

  const rt = await workerRoundTrip(2000);
  console.log(`Worker thread round trip (postMessage there and back, no work; wall time): ${rt.toFixed(0)} µs per job.`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
