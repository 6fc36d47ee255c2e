// Libreswan engine: the same operations as `whack` commands sent to pluto. Every spelling here was
// run against a real pluto 4.10 (Debian 12's package, unpacked beside strongSwan: scripts/pluto-lab.sh,
// test/ike-bridge/libreswan-pluto.test.ts); what whack 4.10 does NOT do shaped this file:
// - `--host %defaultroute` is refused (only addconn resolves it), so we find our address ourselves;
// - `--keyid @id` alone does not delete the id's RSA keys (pluto deletes keys of "no type"), so a
//   removed peer's keys are replaced by a throwaway key nobody holds the private half of;
// - there is no long option for `--pubkeyecdsa`, so only RSA keys can be given to pluto;
// - a conn without `--esn`/`--no-esn` offers no ESN transform at all and charon refuses its ESP
//   proposals (NO_PROPOSAL_CHOSEN), so we offer both, as ipsec.conf's default does;
// - a conn cannot be redefined ("attempt to redefine connection"): a changed one is deleted first;
// - shunts (`--pass`, `--drop`) must say `--auth-never`; NULL auth is `--auth-null`;
// - both ends need `--client` when one has it (a tunnel to an IPSECKEY gateway);
// - drop shunts (what stays of a removed `private` peer) are one conn per address: libreswan-shunts.ts;
// - `whack --initiate` exits 0 whatever happened, so its output is read to tell the outcome.
// The command runner is injected so unit tests can record the exact commands.
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { Engine, EngineStatus, InstalledPeer, Peer, ReconcileResult, ShuntSpec } from './engine';
import { IpseckeyAlgorithm } from './engine';
import { EngineError } from '../util/errors';
import { silentLogger, type Logger } from '../util/log';
import { ipseckeyToKeyObject, KeyError, keyObjectToIpseckey, publicKeyFields } from './keys';
import { checkAddress, checkName, LS_SHUNT_PREFIX, parseShuntConn, shuntAddArgs, shuntConnName } from './libreswan-shunts';
import { connName, peerOfConn, peersEqual } from './peer-config';
import { peersInStatus } from './libreswan-status';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs `ipsec <argv>` (argv[0] is 'whack' for whack commands); timeoutMs bounds one command. */
export type CommandRunner = (argv: string[], timeoutMs?: number) => Promise<RunResult>;

export interface LibreswanEngineOptions {
  /** Our IKE identity (FQDN); its private key is in pluto's NSS database. */
  localId: string;
  /**
   * Our key (public or private, PEM or KeyObject; RSA): pluto is told its CKAID (`--ckaid`), which is
   * how NSS names it (SHA-1 of the modulus). Without it or localCkaid pluto finds no key to sign with.
   */
  localKey?: KeyObject | string;
  /** CKAID of our key in NSS (`ipsec showhostkey --list`), if localKey is not given. */
  localCkaid?: string;
  /**
   * Our IKE address. Default: for each peer, the source address of the route to it (`ip route get`),
   * what ipsec.conf's %defaultroute means; whack cannot resolve %defaultroute itself. Used only for
   * peers of its address family; others still get the route's source address.
   */
  localAddr?: string;
  /** Path of the `ipsec` command (default: ipsec on PATH); commands run as `ipsec whack ...`. */
  ipsec?: string;
  /** Path of the `whack` binary, run directly (e.g. from an unpacked package); overrides `ipsec`. */
  whack?: string;
  /** pluto's control socket (`whack --ctlsocket`); default: whack's own default, /run/pluto/pluto.ctl. */
  ctlsocket?: string;
  /** Ignored when `run` is given. */
  run?: CommandRunner;
  /** Our source address toward `dest` (default: `ip -j route get dest`); undefined if there is no route. */
  routeSource?: (dest: string) => Promise<string | undefined>;
  /** Initiate peers whose `initiate` is unset. */
  initiate?: boolean;
  /** How long `whack --initiate` may wait for the Child SA before install() fails. Default 10 s. */
  initiateTimeoutMs?: number;
  logger?: Logger;
}

/**
 * The most one command may print. `whack --status` prints ~2 KB per conn and a drop shunt is one conn
 * per address (serve holds up to 65,536): Node's 1 MiB default cut it at ~600 conns, and list() and
 * reconcile then saw none of what pluto held. Still a bound: pluto's output, not a peer's.
 */
