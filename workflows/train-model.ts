/**
 * trainModel: the durable training story. An epoch loop of `trainEpoch` activities; when one fails,
 * classify why, pick the newest durable checkpoint, record the recovery, and call `resumeEpoch` with
 * that `.ckpt` path explicitly. Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type {
  ControlState,
  ResumeEpochInput,
  RetentionInput,
  RunRecord,
  RunStatus,
  TrainEpochInput,
  TrainingActivities,
  TrainingResult,
  TrainingSpecInput,
} from '../src/contract';
import { attemptPausedSignal, CHECKPOINT_UNUSABLE_TYPES } from '../src/contract';
import { isNewer } from './recovery';
import {
  recordCheckpoint,
  recordEpoch,
  recordRetention,
  recordWarning,
  retentionInput,
} from './record-update';
import { recover } from './recover';
import type { LoopStep } from './decide';
import { nextStep } from './decide';
import { setupControls } from './controls';
import { loopGuard } from './loop-guard';
import { trainInRounds } from './parallel';
import { progressOf, resultOf, startingProgress } from './results';
import { publishProgress } from './visibility';
import { addAttempt, addPaused, goodputOf, ledgerOf, newLedger } from './goodput';

/** Patch ids: each guards a change of the workflow's commands, so older histories still replay. */
const PATCH_STOP_IN_ANY_STATE = 'stop-while-paused-or-recovering';
const PATCH_PAUSE_BEFORE_CONTINUE_AS_NEW = 'pause-before-continue-as-new';
const PATCH_RETENTION_FAILURE_IS_A_WARNING = 'retention-failure-is-a-warning';
/** No `applyRetention` without a retention policy; the epoch activity writes the epoch log itself. */
const PATCH_RETENTION_ONLY_WITH_A_POLICY = 'retention-only-with-a-policy';

const SHORT_ACTIVITY: wf.ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  // Permanent errors arrive as non-retryable failures (the activity boundary marks them).
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...CHECKPOINT_UNUSABLE_TYPES] },
};
const { prepareRun } = wf.proxyActivities<TrainingActivities>(SHORT_ACTIVITY);

/**
 * Retention heartbeats (activities/index.ts): a worker lost while it deletes is noticed within the
 * run's heartbeat timeout and the attempt retried elsewhere, not after the 2-minute start-to-close.
 */
function retentionActivity(record: RunRecord) {
  const heartbeatTimeout = record.spec.recovery.heartbeatTimeoutSeconds * 1000;
  return wf.proxyActivities<TrainingActivities>({ ...SHORT_ACTIVITY, heartbeatTimeout }).applyRetention;
}

export async function trainModel(input: TrainingSpecInput, carried?: RunRecord): Promise<TrainingResult> {
  const { workflowId } = wf.workflowInfo();
  let status: RunStatus = carried ? 'running' : 'starting';
  let prepared: RunRecord | undefined = carried;
  // Handlers first: `progress` answers (status `starting`) and controls count while prepareRun runs.
  const controls = setupControls(
    () => (prepared ? progressOf(prepared, status) : startingProgress(input)),
    carried?.controls,
  );
  const record: RunRecord = (prepared ??= await startRecord(input, workflowId));
  const spec = record.spec;
  let epochsThisRun = 0;
  const publish = (s: RunStatus) => publishProgress(record, (status = s));
  // Temporal's own activity pause of the running attempt: shown paused, its checkpoint recorded.
  let attemptPaused = false;
  wf.setHandler(attemptPausedSignal, ({ paused, ckpt }) => {
    if (ckpt && isNewer(ckpt, record.position)) recordCheckpoint(record, ckpt);
    attemptPaused = paused;
    publish(paused ? 'paused' : 'running');
  });
  const guard = loopGuard();
  publish('running');
  // Only specs with `parallel` (a field older runs cannot have) take this branch: old histories replay.
  if (spec.parallel) {
    return trainInRounds({ record, controls, workflowId, publish }, async () => {
      await wf.condition(wf.allHandlersFinished);
      record.controls = { ...controls };
      return wf.continueAsNew<typeof trainModel>(input, record);
    });
  }

  for (;;) {
    guard(); // every pass must have waited for something: a busy loop would take down the worker
    const next = nextStep({
      record,
      controls,
      epochsThisRun,
      continueAsNewSuggested: wf.workflowInfo().continueAsNewSuggested,
      patches: {
        stopInAnyState: () => wf.patched(PATCH_STOP_IN_ANY_STATE),
        pauseBeforeContinueAsNew: () => wf.patched(PATCH_PAUSE_BEFORE_CONTINUE_AS_NEW),
      },
    });
    if (next.step === 'complete' || next.step === 'stop') break;
    if (next.step === 'wait-while-paused') {
      const pausedAt = Date.now();
      await waitWhilePaused(controls, publish);
      record.ledger = addPaused(ledgerOf(record, pausedAt), Date.now() - pausedAt);
      continue;
    }
    if (next.step === 'continue-as-new') {
      await wf.condition(wf.allHandlersFinished);
      record.controls = { ...controls }; // a pause, stop or checkpoint-now must survive the new run
      return wf.continueAsNew<typeof trainModel>(input, record);
    }
    try {
      // Requests made while no epoch ran are served by the position: it is the run's current state.
      if (record.position) record.checkpointRequestsServed = controls.checkpointRequests;
      const result = await callEpochActivity(record, next, workflowId).finally(() => {
        // Whatever ended the activity saved a checkpoint newer than every request so far.
        record.checkpointRequestsServed = controls.checkpointRequests;
      });
      recordEpoch(record, result);
      record.ledger = addAttempt(ledgerOf(record, Date.now()), result.attempt);
      if (result.route) record.route = result.route; // a run from before routing joins its worker's queue
      epochsThisRun++;
      publish('running');
      await retain(record, retentionInput(record, spec.runName ?? workflowId, result));
    } catch (err) {
      // A server that returned an activity-paused attempt's failure: wait for `resume` instead.
      if (attemptPaused) controls.paused = true;
      attemptPaused = false;
      const finished = await recover(record, err, next.epoch, controls, () => publish('recovering'));
      publish(controls.paused ? 'paused' : 'recovering');
      if (finished) {
        // The epoch ended but its completion was lost with the worker: it is recorded now, and
        // retention writes the log entry the activity may not have written.
        epochsThisRun++;
        await retain(record, retentionInput(record, spec.runName ?? workflowId, finished), true);
      }
    }
  }
  const final = (record.position?.epoch ?? 0) < spec.epochs ? 'stopped' : 'completed';
  publish(final);
  return resultOf(record, final);
}

