// `oedns doctor`: every way this host can fail to get DNSSEC-authenticated IPsec, checked one by one
// against the real parts (charon over VICI, the DNS, the trust anchors, resolv.conf, the clock), each
// with a one-line fix, like Libreswan's `ipsec verify`. A check returns data; printing is the CLI's.
// Layering: src/doctor may import every folder but src/daemon and src/cli.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { DEFAULT_USER, groupsOf, lookupUser } from '../resolver/privileges';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { IPSEC_DEFAULTS, type ServeConfig } from '../config/serve';
import type { TrustAnchor } from '../dnssec/anchors';
import { createValidator } from '../dnssec/validator';
import type { QueryFn } from '../dnssec/fetcher';
import { validateKeySet } from '../dnssec/ds';
import { decodeRrsig } from '../dnssec/records';
import { keyObjectToIpseckey, charonKeyType } from '../ike-bridge/keys';
import { ipseckeyLine } from '../ike-bridge/identity';
import { ViciClient } from '../ike-bridge/vici-client';
import { list as viciList, str as viciStr } from '../ike-bridge/vici-codec';
import { controlRequest } from '../control/client';
import { TrustAnchorManager } from '../trust/refresher';
import { stateOwners } from '../trust/state-file';
import { type Endpoint, formatEndpoint, parseEndpoint } from '../resolver/endpoint';
import { isOwnAddress, parseResolvConf, upstreamFileProblem, upstreamsFromResolvConf } from '../resolver/upstream-file';
import { nameEquals, normalizeName } from '../wire/name';
import { decodeIpseckey } from '../wire/rdata';
import type { RR } from '../wire/types';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  /** What was found, one line. */
  detail: string;
  /** What to do about it, one line (failures only). */
  fix?: string;
}

export interface DoctorContext {
  config: ServeConfig;
  configPath?: string;
  anchors: readonly TrustAnchor[];
  anchorSource: string;
  /** DNS questions to the first upstream, with DO and CD (we validate ourselves). */
  query: QueryFn;
  /** Unix seconds. */
  now: number;
  readFile?: (path: string) => string;
  /** ms per network step (VICI, DNS). */
  timeoutMs?: number;
}

const IPSECKEY = 45;
const DNSKEY = 48;
const RRSIG = 46;
const cfgFile = (c: DoctorContext): string => c.configPath ?? '/etc/oedns/oedns.yaml';
const read = (c: DoctorContext, p: string): string => (c.readFile ?? ((x: string) => readFileSync(x, 'utf8')))(p);
const pass = (id: string, detail: string): CheckResult => ({ id, status: 'pass', detail });
const fail = (id: string, detail: string, fix: string): CheckResult => ({ id, status: 'fail', detail, fix });
const skip = (id: string, detail: string): CheckResult => ({ id, status: 'skip', detail });

export function checkEngine(c: DoctorContext): CheckResult {
  if (c.config.engine === 'dry-run') {
    return fail(
      'engine',
      'engine is dry-run: oedns validates, but installs no IPsec policy (nothing is encrypted)',
      `set 'engine: strongswan' in ${cfgFile(c)}`,
    );
  }
  return pass('engine', `engine ${c.config.engine}`);
}

/** Plugins charon needs for what oedns loads into it (raw public keys, our key type, the proposals). */
export function neededPlugins(c: ServeConfig, keyType: 'rsa' | 'ecdsa' | 'ed25519' | undefined): string[][] {
  const need: string[][] = [
    ['vici'],
    ['pem'],
    ['pubkey'],
    ['nonce'],
    ['random'],
    ['kernel-netlink', 'kernel-libipsec', 'kernel-pfkey'],
    ['socket-default', 'socket-dynamic'],
  ];
  const ipsec = c.engineConfig.ipsec ?? IPSEC_DEFAULTS;
  const props = [...ipsec.ikeProposals, ...ipsec.espProposals].join('-');
  if (/x25519|curve25519|x448/.test(props)) need.push(['curve25519', 'openssl']);
  if (/sha256|sha384|sha512/.test(props)) need.push(['sha2', 'openssl']);
  if (/aes/.test(props)) need.push(['aes', 'openssl']);
  if (/modp/.test(props)) need.push(['gmp', 'openssl', 'gcrypt']);
  if (keyType === 'rsa') need.push(['pkcs1'], ['gmp', 'openssl', 'gcrypt']);
  if (keyType === 'ecdsa') need.push(['openssl']);
  if (keyType === 'ed25519') need.push(['curve25519', 'openssl'], ['pkcs8']);
  return need;
}

