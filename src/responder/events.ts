// What an IKE daemon tells us about an initiator it could not authenticate, read off charon's VICI
// `ike-updown` event. Pure. Seen on strongSwan 5.9.8: when the responder's IKE_AUTH fails, charon
// raises ike-updown without `up`, for an SA still CONNECTING, named after the conn that was picked (our
// catch-all) or `(unnamed)` when none fit, carrying `remote-id` (the initiator's IDi) and `remote-host`.
import type { UpdownEvent } from '../ike-bridge/vici-client';
import { str } from '../ike-bridge/vici-codec';

export interface UnknownInitiator {
  /** The IDi the initiator sent: a claim, not yet authenticated. */
  identity: string;
  /** The address the IKE packets came from. */
  address: string;
  /** Conn charon picked (our catch-all, or `(unnamed)`). */
  connection: string;
  /** charon's IKE_SA unique id, when given. */
  uniqueId?: string;
}

/** charon's name for an IKE_SA that matched no peer config. */
export const UNNAMED = '(unnamed)';

/** Initiators refused while we were responder on `catchAll` (or on no conn at all); empty otherwise. */
export function unknownInitiators(e: UpdownEvent, catchAll: string): UnknownInitiator[] {
  if (e.up) return [];
  const out: UnknownInitiator[] = [];
  for (const sa of e.sas) {
    // Our own failed initiations, other peers' failures (the engine's business) and SAs that were up
    // and went down (ESTABLISHED, DELETING) are not first contacts.
    if (sa.state !== 'CONNECTING') continue;
    if (sa.name !== catchAll && sa.name !== UNNAMED) continue;
    if (str(sa.raw, 'initiator') === 'yes') continue;
    if (!sa.remoteId || !sa.remoteHost) continue;
    out.push({ identity: sa.remoteId, address: sa.remoteHost, connection: sa.name, uniqueId: sa.uniqueId });
  }
  return out;
}
