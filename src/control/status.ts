// The shape of `oedns status`, shared by the daemon (which fills it) and the CLI (which prints it).
import { type EngineStatus } from '../ike-bridge/engine';

export interface PeerStatus {
  name: string;
  addresses: string[];
  level: string;
  /** 'dnssec-secure' for keys validated from IPSECKEY; 'unauthenticated' for the BTNS fallback. */
  keySource: string;
  authenticated: boolean;
  owners: string[];
  expiresAt: number;
  ikeState?: string;
  childState?: string;
}

/** A drop shunt: what is left of a `private` peer after its conn went, until `until`. */
export interface ShuntStatus {
  name: string;
  addresses: string[];
  /** Unix seconds when the shunt ends (unless a new answer protects the addresses again). */
  until: number;
  /** The engine reports holding it (false: wanted, not confirmed, e.g. an engine without shunts). */
  held: boolean;
}

export interface DaemonStatus {
  version: string;
  startedAt: number;
  now: number;
  listen: string[];
  upstreams: string[];
  engine: EngineStatus;
  peers: PeerStatus[];
  /** Absent from daemons older than drop shunts. */
  shunts?: ShuntStatus[];
  /** Failed engine calls waiting for a retry; `removal`: a peer still in the engine that should go. */
  retrying?: { name: string; attempts: number; removal: boolean }[];
  counters: Record<string, number>;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Human form: a header, one line per peer, then counters. Unauthenticated peers say so plainly. */
export function formatStatus(s: DaemonStatus): string {
  const lines: string[] = [];
  lines.push(`oedns ${s.version}: up ${Math.max(0, s.now - s.startedAt)} s, listening on ${s.listen.join(', ')}`);
  lines.push(`upstreams: ${s.upstreams.join(', ') || '(none)'}`);
  const e = s.engine;
  lines.push(
    `engine: ${e.engine} ${e.reachable ? 'reachable' : 'UNREACHABLE'}${e.daemon ? ` (${e.daemon})` : ''}${e.detail ? `: ${e.detail}` : ''}`,
  );
  lines.push('');
  if (s.peers.length === 0) {
    lines.push('no peers installed');
  } else {
    const rows = [['PEER', 'ADDRESSES', 'LEVEL', 'AUTH', 'EXPIRES IN', 'IKE', 'CHILD']];
    for (const p of s.peers) {
      rows.push([
        p.name,
        p.addresses.join(','),
        p.level,
        p.authenticated ? `yes (${p.keySource})` : 'NO: encrypted, not authenticated',
        `${Math.max(0, p.expiresAt - s.now)} s`,
        p.ikeState ?? '-',
        p.childState ?? '-',
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      lines.push(
        r
          .map((c, i) => pad(c, widths[i]!))
          .join('  ')
          .trimEnd(),
      );
  }
  const shunts = s.shunts ?? [];
  if (shunts.length) {
    lines.push('');
    lines.push('drop shunts (private peers that went: traffic to these addresses is dropped, never sent in clear):');
    const rows = [['PEER', 'ADDRESSES', 'ENDS IN', 'HELD']];
    for (const x of shunts) rows.push([x.name, x.addresses.join(','), `${Math.max(0, x.until - s.now)} s`, x.held ? 'yes' : 'NO']);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      lines.push(
        r
          .map((c, i) => pad(c, widths[i]!))
          .join('  ')
          .trimEnd(),
      );
  }
  lines.push('');
  const removals = (s.retrying ?? []).filter((r) => r.removal);
  if (removals.length) {
    lines.push('');
    lines.push(
      `pending removals (the engine failed to remove them; retried until it confirms): ${removals.map((r) => `${r.name} (${r.attempts} tries)`).join(', ')}`,
    );
  }
  const counters = Object.entries(s.counters).sort(([a], [b]) => a.localeCompare(b));
  lines.push(`counters: ${counters.map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}`);
  return lines.join('\n');
}
