/**
 * The contract of data-parallel rounds (README: Data-parallel training): what the workflow sends the
 * `trainShard`, `aggregateRound` and `initParallel` activities and what they return, plus what the
 * workflow keeps about rounds. Keys and hashes only, never tensors.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { TrainingSpec } from '../spec';
import type { AttemptPosition, AttemptTiming, CheckpointRef, RecoveryKind } from './activities';
import type { Progress, RunRecord, TrainingResult } from './run-record';

/**
 * Search attribute of data-parallel runs: the shard count K, as a keyword (`DfitShards="4"`; the dev
 * server allows only three Int attributes). `DfitEpoch` counts merged rounds in such a run.
 */
export const SHARDS = defineSearchAttributeKey('DfitShards', SearchAttributeType.KEYWORD);

export type ParallelPolicy = NonNullable<TrainingSpec['parallel']>;

/** Writes the run's round-0 global checkpoint: the fresh model every shard starts from. */
export interface InitParallelInput {
  spec: TrainingSpec;
  workflowId: string;
}

export interface TrainShardInput {
  spec: TrainingSpec;
  workflowId: string;
  round: number;
  /** Rounds of the run (the shard session's epochs). */
  rounds: number;
  shard: number;
  /** The round's global `.ckpt`: its model weights start the shard (round 0: equal to a fresh model). */
  global: CheckpointRef;
  /** This shard's result of the previous round: its optimizer state, cursor and RNG carry over. */
  previous?: CheckpointRef;
  /** After a failure: the shard's newest durable checkpoint inside this round; training continues from it. */
  resumeFrom?: CheckpointRef;
  /** How many times this shard was started in this round before (names its keys apart). */
  attempt: number;
  reason?: RecoveryKind;
  /** `checkpointNow` requests already served when this attempt started (a higher count: save now). */
  checkpointRequestsServed?: number;
  /**
   * With `reason` (not a pause): steps of this shard the failed attempt had trained past where this
   * one starts, trained again now (the worker's `dfit_steps_redone_total{kind}`).
   */
  stepsRedone?: number;
  /** The run's goodput so far (steps kept ÷ steps trained), for the worker's `dfit_goodput_ratio`. */
  goodput?: number;
}

export interface ShardResult {
  round: number;
  shard: number;
  /** The shard's state at the end of the round. */
  ckpt: CheckpointRef;
  weightsSha256: string;
  metrics: Record<string, number>;
  /** The worker that trained it (its Temporal identity). */
  worker: string;
  durationMs: number;
  backend: string;
  route?: string;
  /** What the attempt measured about itself, in the shard's own steps (the run's goodput ledger). */
  attempt?: AttemptTiming;
}

/**
 * What a shard activity heartbeats, and every failure of a shard attempt carries: `ckpt` is its
 * newest durable checkpoint in the round, `batch` the batches of the round it has trained.
 */
export interface ShardHeartbeat extends AttemptPosition {
  round: number;
  shard: number;
}

export interface AggregateRoundInput {
  spec: TrainingSpec;
  workflowId: string;
  round: number;
  global: CheckpointRef;
  /** Results of every shard, index = shard. */
  shards: CheckpointRef[];
  /** Who trained each shard (index = shard), for the round's log entry (older workflows: absent). */
  shardInfo?: RoundShardInfo[];
}

/** What the workflow knows of a shard's round beyond its result checkpoint. */
export interface RoundShardInfo {
  worker: string;
  /** Failed attempts of the shard in this round. */
  recoveries: number;
  /** The shard's last attempt, as the activity measured it. */
  durationMs: number;
}

export interface AggregateResult {
  round: number;
  /** The next round's global checkpoint. */
  ckpt: CheckpointRef;
  weightsSha256: string;
  /** Mean of the shards' round metrics (validation on each shard's copy). */
  metrics: Record<string, number>;
  /** Bytes read and written by the merge. */
  bytesMoved: number;
  backend: string;
  /** `initParallel` only: rounds of the run, ceil(epochs · ceil(floor(N / K) / B) / H). */
  rounds?: number;
  /** `initParallel` only: batches of one shard per data epoch, ceil(floor(N / K) / B). */
  shardBatches?: number;
}

/** One finished round, as the workflow records it and `--wait --json` prints it. */
export interface RoundLog {
  round: number;
  ckpt: string;
  shards: { shard: number; ckpt: string; worker: string; recoveries: number }[];
  /** Workflow time from starting the shards to recording the merge (older records: absent). */
  roundMs?: number;
  /** The slowest shard's last attempt, as the activity measured it. */
  shardMs?: number;
  /** Workflow time of the merge activity. */
  mergeMs?: number;
  /** Bytes the merge read (global + K results) and wrote (the next global). */
  mergeBytes?: number;
}

/** Where the parallel run stands (carried across continue-as-new in the run record). */
export interface ParallelProgress {
  /** Next round to train; rounds before it are merged into `global`. */
  round: number;
  rounds: number;
  global: CheckpointRef;
  /** Each shard's result of the previous round (empty before round 1). */
  previous: CheckpointRef[];
  /** The most recent rounds (a window). */
  log: RoundLog[];
  /** Batches of one shard per data epoch (runs started before it was recorded: absent). */
  shardBatches?: number;
  /** The shards of the round in flight, as the workflow sees them (for the `progress` query). */
  current?: { round: number; shards: ShardLive[] };
}

/** A shard of the round in flight: running, failed and resuming, paused by request, or done. */
export interface ShardLive {
  shard: number;
  state: 'running' | 'recovering' | 'paused' | 'done';
  /** Failures of this shard in this round so far. */
  recoveries: number;
  /**
   * The shard's newest durable step in the round: where its attempt started or resumes from, or its
   * result's once done (absent: the round's start). The goodput ledger counts the steps past the
   * round's start as kept (workflows/goodput.ts).
   */
  step?: number;
}

/** What `progress` adds for a data-parallel run; its `epoch`/`epochs` then count rounds. */
export interface ParallelProgressView {
  /** Rounds merged; also the round in flight while the run trains. */
  round: number;
  rounds: number;
  shards: number;
  syncEverySteps: number;
  /** Data epochs every shard has finished (absent for runs started before it was recorded). */
  dataEpoch?: number;
  dataEpochs: number;
  /** The global `.ckpt` the round in flight started from. */
  global: string;
  /** The round in flight's shards (absent between rounds). */
  current?: { round: number; shards: ShardLive[] };
  /** The most recent merged rounds (a window; the full list is in the bucket's `log/round=…json`). */
  log: RoundLog[];
}

/** The `progress` query's answer for a run with `parallel`. */
export interface ParallelRunProgress extends Progress {
  parallel?: ParallelProgressView;
}

export interface ParallelRunRecord extends RunRecord {
  parallel?: ParallelProgress;
}

export interface ParallelTrainingResult extends TrainingResult {
  rounds?: RoundLog[];
}
