/**
 * The durable record of a training run (what the workflow knows, carried across continue-as-new) and
 * what the workflow shows: its `progress` query and its result.
 */
import type { CheckpointRef, ControlState, EpochResult, RecoveryEvent, RecoveryKind } from './activities';
import type { TrainingSpec } from '../spec';

export type RunStatus =
  'starting' | 'running' | 'paused' | 'recovering' | 'stopping' | 'completed' | 'stopped' | 'failed';

/**
 * Bounded: the workflow keeps a window of recent epochs and recoveries plus counters, and the
 * checkpoints retention still needs; the full per-epoch log lives in the bucket
 * (`<run>/log/epoch=000123.json`, written by the retention activity). See workflows/record-update.ts.
 */
export interface RunRecord {
  spec: TrainingSpec;
  /** Durable checkpoints retention or a fallback may still need (newest last-ish; bounded). */
  checkpoints: CheckpointRef[];
  /** Results of the most recent finished epochs (a window of `EPOCH_WINDOW`), in order. */
  epochs: EpochResult[];
  /** The most recent recoveries (a window of `RECOVERY_WINDOW`); `counts` has the totals. */
  recoveries: RecoveryEvent[];
  /** Checkpoints that failed verification; never resumed from again. */
  unusable: string[];
  /** Where the next activity starts; undefined = a fresh start at epoch 0. */
  position?: CheckpointRef;
  /** Set after a failure: the next activity is a `resumeEpoch` with this reason. */
  resumeReason?: RecoveryEvent['kind'];
  backend?: string;
  /** The backend queue all of this run's epochs go to (README: Routing); absent: the run's task queue. */
  route?: string;
  /** A fork's source: its weights start epoch 0 (only while nothing newer exists). */
  initFrom?: CheckpointRef;
  /** `checkpointNow` requests already satisfied by a saved checkpoint. */
  checkpointRequestsServed?: number;
  /** Metrics of the epoch-end checkpoints in `checkpoints`, for top-K retention. */
  scores?: { url: string; metrics: Record<string, number> }[];
  /** Recoveries of each kind over the whole run (older records: counted from `recoveries`). */
  counts?: Partial<Record<RecoveryKind, number>>;
  /** Failures since the last progress (a finished epoch or a newer checkpoint), by kind. */
  streak?: { infrastructure: number; fallback: number };
  /** Non-fatal problems, e.g. a failed retention (the most recent `RECOVERY_WINDOW`). */
  warnings?: string[];
  /** The best monitored value over the whole run (`topK.monitor`, else `loss`). */
  best?: number;
  /** Pause, stop and checkpoint-now requests, carried across continue-as-new. */
  controls?: ControlState;
}

/** What the `progress` query returns. */
export interface Progress {
  status: RunStatus;
  epoch: number;
  epochs: number;
  lastCheckpoint?: CheckpointRef;
  /** Metrics of the most recent epochs (a window; the full log is in the bucket). */
  metrics: EpochResult['metrics'][];
  /** The most recent recoveries (a window); `recoveryCount` is the total. */
  recoveries: RecoveryEvent[];
  recoveryCount?: number;
  warnings?: string[];
  backend?: string;
}

/** The workflow result: everything needed to find and trust the trained model. */
export interface TrainingResult {
  status: 'completed' | 'stopped';
  runName: string;
  finalCheckpoint: CheckpointRef;
  /** Weights of the last finished epoch ('' when stopped before the first epoch finished). */
  weightsSha256: string;
  /** The most recent finished epochs (at most `EPOCH_WINDOW`); the full log is in the bucket. */
  epochs: { epoch: number; ckpt: CheckpointRef; metrics: Record<string, number>; weightsSha256: string }[];
  /** The most recent recoveries (at most `RECOVERY_WINDOW`); `recoveryCount` is the total. */
  recoveries: RecoveryEvent[];
  recoveryCount?: number;
  warnings?: string[];
  backend?: string;
}
