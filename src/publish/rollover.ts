// The rollover's order and timing rules as pure decisions over the key directory's state:
//   keygen --next → publish --add → (wait ≥ TTL) → key activate → (wait ≥ TTL) → publish --withdraw-old
// Pre-publishing lets every peer's cache hold the new key before we sign with it (the old RRset may be
// cached for its TTL); keeping the old key published for one TTL after activation keeps a way back
// while the new key proves itself and every daemon of this identity has switched. Each step checks that
// the keys on disk are the ones the previous step recorded (fingerprints in rollover.json): a next key
// replaced after its add was never published, and must not be activated.
import { PublishError } from './errors';
import { waitLeft, type RolloverState, type Slot } from './keydir';

export type PublishMode = 'replace' | 'add' | 'withdraw-old';

/** The key directory: fingerprints (keyFingerprint) of the keys there, and rollover.json. */
export interface KeyDirState {
  current?: string;
  next?: string;
  old?: string;
  state?: RolloverState;
}

const when = (s: RolloverState): string => new Date((s.at + s.waitSec) * 1000).toISOString();

/** Which keys a publish in `mode` puts at the name; throws PublishError when it is out of order. */
export function keysToPublish(mode: PublishMode, d: KeyDirState, nowSec: number, force: boolean): Slot[] {
  switch (mode) {
    case 'replace':
      if (d.next)
        throw new PublishError(
          'rollover-state',
          'a next key exists (host.next.key.pem): publish both with --add, or remove the next key first',
        );
      if (d.old) throw new PublishError('rollover-state', 'an old key is still kept (host.old.key.pem): withdraw it with --withdraw-old');
      return ['current'];
    case 'add':
      if (!d.next) throw new PublishError('rollover-no-next', 'no next key: run oedns keygen --next first');
      // Publishing current + next drops the old key from DNS at once, while peers may still need it.
      if (d.old)
        throw new PublishError(
          'rollover-state',
          'an old key is still kept (host.old.key.pem): the previous rollover is not finished; withdraw it with --withdraw-old first',
        );
      return ['current', 'next'];
    case 'withdraw-old': {
      if (!d.old) throw new PublishError('rollover-no-old', 'no old key to withdraw (host.old.key.pem): nothing was activated');
      if (d.state?.step !== 'activated' && !force) {
        throw new PublishError(
          'rollover-state',
          `the rollover state says '${d.state?.step ?? 'none'}', not 'activated'; use --force if you know the new key is in use`,
        );
      }
      if (!force && (d.state!.current !== d.current || d.state!.old !== d.old)) {
        throw new PublishError(
          'rollover-state',
          'the keys in the directory are not the ones oedns key activate recorded (a key was replaced since): check with oedns keygen --show; use --force if you know the current key is in use and published',
        );
      }
      const left = d.state ? waitLeft(d.state, nowSec) : 0;
      if (left > 0 && !force) {
        throw new PublishError(
          'rollover-too-early',
          `the new key was activated less than a TTL ago: withdraw the old key in ${left} s (not before ${when(d.state!)}), or --force`,
          false,
          { waitSec: left },
        );
      }
      return ['current'];
    }
  }
}

/** Whether `key activate` may go now. */
export function checkActivate(d: KeyDirState, nowSec: number, force: boolean): void {
  if (!d.next) throw new PublishError('rollover-no-next', 'no next key to activate: run oedns keygen --next, then oedns publish --add');
  // Activating again would make the still-published old key's private half go (it becomes the current).
  if (d.old)
    throw new PublishError(
      'rollover-state',
      'an old key is still kept (host.old.key.pem): finish the previous rollover with oedns publish --withdraw-old first',
    );
  if (force) return;
  if (d.state?.step !== 'added') {
    throw new PublishError(
      'rollover-not-published',
      'the next key has not been published with oedns publish --add (or that publish was not seen secure): peers would reject us; --force skips this check',
    );
  }
  if (d.state.next !== d.next || d.state.current !== d.current) {
    throw new PublishError(
      'rollover-not-published',
      `${d.state.next !== d.next ? 'host.next.key.pem' : 'host.key.pem'} is not the key oedns publish --add published (it was replaced since): publish it with oedns publish --add first; peers would reject us`,
    );
  }
  const left = waitLeft(d.state, nowSec);
  if (left > 0) {
    throw new PublishError(
      'rollover-too-early',
      `peers may still cache the RRset without the next key: activate in ${left} s (not before ${when(d.state)}), or --force`,
      false,
      { waitSec: left },
    );
  }
}

/** The line printed after each step: what to run next, and not before when. */
export function nextStepAdvice(s: RolloverState): string {
  const at = when(s);
  switch (s.step) {
    case 'added':
      return `next: oedns key activate, not before ${at} (${s.waitSec} s: the longest TTL a peer may have cached the old records with)`;
    case 'activated':
      return `next: oedns publish --withdraw-old, not before ${at} (${s.waitSec} s: one TTL with both keys published after the switch)`;
    case 'withdrawn':
      return 'rollover done: only the new key is published';
  }
}
