/**
 * Liveness of a training activity (an epoch or a shard). Heartbeats come from a timer, not from
 * batch progress: checkpoint downloads, trainer start-up, epoch-end validation and uploads can each
 * outlast the heartbeat timeout, and a run must not be recorded as a crash for doing slow work (issue 10 items 0, 15).
 * A trainer that really hangs is caught by the trainer watchdog, which kills it, so the timer does
 * not hide it. Start-up phases give way to a worker shutdown at once (item 17).
 */
import type { FailureKind } from '../src/failure-kind';
import { Context } from '@temporalio/activity';
import type { AttemptPosition } from '../src/contract';

/** Longest gap between heartbeat calls; the SDK throttles what it sends to the server. */
const MAX_INTERVAL_MS = 1000;

/**
 * Runs a short activity (retention, a merge) with heartbeats on a timer, so a worker lost in the
 * middle of it is noticed within the heartbeat timeout the workflow gives it, not its start-to-close
 * timeout (minutes). Outside an activity (unit tests) it just runs `work`.
 */
export async function withHeartbeats<T>(work: () => Promise<T>): Promise<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return work();
  }
  const stop = startHeartbeats(ctx, () => undefined);
  try {
    return await work();
  } finally {
    stop();
  }
}

/** Heartbeats `details()` now and then on a timer until the returned function is called. */
export function startHeartbeats(ctx: Context, details: () => AttemptPosition | undefined): () => void {
  const timeoutMs = ctx.info.heartbeatTimeoutMs ?? 10_000;
  const intervalMs = Math.max(100, Math.min(MAX_INTERVAL_MS, timeoutMs / 4));
  const beat = () => ctx.heartbeat(details());
  beat();
  const timer = setInterval(beat, intervalMs);
  return () => clearInterval(timer);
}

/** Thrown by `untilCancelled` when the activity is cancelled (worker shutdown) before training began. */
export class StartupCancelledError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  constructor(readonly reason: string) {
    super(`cancelled before training began (${reason})`);
  }
}

/**
 * Waits for a start-up step, or rejects with `StartupCancelledError` as soon as the activity is
 * cancelled (also when it already was). A result that arrives after that goes to `abandon`.
 */
export function untilCancelled<T>(ctx: Context, work: Promise<T>, abandon?: (late: T) => void): Promise<T> {
  const signal = ctx.cancellationSignal;
  const reason = () => String(signal.reason ?? 'cancelled');
  if (signal.aborted) {
    void work.then(abandon, () => undefined);
    return Promise.reject(new StartupCancelledError(reason()));
  }
  return new Promise<T>((resolve, reject) => {
    let cancelled = false;
    const onAbort = () => {
      cancelled = true;
      reject(new StartupCancelledError(reason()));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (cancelled) abandon?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
