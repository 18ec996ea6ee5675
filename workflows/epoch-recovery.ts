/**
 * The recovery branch of the training loop: classify a failed epoch activity, decide (decide.ts,
 * pure), then apply the decision: fail the run, or take the new record and back off.
 */
import * as wf from '@temporalio/workflow';
import type { ControlState, EpochResult, RunRecord } from '../src/contract';
import { decideRecovery } from './decide';
import { classifyFailure } from './recovery';

/** Patch ids: each guards a change of the workflow's commands, so older histories still replay. */
export const PATCH_NO_TIMER_FOR_ZERO_BACKOFF = 'no-timer-for-zero-backoff';
export const PATCH_SHOW_RECOVERING_WHILE_BACKING_OFF = 'show-recovering-while-backing-off';

/**
 * Patch id: every failure of an epoch or shard attempt carries where it got to (its newest durable
 * checkpoint, its batch, a finished epoch's result) and the run resumes there. Older histories took
 * that only from heartbeat timeouts and Paused/Preempted failures, and resumed an infrastructure
 * failure from the record's position.
 */
export const PATCH_FAILURES_CARRY_POSITION = 'failures-carry-position';

/** Whether to use a failure's carried position; asked only when a failure carries one. */
export const failuresCarryPosition = () => wf.patched(PATCH_FAILURES_CARRY_POSITION);

/**
 * Decides, records and backs off; throws a non-retryable failure when the run cannot go on.
 * `showRecovering` publishes the recovery before the backoff starts (older histories: after it).
 * Returns the epoch the failed attempt had finished (its completion was lost), now recorded.
 */
export async function recover(
  record: RunRecord,
  err: unknown,
  epoch: number,
  controls: ControlState,
  showRecovering: () => void,
): Promise<EpochResult | undefined> {
  const failure = classifyFailure(err, record.position, failuresCarryPosition);
  const decision = decideRecovery(record, failure, epoch, Date.now());
  if (decision.action === 'fail') throw wf.ApplicationFailure.nonRetryable(decision.message, decision.type);
  Object.assign(record, decision.record); // the workflow's live record
  if (decision.action !== 'resume') return undefined;
  if (wf.patched(PATCH_SHOW_RECOVERING_WHILE_BACKING_OFF)) showRecovering();
  await backOff(decision.backoffMs, controls);
  return decision.finished;
}

/**
 * Waits before the resume: `backoffSeconds`, doubled for each consecutive infrastructure failure up
 * to `maxBackoffSeconds`. A stop or pause ends the wait early; a backoff of 0 starts no timer.
 */
async function backOff(ms: number, controls: ControlState): Promise<void> {
  if (ms === 0) {
    if (wf.patched(PATCH_NO_TIMER_FOR_ZERO_BACKOFF)) return;
    return wf.sleep(0); // what older histories recorded
  }
  // A condition with a timeout records the same timer as a sleep; it is cancelled only by a control.
  await wf.condition(() => controls.stopRequested || controls.paused, ms);
}
