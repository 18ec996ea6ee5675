/**
 * Polling for tests that drive a run to a state: ask again every `everyMs` until the answer comes,
 * or fail naming what never came. A test waits on the state it needs, never on a fixed sleep.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { Progress } from '../../src/contract';

/** Polls `probe` until it gives a value (not undefined) and returns it. */
export async function pollFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls `check` until it holds. */
export async function pollUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<void> {
  await pollFor(what, async () => ((await check()) ? true : undefined), timeoutMs, everyMs);
}

/** Polls the run's `progress` query until its status is `status`. */
export function waitForStatus(
  handle: WorkflowHandle,
  status: Progress['status'],
  timeoutMs = 60_000,
): Promise<void> {
  return pollUntil(
    `the run ${status}`,
    async () => (await handle.query<Progress>('progress')).status === status,
    timeoutMs,
  );
}
