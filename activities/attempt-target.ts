/**
 * What one kind of training attempt trains, where it saves and what it returns: the strategy the one
 * attempt loop (attempt.ts) runs. `epochTarget` (epoch.ts) trains an epoch of a run and saves in the
 * run's folder; `shardTarget` (shard.ts) trains one shard's round of a data-parallel run and saves
 * in the round's folder. Saving, interruptions, heartbeats, metrics and timing are the loop's.
 */
import type { AttemptPosition, AttemptTiming, CheckpointRef } from '../src/contract';
import type { EpochMeterOptions } from '../src/metrics/epoch-meter';
import type { MetricsRecorder } from '../src/metrics/recorder';
import type { TrainingSpec } from '../src/spec';
import type { CheckpointSaver, CheckpointWriter } from './checkpoint-saver';
import type { ActivityDeps } from './deps';
import type { BatchProgress, EpochJob, EpochOutcome, EpochRequest } from './epoch-engine';

export type Log = (message: string, meta?: Record<string, unknown>) => void;

/** What the loop gives a target's start-up and savers. */
export interface AttemptTools {
  /** The activity's dependencies, with a store that reports checkpoint I/O to `metrics`. */
  deps: ActivityDeps;
  log: Log;
  /** Labelled by task; a no-op unless the worker injects a recorder. */
  metrics: MetricsRecorder;
  /** Waits for a start-up step, giving way to a worker shutdown (epoch-liveness.ts `untilCancelled`). */
  untilCancelled<T>(work: Promise<T>): Promise<T>;
}

/** How an attempt ended well: the engine's outcome and its durable end checkpoint. */
export interface AttemptEnd {
  outcome: EpochOutcome;
  ckpt: CheckpointRef;
  timing: AttemptTiming;
  durationMs: number;
  /** The backend queue of this worker (absent on a worker without routing). */
  route?: string;
  /** The object store this worker uses (`ActivityDeps.site`). */
  site?: string;
}

export interface AttemptTarget<R, P extends AttemptPosition> {
  /** The run's workflow (its `controls` query: pause, checkpoint-now). */
  workflowId: string;
  /** The task: what metrics are labelled by. */
  task: string;
  checkpointRequestsServed?: number;
  /** The run's checkpoint policy: when a checkpoint inside the epoch (round) is due. */
  checkpoint: TrainingSpec['checkpoint'];
  /** The position before the first batch: the epoch (a shard: its round) and the kind's own fields. */
  details: P;
  /** The step the attempt starts from (its checkpoint's cursor; 0 for a fresh start). */
  startStep: number;
  /** The durable checkpoint it starts from, if any: its position until it saves one. */
  startCkpt?: CheckpointRef;
  /** The recovery this attempt is (absent: a first attempt), for `EpochMeter`. */
  recovery: Pick<EpochMeterOptions, 'recoveryKind' | 'stepsRedone' | 'goodput'>;
  /** Temporal's activity pause is a pause that the next attempt resumes from (activity-pause.ts). */
  activityPause: boolean;
  /** Start-up: fetches and verifies the start state; the engine request without `onProgress`. */
  prepare(tools: AttemptTools): Promise<Omit<EpochRequest, 'onProgress'>>;
  /** Where checkpoints inside the epoch (round) go. */
  writer(tools: AttemptTools): CheckpointWriter;
  /** Whether the checkpoint policy may save after this batch. @default always */
  maySaveAfter?(progress: BatchProgress): boolean;
  /** Saves the state at the end of the epoch (round). */
  saveEnd(saver: CheckpointSaver, state: EpochOutcome['state'], tools: AttemptTools): Promise<CheckpointRef>;
  /** The activity's result. */
  result(end: AttemptEnd): R;
  /** What heartbeats carry once the result exists (an epoch: its end checkpoint and the result). */
  finished(result: R): Partial<P>;
  /** After the result was heartbeated, before it is returned (must not fail the attempt). */
  afterEnd?(result: R, job: EpochJob, tools: AttemptTools): Promise<void>;
  /** What a failure says after the job stopped and `ckpt` was saved there. */
  stoppedMessage(why: { type: string; message: string }, ckpt: CheckpointRef): string;
}
