// Why a publish or a rollover step did not happen, as codes a script can act on, and the exit status
// each code gives (docs/publish.md lists them). Every code says whether the zone may have changed.
import { OednsError } from '../util/errors';

/** A publish/rollover step that failed. `changed`: false = nothing was applied; 'unknown' = check. */
export class PublishError extends OednsError {
  constructor(
    code: PublishErrorCode,
    msg: string,
    readonly changed: false | 'unknown' | true = false,
    readonly detail: Record<string, unknown> = {},
    opts?: ErrorOptions,
  ) {
    super(code, msg, opts);
  }
}

export type PublishErrorCode =
  // The server rejected the UPDATE; nothing changed (exit 3).
  | 'tsig-badkey'
  | 'tsig-badsig'
  | 'tsig-badtime'
  | 'tsig-error'
  | 'update-refused'
  | 'update-notauth'
  | 'update-notzone'
  | 'update-notimp'
  | 'update-formerr'
  | 'update-servfail'
  | 'update-rcode'
  // The RRset changed since we read it; nothing changed (exit 4).
  | 'publish-conflict'
  // No server to talk to, no zone, or no authentic answer from the primary to our signed read; nothing changed (exit 5).
  | 'zone-not-found'
  | 'server-unreachable'
  | 'server-unresolvable'
  | 'zone-not-served'
  | 'read-unauthenticated'
  // Applied, but not seen secure in time (exit 6).
  | 'not-secure'
  // Sent, but no authentic answer: it may or may not have been applied (exit 7).
  | 'update-no-answer'
  | 'tsig-response-unsigned'
  | 'tsig-response-bad'
  // A rollover step asked at the wrong time or in the wrong order (exit 8).
  | 'rollover-too-early'
  | 'rollover-no-next'
  | 'rollover-not-published'
  | 'rollover-no-old'
  | 'rollover-state';

/** Documented exit statuses (0 ok, 1 unexpected, 2 usage/configuration). */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  rejected: 3,
  conflict: 4,
  unreachable: 5,
  notSecure: 6,
  unknown: 7,
  rollover: 8,
} as const;

export function exitCodeOf(code: string): number {
  if (/^(tsig-bad(key|sig|time)|tsig-error|update-(refused|notauth|notzone|notimp|formerr|servfail|rcode))$/.test(code))
    return EXIT.rejected;
  if (code === 'publish-conflict') return EXIT.conflict;
  if (/^(zone-not-found|server-unreachable|server-unresolvable|zone-not-served|read-unauthenticated)$/.test(code)) return EXIT.unreachable;
  if (code === 'not-secure') return EXIT.notSecure;
  if (/^(update-no-answer|tsig-response-(unsigned|bad))$/.test(code)) return EXIT.unknown;
  if (code.startsWith('rollover-')) return EXIT.rollover;
  return EXIT.internal;
}
