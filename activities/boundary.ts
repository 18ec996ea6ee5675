/**
 * The activity boundary: every activity's error becomes an `ApplicationFailure` here, once. Its type
 * is the error's class name and `nonRetryable` comes from the class's declared `failureKind`
 * (src/failure-kind.ts), so the workflow needs no list of names: it reads `nonRetryable`, and tells
 * an unusable starting checkpoint by `CHECKPOINT_UNUSABLE_TYPES` (src/contract/failures.ts). The
 * training activities convert their own errors (with `toActivityFailure(err, position)`) so that
 * each failure carries where the attempt got to.
 */
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { classifyError } from '../src/failure-kind';
import type { AttemptPosition } from '../src/contract';

/**
 * Converts a thrown error into the failure the workflow sees. Temporal failures pass unchanged.
 * `position`: where a training attempt got to (its heartbeat details, with its newest durable
 * checkpoint), carried as the failure's details whatever the error, so the workflow resumes there.
 */
export function toActivityFailure<P extends AttemptPosition>(err: unknown, position?: P): Error {
  // Already decided (Paused / Preempted with their checkpoint details), or a cancellation.
  if (err instanceof TemporalFailure) return err;
  const { kind, type, error, message } = classifyError(err);
  const failure = ApplicationFailure.create({
    type,
    message: stripTypePrefix(message, type),
    nonRetryable: kind !== 'transient',
    ...(position ? { details: [position] } : {}),
  });
  // Keep where it was thrown: the UI and the workflow's logs show this stack.
  const stack = (error as { remoteStack?: string }).remoteStack ?? (err as Error | undefined)?.stack;
  if (stack) failure.stack = stack;
  return failure;
}

/** Wraps an activity so whatever it throws crosses into Temporal through `toActivityFailure`. */
export function atBoundary<A extends unknown[], R>(
  activity: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await activity(...args);
    } catch (err) {
      throw toActivityFailure(err);
    }
  };
}

/** A trainer error's message starts with its remote class name; the failure's type says it already. */
function stripTypePrefix(message: string, type: string): string {
  return message.startsWith(`${type}: `) ? message.slice(type.length + 2) : message;
}