function ourKey(c: DoctorContext): KeyObject | undefined {
  try {
    return createPrivateKey(read(c, c.config.engineConfig.key));
  } catch {
    return undefined;
  }
}

export async function checkCharon(c: DoctorContext): Promise<CheckResult> {
  if (c.config.engine !== 'strongswan') return skip('charon', `engine ${c.config.engine}: charon not used`);
  const path = c.config.engineConfig.vici;
  const vici = new ViciClient({
    socketPath: path,
    timeoutMs: c.timeoutMs ?? 3000,
    connectTimeoutMs: c.timeoutMs ?? 3000,
    reconnect: false,
  });
  try {
    const v = await vici.request('version');
    const version = `${viciStr(v, 'daemon') ?? 'charon'} ${viciStr(v, 'version') ?? ''}`.trim();
    const stats = await vici.request('stats');
    const loaded = new Set(viciList(stats, 'plugins'));
    const key = ourKey(c);
    const missing = neededPlugins(c.config, key ? charonKeyType(key) : undefined).filter((alts) => !alts.some((p) => loaded.has(p)));
    if (missing.length) {
      const names = missing.map((alts) => alts.join(' or '));
      return fail(
        'charon',
        `${version} lacks plugins oedns needs: ${names.join(', ')}`,
        `install them (Debian: libstrongswan-standard-plugins, libcharon-extra-plugins) and set 'load = yes' in /etc/strongswan.d/charon/<plugin>.conf`,
      );
    }
    return pass('charon', `${version} answers on ${path}, plugins present`);
  } catch (e) {
    const msg = (e as Error).message;
    if (/EACCES|permission/i.test(msg)) {
      return fail(
        'charon',
        `not allowed to use charon's VICI socket ${path}: ${msg}`,
        "run oedns as a user in charon's group: `charon { group = vici }` in /etc/strongswan.d/oedns-vici.conf (scripts/install.sh writes it)",
      );
    }
    return fail(
      'charon',
      `charon is not reachable on ${path}: ${msg}`,
      `start charon (Debian: \`apt install charon-systemd && systemctl enable --now strongswan\`), or set 'vici:' in ${cfgFile(c)} to its socket`,
    );
  } finally {
    await vici.close().catch(() => undefined);
  }
}

/** Groups that exist for other purposes and have (or get) members of their own. */
const WELL_KNOWN_GROUPS = new Set([
  'adm',
  'sudo',
  'wheel',
  'admin',
  'staff',
  'users',
  'nogroup',
  'nobody',
  'daemon',
  'bin',
  'sys',
  'disk',
  'systemd-journal',
  'netdev',
  'plugdev',
  'lpadmin',
]);

/** Who is in a group: its group(5) members and the users whose primary group it is. */
export function groupMembers(groupText: string, passwdText: string, gid: number): { name?: string; members: string[] } {
  let name: string | undefined;
  const members = new Set<string>();
  for (const line of groupText.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || Number(f[2]) !== gid || f[2] === '') continue;
    name ??= f[0];
    for (const m of f[3]!.split(',')) if (m.trim()) members.add(m.trim());
  }
  for (const line of passwdText.split('\n')) {
    const f = line.split(':');
    if (f.length >= 4 && f[3] !== '' && Number(f[3]) === gid) members.add(f[0]!);
  }
  return { name, members: [...members].sort() };
}

/**
 * Whoever may use charon's VICI socket is as good as root (it loads connections, keys and kernel
 * policies into charon, and with the updown plugin, commands that charon runs as root). The socket's
 * group must hold only the user oedns runs as.
 */
