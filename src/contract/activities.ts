/**
 * The contract between the workflow and the training activities. Small, JSON-only values: keys and
 * hashes, never tensors (Temporal payloads are limited to 2 MiB).
 */
import type { Divergence, SkipWindow, TrainingSpec } from '../spec';

export type { Divergence, SkipWindow };
import type { BackendInfo } from '../state';

/** A checkpoint that is durable in the object store: its PUT succeeded and its hash is recorded. */
export interface CheckpointRef {
  url: string;
  sha256: string;
  bytes: number;
  /** Cursor stored in the checkpoint: the next batch to train is `batch` of `epoch`. */
  epoch: number;
  batch: number;
  step: number;
}

export interface EpochResult {
  epoch: number;
  step: number;
  ckpt: CheckpointRef;
  metrics: Record<string, number>;
  weightsSha256: string;
  backend: string;
  durationMs: number;
  /** The backend queue of the worker that trained it (absent on a worker without routing). */
  route?: string;
  /**
   * The object store the worker read and wrote its checkpoints at (its S3 endpoint): with a replica
   * site, which site the epoch came from.
   */
  site?: string;
  /** What the attempt measured about itself (the run's goodput ledger). */
  attempt?: AttemptTiming;
}

/**
 * Where a training attempt (an epoch's or a data-parallel shard's) got to: what it heartbeats, and
 * what every failure of it carries as its first failure detail, whatever the error (a trainer crash,
 * a hung trainer, an S3 error): the workflow resumes from that `ckpt`, already durable when it
 * appears here.
 */
export interface AttemptPosition {
  /** The epoch trained (a shard: its round, which is its session's epoch). */
  epoch: number;
  /** Batches of `epoch` trained so far: where the attempt is. */
  batch: number;
  batches: number;
  loss: number;
  /** The attempt's newest durable checkpoint (the one it started from, until it saves one). */
  ckpt?: CheckpointRef;
  /** The backend queue of the worker training (absent on a worker without routing). */
  route?: string;
  /** What this attempt measured about itself so far (the run's goodput ledger adds it up). */
  attempt?: AttemptTiming;
}

/** What the epoch activity heartbeats (an `AttemptPosition`, plus what only epochs report). */
export interface HeartbeatDetails extends AttemptPosition {
  /**
   * The epoch this attempt finished: `ckpt` is its epoch-end checkpoint, and this is the result the
   * activity is about to return. A worker lost before its completion reaches the server leaves the
   * workflow this, so the epoch is recorded, not only its checkpoint taken as a position.
   */
  finished?: EpochResult;
  /** Set on a `DivergedError` failure: the step whose loss diverged (README: Divergence rollback). */
  diverged?: Divergence;
  /** With `diverged`: every checkpoint the attempt saved (the last 32), to roll back to. */
  saved?: CheckpointRef[];
}

/**
 * What one epoch or shard attempt measured about itself, for the run's goodput ledger: where it
 * started and how far it trained, and where its time went. Durations are the worker's own.
 */
export interface AttemptTiming {
  /** The step the attempt started from (its checkpoint's cursor; 0 for a fresh start). */
  fromStep: number;
  /** The step cursor after the last batch it trained (at least: progress reports lag the trainer). */
  reachedStep: number;
  /** From the attempt's scheduling to its start on a worker: waiting for a free worker. */
  queueMs: number;
  /** From its start to its first trained batch: download, verification, restore, trainer start. */
  startupMs: number;
  /** From its first trained batch to its last progress report. */
  trainMs: number;
  /** Time training waited on checkpoints: state captures, and the epoch-end save before completing. */
  stallMs: number;
  /** The worker's clock when these numbers were taken (ms since the Unix epoch). */
  at: number;
}

export interface TrainEpochInput {
  spec: TrainingSpec;
  /** Epoch to train; the activity trains from the checkpoint's cursor to the end of this epoch. */
  epoch: number;
  /** Explicit `.ckpt` to start from; absent only for a fresh start at epoch 0. */
  ckptPath?: string;
  /** The workflow's record of `ckptPath`: expected SHA-256, size and cursor. */
  ckpt?: CheckpointRef;
  workflowId: string;
  /** A fork's first epoch (no `ckptPath`): start fresh with the model weights of this checkpoint. */
  initFrom?: CheckpointRef;
  /** `checkpointNow` requests already served; a higher count in the workflow's controls means "save now". */
  checkpointRequestsServed?: number;
  /** The run's goodput so far (steps kept ÷ steps trained), for the worker's `dfit_goodput_ratio`. */
  goodput?: number;
  /** Data windows divergence rollbacks skip (absent: none). */
  skips?: SkipWindow[];
}

export type RecoveryKind = 'crash' | 'preemption' | 'infrastructure' | 'fallback' | 'pause' | 'divergence';

export interface ResumeEpochInput extends TrainEpochInput {
  ckptPath: string;
  reason: RecoveryKind;
  /** Steps the failed attempt had trained past `ckptPath`, trained again now (`dfit_steps_redone_total`). */
  stepsRedone?: number;
}

/** One recovery, as recorded in the workflow and shown in progress and results. */
export interface RecoveryEvent {
  kind: RecoveryKind;
  reason: string;
  atEpoch: number;
  atBatch: number;
  fromCkpt: string;
  /** Steps trained past `fromCkpt` by the failed attempt: lost, and trained again (at least). */
  stepsRedone?: number;
  /** From the failed attempt's last report to the workflow acting on its failure, in seconds. */
  detectionSeconds?: number;
  /**
   * The object store (S3 endpoint) the resumed attempt loaded `fromCkpt` from and saved to: set when
   * that attempt's epoch ends (a replica site after the primary was lost).
   */
  site?: string;
}

export interface RetentionInput {
  runName: string;
  checkpoints: CheckpointRef[];
  epochCheckpoints: { ckpt: CheckpointRef; metrics: Record<string, number> }[];
  policy: TrainingSpec['checkpoint'];
  resumeTarget: string;
  /** The epoch that just finished: written to the run's per-epoch log, `<run>/log/epoch=000123.json`. */
  epochLog?: EpochResult;
  /**
   * A data-parallel run: retention acts on `<run>/parallel/` (round globals are its epoch ends);
   * `keep` lists the shards' results the next round starts from, never deleted.
   */
  parallel?: { keep: string[] };
}

/** What the workflow's `controls` query gives a running epoch activity (it polls it). */
export interface ControlState {
  paused: boolean;
  stopRequested: boolean;
  checkpointRequests: number;
}

export interface PrepareRunInput {
  /** The spec as the user wrote it (validated and given defaults here, not in the workflow). */
  spec: unknown;
  workflowId: string;
  /**
   * `workflowInfo().firstExecutionRunId`: with the workflow id it names the default run folder, so a
   * reused workflow id gets a fresh folder. Absent (older workflows): the folder is the workflow id.
   */
  firstExecutionRunId?: string;
}

export interface PreparedRun {
  spec: TrainingSpec;
  /** `spec.resumeFrom`, verified and checked against the task's model. */
  resumeFrom?: CheckpointRef;
  /** `spec.forkedFrom.ckpt` (a fork with new hparams): verified; its weights start the run. */
  initFrom?: CheckpointRef;
  /**
   * The backend queue every epoch of this run goes to (src/training/routing.ts): that of the
   * `resumeFrom` checkpoint's backend, else that of the worker that ran `prepareRun`. Absent on a
   * worker without routing: epochs then go to the run's task queue.
   */
  route?: string;
  /** The `resumeFrom` checkpoint's backend: routing reads it, and strips it from the result. */
  resumeBackend?: BackendInfo;
}
