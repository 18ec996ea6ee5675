/**
 * Epoch boundary: the gap from the last batch of epoch N to the first batch of N+1 as the trainer
 * trained them, and where that time goes, phase by phase, from the run's history (activity completed,
 * workflow task, retention, next epoch scheduled and started) between the trainer's two timestamps.
 */
import type { Client } from '@temporalio/client';
import type { TrainingSpecInput } from '../src/spec';
import { boundaryGaps } from './boundary-gap';
import type { Phase } from './phases';
import { boundaryPhases, fetchEvents } from './phases';
import type { Summary } from './stats';
import { summarize } from './stats';
import type { TappedWorker } from './tapped-worker';

export interface BoundaryResult {
  task: string;
  hparams: Record<string, unknown>;
  epochs: number;
  gap: Summary;
  /** Median milliseconds per batch inside epochs (the gap includes one such batch). */
  batchMs: number;
  phases: Phase[];
}

export async function runBoundaryBench(
  worker: TappedWorker,
  client: Client,
  spec: TrainingSpecInput,
): Promise<BoundaryResult> {
  const run = await worker.run(`boundary-${spec.task}`, spec);
  const { gapsMs, batchMs } = boundaryGaps(run.marks);
  const events = await fetchEvents(client, run.workflowId);
  return {
    task: spec.task,
    hparams: spec.hparams ?? {},
    epochs: spec.epochs ?? 0,
    gap: summarize(gapsMs),
    batchMs,
    phases: boundaryPhases(events, run.marks, run.moments),
  };
}