export function checkViciGroup(c: DoctorContext, stat: (p: string) => { uid: number; gid: number; mode: number } = statSync): CheckResult {
  if (c.config.engine !== 'strongswan') return skip('vici-group', `engine ${c.config.engine}: charon not used`);
  const path = c.config.engineConfig.vici;
  let st;
  try {
    st = stat(path);
  } catch (e) {
    return skip('vici-group', `cannot look at ${path}: ${(e as Error).message} (see the charon check)`);
  }
  if (st.mode & 0o006) {
    return fail(
      'vici-group',
      `charon's VICI socket ${path} is open to every local user (mode ${(st.mode & 0o777).toString(8)}): any of them is as good as root`,
      `remove the VICI socket's world permissions in strongswan.conf and restart charon; use \`charon { group = vici }\` (scripts/install.sh writes it)`,
    );
  }
  if (!(st.mode & 0o060)) return pass('vici-group', `charon's VICI socket ${path} is for its owner only (uid ${st.uid})`);
  let groups: string;
  let passwd: string;
  try {
    groups = read(c, '/etc/group');
    passwd = read(c, '/etc/passwd');
  } catch (e) {
    return fail('vici-group', `cannot read the user database: ${(e as Error).message}`, 'run `oedns doctor` as root');
  }
  const { name, members } = groupMembers(groups, passwd, st.gid);
  const group = name ?? `gid ${st.gid}`;
  const serviceUser = c.config.user && c.config.user !== 'root' ? c.config.user : 'oedns';
  const others = members.filter((m) => m !== serviceUser && m !== 'root');
  const fix =
    `give charon a group of its own with only ${serviceUser} in it (\`oedns install\` makes one: vici), or remove the others: ` +
    `${others.length ? others.map((m) => `\`gpasswd -d ${m} ${group}\``).join(', ') : `\`gpasswd -d USER ${group}\``}; see docs/laptop.md`;
  if (others.length) {
    return fail(
      'vici-group',
      `the group of charon's VICI socket (${group}) has members besides ${serviceUser}: ${others.join(', ')}; each of them is as good as root (VICI loads connections and keys into charon, which runs as root)`,
      fix,
    );
  }
  // Root's own group (charon's default) holds root only; a shared group may gain members any day.
  if (name && WELL_KNOWN_GROUPS.has(name)) {
    return fail(
      'vici-group',
      `charon's VICI socket has the well-known group ${group}: whoever is added to it later is as good as root`,
      fix,
    );
  }
  return pass('vici-group', `only ${members.length ? members.join(', ') : 'root'} may use charon's VICI socket (group ${group})`);
}

export function checkIdentity(c: DoctorContext): CheckResult {
  const id = c.config.engineConfig.identity.replace(/\.$/, '');
  if (!id.includes('.') || id === 'localhost' || id.endsWith('.localdomain') || id.endsWith('.local')) {
    return fail(
      'identity',
      `identity '${id}' is not a name others can look up (single label or local-only)`,
      `set 'identity: <this host's FQDN in a DNSSEC-signed zone you control>' in ${cfgFile(c)}`,
    );
  }
  return pass('identity', `identity ${id}`);
}

export function checkKeyFile(c: DoctorContext, stat: StatFn = statSync): CheckResult {
  if (c.config.engine === 'libreswan')
    return skip('key', "libreswan keeps our key in pluto's NSS database (see `ipsec showhostkey --list`)");
  const file = c.config.engineConfig.key;
  let pem: string;
  try {
    pem = read(c, file);
  } catch (e) {
    return fail(
      'key',
      `cannot read our private key ${file}: ${(e as Error).message}`,
      `create it: \`oedns keygen --name ${c.config.engineConfig.identity} --out /etc/oedns\` (then publish the record it prints)`,
    );
  }
  try {
    createPrivateKey(pem);
  } catch (e) {
    return fail(
      'key',
      `${file} is not a PEM private key: ${(e as Error).message}`,
      `create a new one: \`oedns keygen --out /etc/oedns --force\``,
    );
  }
  // Doctor runs as root and reads anything: the daemon runs as the service user, and must too.
  const svc = serviceUser(c);
  if (svc) {
    const why = unreadableBy(file, svc.ids, stat);
    if (why) {
      return fail(
        'key',
        `${file} is readable by root but not by ${svc.name}, the user oedns runs as: ${why}`,
        `chown root:${svc.name} ${file} && chmod 0640 ${file} (and let ${svc.name} through its directories; \`oedns install\` does this for /etc/oedns)`,
      );
    }
  }
  return pass('key', `private key ${file} readable${svc ? ` by ${svc.name}` : ''}`);
}

/**
 * The user the daemon runs as, when doctor runs as someone else (root): `user:` of the config, else
 * oedns if it exists (the unit's User=). undefined: doctor already is that user, or there is none.
 */
