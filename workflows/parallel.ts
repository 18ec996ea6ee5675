/**
 * Data-parallel rounds (README: Data-parallel training): the round strategy of the training loop
 * (training-loop.ts) for a run whose spec has `parallel`. Each pass trains one round: K `trainShard`
 * activities from the round's global `.ckpt` (parallel-shard.ts; a shard that fails is resumed alone,
 * from its newest durable checkpoint, while the others' results stay); then `aggregateRound` merges
 * the K results in shard order into the next global `.ckpt`, which becomes the run's position.
 * Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type {
  ParallelProgress,
  ParallelRunRecord,
  ParallelTrainingResult,
  TrainingActivities,
} from '../src/contract';
import { CHECKPOINT_UNUSABLE_TYPES, SHARDS } from '../src/contract';
import { nextRoundStep, parallelRetentionInput, recordRound, recordStoppedRound } from './parallel-decide';
import { recordInitShown, showRounds } from './parallel-progress';
import type { Finished } from './parallel-shard';
import { pauseClock, runShard } from './parallel-shard';
import { recordRetention } from './record-update';
import { resultOf } from './results';
import type { Loop, LoopStrategy } from './training-loop';
import { retainOrWarn } from './training-loop';

/** Patch id: `applyRetention` after each merged round when the run has a retention policy. */
const PATCH_PARALLEL_RETENTION = 'parallel-retention';

export type ParallelLoop = Loop<ParallelRunRecord>;

/**
 * The loop's strategy for a data-parallel run: `progress` counts rounds and shows the round in
 * flight's shards; round 0's global checkpoint is written first (a run carried across continue-as-new
 * has it in its record).
 */
export async function roundStrategy(base: Loop): Promise<LoopStrategy<ParallelProgress>> {
  const loop = showRounds(base as ParallelLoop);
  const { record, controls } = loop;
  const progress = (record.parallel ??= recordInitShown(
    record,
    await mergeActivities(record).initParallel(input(loop)),
  ));
  let roundsThisRun = 0;
  return {
    loop,
    beforePass() {
      // The UI's list can filter by shard count; `DfitEpoch` (visibility.ts) counts merged rounds.
      wf.upsertSearchAttributes([{ key: SHARDS, value: String(record.spec.parallel?.shards ?? 1) }]);
    },
    next() {
      const p = record.parallel ?? progress;
      const { continueAsNewEvery } = record.spec;
      const { continueAsNewSuggested } = wf.workflowInfo();
      const step = nextRoundStep(p, controls, roundsThisRun, continueAsNewEvery, continueAsNewSuggested);
      return step === 'train' ? { train: p } : step;
    },
    async train(p) {
      const stopped = await trainRound(loop, p);
      if (stopped) return 'stopped';
      roundsThisRun++;
      loop.publish('running');
      return undefined;
    },
    result: (status): ParallelTrainingResult => ({
      ...resultOf(record, status),
      rounds: record.parallel?.log ?? [],
    }),
  };
}

/** One round: its shards, then their merge and retention; true when a stop ended it inside. */
async function trainRound(loop: ParallelLoop, p: ParallelProgress): Promise<boolean> {
  const { record } = loop;
  const started = Date.now();
  const paused = pauseClock(record);
  const outcomes = await Promise.all(
    Array.from({ length: record.spec.parallel?.shards ?? 1 }, (_, s) => runShard(loop, p.round, s, paused)),
  );
  const shards = outcomes.filter((o): o is Finished => 'result' in o);
  if (shards.length < outcomes.length) {
    recordStoppedRound(
      record,
      p.round,
      outcomes.map((o) => ('result' in o ? o.result.ckpt : o.at)),
    );
    return true;
  }
  const mergeStarted = Date.now();
  const merged = await mergeActivities(record).aggregateRound({
    ...input(loop),
    round: p.round,
    global: p.global,
    shards: shards.map((s) => s.result.ckpt),
    shardInfo: shards.map(({ result, recoveries }) => ({
      worker: result.worker,
      recoveries,
      durationMs: result.durationMs,
    })),
  });
  recordRound(
    record,
    merged,
    shards.map((s) => s.result),
    shards.map((s) => s.recoveries),
    { roundMs: Date.now() - started, mergeMs: Date.now() - mergeStarted },
  );
  await retainRounds(record, loop.workflowId);
  return false;
}

/**
 * Retention after a merged round (README: Data-parallel training): deletes the `parallel/` objects
 * the policy no longer keeps. A failure is a warning, not a reason to fail the training.
 */
async function retainRounds(record: ParallelRunRecord, workflowId: string): Promise<void> {
  const retention = parallelRetentionInput(record, record.spec.runName ?? workflowId);
  const idle = !retention.policy.keepLast && !retention.policy.topK;
  const merged = (record.parallel?.round ?? 1) - 1;
  if (idle || !wf.patched(PATCH_PARALLEL_RETENTION)) return recordRetention(record, []);
  const { applyRetention } = wf.proxyActivities<TrainingActivities>({
    startToCloseTimeout: '2 minutes', // on the run's shared queue: backend queues train and merge only
    // It heartbeats: a worker lost mid-way is noticed within the heartbeat timeout.
    heartbeatTimeout: record.spec.recovery.heartbeatTimeoutSeconds * 1000,
    retry: { maximumAttempts: 5 },
    summary: `retention after round ${merged}`,
  });
  await retainOrWarn(record, retention, `round ${merged}`, applyRetention);
}

/** The merge activities: idempotent (a retried merge adopts what it wrote), so they retry. */
function mergeActivities(record: ParallelRunRecord) {
  return wf.proxyActivities<TrainingActivities>({
    startToCloseTimeout: '10 minutes',
    ...(record.route ? { taskQueue: record.route } : {}),
    // It heartbeats: a worker lost mid-merge is noticed within the heartbeat timeout, not 10 minutes.
    heartbeatTimeout: record.spec.recovery.heartbeatTimeoutSeconds * 1000,
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...CHECKPOINT_UNUSABLE_TYPES] },
    summary: record.parallel ? `merge round ${record.parallel.round}` : 'write the round-0 global checkpoint',
  });
}

function input(loop: ParallelLoop) {
  return { spec: loop.record.spec, workflowId: loop.workflowId };
}
