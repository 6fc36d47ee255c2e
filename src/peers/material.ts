// A peer turned into a string that compares equal exactly when the IKE daemon would hold the same
// thing: the registry and PeerSync use it to skip engine calls, the engines to find peers unchanged on
// a reconcile, and key material alone to tell a key change (old SAs must end) from an address change.
// One spelling for all of them, beside the model (src/peers/model.ts) so that src/ike-bridge may
// import it. These strings are comparison keys, one way only: the autosp state file (src/autosp/
// state.ts) and the reports (status, control, `autosp list`) are objects read back or shown instead.
import type { Peer, PeerAuth } from './model';

/** Registry keys: case-insensitive, no trailing dot. */
export function peerKey(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** Literal addresses compared in one spelling (IPv6 lower case). */
export function addrKey(a: string): string {
  return a.trim().toLowerCase();
}

/**
 * What the engine must hold, without the parts that change on every refresh (expiry, owner): two peers
 * with the same material need no engine call.
 */
export function peerMaterial(p: Peer): string {
  return `${authMaterial(p.auth)}|${p.gateway.kind === 'address' ? p.gateway.address : ''}|${JSON.stringify({ n: peerKey(p.name), a: [...p.addresses].map(addrKey).sort(), l: p.level, i: p.initiate ?? false })}`;
}

/** The auth part of peerMaterial, once per auth object (claims keep theirs: refreshes are the hot path). */
const authMaterials = new WeakMap<PeerAuth, string>();
function authMaterial(auth: PeerAuth): string {
  let m = authMaterials.get(auth);
  if (m === undefined) {
    m = JSON.stringify(authMaterialObj(auth));
    authMaterials.set(auth, m);
  }
  return m;
}

function authMaterialObj(auth: PeerAuth): object {
  const a =
    auth.kind === 'pubkey'
      ? {
          kind: 'pubkey',
          // Sorted: a server rotates an RRset's order between answers (two keys during a rollover), and
          // a reordered key set is the same key set.
          keys: auth.keys
            .map((k) => [k.algorithm, k.precedence, Buffer.from(k.publicKey).toString('base64')])
            .sort((x, y) => (String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0)),
        }
      : { kind: auth.kind, method: auth.method, pin: auth.pinnedFingerprint ?? null };
  return { auth: a };
}

/** The keys alone, sorted: equal for two peers exactly when no SA authenticated with one is stale for the other. */
export function keyMaterial(p: Pick<Peer, 'auth'>): string {
  return p.auth.kind === 'pubkey'
    ? JSON.stringify(p.auth.keys.map((k) => Buffer.from(k.publicKey).toString('base64')).sort())
    : `${p.auth.kind}:${p.auth.method}:${p.auth.pinnedFingerprint ?? ''}`;
}
