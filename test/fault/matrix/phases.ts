/**
 * Driving a run into the phases of issue 22's matrix that no network proxy reaches by itself, for
 * the process-fault cells: a trainer held inside validation (the gated task's metric functions,
 * test/helpers/gated-task.ts), an activity that is not an epoch (retention, a data-parallel merge)
 * under way on a known worker, and what the server did about that activity after a fault.
 */
import fs from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { validationMarker } from '../../helpers/gated-task';
import type { ValidationHeld } from '../../helpers/gated-task';

/** A running (or retrying) activity of a workflow, from `describe`. */
export interface PendingActivity {
  activityType: string;
  /** The worker that took its latest attempt. */
  identity?: string;
  attempt: number;
  /** STARTED: an attempt runs on `identity`. */
  started: boolean;
}

/** The workflow's pending activity of that type, if any. */
export async function pendingActivity(
  handle: WorkflowHandle,
  activityType: string,
): Promise<PendingActivity | undefined> {
  const description = await handle.describe();
  const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === activityType);
  if (!pending) return undefined;
  return {
    activityType,
    ...(pending.lastWorkerIdentity ? { identity: pending.lastWorkerIdentity } : {}),
    attempt: pending.attempt ?? 1,
    started: pending.state === 2, // PENDING_ACTIVITY_STATE_STARTED
  };
}

/** Polls until an attempt of `activityType` runs on a worker; returns it. */
export async function waitForStartedActivity(
  handle: WorkflowHandle,
  activityType: string,
  timeoutMs = 60_000,
): Promise<PendingActivity & { identity: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pending = await pendingActivity(handle, activityType);
    if (pending?.started && pending.identity) return { ...pending, identity: pending.identity };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no attempt of ${activityType} started within ${timeoutMs} ms`);
}

/** Seconds of a protobuf Duration (absent or zero: 0). */
function seconds(d: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return d ? Number(d.seconds ?? 0) + (d.nanos ?? 0) / 1e9 : 0;
}

/** The timeouts the workflow scheduled the activity with (its latest scheduled event). */
export async function activityTimeouts(
  handle: WorkflowHandle,
  activityType: string,
): Promise<{ heartbeatTimeoutS: number; startToCloseS: number } | undefined> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === activityType)
    .pop();
  if (!scheduled) return undefined;
  return {
    heartbeatTimeoutS: seconds(scheduled.heartbeatTimeout),
    startToCloseS: seconds(scheduled.startToCloseTimeout),
  };
}

/**
 * After the worker running an attempt of `activityType` was killed: waits until the server gave
 * the activity to another attempt (one started with a higher attempt number), or the activity is
 * no longer pending (it ended: the workflow went on). Throws after `boundMs`, naming the timeouts
 * the activity was scheduled with (an activity without a heartbeat timeout is noticed lost only at
 * its start-to-close timeout). Returns when that happened (ms since the epoch).
 */
export async function waitForRetry(
  handle: WorkflowHandle,
  lost: PendingActivity,
  boundMs: number,
): Promise<number> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    const pending = await pendingActivity(handle, lost.activityType);
    if (!pending || (pending.started && pending.attempt > lost.attempt)) return Date.now();
    await new Promise((r) => setTimeout(r, 50));
  }
  const timeouts = await activityTimeouts(handle, lost.activityType);
  const how = timeouts
    ? `it was scheduled with ${timeouts.heartbeatTimeoutS ? `a ${timeouts.heartbeatTimeoutS} s heartbeat timeout` : 'no heartbeat timeout'} ` +
      `and a ${timeouts.startToCloseS} s start-to-close timeout`
    : 'its scheduled event was not found';
  throw new Error(
    `${lost.activityType} (attempt ${lost.attempt}, on the SIGKILLed worker ${lost.identity}) was not ` +
      `given to another worker within ${boundMs / 1000} s of the kill: ${how}`,
  );
}

/**
 * Waits until a trainer is held inside validation (it wrote the validation gate's marker file);
 * returns what it wrote and when it was seen.
 */
export async function waitForValidation(
  gateFile: string,
  timeoutMs = 60_000,
): Promise<{ held: ValidationHeld; seenAt: number }> {
  const marker = validationMarker(gateFile);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(marker)) {
      const text = fs.readFileSync(marker, 'utf8');
      if (text) return { held: JSON.parse(text) as ValidationHeld, seenAt: Date.now() };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no trainer reached validation within ${timeoutMs} ms`);
}

/** `promise`, or an error naming `what` after `ms` (a cell never waits for ever on a stuck run). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