async function waitWhilePaused(controls: ControlState, publish: (s: RunStatus) => void): Promise<void> {
  publish('paused');
  await wf.condition(() => !controls.paused || controls.stopRequested);
  publish('running');
}

/**
 * Retention deletes (and logs); a failure of it is a warning, not a reason to fail the training.
 * `writeLog`: the epoch's log entry may be missing, so call it even without a policy.
 */
async function retain(record: RunRecord, input: RetentionInput, writeLog = false): Promise<void> {
  // Without a policy there is nothing to delete (the epoch activity wrote the log entry already).
  const idle = !input.policy.keepLast && !input.policy.topK;
  if (idle && !writeLog && wf.patched(PATCH_RETENTION_ONLY_WITH_A_POLICY)) return recordRetention(record, []);
  try {
    const { deleted } = await retentionActivity(record)(input);
    recordRetention(record, deleted);
  } catch (err) {
    if (!wf.patched(PATCH_RETENTION_FAILURE_IS_A_WARNING)) throw err;
    const message = `retention after epoch ${input.resumeTarget} failed: ${messageOf(err)}`;
    wf.log.warn(message);
    recordWarning(record, message);
    recordRetention(record, []);
  }
}

async function startRecord(input: TrainingSpecInput, workflowId: string): Promise<RunRecord> {
  const { firstExecutionRunId } = wf.workflowInfo(); // names the default run folder (unique per run)
  const prepared = await prepareRun({ spec: input, workflowId, firstExecutionRunId }).catch(
    (err: unknown) => {
      // Bad input: fail the run with the activity's own message, which says what to fix.
      const cause = err instanceof wf.ActivityFailure ? err.cause : undefined;
      if (cause instanceof wf.ApplicationFailure)
        throw wf.ApplicationFailure.nonRetryable(cause.message, cause.type);
      throw err;
    },
  );
  const known = prepared.resumeFrom ? [prepared.resumeFrom] : [];
  return {
    spec: prepared.spec,
    checkpoints: known,
    epochs: [],
    recoveries: [],
    unusable: [],
    position: prepared.resumeFrom,
    initFrom: prepared.initFrom,
    ...(prepared.route ? { route: prepared.route } : {}),
    ledger: newLedger(Date.now(), prepared.resumeFrom?.step ?? 0),
  };
}

/** Runs one epoch: `trainEpoch` normally, `resumeEpoch` with the explicit `.ckpt` after a failure. */
function callEpochActivity(
  record: RunRecord,
  next: Extract<LoopStep, { step: 'train' | 'resume' }>,
  workflowId: string,
) {
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

function messageOf(err: unknown): string {
  const cause = err instanceof wf.ActivityFailure ? (err.cause ?? err) : err;
  return cause instanceof Error ? cause.message : String(cause);
}
