/**
 * The contract between durable-fit's client, its workflows and its activities: the one module all
 * three import, and which imports none of them. Inputs and results of the activities, the durable run
 * record and what the workflow returns, the failure types the workflow acts on, the signals and
 * queries, the search attributes, and the workflow's and activities' signatures.
 *
 * Layers run one way (eslint.config.mjs checks it): cli → client → contract ← workflows, and
 * worker → activities → training → checkpoint → storage, with activities also → contract.
 */
import type { TrainingSpecInput } from '../spec';
import type {
  EpochResult,
  PreparedRun,
  PrepareRunInput,
  ResumeEpochInput,
  RetentionInput,
  TrainEpochInput,
} from './activities';
import type { RunRecord, TrainingResult } from './run-record';
import type {
  AggregateResult,
  AggregateRoundInput,
  InitParallelInput,
  ParallelRunRecord,
  ParallelTrainingResult,
  ShardResult,
  TrainShardInput,
} from './parallel';

export * from './activities';
export * from './failures';
export * from './parallel';
export * from './run-record';
export * from './search-attributes';
export * from './signals';
export type { TrainingSpec, TrainingSpecInput } from '../spec';

/** The training workflow's registered name. */
export const TRAIN_MODEL = 'trainModel';

/** The training workflow's signature, for typed handles: `client.workflow.start<TrainModel>(TRAIN_MODEL, …)`. */
export type TrainModel = (input: TrainingSpecInput, carried?: RunRecord) => Promise<TrainingResult>;

/**
 * The same workflow (TRAIN_MODEL) typed for a spec with `parallel`, whose result carries the rounds:
 * `client.workflow.start<TrainParallel>(TRAIN_MODEL, …)`.
 */
export type TrainParallel = (
  input: TrainingSpecInput,
  carried?: ParallelRunRecord,
) => Promise<ParallelTrainingResult>;

/** The activities a durable-fit worker registers (activities/index.ts implements them). */
export interface TrainingActivities {
  /** Validates the spec (defaults applied) and its `resumeFrom`; fails fast on bad input. */
  prepareRun(input: PrepareRunInput): Promise<PreparedRun>;
  /** Trains one epoch from the previous epoch's recorded `.ckpt` (or fresh at epoch 0). */
  trainEpoch(input: TrainEpochInput): Promise<EpochResult>;
  /** After a crash, preemption or fallback: continues from the explicit `.ckpt` in `input.ckptPath`. */
  resumeEpoch(input: ResumeEpochInput): Promise<EpochResult>;
  /** Deletes checkpoints the retention policy no longer keeps, and writes the epoch's log. */
  applyRetention(input: RetentionInput): Promise<{ deleted: string[] }>;
  /** Data-parallel runs: writes the round-0 global checkpoint (the fresh model). */
  initParallel(input: InitParallelInput): Promise<AggregateResult>;
  /** Trains one shard for one round from the round's global `.ckpt` (or its own newest one). */
  trainShard(input: TrainShardInput): Promise<ShardResult>;
  /** Merges the round's shard results, in shard order, into the next global `.ckpt`. */
  aggregateRound(input: AggregateRoundInput): Promise<AggregateResult>;
}