export const MAX_WHACK_OUTPUT = 256 * 1024 * 1024;

export function execRunner(ipsec = 'ipsec', timeoutMs = 15_000): CommandRunner {
  return (argv, t) =>
    new Promise((resolve) => {
      execFile(ipsec, argv, { timeout: t ?? timeoutMs, maxBuffer: MAX_WHACK_OUTPUT }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && !stdout ? err.message : '')) });
      });
    });
}

/** Runs the whack binary itself: the leading 'whack' of each command is dropped. */
export function whackRunner(whack: string, timeoutMs = 15_000): CommandRunner {
  const run = execRunner(whack, timeoutMs);
  return (argv, t) => run(argv[0] === 'whack' ? argv.slice(1) : argv, t);
}

/** NSS's CKAID of a key, as pluto and `ipsec showhostkey` print it: SHA-1 of the RSA modulus or of the EC point. */
export function ckaidOf(key: KeyObject | string): string {
  const pub = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType === 'rsa' || pub.asymmetricKeyType === 'ec') {
    const f = publicKeyFields(pub); // from DER, never a JWK export (see publicKeyFields)
    const data = f.type === 'rsa' ? f.n : f.type === 'ec' ? Buffer.concat([Buffer.of(4), f.x, f.y]) : Buffer.alloc(0);
    return createHash('sha1').update(data).digest('hex');
  }
  throw new EngineError('engine-unsupported', `a ${pub.asymmetricKeyType} key has no CKAID here (RSA or ECDSA)`);
}

/** `ip -j route get DEST` → prefsrc: our address toward DEST, as the kernel would pick it. */
export function ipRouteSource(dest: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('ip', ['-j', 'route', 'get', dest], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        const routes = JSON.parse(String(stdout)) as { prefsrc?: string }[];
        resolve(routes[0]?.prefsrc);
      } catch {
        resolve(undefined);
      }
    });
  });
}

/** RSA keys of a peer as whack `--pubkeyrsa` values, best precedence first; others are skipped. */
function rsaKeys(peer: Peer): string[] {
  if (peer.auth.kind !== 'pubkey') return [];
  const keys = [...peer.auth.keys].sort((a, b) => a.precedence - b.precedence);
  const out: string[] = [];
  let lastErr: string | undefined;
  for (const k of keys) {
    if (k.algorithm !== IpseckeyAlgorithm.RSA) {
      lastErr = `IPSECKEY algorithm ${k.algorithm}: whack 4.10 takes raw RSA keys only (it has no --pubkeyecdsa option)`;
      continue;
    }
    try {
      ipseckeyToKeyObject(k.algorithm, k.publicKey); // same refusals as strongSwan (size, format)
    } catch (e) {
      if (!(e instanceof KeyError)) throw e;
      lastErr = e.message;
      continue;
    }
    out.push(`0s${Buffer.from(k.publicKey).toString('base64')}`);
  }
  if (out.length === 0) {
    throw new EngineError('engine-unsupported', `peer ${peer.name}: no key pluto can use${lastErr ? ` (${lastErr})` : ''}`);
  }
  return out;
}

const hostPrefix = (a: string): string => (a.includes(':') ? `${a}/128` : `${a}/32`);

/** What one `whack --initiate` said, read from its output (its exit code is 0 either way). */
export type InitiateOutcome =
  { ok: true } | { ok: false; code: 'ike-auth-failed' | 'ike-child-failed' | 'ike-initiate-failed'; detail: string };

export function initiateOutcome(out: string): InitiateOutcome {
  const lines = out
    .split('\n')
    .map((l) => l.replace(/^\d{3} /, '').trim())
    .filter(Boolean);
  if (lines.some((l) => /established Child SA/.test(l))) return { ok: true };
  const auth = lines.filter((l) => /authentication failed|AUTHENTICATION_FAILED/i.test(l));
  if (auth.length) return { ok: false, code: 'ike-auth-failed', detail: auth.join('; ') };
  if (lines.some((l) => /established IKE SA/.test(l))) {
    // IKE authenticated both ways, the Child SA did not come up (refused by the peer, or the kernel
    // refused the SA: e.g. "netlink response for Add SA esp...: Protocol not supported").
    const why = lines.filter((l) => /ERROR|rejected|fail|NO_PROPOSAL_CHOSEN|TS_UNACCEPTABLE/i.test(l));
    return { ok: false, code: 'ike-child-failed', detail: (why.length ? why : lines.slice(-3)).join('; ') };
  }
  return { ok: false, code: 'ike-initiate-failed', detail: lines.slice(-3).join('; ') || 'no answer from pluto' };
}