function serviceUser(c: DoctorContext): { name: string; ids: { uid: number; groups: number[] } } | undefined {
  const name = c.config.user && c.config.user !== 'root' ? c.config.user : c.config.user === 'root' ? undefined : DEFAULT_USER;
  if (!name) return undefined;
  let passwd: string;
  let groups = '';
  try {
    passwd = read(c, '/etc/passwd');
  } catch {
    return undefined;
  }
  try {
    groups = read(c, '/etc/group');
  } catch {
    /* the primary group only */
  }
  const u = lookupUser(passwd, name);
  if (!u || u.uid === process.getuid?.()) return undefined;
  return { name, ids: { uid: u.uid, groups: groupsOf(groups, name, u.gid) } };
}

type StatFn = (p: string) => { uid: number; gid: number; mode: number };

/** Why `ids` could not open `file` for reading (search on every directory, read on the file), or undefined. */
export function unreadableBy(file: string, ids: { uid: number; groups: number[] }, stat: StatFn): string | undefined {
  const may = (st: { uid: number; gid: number; mode: number }, bit: number): boolean => {
    if (ids.uid === 0) return true;
    if (st.uid === ids.uid) return (st.mode & (bit << 6)) !== 0;
    if (ids.groups.includes(st.gid)) return (st.mode & (bit << 3)) !== 0;
    return (st.mode & bit) !== 0;
  };
  const abs = resolvePath(file);
  const dirs: string[] = [];
  for (let d = dirname(abs), prev = ''; d !== prev; prev = d, d = dirname(d)) dirs.unshift(d);
  try {
    for (const d of dirs) if (!may(stat(d), 1)) return `no search permission on ${d}`;
    const st = stat(abs);
    if (!may(st, 4)) return `mode ${(st.mode & 0o777).toString(8)}, owner ${st.uid}, group ${st.gid}`;
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

/** Our key published as the identity's IPSECKEY, and that answer DNSSEC-secure. */
export async function checkPublished(c: DoctorContext): Promise<CheckResult> {
  if (c.config.engine === 'libreswan')
    return skip('published', 'libreswan: compare `ipsec showhostkey --ipseckey` with the published record yourself');
  const key = ourKey(c);
  if (!key) return skip('published', 'no readable private key (see the key check)');
  const id = c.config.engineConfig.identity;
  const line = ipseckeyLine(id, key);
  let name: string;
  try {
    name = normalizeName(id);
  } catch {
    return skip('published', `identity '${id}' is not a domain name`);
  }
  const validator = createValidator({ anchors: anchorsInUse(c).anchors, query: c.query });
  let verdict;
  let records: RR[];
  let negative: string | null;
  try {
    const msg = await c.query(name, IPSECKEY);
    const r = await validator.validate({ name, type: IPSECKEY, class: 1 }, msg, c.now);
    verdict = r.verdict;
    // Only what the proof covers (never the raw message).
    records = r.rrsets.filter((set) => set.type === IPSECKEY && nameEquals(set.name, name)).flatMap((set) => set.records);
    negative = r.negative;
  } catch (e) {
    return fail('published', `cannot look up ${id} IPSECKEY: ${(e as Error).message}`, 'fix the upstreams first (see the upstreams check)');
  }
  if (verdict.kind === 'bogus') {
    return fail(
      'published',
      `the IPSECKEY answer for ${id} is bogus: ${verdict.detail}`,
      `re-sign ${id}'s zone (expired or broken signatures) and check its DS at the parent`,
    );
  }
  if (verdict.kind !== 'secure') {
    const why = verdict.detail;
    return fail(
      'published',
      `the IPSECKEY answer for ${id} is not DNSSEC-secure (${verdict.kind}: ${why})`,
      `sign ${id}'s zone and publish its DS in the parent zone: peers only trust a validated key`,
    );
  }
  if (records.length === 0 || negative) {
    return fail(
      'published',
      `no IPSECKEY is published for ${id} (validated ${negative ?? 'empty'} answer)`,
      `publish in ${id}'s signed zone: ${line}`,
    );
  }
  const ours = keyObjectToIpseckey(createPublicKey(key));
  const found = records.map((rr) => decodeIpseckey(rr.rdata));
  if (!found.some((k) => k.algorithm === ours.algorithm && Buffer.compare(Buffer.from(k.publicKey), ours.publicKey) === 0)) {
    return fail(
      'published',
      `the IPSECKEY published for ${id} (${found.length} record${found.length > 1 ? 's' : ''}) is not our key ${c.config.engineConfig.key}`,
      `publish in ${id}'s signed zone: ${line} (or set 'key:' to the private key that matches the record)`,
    );
  }
  return pass('published', `${id} IPSECKEY is our key, DNSSEC-secure`);
}

/**
 * The anchors the daemon validates with: with an RFC 5011 state, the keys that state trusts (loaded
 * as the daemon loads it, TrustAnchorManager), else the configured ones. Loaded once per context.
 */
interface AnchorsInUse {
  anchors: readonly TrustAnchor[];
  /** Where they come from, for the check's line. */
  source: string;
  manager?: TrustAnchorManager;
  /** The state file could not be loaded (the daemon would not start). */
  error?: string;
}
const inUse = new WeakMap<DoctorContext, AnchorsInUse>();
export function anchorsInUse(c: DoctorContext): AnchorsInUse {
  let r = inUse.get(c);
  if (r) return r;
  const state = c.config.trustAnchorState;
  if (!state) r = { anchors: c.anchors, source: c.anchorSource };
  else {
    try {
      const manager = TrustAnchorManager.offline(c.anchors, state, () => c.now, stateOwners(c.config.user));
      r = { anchors: manager.anchors(), source: `RFC 5011 state ${state}, from ${c.anchorSource}`, manager };
    } catch (e) {
      r = { anchors: c.anchors, source: c.anchorSource, error: (e as Error).message };
    }
  }
  inUse.set(c, r);
  return r;
}

/** The anchors validate the zone's DNSKEY set as published today; also gives the RRSIG window for the clock. */
export interface SigWindow {
  inception: number;
  expiration: number;
}

/** At most this many RRSIGs are tried: the root has two or three, and each try costs a verification. */
const MAX_CLOCK_SIGS = 8;

/**
 * The validity windows of the RRSIGs over a DNSKEY set that the anchor's keys really made. Each is
 * verified at a time inside its own window, so a wrong clock (what the clock check looks for) does
 * not hide it; the dates are signed, so an upstream that rewrites them breaks the signature and its
 * window is not believed.
 */
export function signedWindows(anchor: TrustAnchor, keys: RR[], sigs: RR[]): SigWindow[] {
  const out: SigWindow[] = [];
  for (const s of sigs.slice(0, MAX_CLOCK_SIGS)) {
    let d;
    try {
      d = decodeRrsig(s.rdata);
    } catch {
      continue;
    }
    if (d.typeCovered !== DNSKEY || d.expiration < d.inception) continue;
    const inside = d.inception + Math.floor((d.expiration - d.inception) / 2);
    if (validateKeySet(anchor, keys, [s], inside).verdict.kind === 'secure') out.push({ inception: d.inception, expiration: d.expiration });
  }
  return out;
}

export async function checkTrustAnchors(c: DoctorContext): Promise<{ result: CheckResult; windows?: SigWindow[] }> {
  if (c.anchors.length === 0)
    return {
      result: fail('trust-anchors', 'no trust anchor', "install Debian's dns-root-data (/usr/share/dns/root.key) or set 'trust-anchor:'"),
    };
  const state = c.config.trustAnchorState;
  const use = anchorsInUse(c);
  if (use.error)
    return {
      result: fail(
        'trust-anchors',
        use.error,
        `move ${state} away; the daemon starts again from the configured anchors (${c.anchorSource})`,
      ),
    };
  const dead = use.manager?.untrusted() ?? [];
  if (dead.length) {
    return {
      result: fail(
        'trust-anchors',
        `the RFC 5011 state ${state} holds no trusted key for ${dead.map((z) => z || '.').join(', ')}: the daemon answers SERVFAIL for every name under it`,
        `move ${state} away and restart oedns: it starts again from the configured anchors (${c.anchorSource})`,
      ),
    };
  }
  // Each tracked key and its state, as `oedns control trust-anchors` shows them.
  const states = use.manager
    ? `; keys ${use.manager
        .report()
        .map((tp) => `${tp.zone || '.'}: ${tp.keys.map((k) => `${k.tag} ${k.state}`).join(', ') || 'not observed yet'}`)
        .join('; ')}`
    : '';
  const anchors = use.anchors;
  const root = anchors.find((a) => a.zone === '' || a.zone === '.') ?? anchors[0]!;
  let msg;
  try {
    msg = await c.query(root.zone, DNSKEY);
  } catch (e) {
    return {
      result: fail(
        'trust-anchors',
        `cannot fetch the DNSKEY set of ${root.zone || '.'}: ${(e as Error).message}`,
        'fix the upstreams first (see the upstreams check)',
      ),
    };
  }
  const keys = msg.answers.filter((r) => r.type === DNSKEY && nameEquals(r.name, root.zone));
  const sigs = msg.answers.filter((r) => r.type === RRSIG && nameEquals(r.name, root.zone));
  const windows = signedWindows(root, keys, sigs);
  if (keys.length === 0) {
    return {
      result: fail(
        'trust-anchors',
        `the upstream returned no DNSKEY set for ${root.zone || '.'} (rcode ${msg.rcode}): cannot check the anchors`,
        'fix the upstreams first (see the upstreams check); they must answer DNSSEC queries (DO bit)',
      ),
    };
  }
  const r = validateKeySet(root, keys, sigs, c.now);
  if (r.verdict.kind === 'secure') {
    return {
      result: pass(
        'trust-anchors',
        `anchors (${use.source}) validate today's ${root.zone || '.'} DNSKEY set (key tags ${r.keyTags.join(', ')})${states}`,
      ),
      windows,
    };
  }
  const detail = r.verdict.detail;
  const fix = /sig-expired|sig-not-yet-valid/.test(r.verdict.reason)
    ? 'the clock is probably wrong (see the clock check)'
    : state
      ? `the RFC 5011 state no longer matches the zone's keys: move ${state} away and restart oedns (it starts again from ${c.anchorSource}; \`apt install --reinstall dns-root-data\` first if that is old)`
      : `update the anchors: \`apt install --reinstall dns-root-data\` (${c.anchorSource}), or set 'trust-anchor-state: /var/lib/oedns/trust-anchors.json' to follow rollovers (RFC 5011)`;
  return {
    result: fail('trust-anchors', `anchors (${use.source}) do not validate the ${root.zone || '.'} DNSKEY set: ${detail}${states}`, fix),
    windows,
  };
}

/** The clock against the windows of signatures that validated (signedWindows); none: cannot tell. */
export function checkClock(c: DoctorContext, windows: SigWindow[] | undefined): CheckResult {
  if (!windows || windows.length === 0) {
    return fail(
      'clock',
      'cannot tell: no signature over the root DNSKEY set was made by a key of the trust anchors (see the trust-anchors and upstreams checks)',
      'fix the trust anchors and upstreams first; then run doctor again',
    );
  }
  const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
  const inside = windows.find((w) => c.now >= w.inception && c.now <= w.expiration);
  if (!inside) {
    const w = windows[0]!;
    return fail(
      'clock',
      `the clock says ${iso(c.now)}, outside the validity of the root's signatures (${iso(w.inception)} to ${iso(w.expiration)}): every DNSSEC answer would be bogus`,
      'set the clock and keep it set: `timedatectl set-ntp true` (or install chrony)',
    );
  }
  return pass(
    'clock',
    `clock ${iso(c.now)} lies within the root DNSKEY signature validity (${iso(inside.inception)} to ${iso(inside.expiration)})`,
  );
}

export async function checkUpstreams(c: DoctorContext, probe: (e: Endpoint) => Promise<number>): Promise<CheckResult> {
  const cfg = c.config;
  let ups = cfg.upstream;
  if (cfg.upstreamFile) {
    const problem = upstreamFileProblem(cfg.upstreamFile);
    if (problem) {
      return fail(
        'upstreams',
        `the upstream file ${cfg.upstreamFile} cannot be trusted: ${problem}`,
        `make it and its directory root's and writable only by root (chown root: FILE; chmod go-w FILE DIR), or point 'upstream-file' at the network manager's own file`,
      );
    }
    let text: string;
    try {
      text = read(c, cfg.upstreamFile);
    } catch (e) {
      return fail(
        'upstreams',
        `cannot read the upstream file ${cfg.upstreamFile}: ${(e as Error).message}`,
        'is the network manager running and connected? see docs/laptop.md for the NetworkManager and systemd-resolved recipes',
      );
    }
    ups = upstreamsFromResolvConf(text, cfg.listen);
    if (parseResolvConf(text).length > 0 && ups.length === 0) {
      return fail(
        'upstreams',
        `${cfg.upstreamFile} names only oedns itself`,
        `point 'upstream-file' at the file with the network's own nameservers (NetworkManager: /run/NetworkManager/no-stub-resolv.conf)`,
      );
    }
  }
  if (ups.length === 0) return fail('upstreams', 'no upstream nameserver', `set 'upstream-file:' (or 'upstream:') in ${cfgFile(c)}`);
  const ours = ups.filter((u) => isOwnAddress(u, cfg.listen));
  if (ours.length)
    return fail(
      'upstreams',
      `upstream ${ours.map(formatEndpoint).join(', ')} is oedns itself: queries would loop`,
      `remove it from 'upstream:' in ${cfgFile(c)}`,
    );
  const bad: string[] = [];
  for (const u of ups) {
    const rcode = await probe(u).catch(() => -1);
    if (rcode !== 0) bad.push(`${formatEndpoint(u)} (${rcode < 0 ? 'no answer' : `rcode ${rcode}`})`);
  }
  if (bad.length === ups.length)
    return fail(
      'upstreams',
      `no upstream answers: ${bad.join(', ')}`,
      'check the network, or the nameservers in the upstream file / config',
    );
  if (bad.length)
    return fail('upstreams', `some upstreams do not answer: ${bad.join(', ')}`, 'remove them from the config, or check the network');
  return pass('upstreams', `${ups.map(formatEndpoint).join(', ')} answer${cfg.upstreamFile ? ` (from ${cfg.upstreamFile})` : ''}`);
}

/**
 * Every nameserver line must be oedns: glibc asks the next server when one answers SERVFAIL, which is
 * what oedns answers for a bogus name, so a second server would answer it unvalidated.
 */
export function checkSystemResolver(c: DoctorContext, resolvConfPath = '/etc/resolv.conf'): CheckResult {
  let text: string;
  try {
    text = read(c, resolvConfPath);
  } catch (e) {
    return fail(
      'system-resolver',
      `cannot read ${resolvConfPath}: ${(e as Error).message}`,
      `write '${resolvConfPath}' with 'nameserver 127.0.0.1'`,
    );
  }
  const servers = parseResolvConf(text);
  const others = servers.filter((s) => {
    try {
      return !isOwnAddress(parseEndpoint(s), c.config.listen);
    } catch {
      return true;
    }
  });
  if (servers.length > 0 && others.length === 0)
    return pass('system-resolver', `${resolvConfPath} points at oedns only (${servers.join(', ')})`);
  const on53 = c.config.listen.find((l) => l.port === 53);
  const ours = on53 ? (on53.host === '0.0.0.0' || on53.host === '::' ? '127.0.0.1' : on53.host) : undefined;
  const fix = ours
    ? `make 'nameserver ${ours}' the only nameserver line of ${resolvConfPath} (NetworkManager: rc-manager=unmanaged; systemd-resolved: see docs/laptop.md)`
    : `listen on port 53 ('listen: 127.0.0.1:53'): resolv.conf cannot name another port`;
  if (servers.length === 0)
    return fail('system-resolver', `${resolvConfPath} names no nameserver: the system's queries do not go to oedns`, fix);
  if (others.length === servers.length)
    return fail('system-resolver', `${resolvConfPath} sends the system's queries to ${others.join(', ')}, not to oedns`, fix);
  return fail(
    'system-resolver',
    `${resolvConfPath} also names ${others.join(', ')}: the C library asks it whenever oedns answers SERVFAIL (as it does for every bogus answer), so forged answers get through unvalidated`,
    fix,
  );
}

export async function checkDaemon(c: DoctorContext): Promise<CheckResult> {
  if (!c.config.control) return skip('daemon', 'no control socket configured: cannot ask the daemon');
  try {
    const s = (await controlRequest(c.config.control, 'status', undefined, c.timeoutMs ?? 3000)) as {
      now: number;
      startedAt: number;
      listen: string[];
    };
    return pass('daemon', `oedns serve is running (up ${Math.max(0, s.now - s.startedAt)} s, on ${s.listen.join(', ')})`);
  } catch (e) {
    return fail(
      'daemon',
      `no oedns daemon answers on ${c.config.control}: ${(e as Error).message.replace(/^oedns [\w-]+: /, '')}`,
      'start it: `systemctl enable --now oedns`',
    );
  }
}
