/**
 * What a data-parallel run shows through its `progress` query (README: Data-parallel training):
 * rounds instead of epochs, the data epoch, the shards of the round in flight (running, recovering,
 * done, with their recoveries) and the recent rounds. Queries are not commands: nothing here changes
 * what the workflow issues, so histories replay unchanged.
 */
import * as wf from '@temporalio/workflow';
import type {
  AggregateResult,
  ParallelProgress,
  ParallelProgressView,
  ParallelRunProgress,
  ParallelRunRecord,
  RunStatus,
  ShardLive,
} from '../src/contract';
import { progressQuery } from '../src/contract';
import type { ParallelLoop } from './parallel';
import { recordInit } from './parallel-decide';
import { progressOf } from './results';

/**
 * Answers `progress` for the parallel run (replacing the plain handler) and returns the loop with a
 * `publish` that remembers the status the answer reports.
 */
export function showRounds(loop: ParallelLoop): ParallelLoop {
  let status: RunStatus = 'running';
  wf.setHandler(progressQuery, () => parallelProgressOf(loop.record, status));
  return { ...loop, publish: (s) => loop.publish((status = s)) };
}

/** The plain progress with `epoch`/`epochs` counting rounds, and the rounds' own view. */
export function parallelProgressOf(record: ParallelRunRecord, status: RunStatus): ParallelRunProgress {
  const base = progressOf(record, status);
  const p = record.parallel;
  if (!p) return base; // initParallel has not counted the rounds yet
  return { ...base, epoch: p.round, epochs: p.rounds, parallel: parallelView(record, p) };
}

function parallelView(record: ParallelRunRecord, p: ParallelProgress): ParallelProgressView {
  const { shards, syncEverySteps } = record.spec.parallel ?? { shards: 1, syncEverySteps: 1 };
  const dataEpochs = record.spec.epochs;
  return {
    round: p.round,
    rounds: p.rounds,
    shards,
    syncEverySteps,
    ...(p.shardBatches
      ? { dataEpoch: Math.min(dataEpochs, Math.floor((p.round * syncEverySteps) / p.shardBatches)) }
      : {}),
    dataEpochs,
    global: p.global.url,
    ...(p.current && p.current.round === p.round ? { current: p.current } : {}),
    log: p.log,
  };
}

/** Round 0 recorded, with the shard batches per data epoch that place each round in its data epoch. */
export function recordInitShown(record: ParallelRunRecord, init: AggregateResult): ParallelProgress {
  const progress = recordInit(record, init);
  return init.shardBatches ? { ...progress, shardBatches: init.shardBatches } : progress;
}

/** Marks one shard of the round in flight (a new round starts with every shard running). */
export function markShard(record: ParallelRunRecord, shard: number, live: Omit<ShardLive, 'shard'>): void {
  const p = record.parallel;
  if (!p) return;
  const k = record.spec.parallel?.shards ?? 1;
  if (p.current?.round !== p.round) {
    const fresh = (s: number): ShardLive => ({ shard: s, state: 'running', recoveries: 0 });
    p.current = { round: p.round, shards: Array.from({ length: k }, (_, s) => fresh(s)) };
  }
  p.current.shards[shard] = { shard, ...live };
}

/** The newest durable step of one shard of the round in flight (e.g. the checkpoint a stop saved). */
export function markShardStep(record: ParallelRunRecord, shard: number, step: number): void {
  const live = record.parallel?.current?.shards[shard];
  if (live && record.parallel?.current?.round === record.parallel?.round) live.step = step;
}
