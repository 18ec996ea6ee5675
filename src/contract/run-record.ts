/**
 * The durable record of a training run (what the workflow knows, carried across continue-as-new) and
 * what the workflow shows: its `progress` query and its result.
 */
import type { CheckpointRef, ControlState, EpochResult, RecoveryEvent, RecoveryKind } from './activities';
import type { SkipWindow, TrainingSpec } from '../spec';

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
  /** Where the run's steps and seconds went (workflows/goodput.ts); absent in runs from before it. */
  ledger?: GoodputLedger;
  /** Data windows skipped after divergence rollbacks (every one, in order: they are few). */
  skips?: SkippedData[];
}

/** A data window a divergence rollback skips: batches of one epoch, and the samples they hold. */
export interface SkippedData extends SkipWindow {
  /** Positions in the epoch's (seeded) sample order of the first and last skipped sample. */
  firstSample: number;
  lastSample: number;
}

/** Seconds lost, by cause. */
export interface LostSeconds {
  /** From a failed attempt's last report to the workflow acting on the failure. */
  detection: number;
  /** From acting on a failure to the resumed attempt's first batch: backoff, queue, restore. */
  recovery: number;
  /** Training waiting on checkpoint captures and epoch-end saves. */
  checkpointStall: number;
  /** Attempts (not after a failure) waiting for a worker, and starting up. */
  queueWait: number;
}

/** What the workflow adds up as attempts end: the run's own accounting, carried across continue-as-new. */
export interface GoodputLedger {
  /** Workflow time the run started (ms since the Unix epoch). */
  startedAt: number;
  /** The step the run started from (a `resumeFrom` checkpoint's; else 0). */
  startStep: number;
  /** Steps trained by every attempt, those trained again after a failure included. */
  stepsTrained: number;
  /** Time attempts spent training batches, in ms. */
  trainMs: number;
  lostMs: LostSeconds;
  /** Time spent paused by request (not counted against the run's goodput), in ms. */
  pausedMs: number;
  byKind: Partial<Record<RecoveryKind, KindLedger>>;
  /** The last failure, until the attempt resuming from it reports: its backoff and kind. */
  pending?: { kind: RecoveryKind; backoffMs: number };
}

/** One failure kind's share of the lost work. */
export interface KindLedger {
  failures: number;
  stepsRedone: number;
  detectionSeconds: number;
  recoverySeconds: number;
}

/**
 * The run's goodput, as `status` and the result show it: steps kept (in the model now) against steps
 * trained, and productive training time against the run's wall time (paused time left out).
 */
export interface Goodput {
  stepsTrained: number;
  stepsKept: number;
  stepsRedone: number;
  /** stepsKept ÷ stepsTrained (1 before anything trained). */
  stepRatio: number;
  /** The run's wall time so far, paused time left out. */
  wallSeconds: number;
  /** Training time of the kept steps. */
  productiveSeconds: number;
  /** productiveSeconds ÷ wallSeconds: Google's ML goodput. */
  ratio: number;
  lostSeconds: LostSeconds;
  byKind: Partial<Record<RecoveryKind, KindLedger>>;
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
  goodput?: Goodput;
  /** Data windows divergence rollbacks skipped. */
  skipped?: SkippedData[];
  /** The dataset version a streamed run reads, `name@<64 hex>`, as resolved when it started. */
  dataset?: string;
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
  /** Steps kept against steps trained, and where the lost seconds went. */
  goodput?: Goodput;
  /** Data windows divergence rollbacks skipped. */
  skipped?: SkippedData[];
  /** The dataset version a streamed run read, `name@<64 hex>`, as resolved when it started. */
  dataset?: string;
}
