// The reliability suite's DNS world: a signed hierarchy (. → test → one zone of many hosts), each
// host publishing an address and an IPSECKEY with its own Ed25519 key, served by a real named on
// loopback. The zone can be re-signed with new keys or TTLs while named runs (key rollover), and the
// suite keeps the truth — what the zone publishes now and published before — to judge what oedns
// installed and answered.
import { generateHostKey, ipseckeyLine } from '../../src/ike-bridge/identity';
import { buildSignedHierarchy, resignZone, type SignedHierarchy } from '../../test/support/zones';
import { type NamedInstance, startNamed } from '../../test/support/named';

export interface Host {
  /** Absolute name without the trailing dot. */
  name: string;
  address: string;
  /** IPSECKEY RDATA presentation (`10 0 4 . <base64>`) as published now. */
  rdata: string;
  /** The base64 public key field of `rdata`. */
  key: string;
  ttl: number;
}

export interface HostZone {
  apex: string;
  hosts: Host[];
  /** Extra plain records (relative), e.g. a clear host or names without keys. */
  extra: string[];
  h: SignedHierarchy;
  named: NamedInstance;
  anchorFile: string;
  /** Every key base64 and address the zone ever published, by name: what an install may hold. */
  published: Map<string, { keys: Set<string>; addresses: Set<string> }>;
  /** Give `which` hosts new keys (and optionally a new TTL), re-sign, reload named. */
  roll(which: Host[], ttl?: number): Promise<void>;
  stop(): Promise<void>;
}

/** An address for host i in 10.64.0.0/10, unique per i. */
export function hostAddress(i: number): string {
  return `10.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`;
}

function newKey(name: string): { rdata: string; key: string } {
  const rdata = ipseckeyLine(name, generateHostKey('ed25519')).split(/\s+/).slice(3).join(' ');
  return { rdata, key: rdata.split(/\s+/).at(-1)! };
}

function records(apex: string, hosts: Host[], extra: string[]): string[] {
  const rel = (n: string): string => n.slice(0, -(apex.length + 1));
  return [
    ...hosts.flatMap((x) => [`${rel(x.name)} ${x.ttl} IN A ${x.address}`, `${rel(x.name)} ${x.ttl} IN IPSECKEY ${x.rdata}`]),
    ...extra,
  ];
}

/**
 * Builds and serves `count` hosts `h<i>.<apex>` (apex like `rel.test`), each with A + IPSECKEY at
 * `ttl`, plus `extra` relative records. Signing 3,000 hosts takes about a second.
 */
export async function startHostZone(opts: {
  apex: string;
  count: number;
  ttl: number;
  extra?: string[];
  prefix?: string;
  /** A TTL per host index, overriding `ttl`. */
  ttlFor?: (i: number) => number | undefined;
}): Promise<HostZone> {
  const { apex } = opts;
  const hosts: Host[] = Array.from({ length: opts.count }, (_, i) => {
    const name = `${opts.prefix ?? 'h'}${i}.${apex}`;
    return { name, address: hostAddress(i), ttl: opts.ttlFor?.(i) ?? opts.ttl, ...newKey(name) };
  });
  const extra = opts.extra ?? [];
  let current = records(apex, hosts, extra);
  const h = buildSignedHierarchy([{ name: '.' }, { name: 'test' }, { name: apex, records: current }]);
  let named: NamedInstance;
  try {
    named = await startNamed({ zones: h.zones });
  } catch (e) {
    h.cleanup();
    throw e;
  }
  const published = new Map<string, { keys: Set<string>; addresses: Set<string> }>();
  const remember = (x: Host): void => {
    const p = published.get(x.name) ?? { keys: new Set<string>(), addresses: new Set<string>() };
    p.keys.add(x.key);
    p.addresses.add(x.address);
    published.set(x.name, p);
  };
  hosts.forEach(remember);
  const zone: HostZone = {
    apex,
    hosts,
    extra,
    h,
    named,
    anchorFile: h.anchorFile,
    published,
    async roll(which, ttl) {
      for (const x of which) {
        // Published before re-signing: a resolver may see the new record the moment named reloads.
        Object.assign(x, newKey(x.name), ttl === undefined ? {} : { ttl });
        remember(x);
      }
      const next = records(apex, hosts, extra);
      resignZone(h, apex, current, next);
      current = next;
      await named.reload();
    },
    async stop() {
      await named.stop();
      h.cleanup();
    },
  };
  return zone;
}
