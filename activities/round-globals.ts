/**
 * The global checkpoints of data-parallel rounds (README: Data-parallel training). `initParallel`
 * writes round 0's: the fresh model, from a trainer, and counts the run's rounds. `aggregateRound`
 * reads the K shard results in shard order, applies the outer step (src/training/aggregate.ts, plain
 * float32 arithmetic in the worker) and writes the next round's global checkpoint, then the round's
 * entry of the run's log, `<run>/log/round=000003.json` (the full list of rounds; the workflow record
 * keeps only the most recent).
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { RunFolder } from '../src/checkpoint/run-folder';
import type { AggregateResult, AggregateRoundInput, CheckpointRef, InitParallelInput } from '../src/contract';
import type { TrainingState } from '../src/state';
import { aggregateStates } from '../src/training/aggregate';
import { parallelRounds, shardBatchesPerEpoch } from '../src/training/shard-order';
import type { ActivityDeps } from './deps';
import { globalKey, saveOrAdopt } from './parallel-keys';

/**
 * Round 0's global checkpoint. The trainer opens the run's fresh model (the same one every shard
 * builds from the seed) and stops before any step. It opens it with batch size 1, so the state's
 * batches per epoch is the training set's size, which fixes the number of rounds; only the weights of
 * this checkpoint are ever read.
 */
export async function initParallel(deps: ActivityDeps, input: InitParallelInput): Promise<AggregateResult> {
  const { spec } = input;
  const parallel = spec.parallel;
  if (!parallel) throw new Error('initParallel needs spec.parallel');
  const job = await deps.engine.start({
    config: { task: spec.task, hparams: spec.hparams, seed: spec.seed, batchSize: 1, epochs: 0 },
    epoch: -1, // the job ends where it starts: at epoch 0, before any step
    allowBackendChange: false,
    specExtras: { training: spec, parallel: { round: 0, global: true } },
    onProgress: () => undefined,
  });
  const { state } = await job.done;
  const trainSize = state.meta.cursor.batchesPerEpoch;
  const shardBatches = shardBatchesPerEpoch(trainSize, parallel.shards, spec.batchSize);
  const ckpt = await saveOrAdopt(deps.store, globalKey(spec.runName ?? input.workflowId, 0), state);
  return {
    round: 0,
    ckpt,
    weightsSha256: state.meta.weightsSha256,
    metrics: {},
    bytesMoved: ckpt.bytes,
    backend: state.meta.backend.name,
    rounds: parallelRounds(spec.epochs, shardBatches, parallel.syncEverySteps),
    shardBatches,
  };
}

export async function aggregateRound(
  deps: ActivityDeps,
  input: AggregateRoundInput,
): Promise<AggregateResult> {
  const parallel = input.spec.parallel;
  if (!parallel) throw new Error('aggregateRound needs spec.parallel');
  if (input.shards.length !== parallel.shards)
    throw new Error(`aggregateRound got ${input.shards.length} shard results for ${parallel.shards} shards`);
  const started = Date.now();
  const load = (ref: CheckpointRef) => deps.store.load(ref.url, { sha256: ref.sha256, bytes: ref.bytes });
  const [global, ...shards] = await Promise.all([load(input.global), ...input.shards.map(load)]);
  const next = aggregateStates(global as TrainingState, shards, parallel.outer);
  const runName = input.spec.runName ?? input.workflowId;
  const ckpt = await saveOrAdopt(deps.store, globalKey(runName, input.round + 1), next);
  const read = [input.global, ...input.shards].reduce((sum, r) => sum + r.bytes, 0);
  const result: AggregateResult = {
    round: input.round,
    ckpt,
    weightsSha256: next.meta.weightsSha256,
    metrics: meanMetrics(shards, input.round),
    bytesMoved: read + ckpt.bytes,
    backend: next.meta.backend.name,
  };
  await abortRoundLeftovers(deps, runName, input.round);
  // A failed write loses a log entry, never the round (like the epoch log of plain runs).
  await writeRoundLog(deps.runs, runName, input, result, Date.now() - started).catch((err: unknown) =>
    warn(deps, 'round log entry not written', { round: input.round, error: String(err) }),
  );
  return result;
}

/**
 * Every shard attempt of the round has ended (a dead one may have died mid-upload, and shards never
 * abort their own), so the incomplete uploads in the round's folder are leftovers. Aborting them also removes their journal entries
 * (uploads another run had in flight when this one took the folder over are kept: pins.ts). Never fatal.
 */
async function abortRoundLeftovers(deps: ActivityDeps, runName: string, round: number): Promise<void> {
  try {
    const folder = path.posix.dirname(globalKey(runName, round)).slice(runName.length + 1);
    const aborted = await deps.runs.abortIncompleteUploads(runName, folder);
    if (aborted) warn(deps, `aborted ${aborted} incomplete upload(s) left by shard attempts`, { round });
  } catch (err) {
    warn(deps, 'could not abort incomplete uploads; MinIO expires them later', { round, error: String(err) });
  }
}

function warn(deps: ActivityDeps, message: string, meta: Record<string, unknown>): void {
  if (deps.log) deps.log(message, meta);
  else Context.current().log.warn(message, meta);
}

/** Where a round's log entry lives inside the run's folder (next to the epochs' `log/epoch=…json`). */
export function roundLogName(round: number): string {
  return `log/round=${String(round).padStart(6, '0')}.json`;
}

/**
 * Writes (a retried merge: rewrites) the round's log entry: the round's fields of `--wait --json`
 * (`round`, `ckpt`, `shards`, `shardMs`, `mergeBytes`), plus the round's start, the merged weights
 * hash and metrics. `mergeMs` here is the activity's own time; `roundMs` is only in the workflow's.
 */
async function writeRoundLog(
  runs: RunFolder,
  runName: string,
  input: AggregateRoundInput,
  merged: AggregateResult,
  mergeMs: number,
): Promise<void> {
  const shards = input.shards.map((ref, shard) => {
    const info = input.shardInfo?.[shard];
    return {
      shard,
      ckpt: ref.url,
      ...(info ? { worker: info.worker, recoveries: info.recoveries, shardMs: info.durationMs } : {}),
    };
  });
  const durations = input.shardInfo?.map((s) => s.durationMs) ?? [];
  await runs.putRunJson(runName, roundLogName(input.round), {
    round: input.round,
    ckpt: merged.ckpt.url,
    from: input.global.url,
    weightsSha256: merged.weightsSha256,
    metrics: merged.metrics,
    shards,
    ...(durations.length ? { shardMs: Math.max(...durations) } : {}),
    mergeMs,
    mergeBytes: merged.bytesMoved,
  });
}

/** The mean over shards of each metric of the round (each shard evaluates its own copy). */
function meanMetrics(shards: readonly TrainingState[], round: number): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const shard of shards) {
    const { epoch: _epoch, ...metrics } = shard.meta.metrics.find((m) => m.epoch === round) ?? {
      epoch: round,
    };
    for (const [name, value] of Object.entries(metrics))
      sums[name] = (sums[name] ?? 0) + value / shards.length;
  }
  return sums;
}
