// Libreswan engine: the same operations as `ipsec whack` commands. The command runner is injected
// so tests can check the exact commands against a fake `ipsec` (Libreswan conflicts with the
// strongSwan packages here, and its pluto would need kernel ESP, which this machine lacks).
// whack semantics used: `--keyid @id --pubkeyrsa 0s...` replaces the keys of that id, `--addkey`
// adds one more, `--keyid @id` alone deletes them (so removal also ends trust in the key).
import { execFile } from 'node:child_process';
import type { Engine, EngineStatus, InstalledPeer, Peer, ReconcileResult } from './engine';
import { IpseckeyAlgorithm } from './engine';
import { EngineError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import { ipseckeyToKeyObject } from './keys';
import { connName, peerOfConn, peersEqual } from './peer-config';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}
export type CommandRunner = (argv: string[]) => Promise<RunResult>;

export interface LibreswanEngineOptions {
  /** Our IKE identity (FQDN); its key is in pluto's NSS database. */
  localId: string;
  /** CKAID of our key in NSS, if pluto should be told which one. */
  localCkaid?: string;
  /** Our IKE address; default %defaultroute. */
  localAddr?: string;
  /** Path of the `ipsec` command (default: ipsec on PATH). Ignored when `run` is given. */
  ipsec?: string;
  run?: CommandRunner;
  /** Initiate peers whose `initiate` is unset. */
  initiate?: boolean;
  logger?: Logger;
}

export function execRunner(ipsec = 'ipsec', timeoutMs = 15_000): CommandRunner {
  return (argv) =>
    new Promise((resolve) => {
      execFile(ipsec, argv, { timeout: timeoutMs }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && !stdout ? err.message : '')) });
      });
    });
}

function keyArgs(peer: Peer): string[][] {
  if (peer.auth.kind !== 'pubkey') return [];
  const keys = [...peer.auth.keys].sort((a, b) => a.precedence - b.precedence);
  const out: string[][] = [];
  for (const k of keys) {
    ipseckeyToKeyObject(k.algorithm, k.publicKey); // same refusals as strongSwan (size, format)
    const b64 = `0s${Buffer.from(k.publicKey).toString('base64')}`;
    let flag: string;
    if (k.algorithm === IpseckeyAlgorithm.RSA) flag = '--pubkeyrsa';
    else if (k.algorithm === IpseckeyAlgorithm.ECDSA) flag = '--pubkeyecdsa';
    else throw new EngineError('engine-unsupported', `peer ${peer.name}: IPSECKEY algorithm ${k.algorithm} has no whack key option`);
    // The first key replaces whatever pluto held for the id; the others are added.
    out.push(['whack', '--keyid', `@${peer.name}`, ...(out.length ? ['--addkey'] : []), flag, b64]);
  }
  return out;
}

export class LibreswanEngine implements Engine {
  readonly kind = 'libreswan';
  private readonly run: CommandRunner;
  private readonly log: Logger;
  /** peer name -> (peer, its connection names: one per address, since a whack conn has one client). */
  private readonly peers = new Map<string, { peer: Peer; conns: string[] }>();

  constructor(private readonly o: LibreswanEngineOptions) {
    this.run = o.run ?? execRunner(o.ipsec);
    this.log = o.logger ?? silentLogger;
  }

