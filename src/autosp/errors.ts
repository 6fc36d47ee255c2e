// The one failure of autosp's own that the CLI turns into its own exit status (3): the engine or the
// daemon cannot be reached. Its own class so that the CLI matches it by type, not by message.
import { OednsError } from '../util/errors';

/** The engine or the daemon cannot be reached: exit 3. */
export class Unreachable extends OednsError {}
