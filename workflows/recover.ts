/**
 * The recovery branch of the training loop: classify a failed epoch activity, check the budgets,
 * record what happened, and back off. Budgets: crashes and preemptions count over the whole run;
 * infrastructure failures and fallbacks count since the last progress (a finished epoch or a newer
 * durable checkpoint), so a storage outage of any length the backoff outlasts is ridden through.
 */
import * as wf from '@temporalio/workflow';
import type { ControlState, RecoveryEvent } from '../src/contract';
import type { FailureClass } from './recovery';
import { classifyFailure, isNewer, newestUsable } from './recovery';
import { backoffMs, recordCheckpoint, recordRecovery, streakOf } from './record-update';
import type { RunRecord } from '../src/contract';
import { countRecoveries } from './run-record';

/** Patch ids: each guards a change of the workflow's commands, so older histories still replay. */
export const PATCH_NO_TIMER_FOR_ZERO_BACKOFF = 'no-timer-for-zero-backoff';
export const PATCH_SHOW_RECOVERING_WHILE_BACKING_OFF = 'show-recovering-while-backing-off';

/**
 * Decides, records and backs off; throws a non-retryable failure when the run cannot go on.
 * `showRecovering` publishes the recovery before the backoff starts (older histories: after it).
 */
export async function recover(
  record: RunRecord,
  err: unknown,
  epoch: number,
  controls: ControlState,
  showRecovering: () => void,
): Promise<void> {
  const failure = classifyFailure(err, record.position);
  if (failure.kind === 'fatal') throw wf.ApplicationFailure.nonRetryable(failure.reason, failure.type);
  if (failure.kind === 'unusable-checkpoint') return fallBack(record, failure.reason, epoch);
  if (failure.ckpt && isNewer(failure.ckpt, record.position)) recordCheckpoint(record, failure.ckpt);
  record.resumeReason = record.position ? failure.kind : undefined;
  if (failure.kind === 'pause') return;
  if (failure.kind === 'infrastructure') {
    const streak = streakOf(record);
    record.streak = { ...streak, infrastructure: streak.infrastructure + 1 };
  }
  checkBudget(record, failure);
  recordRecovery(record, event(record, failure, epoch));
  if (wf.patched(PATCH_SHOW_RECOVERING_WHILE_BACKING_OFF)) showRecovering();
  await backOff(record, failure.kind, controls);
}

/** The checkpoint this attempt started from is unusable: mark it and resume from an older one. */
function fallBack(record: RunRecord, reason: string, epoch: number): void {
  const bad = record.position;
  if (!bad) throw wf.ApplicationFailure.nonRetryable(reason, 'CheckpointCorruptError');
  const streak = streakOf(record);
  const maxFallbacks = record.spec.recovery.maxFallbacks ?? 3; // records carried from before the budget
  if (streak.fallback >= maxFallbacks) {
    throw wf.ApplicationFailure.nonRetryable(
      `fallback budget of ${maxFallbacks} exhausted: ${reason}. Checkpoints found unusable: ` +
        `${record.unusable.concat(bad.url).join(', ')}. Check the object store, then start a new run ` +
        `with resumeFrom set to a checkpoint you trust (durable-fit ckpt ls <run>).`,
      'RecoveryBudgetExhaustedError',
    );
  }
  record.streak = { ...streak, fallback: streak.fallback + 1 };
  record.unusable.push(bad.url);
  record.position = newestUsable(record.checkpoints, record.unusable);
  if (!record.position && record.spec.resumeFrom) {
    throw wf.ApplicationFailure.nonRetryable(
      `no usable checkpoint left: ${reason}. Point resumeFrom at another .ckpt (durable-fit ckpt ls <run>).`,
      'NoValidCheckpointError',
    );
  }
  const fromCkpt = record.position?.url ?? '(fresh start: no earlier checkpoint)';
  recordRecovery(record, { kind: 'fallback', reason, atEpoch: epoch, atBatch: bad.batch, fromCkpt });
  record.resumeReason = record.position ? 'fallback' : undefined;
}

type Recoverable = Extract<FailureClass, { kind: RecoveryEvent['kind'] }>;

function checkBudget(record: RunRecord, failure: Recoverable): void {
  const { recovery } = record.spec;
  const [budget, used] =
    failure.kind === 'crash'
      ? [recovery.maxCrashRecoveries, countRecoveries(record, 'crash')]
      : failure.kind === 'preemption'
        ? [recovery.maxPreemptions, countRecoveries(record, 'preemption')]
        : [recovery.maxInfraRetries, streakOf(record).infrastructure - 1];
  if (used < budget) return;
  const what = failure.kind === 'infrastructure' ? 'consecutive infrastructure' : failure.kind;
  throw wf.ApplicationFailure.nonRetryable(
    `${what} budget of ${budget} exhausted: ${failure.reason}. Recent recoveries: ` +
      `${record.recoveries.map((r) => `${r.kind}@${r.atEpoch}:${r.atBatch}`).join(', ')}`,
    'RecoveryBudgetExhaustedError',
  );
}

function event(record: RunRecord, failure: Recoverable, epoch: number): RecoveryEvent {
  return {
    kind: failure.kind,
    reason: failure.reason,
    atEpoch: epoch,
    atBatch: failure.atBatch ?? (record.position?.epoch === epoch ? record.position.batch : 0),
    fromCkpt: record.position?.url ?? '(fresh start)',
  };
}

/**
 * Waits before the resume: `backoffSeconds`, doubled for each consecutive infrastructure failure up
 * to `maxBackoffSeconds`. A stop or pause ends the wait early; a backoff of 0 starts no timer.
 */
async function backOff(
  record: RunRecord,
  kind: RecoveryEvent['kind'],
  controls: ControlState,
): Promise<void> {
  const ms = backoffMs(record, kind);
  if (ms === 0) {
    if (wf.patched(PATCH_NO_TIMER_FOR_ZERO_BACKOFF)) return;
    return wf.sleep(0); // what older histories recorded
  }
  // A condition with a timeout records the same timer as a sleep; it is cancelled only by a control.
  await wf.condition(() => controls.stopRequested || controls.paused, ms);
}