  private async whack(argv: string[], what: string, ignoreFailure = false): Promise<RunResult> {
    const r = await this.run(argv);
    this.log.debug({ argv, code: r.code }, 'ipsec');
    if (r.code !== 0 && !ignoreFailure) {
      throw new EngineError('engine-command-failed', `${what}: ipsec ${argv.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r;
  }

  /** The exact commands install() runs for a peer (exposed for docs and tests). */
  commandsFor(peer: Peer): { keys: string[][]; conns: { name: string; add: string[]; start: string[] }[] } {
    if (peer.addresses.length === 0) throw new EngineError('engine-bad-peer', `peer ${peer.name} has no addresses`);
    const base = connName(peer.name);
    const initiate = peer.initiate ?? this.o.initiate ?? false;
    const auth =
      peer.auth.kind === 'pubkey'
        ? ['--rsasig']
        : peer.auth.method === 'null'
          ? ['--authnull'] // RFC 7619; BTNS: encrypted, not authenticated
          : (() => { throw new EngineError('engine-unsupported', `peer ${peer.name}: '${peer.auth.method}' is not supported by the libreswan engine`); })();
    const policy =
      peer.level === 'clear' ? ['--pass'] : peer.level === 'block' ? ['--drop'] : ['--encrypt', '--tunnel', '--pfs'];
    const left = ['--host', this.o.localAddr ?? '%defaultroute', '--id', `@${this.o.localId}`, ...(this.o.localCkaid ? ['--ckaid', this.o.localCkaid] : [])];
    const rightId = peer.auth.kind === 'pubkey' ? `@${peer.name}` : '%null';
    const conns = peer.addresses.map((addr, i) => {
      const name = peer.addresses.length === 1 ? base : `${base}/${i}`;
      const host = peer.gateway.kind === 'address' ? peer.gateway.address : addr;
      const client = peer.gateway.kind === 'address' ? ['--client', addr.includes(':') ? `${addr}/128` : `${addr}/32`] : [];
      const add = ['whack', '--name', name, '--ikev2', ...policy, ...auth, ...left, '--to', '--host', host, ...client, '--id', rightId];
      const start = initiate && peer.level !== 'clear' && peer.level !== 'block' ? ['whack', '--initiate', '--name', name, '--asynchronous'] : ['whack', '--route', '--name', name];
      return { name, add, start };
    });
    return { keys: keyArgs(peer), conns };
  }

  async install(peer: Peer): Promise<void> {
    const cmds = this.commandsFor(peer);
    const prev = this.peers.get(peer.name);
    // whack --name replaces a conn of the same name; drop conns the new peer no longer has.
    for (const old of prev?.conns ?? []) {
      if (!cmds.conns.some((c) => c.name === old)) await this.whack(['whack', '--delete', '--name', old], `install ${peer.name}`, true);
    }
    for (const k of cmds.keys) await this.whack(k, `install ${peer.name} key`);
    for (const c of cmds.conns) {
      await this.whack(c.add, `install ${peer.name}`);
      await this.whack(c.start, `install ${peer.name}`);
    }
    this.peers.set(peer.name, { peer, conns: cmds.conns.map((c) => c.name) });
  }

  async remove(name: string): Promise<void> {
    const held = this.peers.get(name);
    const conns = held?.conns ?? [connName(name)];
    for (const c of conns) await this.whack(['whack', '--delete', '--name', c], `remove ${name}`, true);
    // Forget the key too, so pluto stops trusting it for this id.
    await this.whack(['whack', '--keyid', `@${name}`], `remove ${name} key`, true);
    this.peers.delete(name);
  }

  async list(): Promise<InstalledPeer[]> {
    const r = await this.whack(['whack', '--trafficstatus'], 'list', true);
    const up = new Set<string>();
    for (const m of r.stdout.matchAll(/"(oe-[^"]+)"/g)) up.add(m[1]);
    return [...this.peers.values()].map(({ peer, conns }) => ({
      name: peer.name,
      connection: conns[0],
      addresses: [...peer.addresses],
      authenticated: peer.auth.kind === 'pubkey',
      childState: conns.some((c) => up.has(c)) ? 'INSTALLED' : undefined,
    }));
  }

  async status(): Promise<EngineStatus> {
    const v = await this.run(['--version']);
    const s = await this.run(['whack', '--status']);
    return {
      engine: this.kind,
      reachable: s.code === 0,
      daemon: v.code === 0 ? v.stdout.split('\n')[0].trim() : undefined,
      peers: this.peers.size,
      detail: s.code === 0 ? undefined : (s.stderr || s.stdout).trim(),
    };
  }

  /** Connection names pluto holds that are ours (`000 "oe-x": ...` lines of whack --status). */
  private async loadedConns(): Promise<Set<string>> {
    const r = await this.whack(['whack', '--status'], 'reconcile');
    const out = new Set<string>();
    for (const m of r.stdout.matchAll(/^\d{3} "(oe-[^"/]+(?:\/\d+)?)":/gm)) out.add(m[1]);
    return out;
  }

  async reconcile(desired: Peer[]): Promise<ReconcileResult> {
    const res: ReconcileResult = { installed: [], removed: [], unchanged: [], failed: [] };
    const loaded = await this.loadedConns();
    const want = new Map(desired.map((p) => [p.name, p]));
    const loadedPeers = new Set([...loaded].map((c) => peerOfConn(c.replace(/\/\d+$/, ''))!).filter(Boolean));
    for (const n of new Set([...loadedPeers, ...this.peers.keys()])) {
      if (want.has(n)) continue;
      try {
        await this.remove(n);
        res.removed.push(n);
      } catch (e) {
        res.failed.push({ name: n, reason: (e as Error).message });
      }
    }
    for (const p of desired) {
      const held = this.peers.get(p.name);
      if (held && peersEqual(held.peer, p) && held.conns.every((c) => loaded.has(c))) {
        res.unchanged.push(p.name);
        continue;
      }
      try {
        await this.install(p);
        res.installed.push(p.name);
      } catch (e) {
        res.failed.push({ name: p.name, reason: (e as Error).message });
      }
    }
    return res;
  }

  async close(): Promise<void> {}
}

