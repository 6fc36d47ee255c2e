// The peers file of `autosp sync` / `autosp watch`: one FQDN per line, `#` starts a comment (whole
// line or trailing), blank lines ignored. Pure: text in, names out; a bad line is a ConfigError that
// names the file and the line, because a typo must never silently drop a peer.
import { ConfigError } from '../util/errors';
import { nameProblem, foldName } from '../policy';

/** More names than this is a mistake (a wrong file), not a peer list. */
export const MAX_PEERS = 100_000;

/** Why `text` is not a usable peer name, or null. Wildcards and the root are not peers. */
export function peerNameProblem(text: string): string | null {
  if (text.includes('*')) return 'wildcards are not peers (name each host)';
  const n = foldName(text);
  return nameProblem(n);
}

/** A command-line peer name → normalized (lowercase, no trailing dot); ConfigError when unusable. */
export function checkPeerName(text: string): string {
  const p = peerNameProblem(text);
  if (p) throw new ConfigError('autosp-bad-name', `bad peer name ${JSON.stringify(text)}: ${p}`);
  return foldName(text);
}

/** The names of a peers file, in file order, duplicates dropped. `source` names the file in errors. */
export function parsePeersFile(text: string, source = 'peers file'): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const where = `${source}:${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length > 1) {
      throw new ConfigError(
        'autosp-peers-file',
        `${where}: one name per line, got ${fields.length} words (${JSON.stringify(line.slice(0, 80))})`,
      );
    }
    const p = peerNameProblem(fields[0]!);
    if (p) throw new ConfigError('autosp-peers-file', `${where}: bad peer name ${JSON.stringify(fields[0]!.slice(0, 80))}: ${p}`);
    const n = foldName(fields[0]!);
    if (seen.has(n)) continue;
    seen.add(n);
    names.push(n);
    if (names.length > MAX_PEERS) throw new ConfigError('autosp-peers-file', `${where}: more than ${MAX_PEERS} peers`);
  }
  return names;
}
