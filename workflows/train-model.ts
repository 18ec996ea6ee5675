/**
 * trainModel: the durable training story. An epoch loop of `trainEpoch` activities; when one fails,
 * classify why, pick the newest durable checkpoint, record the recovery, and call `resumeEpoch` with
 * that `.ckpt` path explicitly. Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type { ResumeEpochInput, TrainEpochInput } from '../activities/types';
import type { createActivities } from '../activities';
import type { TrainingSpecInput } from '../src/spec';
import { classifyFailure, isNewer, newestUsable } from './recovery';
import type { Progress, RunRecord, RunStatus, TrainingResult } from './run-record';
import { countRecoveries } from './run-record';
import { setupControls } from './controls';
import { publishProgress } from './visibility';

type Activities = ReturnType<typeof createActivities>;

const { prepareRun, applyRetention } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // Permanent errors arrive non-retryable from the activity boundary (activities/boundary.ts).
  retry: { maximumAttempts: 5 },
});

export async function trainModel(input: TrainingSpecInput, carried?: RunRecord): Promise<TrainingResult> {
  const { workflowId } = wf.workflowInfo();
  const record: RunRecord = carried ?? (await startRecord(input, workflowId));
  const spec = record.spec;
  const controls = setupControls(() => progressOf(record, status));
  let status: RunStatus = 'running';
  let epochsThisRun = 0;
  const publish = (s: RunStatus) => publishProgress(record, (status = s));
  publish('running');

  for (;;) {
    const epoch = record.position?.epoch ?? 0;
    if (epoch >= spec.epochs || (controls.stopRequested && !record.resumeReason)) break;
    if (epochsThisRun >= spec.continueAsNewEvery || wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      return wf.continueAsNew<typeof trainModel>(input, record);
    }
    if (controls.paused) {
      publish('paused');
      await wf.condition(() => !controls.paused || controls.stopRequested);
      publish('running');
      continue;
    }
    try {
      const result = await runEpoch(record, epoch, workflowId).finally(() => {
        // Whatever ended the activity saved a checkpoint newer than every request so far.
        record.checkpointRequestsServed = controls.checkpointRequests;
      });
      record.epochs = [...record.epochs.filter((e) => e.epoch < result.epoch), result];
      record.checkpoints.push(result.ckpt);
      record.position = result.ckpt;
      record.resumeReason = undefined;
      record.backend = result.backend;
      epochsThisRun++;
      publish('running');
      const { deleted } = await applyRetention({
        runName: spec.runName ?? workflowId,
        checkpoints: record.checkpoints,
        epochCheckpoints: record.epochs.map((e) => ({ ckpt: e.ckpt, metrics: e.metrics })),
        policy: spec.checkpoint,
        resumeTarget: result.ckpt.url,
      });
      record.checkpoints = record.checkpoints.filter((c) => !deleted.includes(c.url));
    } catch (err) {
      await recover(record, err, epoch);
      publish(controls.paused ? 'paused' : 'recovering');
    }
  }
  const final = (record.position?.epoch ?? 0) < spec.epochs ? 'stopped' : 'completed';
  publish(final);
  return resultOf(record, final);
}

async function startRecord(input: TrainingSpecInput, workflowId: string): Promise<RunRecord> {
  const prepared = await prepareRun({ spec: input, workflowId }).catch((err: unknown) => {
    // Bad input: fail the run with the activity's own message, which says what to fix.
    const cause = err instanceof wf.ActivityFailure ? err.cause : undefined;
    if (cause instanceof wf.ApplicationFailure)
      throw wf.ApplicationFailure.nonRetryable(cause.message, cause.type);
    throw err;
  });
  const known = prepared.resumeFrom ? [prepared.resumeFrom] : [];
  return {
    spec: prepared.spec,
    checkpoints: known,
    epochs: [],
    recoveries: [],
    unusable: [],
    position: prepared.resumeFrom,
    initFrom: prepared.initFrom,
  };
}

/** Runs one epoch: `trainEpoch` normally, `resumeEpoch` with the explicit `.ckpt` after a failure. */
function runEpoch(record: RunRecord, epoch: number, workflowId: string) {
  const { spec, position, resumeReason } = record;
  const acts = wf.proxyActivities<Activities>({
    startToCloseTimeout: '7 days',
    heartbeatTimeout: `${spec.recovery.heartbeatTimeoutSeconds} seconds`,
    retry: { maximumAttempts: 1 },
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: resumeReason
      ? `resume epoch ${epoch} from ${position?.url}`
      : !position && record.initFrom
        ? `train epoch ${epoch} from the weights of ${record.initFrom.url}`
        : `train epoch ${epoch}`,
  });
  const base: TrainEpochInput = {
    spec,
    epoch,
    workflowId,
    ckptPath: position?.url,
    ckpt: position,
    checkpointRequestsServed: record.checkpointRequestsServed ?? 0,
    ...(!position && record.initFrom ? { initFrom: record.initFrom } : {}),
  };
  if (resumeReason && position) {
    const resume: ResumeEpochInput = { ...base, ckptPath: position.url, reason: resumeReason };
    return acts.resumeEpoch(resume);
  }
  return acts.trainEpoch(base);
}

