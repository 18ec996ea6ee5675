/**
 * The epoch strategy of the training loop (training-loop.ts): each pass trains one epoch with a
 * `trainEpoch` activity, or after a failure resumes it with `resumeEpoch` from the explicit `.ckpt`
 * the recovery chose (epoch-recovery.ts, decide.ts); retention after every finished epoch.
 * Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type {
  ResumeEpochInput,
  RetentionInput,
  RunRecord,
  TrainEpochInput,
  TrainingActivities,
} from '../src/contract';
import { CHECKPOINT_UNUSABLE_TYPES } from '../src/contract';
import type { LoopStep } from './decide';
import { nextStep } from './decide';
import { noteRecoverySite, recordEpoch, recordRetention, retentionInput } from './record-update';
import { recover } from './epoch-recovery';
import { resultOf } from './results';
import { addAttempt, goodputOf, ledgerOf } from './goodput';
import type { Loop, LoopStrategy } from './training-loop';
import { retainOrWarn } from './training-loop';

/** Patch ids: each guards a change of the workflow's commands, so older histories still replay. */
const PATCH_STOP_IN_ANY_STATE = 'stop-while-paused-or-recovering';
const PATCH_PAUSE_BEFORE_CONTINUE_AS_NEW = 'pause-before-continue-as-new';
const PATCH_RETENTION_FAILURE_IS_A_WARNING = 'retention-failure-is-a-warning';
/** No `applyRetention` without a retention policy; the epoch activity writes the epoch log itself. */
const PATCH_RETENTION_ONLY_WITH_A_POLICY = 'retention-only-with-a-policy';

export const SHORT_ACTIVITY: wf.ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  // Permanent errors arrive as non-retryable failures (the activity boundary marks them).
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...CHECKPOINT_UNUSABLE_TYPES] },
};

type EpochWork = Extract<LoopStep, { step: 'train' | 'resume' }>;

/**
 * The loop's strategy for an epoch run. `attemptPaused` says whether Temporal's own activity pause
 * paused the running attempt (then its failure waits for `resume` instead of recovering).
 */
export function epochStrategy(loop: Loop, attemptPaused: { paused: boolean }): LoopStrategy<EpochWork> {
  const { record, controls, workflowId, publish } = loop;
  let epochsThisExecution = 0;
  return {
    loop,
    next() {
      const next = nextStep({
        record,
        controls,
        epochsThisExecution,
        continueAsNewSuggested: wf.workflowInfo().continueAsNewSuggested,
        patches: {
          stopInAnyState: () => wf.patched(PATCH_STOP_IN_ANY_STATE),
          pauseBeforeContinueAsNew: () => wf.patched(PATCH_PAUSE_BEFORE_CONTINUE_AS_NEW),
        },
      });
      return next.step === 'train' || next.step === 'resume' ? { train: next } : next.step;
    },
    async train(next) {
      const runName = record.spec.runName ?? workflowId;
      try {
        // Requests made while no epoch ran are served by the position: it is the run's current state.
        if (record.position) record.checkpointRequestsServed = controls.checkpointRequests;
        const result = await callEpochActivity(record, next, workflowId).finally(() => {
          // Whatever ended the activity saved a checkpoint newer than every request so far.
          record.checkpointRequestsServed = controls.checkpointRequests;
        });
        recordEpoch(record, result);
        if (result.site) noteRecoverySite(record, result.epoch, result.site);
        record.ledger = addAttempt(ledgerOf(record, Date.now()), result.attempt);
        if (result.route) record.route = result.route; // a run from before routing joins its worker's queue
        epochsThisExecution++;
        publish('running');
        await retain(record, retentionInput(record, runName, result));
      } catch (err) {
        // A server that returned an activity-paused attempt's failure: wait for `resume` instead.
        if (attemptPaused.paused) controls.paused = true;
        attemptPaused.paused = false;
        const finished = await recover(record, err, next.epoch, controls, () => publish('recovering'));
        publish(controls.paused ? 'paused' : 'recovering');
        if (finished) {
          // The epoch ended but its completion was lost with the worker: it is recorded now, and
          // retention writes the log entry the activity may not have written.
          epochsThisExecution++;
          await retain(record, retentionInput(record, runName, finished), true);
        }
      }
      return undefined;
    },
    result: (status) => resultOf(record, status),
  };
}

/**
 * Retention heartbeats (activities/index.ts): a worker lost while it deletes is noticed within the
 * run's heartbeat timeout and the attempt retried elsewhere, not after the 2-minute start-to-close.
 */
function retentionActivity(record: RunRecord) {
  const heartbeatTimeout = record.spec.recovery.heartbeatTimeoutSeconds * 1000;
  return wf.proxyActivities<TrainingActivities>({ ...SHORT_ACTIVITY, heartbeatTimeout }).applyRetention;
}

/**
 * Retention deletes (and logs); a failure of it is a warning, not a reason to fail the training.
 * `writeLog`: the epoch's log entry may be missing, so call it even without a policy.
 */
async function retain(record: RunRecord, input: RetentionInput, writeLog = false): Promise<void> {
  // Without a policy there is nothing to delete (the epoch activity wrote the log entry already).
  const idle = !input.policy.keepLast && !input.policy.topK;
  if (idle && !writeLog && wf.patched(PATCH_RETENTION_ONLY_WITH_A_POLICY)) return recordRetention(record, []);
  await retainOrWarn(record, input, `epoch ${input.resumeTarget}`, retentionActivity(record), () =>
    wf.patched(PATCH_RETENTION_FAILURE_IS_A_WARNING),
  );
}

/** Runs one epoch: `trainEpoch` normally, `resumeEpoch` with the explicit `.ckpt` after a failure. */
function callEpochActivity(record: RunRecord, next: EpochWork, workflowId: string) {
  const { spec, position } = record;
  const { epoch } = next;
  const acts = wf.proxyActivities<TrainingActivities>({
    startToCloseTimeout: '7 days',
    // Only workers of the run's backend fingerprint continue its checkpoints exactly (README: Routing).
    ...(record.route ? { taskQueue: record.route } : {}),
    heartbeatTimeout: spec.recovery.heartbeatTimeoutSeconds * 1000,
    retry: { maximumAttempts: 1 },
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary:
      next.step === 'resume'
        ? `resume epoch ${epoch} from ${next.from.url}`
        : !position && record.initFrom
          ? `train epoch ${epoch} from the weights of ${record.initFrom.url}`
          : `train epoch ${epoch}`,
  });
  const goodput = goodputOf(record, Date.now())?.stepRatio;
  const base: TrainEpochInput = {
    spec,
    epoch,
    workflowId,
    ckptPath: position?.url,
    ckpt: position,
    checkpointRequestsServed: record.checkpointRequestsServed ?? 0,
    ...(!position && record.initFrom ? { initFrom: record.initFrom } : {}),
    ...(goodput !== undefined ? { goodput } : {}),
    ...(record.skips?.length
      ? { skips: record.skips.map(({ epoch, fromBatch, toBatch }) => ({ epoch, fromBatch, toBatch })) }
      : {}),
  };
  if (next.step === 'resume') {
    // The failure this resumes from is the newest recovery (a pause is not recorded as one).
    const lost = next.reason === 'pause' ? undefined : record.recoveries.at(-1)?.stepsRedone;
    const resume: ResumeEpochInput = {
      ...base,
      ckptPath: next.from.url,
      reason: next.reason,
      ...(lost !== undefined ? { stepsRedone: lost } : {}),
    };
    return acts.resumeEpoch(resume);
  }
  return acts.trainEpoch(base);
}
