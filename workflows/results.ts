/** What the workflow shows of a run: the `progress` query's answer and the final result. */
import * as wf from '@temporalio/workflow';
import type { Progress, RunRecord, RunStatus, TrainingResult } from '../src/contract';
import { totalRecoveries } from './record-read';
import { goodputOf } from './goodput';
import type { TrainingSpecInput } from '../src/contract';

export function progressOf(record: RunRecord, status: RunStatus): Progress {
  return {
    status,
    epoch: record.position?.epoch ?? 0,
    epochs: record.spec.epochs,
    lastCheckpoint: record.position,
    metrics: record.epochs.map((e) => e.metrics),
    recoveries: record.recoveries,
    recoveryCount: totalRecoveries(record),
    ...(record.warnings?.length ? { warnings: record.warnings } : {}),
    backend: record.backend,
    ...goodputField(record),
    ...(record.skips?.length ? { skipped: record.skips } : {}),
    ...(record.spec.dataset ? { dataset: record.spec.dataset } : {}),
  };
}

/**
 * The run's goodput so far: epoch runs, and data-parallel runs in shard steps (workflows/goodput.ts
 * defines both); absent for a run from before the ledger.
 */
function goodputField(record: RunRecord): { goodput?: ReturnType<typeof goodputOf> } {
  const goodput = goodputOf(record, Date.now());
  return goodput ? { goodput } : {};
}

/** What `progress` says before the run's first activity has validated its spec. */
export function startingProgress(input: TrainingSpecInput): Progress {
  const epochs = typeof input.epochs === 'number' ? input.epochs : 0;
  return { status: 'starting', epoch: 0, epochs, metrics: [], recoveries: [], recoveryCount: 0 };
}

/**
 * The result names the run's last durable checkpoint. A run stopped mid-epoch (e.g. while paused)
 * ends at the checkpoint it paused at; its weights hash is the last finished epoch's, if any.
 */
export function resultOf(record: RunRecord, status: TrainingResult['status']): TrainingResult {
  const last = record.epochs[record.epochs.length - 1];
  if (!record.position) {
    throw wf.ApplicationFailure.nonRetryable(
      'the run stopped before it saved any checkpoint: nothing to resume from',
      'StoppedBeforeFirstCheckpoint',
    );
  }
  return {
    status,
    runName: record.spec.runName ?? wf.workflowInfo().workflowId,
    finalCheckpoint: record.position,
    weightsSha256: last?.weightsSha256 ?? '',
    epochs: record.epochs.map((e) => ({
      epoch: e.epoch,
      ckpt: e.ckpt,
      metrics: e.metrics,
      weightsSha256: e.weightsSha256,
    })),
    recoveries: record.recoveries,
    recoveryCount: totalRecoveries(record),
    ...(record.warnings?.length ? { warnings: record.warnings } : {}),
    backend: record.backend,
    ...goodputField(record),
    ...(record.skips?.length ? { skipped: record.skips } : {}),
    ...(record.spec.dataset ? { dataset: record.spec.dataset } : {}),
  };
}
