// What the IKE engines' lab tests (lifecycle, races, trust-restart, fallback, tofu-rollover) share on
// top of lab.ts: a peer as capture would hand it to the engine, keyed by a real key pair and alive
// for an hour, or without a key as the policy's fallback decides it; an engine on each host, B
// already trusting A; and swanctl run against one lab host's charon (how a foreign admin's reload
// reaches it).
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { Peer } from '../../src/ike-bridge/engine';
import assert from 'node:assert/strict';
import { insecure } from '../../src/dnssec/verdict';
import { keyObjectToIpseckey } from '../../src/ike-bridge/keys';
import { decide } from '../../src/policy/decide';
import { parsePolicy } from '../../src/policy/load';
import { StrongswanEngine, type StrongswanEngineOptions } from '../../src/ike-bridge/strongswan';
import type { Lab, LabHost } from './lab';

/** A private peer held by serve, `key`'s public half its one IPSECKEY, expiring an hour from now. */
export function labPeer(name: string, addrs: string | string[], key: KeyObject, initiate = false, over: Partial<Peer> = {}): Peer {
  const k = keyObjectToIpseckey(createPublicKey(key));
  return {
    name,
    addresses: typeof addrs === 'string' ? [addrs] : addrs,
    auth: { kind: 'pubkey', keys: [{ algorithm: k.algorithm, publicKey: k.publicKey, precedence: 10 }] },
    gateway: { kind: 'none' },
    level: 'private',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    owner: 'serve',
    initiate,
    ...over,
  };
}

/**
 * What capture mode would install for `name` under `policyYaml` when it has no IPSECKEY and an
 * unsigned address (the lab zone is unsigned): the BTNS fallback peer. Asserts decide() chose that.
 */
export function fallbackPeer(policyYaml: string, name: string, addr: string, initiate: boolean): Peer {
  const d = decide(
    {
      name,
      qtype: 1,
      addresses: [addr],
      addressVerdict: insecure('unsigned-delegation', 'oe.test', 'the lab zone is unsigned'),
      addressTtl: 300,
      keys: [],
      keyVerdict: null,
      keyTtl: 0,
    },
    parsePolicy(policyYaml, 'yaml'),
    Math.floor(Date.now() / 1000),
  );
  assert.equal(d.action, 'install-unauthenticated', d.reason);
  if (d.action !== 'install-unauthenticated') throw new Error('unreachable');
  return { ...d.peer, initiate };
}

export interface EnginePair {
  A: StrongswanEngine;
  B: StrongswanEngine;
  /** A's host key (RSA-2048). */
  ka: KeyObject;
  /** B's host key (Ed25519). */
  kb: KeyObject;
}

type EngineTuning = Omit<StrongswanEngineOptions, 'socketPath' | 'identity'>;

/**
 * An engine on each lab host, both started: A as a.oe.test with an RSA key, B as b.oe.test with an
 * Ed25519 one (both key types in every exchange), and B already holding A at `aAddresses` as a peer
 * it answers but does not initiate to, so that tests drive A.
 */
export async function enginePairUp(lab: Lab, a: EngineTuning, b: EngineTuning, aAddresses = [lab.a.addr]): Promise<EnginePair> {
  const ka = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const kb = generateKeyPairSync('ed25519').privateKey;
  const A = new StrongswanEngine({ socketPath: lab.a.vici, identity: { id: 'a.oe.test', privateKey: ka }, ...a });
  const B = new StrongswanEngine({ socketPath: lab.b.vici, identity: { id: 'b.oe.test', privateKey: kb }, ...b });
  try {
    await A.start();
    await B.start();
    await B.install(labPeer('a.oe.test', aAddresses, ka, false));
  } catch (e) {
    // The caller's after() never sees these engines: close them here.
    await Promise.all([A.close(), B.close()]).catch(() => undefined);
    throw e;
  }
  return { A, B, ka, kb };
}

/** `swanctl args` against `host`'s charon with the host's swanctl.conf (exit code 0 or 1, all output). */
export function swanctl(host: LabHost, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(
      'swanctl',
      [...args, '--file', join(host.dir, 'swanctl', 'swanctl.conf'), '--uri', `unix://${host.vici}`],
      { env: { ...process.env, STRONGSWAN_CONF: join(host.dir, 'strongswan.conf') }, timeout: 20_000 },
      (err, stdout, stderr) => res({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
  });
}