/** State names of `whack --showstates` per connection: `#2: "oe-x":500 STATE_V2_ESTABLISHED_IKE_SA (...)`. */
export function statesByConn(out: string): Map<string, { ike?: string; child?: string }> {
  const m = new Map<string, { ike?: string; child?: string }>();
  for (const match of out.matchAll(/^\d{3} #\d+: "([^"]+)"[^\n]*? (STATE_\S+)/gm)) {
    const conn = match[1]!;
    const state = match[2]!;
    const e = m.get(conn) ?? {};
    if (/ESTABLISHED_CHILD_SA|QUICK_[IR]2$/.test(state)) e.child = 'INSTALLED';
    else if (/ESTABLISHED_IKE_SA|MAIN_[IR][34]$/.test(state)) e.ike = 'ESTABLISHED';
    else if (!e.ike) e.ike = 'CONNECTING';
    m.set(conn, e);
  }
  return m;
}

/** Names of our shunt conns in `whack --status` output (`000 "oedns-drop-...":` lines). */
function shuntConnsIn(status: string): Set<string> {
  const out = new Set<string>();
  for (const m of status.matchAll(new RegExp(`^\\d{3} "(${LS_SHUNT_PREFIX}[^"]+)":`, 'gm'))) out.add(m[1]!);
  return out;
}

export class LibreswanEngine implements Engine {
  readonly kind = 'libreswan';
  private readonly run: CommandRunner;
  private readonly log: Logger;
  private readonly ckaid?: string;
  private readonly routeSource: (dest: string) => Promise<string | undefined>;
  /** peer name -> (peer, its connection names: one per address, since a whack conn has one client). */
  private readonly peers = new Map<string, { peer: Peer; conns: string[] }>();
  /** Drop shunts: name -> address -> its conn (one per address: libreswan-shunts.ts). */
  private readonly shunts = new Map<string, Map<string, string>>();
  /** conn name -> the whack arguments that defined it, to tell an unchanged conn from a changed one. */
  private readonly defs = new Map<string, string>();
  private throwaway?: Promise<string>;

  constructor(private readonly o: LibreswanEngineOptions) {
    this.run = o.run ?? (o.whack ? whackRunner(o.whack) : execRunner(o.ipsec));
    this.log = o.logger ?? silentLogger;
    this.routeSource = o.routeSource ?? ipRouteSource;
    if (o.localKey) {
      const pub = typeof o.localKey === 'string' ? createPublicKey(o.localKey) : o.localKey;
      if (pub.asymmetricKeyType !== 'rsa') {
        throw new EngineError(
          'engine-unsupported',
          `our key is ${pub.asymmetricKeyType}: the libreswan engine signs with RSA only (--rsasig)`,
        );
      }
      this.ckaid = ckaidOf(pub);
    } else {
      this.ckaid = o.localCkaid;
    }
  }

  private argv(args: string[]): string[] {
    return ['whack', ...(this.o.ctlsocket ? ['--ctlsocket', this.o.ctlsocket] : []), ...args];
  }

  private async whack(args: string[], what: string, ignoreFailure = false, timeoutMs?: number): Promise<RunResult> {
    const argv = this.argv(args);
    const r = await this.run(argv, timeoutMs);
    this.log.debug({ argv, code: r.code }, 'whack');
    if (r.code !== 0 && !ignoreFailure) {
      throw new EngineError('engine-command-failed', `${what}: ${argv.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r;
  }

  private async localFor(dest: string): Promise<string> {
    const l = this.o.localAddr;
    if (l && isIP(l) === isIP(dest)) return l;
    const src = await this.routeSource(dest);
    if (!src) throw new EngineError('engine-no-route', `no route to ${dest}: cannot tell pluto our address toward it (set localAddr)`);
    return src;
  }

  /** The exact whack commands install() runs for a peer (exposed for docs and tests). */
  async commandsFor(peer: Peer): Promise<{ keys: string[][]; conns: { name: string; add: string[]; start: string[] }[] }> {
    if (peer.addresses.length === 0) throw new EngineError('engine-bad-peer', `peer ${peer.name} has no addresses`);
    // Nothing unchecked reaches whack: a host name, literal addresses.
    checkName(peer.name);
    for (const a of peer.addresses) checkAddress(a);
    if (peer.gateway.kind === 'address') checkAddress(peer.gateway.address);
    const base = connName(peer.name);
    const shunt = peer.level === 'clear' || peer.level === 'block';
    const initiate = !shunt && (peer.initiate ?? this.o.initiate ?? false);
    let auth: string[];
    let keys: string[][] = [];
    if (shunt) {
      auth = ['--auth-never']; // pluto refuses a shunt with any other auth
    } else if (peer.auth.kind === 'pubkey') {
      auth = ['--rsasig'];
      // The first key replaces whatever pluto held for the id; the others are added.
      keys = rsaKeys(peer).map((k, i) => ['--keyid', `@${peer.name}`, ...(i ? ['--addkey'] : []), '--pubkeyrsa', k]);
    } else if (peer.auth.method === 'null') {
      auth = ['--auth-null']; // RFC 7619; BTNS: encrypted, not authenticated
    } else {
      throw new EngineError('engine-unsupported', `peer ${peer.name}: '${peer.auth.method}' is not supported by the libreswan engine`);
    }
    // ESN both ways: without either flag pluto 4.10 offers no ESN transform and charon refuses it.
    const policy =
      peer.level === 'clear' ? ['--pass'] : peer.level === 'block' ? ['--drop'] : ['--encrypt', '--tunnel', '--pfs', '--esn', '--no-esn'];
    const rightId = shunt || peer.auth.kind === 'pubkey' ? `@${peer.name}` : '%null';
    const conns = [];
    for (const [i, addr] of peer.addresses.entries()) {
      const name = peer.addresses.length === 1 ? base : `${base}/${i}`;
      const viaGateway = peer.gateway.kind === 'address';
      const host = viaGateway ? (peer.gateway as { address: string }).address : addr;
      const localHost = await this.localFor(host);
      // whack wants a client on both ends or on neither: ours is our address of the inner family.
      const localInner = !viaGateway ? undefined : isIP(addr) === isIP(localHost) ? localHost : await this.localFor(addr);
      const localClient = localInner ? ['--client', hostPrefix(localInner)] : [];
      // NULL auth: ID_NULL on both ends, as Libreswan's own OE examples (leftid=%null): a config that
      // expects %null refuses a named IDi ("Peer ID mismatched"), and an unauthenticated peer learns less.
      const left =
        peer.auth.kind === 'unauthenticated' && !shunt
          ? ['--host', localHost, ...localClient, '--id', '%null']
          : ['--host', localHost, ...localClient, '--id', `@${this.o.localId}`, ...(this.ckaid && !shunt ? ['--ckaid', this.ckaid] : [])];
      const right = ['--host', host, ...(viaGateway ? ['--client', hostPrefix(addr)] : []), '--id', rightId];
      const add = ['--name', name, '--ikev2', ...policy, ...auth, ...left, '--to', ...right];
      const start = initiate ? ['--initiate', '--name', name] : ['--route', '--name', name];
      conns.push({ name, add, start });
    }
    return { keys, conns };
  }

  async install(peer: Peer): Promise<void> {
    const cmds = await this.commandsFor(peer);
    const prev = this.peers.get(peer.name);
    for (const old of prev?.conns ?? []) {
      if (!cmds.conns.some((c) => c.name === old)) await this.deleteConn(old, `install ${peer.name}`);
    }
    // Keys are replaced in place (the first --pubkeyrsa drops the id's old ones): no gap in trust.
    if (cmds.keys.length === 0 && prev?.peer.auth.kind === 'pubkey') await this.forgetKeys(peer.name);
    for (const k of cmds.keys) await this.whack(k, `install ${peer.name} key`);
    const unchanged = new Set<string>();
    for (const c of cmds.conns) if (await this.addConn(c.name, c.add, `install ${peer.name}`)) unchanged.add(c.name);
    this.peers.set(peer.name, { peer, conns: cmds.conns.map((c) => c.name) });
    const up = unchanged.size
      ? statesByConn((await this.whack(['--showstates'], 'install', true)).stdout)
      : new Map<string, { ike?: string; child?: string }>();
    for (const c of cmds.conns) {
      if (c.start[0] !== '--initiate')
        await this.routeConn(peer, c.name, `install ${peer.name}`); // routing twice is harmless
      else if (!(unchanged.has(c.name) && up.get(c.name)?.child)) await this.initiateConn(peer.name, c.name);
    }
  }

  /**
   * Define a conn; true if pluto already held it exactly so. pluto 4.10 refuses to redefine a conn
   * ("attempt to redefine connection", exit 20), so a changed one is deleted and added again: for
   * those few milliseconds the kernel has no policy for the peer. A key change alone has no such gap.
   */
  private async addConn(name: string, add: string[], what: string): Promise<boolean> {
    const def = add.join('\0');
    const r = await this.whack(add, what, true);
    if (r.code === 0) {
      this.defs.set(name, def);
      return false;
    }
    if (!/attempt to redefine connection/.test(r.stdout + r.stderr)) {
      throw new EngineError(
        'engine-command-failed',
        `${what}: whack ${add.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`,
      );
    }
    if (this.defs.get(name) === def) return true;
    await this.deleteConn(name, what);
    await this.whack(add, what);
    this.defs.set(name, def);
    return false;
  }

  /**
   * Route a peer's conn. pluto routes one remote client one way only ("route already in use"): a
   * shunt of ours on the address that goes through another next hop (the peer came back through
   * another gateway) is deleted, the conn routed (its trap policy holds the address from then on) and
   * the shunt added again with the conn's next hop. The address is open between those two commands.
   */
  private async routeConn(peer: Peer, conn: string, what: string): Promise<void> {
    const r = await this.whack(['--route', '--name', conn], what, true);
    if (r.code === 0) return;
    const m = /route already in use for "(oedns-drop-[^"]+)"/.exec(r.stdout + r.stderr);
    const s = m ? parseShuntConn(m[1]!) : undefined;
    if (!s || this.shunts.get(s.name)?.get(s.addr) !== m![1]) {
      throw new EngineError(
        'engine-command-failed',
        `${what}: whack --route --name ${conn} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`,
      );
    }
    const gw =
      peer.gateway.kind === 'address' && isIP(peer.gateway.address) === isIP(s.addr) ? checkAddress(peer.gateway.address) : undefined;
    this.log.info({ conn, shunt: m![1] }, 'libreswan: drop shunt re-added with the next hop of a returning peer');
    await this.deleteConn(m![1]!, what);
    await this.whack(['--route', '--name', conn], what);
    try {
      await this.addShuntConn(s.name, s.addr, m![1]!, gw, what);
    } catch (e) {
      // Not held any more: the next setShunt or reconcile adds it again (the peer's conn holds it now).
      const held = this.shunts.get(s.name);
      held?.delete(s.addr);
      if (held?.size === 0) this.shunts.delete(s.name);
      throw e;
    }
  }

  private async deleteConn(name: string, what: string): Promise<void> {
    await this.whack(['--delete', '--name', name], what, true);
    this.defs.delete(name);
  }

  /** Bring one peer's Child SAs up now; EngineError ike-auth-failed / ike-child-failed / ike-initiate-failed if not. */
  async initiate(peerName: string): Promise<void> {
    const held = this.peers.get(peerName);
    if (!held) throw new EngineError('engine-bad-peer', `initiate ${peerName}: not installed`);
    for (const c of held.conns) await this.initiateConn(peerName, c);
  }

  private async initiateConn(peerName: string, conn: string): Promise<void> {
    const t = this.o.initiateTimeoutMs ?? 10_000;
    const r = await this.whack(['--initiate', '--name', conn], `initiate ${peerName}`, true, t);
    const out = initiateOutcome(`${r.stdout}\n${r.stderr}`);
    if (out.ok) return;
    // pluto keeps re-initiating a conn it was told to bring up ("supposed to remain up"); stop it, so a
    // peer with a wrong key is not hammered: whoever installed the peer decides when to try again.
    await this.whack(['--terminate', '--name', conn], `initiate ${peerName}`, true);
    const timedOut = r.code !== 0 && out.code === 'ike-initiate-failed';
    throw new EngineError(out.code, `initiate ${peerName} (${conn}): ${timedOut ? `no outcome within ${t} ms; ` : ''}${out.detail}`);
  }

  async remove(name: string): Promise<void> {
    const held = this.peers.get(name);
    const conns = held?.conns ?? [connName(name)];
    for (const c of conns) await this.deleteConn(c, `remove ${name}`);
    if (!held || held.peer.auth.kind === 'pubkey') await this.forgetKeys(name);
    this.peers.delete(name);
  }

  /**
   * End pluto's trust in the keys of an id. whack 4.10's `--keyid @id` alone deletes nothing (it
   * deletes keys of no type), so the id's RSA keys are replaced by one throwaway key whose private
   * half was never kept: any conn naming this id (a catch-all, a later probe) then fails to verify.
   */
  private async forgetKeys(name: string): Promise<void> {
    this.throwaway ??= new Promise((resolve, reject) =>
      generateKeyPair('rsa', { modulusLength: 2048 }, (err, pub) =>
        err ? reject(err) : resolve(`0s${keyObjectToIpseckey(pub).publicKey.toString('base64')}`),
      ),
    );
    await this.whack(['--keyid', `@${name}`, '--pubkeyrsa', await this.throwaway], `remove ${name} key`, true);
  }

  /**
   * Drop all traffic to `addresses` for `name` (empty: end the shunt). Addresses that stay keep their
   * conns untouched; new ones are dropped before any address leaves, so none is open in between.
   */
  async setShunt(name: string, addresses: string[]): Promise<void> {
    checkName(name);
    const want = [...new Set(addresses.map(checkAddress))].sort();
    const what = `drop shunt for ${name}`;
    const cur = this.shunts.get(name) ?? new Map<string, string>();
    this.shunts.set(name, cur);
    try {
      for (const addr of want) {
        if (cur.has(addr)) continue;
        const conn = shuntConnName(name, addr);
        await this.addShuntConn(name, addr, conn, this.nexthopFor(name, addr), what);
        cur.set(addr, conn);
      }
      for (const [addr, conn] of [...cur]) {
        if (want.includes(addr)) continue;
        await this.deleteConn(conn, what);
        cur.delete(addr);
      }
    } finally {
      if (cur.size === 0) this.shunts.delete(name);
    }
  }

  private async addShuntConn(name: string, addr: string, conn: string, nexthop: string | undefined, what: string): Promise<void> {
    const local = await this.localFor(nexthop ?? addr);
    await this.addConn(conn, shuntAddArgs({ conn, addr, local, localId: this.o.localId, nexthop, name }), what);
    await this.whack(['--route', '--name', conn], what);
  }

  /**
   * The gateway through which a peer we hold reaches `addr` (the peer under `name` first), if any: the
   * shunt must take the same next hop, or pluto refuses to route one of the two.
   */
  private nexthopFor(name: string, addr: string): string | undefined {
    const via = (p: Peer): string | null | undefined => {
      if (!p.addresses.some((a) => checkAddress(a) === addr)) return undefined;
      return p.gateway.kind === 'address' && isIP(p.gateway.address) === isIP(addr) ? checkAddress(p.gateway.address) : null;
    };
    const own = this.peers.get(name);
    const mine = own ? via(own.peer) : undefined;
    if (mine !== undefined) return mine ?? undefined;
    for (const { peer } of this.peers.values()) {
      const g = via(peer);
      if (g !== undefined) return g ?? undefined;
    }
    return undefined;
  }

  async list(): Promise<InstalledPeer[]> {
    const r = await this.whack(['--showstates'], 'list', true);
    const states = statesByConn(r.stdout);
    const stateOf = (conns: string[]): Pick<InstalledPeer, 'ikeState' | 'childState'> => {
      const s = conns.map((c) => states.get(c)).filter((x): x is { ike?: string; child?: string } => !!x);
      return {
        ikeState: s.find((x) => x.ike === 'ESTABLISHED')?.ike ?? s.find((x) => x.ike)?.ike,
        childState: s.some((x) => x.child) ? 'INSTALLED' : undefined,
      };
    };
    // Shunts as pluto holds them, with those this process did not add (oedns restarted: serve's
    // leftovers keep them closed); what we hold when pluto cannot be asked.
    const held = new Map([...this.shunts].map(([name, m]) => [name, new Map(m)]));
    const st = await this.whack(['--status'], 'list', true);
    // Peer conns pluto holds that this process did not install (oedns restarted): listed from the
    // status so serve's leftovers can keep a private peer's addresses closed (libreswan-status.ts).
    const unknown: InstalledPeer[] = [];
    if (st.code === 0) {
      for (const p of peersInStatus(st.stdout)) {
        if (this.peers.has(p.name) || p.shunt) continue;
        unknown.push({
          name: p.name,
          connection: p.conns[0]!,
          addresses: p.addresses,
          authenticated: p.authenticated,
          ...stateOf(p.conns),
        });
      }
      held.clear();
      for (const conn of shuntConnsIn(st.stdout)) {
        const p = parseShuntConn(conn);
        if (!p) continue;
        held.set(p.name, (held.get(p.name) ?? new Map<string, string>()).set(p.addr, conn));
      }
    }
    const shunts: InstalledPeer[] = [...held].map(([name, m]) => {
      const addrs = [...m.keys()].sort();
      return { name, connection: m.get(addrs[0]!)!, addresses: addrs, authenticated: false, shunt: true };
    });
    return [...this.peers.values()]
      .map(({ peer, conns }): InstalledPeer => ({
        name: peer.name,
        connection: conns[0] ?? connName(peer.name),
        addresses: [...peer.addresses],
        authenticated: peer.auth.kind === 'pubkey',
        ...stateOf(conns),
      }))
      .concat(unknown, shunts);
  }

  async status(): Promise<EngineStatus> {
    const s = await this.run(this.argv(['--status']));
    const version = /pluto_version=([^,\s]+)/.exec(s.stdout)?.[1];
    return {
      engine: this.kind,
      reachable: s.code === 0,
      daemon: version ? `Libreswan ${version}` : undefined,
      peers: this.peers.size,
      detail:
        s.code === 0
          ? `drop shunts: ${[...this.shunts.values()].reduce((n, m) => n + m.size, 0)} addresses`
          : (s.stderr || s.stdout).trim(),
    };
  }

  /** Connection names pluto holds that are ours (`000 "oe-x": ...` lines of whack --status), and our shunts'. */
  private async loadedConns(): Promise<{ conns: Set<string>; shunts: Set<string> }> {
    const r = await this.whack(['--status'], 'reconcile');
    const conns = new Set<string>();
    for (const m of r.stdout.matchAll(/^\d{3} "(oe-[^"/]+(?:\/\d+)?)":/gm)) conns.add(m[1]!);
    return { conns, shunts: shuntConnsIn(r.stdout) };
  }

  /**
   * Make pluto hold exactly `shunts`: what it lost (a restart) is added again, what we did not know
   * of (oedns restarted) is adopted when still wanted and deleted when not.
   */
  private async reconcileShunts(present: Set<string>, shunts: ShuntSpec[], res: ReconcileResult): Promise<void> {
    for (const [name, m] of [...this.shunts]) {
      for (const [addr, conn] of [...m]) if (!present.has(conn)) m.delete(addr);
      if (m.size === 0) this.shunts.delete(name);
    }
    const adopted: string[] = [];
    for (const conn of present) {
      const p = parseShuntConn(conn);
      if (!p) {
        await this.deleteConn(conn, 'reconcile'); // our prefix, not our spelling
        continue;
      }
      const m = this.shunts.get(p.name) ?? new Map<string, string>();
      if (!m.has(p.addr)) adopted.push(conn);
      m.set(p.addr, conn);
      this.shunts.set(p.name, m);
    }
    const want = new Map(shunts.map((x) => [x.name, x.addresses]));
    for (const name of new Set([...want.keys(), ...this.shunts.keys()])) {
      try {
        await this.setShunt(name, want.get(name) ?? []);
      } catch (e) {
        res.failed.push({ name, reason: (e as Error).message });
      }
    }
    // An adopted conn may have been unrouted by hand: routing it again is harmless.
    const kept = new Set([...this.shunts.values()].flatMap((m) => [...m.values()]));
    for (const conn of adopted) {
      if (!kept.has(conn)) continue;
      const r = await this.whack(['--route', '--name', conn], 'reconcile', true);
      if (r.code !== 0)
        res.failed.push({ name: parseShuntConn(conn)!.name, reason: `whack --route --name ${conn} exited ${r.code}: ${r.stdout.trim()}` });
    }
  }

  async reconcile(desired: Peer[], shunts: ShuntSpec[] = []): Promise<ReconcileResult> {
    const res: ReconcileResult = { installed: [], removed: [], unchanged: [], failed: [] };
    const { conns: loaded, shunts: loadedShunts } = await this.loadedConns();
    // Shunts first: an address that must stay closed is closed before any peer changes.
    await this.reconcileShunts(loadedShunts, shunts, res);
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
