// Typed errors for everything that is not a DNSSEC verdict (a bogus answer is a value, never thrown).
// Tests assert `code`, not message text; the message says what a user can do about it.
// Layering: src/util imports nothing of ours; every other folder may import it.

export class OednsError extends Error {
  constructor(
    readonly code: string,
    msg: string,
    opts?: ErrorOptions,
  ) {
    super(`oedns ${code}: ${msg}`, opts);
    this.name = new.target.name;
  }
}

/** Malformed bytes on the wire: the server answers FORMERR (or drops), the client discards. */
export class WireError extends OednsError {}
/** Zone-file / presentation text that cannot be parsed. */
export class ParseError extends OednsError {}
/** Timeout, refused, unreachable upstream: becomes 'indeterminate' or SERVFAIL, never 'secure'. */
export class TransportError extends OednsError {}
/** Bad VICI frame, or a VICI command that answered success=no (message carries errmsg). */
export class ViciError extends OednsError {}
/** An IKE engine operation that failed (install, remove, initiate...). */
export class EngineError extends OednsError {}
/** Broken configuration or command line: exit status 2 for CLIs. */
export class ConfigError extends OednsError {}

/** ViciError codes that mean charon is not there at all (rather than refusing one request). */
const IKE_DAEMON_GONE: ReadonlySet<string> = new Set(['vici-connect', 'vici-disconnected', 'vici-closed']);

/**
 * Does this error, or one it was caused by, say that the IKE daemon is not there (its socket missing or
 * refusing)? Read off the codes along the `cause` chain, never off the message.
 */
export function ikeDaemonGone(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof ViciError && IKE_DAEMON_GONE.has(c.code)) return true;
    const errno = c instanceof OednsError ? undefined : (c as NodeJS.ErrnoException).code;
    if (errno === 'ECONNREFUSED' || errno === 'ENOENT') return true;
  }
  return false;
}
