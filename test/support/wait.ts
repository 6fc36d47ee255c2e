// Waiting in tests and benchmarks: polling a condition with a deadline, and ending a child process.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';

/** Polls `check` until it holds; fails the test naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, stepMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`; resolves with its exit code. */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs = 5000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
  return child.exitCode;
}