/** The recovery branch: decide, record, back off. Throws when the run cannot go on. */
async function recover(record: RunRecord, err: unknown, epoch: number): Promise<void> {
  const failure = classifyFailure(err);
  const { recovery } = record.spec;
  if (failure.kind === 'fatal') {
    throw wf.ApplicationFailure.nonRetryable(failure.reason, failure.type);
  }
  if (failure.kind === 'unusable-checkpoint') {
    const bad = record.position;
    if (!bad) throw wf.ApplicationFailure.nonRetryable(failure.reason, 'CheckpointCorruptError');
    record.unusable.push(bad.url);
    record.position = newestUsable(record.checkpoints, record.unusable);
    if (!record.position && record.spec.resumeFrom) {
      throw wf.ApplicationFailure.nonRetryable(
        `no usable checkpoint left: ${failure.reason}. Point resumeFrom at another .ckpt (durable-fit ckpt ls <run>).`,
        'NoValidCheckpointError',
      );
    }
    const fromCkpt = record.position?.url ?? '(fresh start: no earlier checkpoint)';
    record.recoveries.push({
      kind: 'fallback',
      reason: failure.reason,
      atEpoch: epoch,
      atBatch: bad.batch,
      fromCkpt,
    });
    record.resumeReason = record.position ? 'fallback' : undefined;
    return;
  }
  if (failure.ckpt && isNewer(failure.ckpt, record.position)) {
    record.checkpoints.push(failure.ckpt);
    record.position = failure.ckpt;
  }
  if (!record.position) record.resumeReason = undefined;
  else record.resumeReason = failure.kind;
  if (failure.kind === 'pause') return;
  const budget = { crash: recovery.maxCrashRecoveries, preemption: recovery.maxPreemptions }[
    failure.kind as string
  ];
  const used = countRecoveries(record, failure.kind);
  if (used >= (budget ?? recovery.maxInfraRetries)) {
    throw wf.ApplicationFailure.nonRetryable(
      `${failure.kind} budget of ${budget ?? recovery.maxInfraRetries} exhausted: ${failure.reason}. ` +
        `Recoveries so far: ${record.recoveries.map((r) => `${r.kind}@${r.atEpoch}:${r.atBatch}`).join(', ')}`,
      'RecoveryBudgetExhaustedError',
    );
  }
  const fromCkpt = record.position?.url ?? '(fresh start)';
  record.recoveries.push({
    kind: failure.kind,
    reason: failure.reason,
    atEpoch: epoch,
    atBatch: failure.atBatch ?? (record.position?.epoch === epoch ? record.position.batch : 0),
    fromCkpt,
  });
  await wf.sleep(`${recovery.backoffSeconds} seconds`);
}

function progressOf(record: RunRecord, status: RunStatus): Progress {
  return {
    status,
    epoch: record.position?.epoch ?? 0,
    epochs: record.spec.epochs,
    lastCheckpoint: record.position,
    metrics: record.epochs.map((e) => e.metrics),
    recoveries: record.recoveries,
    backend: record.backend,
  };
}

function resultOf(record: RunRecord, status: TrainingResult['status']): TrainingResult {
  const last = record.epochs[record.epochs.length - 1];
  if (!last || !record.position) {
    throw wf.ApplicationFailure.nonRetryable(
      'the run stopped before finishing any epoch',
      'StoppedBeforeFirstEpoch',
    );
  }
  return {
    status,
    runName: record.spec.runName ?? wf.workflowInfo().workflowId,
    finalCheckpoint: record.position,
    weightsSha256: last.weightsSha256,
    epochs: record.epochs.map((e) => ({
      epoch: e.epoch,
      ckpt: e.ckpt,
      metrics: e.metrics,
      weightsSha256: e.weightsSha256,
    })),
    recoveries: record.recoveries,
    backend: record.backend,
  };
}
