// What `autosp list` shows without a daemon: the state file's names as reports, each installed while
// its stored lifetime lasts and pending after (the next autosp run looks it up again). Pure: state
// and `now` in, reports out.
import { type PeerReport, peerSummary } from './keeper';
import type { AutospState } from './state';

export function storedReports(state: AutospState, now: number): PeerReport[] {
  const byName = new Map(state.peers.map((p) => [p.name, p]));
  return state.names.map((name): PeerReport => {
    const p = byName.get(name);
    if (!p || p.expiresAt <= now) {
      return {
        name,
        result: 'pending',
        reason: p ? 'lapsed: looked up again at the next autosp run' : 'not installed',
        addresses: [],
        keys: 0,
        authenticated: false,
      };
    }
    const reason = `owner autosp, ${p.auth.kind === 'pubkey' ? 'key validated by DNSSEC' : 'NOT authenticated'}`;
    return { name, result: 'installed', reason, ...peerSummary(p) };
  });
}
