/**
 * The cost of data-parallel rounds (README: Data-parallel training), K = 1, 2, 4 shards on real
 * `durable-fit worker` processes (one trainer slot each, K of them). Per round: bytes moved through
 * the bucket (shards read the round's global and their previous result and write their result; the
 * merge reads the global and the K results and writes the next global), and the round's time split
 * into the slowest shard, the merge, and the rest (scheduling, round trips). This machine has 2 cores,
 * so K shards here share them; the speed-up on K machines is projected from the measured parts.
 */
import type { CheckpointIO } from '../src/checkpoint/checkpoint-io';
import { ObjectCheckpointIO } from '../src/checkpoint/object-checkpoint-io';
import type { ParallelTrainingResult, RoundLog } from '../src/contract';
import { createMinioObjectClient } from '../src/storage/minio-adapter';
import type { BackendRequest } from '../src/training/backend';
import { shardBatchesPerEpoch } from '../src/training/shard-order';
import type { BenchStack } from './bench-stack';
import { benchQueue } from './bench-stack';
import type { QualityOptions, QualityResult } from './parallel-quality';
import { runQualityBench } from './parallel-quality';
import type { Summary } from './stats';
import { summarize } from './stats';

export interface ParallelBenchOptions {
  /** mnist-mlp hparams of the timed runs (trainSize sets the rounds' data, hidden the checkpoint size). */
  hparams: { trainSize: number; valSize: number; hidden: number };
  batchSize: number;
  /** Steps per round H. */
  syncEverySteps: number;
  /** Shard counts K, each one run. */
  shardCounts: number[];
  /** Rounds per run; the first is a warm-up (cold trainers, nothing to read) and is left out. */
  rounds: number;
  /** The quality comparison, or why it is skipped. */
  quality: Omit<QualityOptions, 'backend'> | { skipped: string };
  backend: BackendRequest;
  log(line: string): void;
}

/** One K: per-round figures over the measured rounds. */
export interface ParallelRoundRow {
  shards: number;
  /** Rounds measured (after the warm-up). */
  rounds: number;
  /** Samples all shards train in one round: K × H × batch. */
  samplesPerRound: number;
  shardCkptBytes: number;
  globalCkptBytes: number;
  /** Bytes per round: shards' reads, shards' writes, the merge's reads + write, and all of them. */
  shardReadBytes: Summary;
  shardWriteBytes: Summary;
  mergeBytes: Summary;
  totalBytes: Summary;
  roundMs: Summary;
  /** The slowest shard's activity, start to result saved. */
  shardMs: Summary;
  mergeMs: Summary;
  /** roundMs − shardMs − mergeMs: workflow tasks, activity scheduling, round trips. */
  otherMs: Summary;
  /** Measured here, K shards sharing this machine's cores. */
  samplesPerSec: number;
  /** Projection for K machines: K = 1's shard time + this K's merge and rest (medians). */
  projectedRoundMs: number;
  /** Projected samples/s on K machines ÷ measured samples/s of K = 1 (higher is better). */
  projectedSpeedup: number;
}

export interface ParallelResult {
  task: string;
  hparams: Record<string, unknown>;
  batchSize: number;
  syncEverySteps: number;
  rows: ParallelRoundRow[];
  quality: QualityResult | { skipped: string };
}

const TASK = 'mnist-mlp';

export async function runParallelBench(
  stack: BenchStack,
  options: ParallelBenchOptions,
): Promise<ParallelResult> {
  if (options.shardCounts[0] !== 1)
    throw new Error(
      `shardCounts must start with 1 (got ${options.shardCounts.join(', ')}): the projection needs K = 1's shard time`,
    );
  const store = new ObjectCheckpointIO(createMinioObjectClient(stack.running.stack.s3));
  const fleet = stack.fleet('parallel', options.backend);
  const slots = Math.max(...options.shardCounts);
  await Promise.all(Array.from({ length: slots }, () => fleet.start()));
  const rows: ParallelRoundRow[] = [];
  try {
    for (const shards of options.shardCounts) {
      const result = await timedRun(stack, options, shards);
      rows.push(await roundRow(store, result, options, shards, rows[0]));
      const last = rows.at(-1)!;
      options.log(
        `parallel: K=${shards} round ${last.roundMs.median.toFixed(0)} ms = shard ${last.shardMs.median.toFixed(0)} + merge ${last.mergeMs.median.toFixed(0)} + other ${last.otherMs.median.toFixed(0)}; ${last.totalBytes.median} bytes`,
      );
    }
    const quality =
      'skipped' in options.quality
        ? options.quality
        : await runQualityBench(stack, store, {
            ...options.quality,
            backend: options.backend,
            log: options.log,
          });
    return {
      task: TASK,
      hparams: options.hparams,
      batchSize: options.batchSize,
      syncEverySteps: options.syncEverySteps,
      rows,
      quality,
    };
  } finally {
    await fleet.stopAll();
  }
}

/** One run of K shards with enough data epochs for `rounds` rounds; no checkpoints inside a round. */
async function timedRun(stack: BenchStack, options: ParallelBenchOptions, shards: number) {
  const { trainSize } = options.hparams;
  const shardBatches = shardBatchesPerEpoch(trainSize, shards, options.batchSize);
  const epochs = Math.ceil((options.rounds * options.syncEverySteps) / shardBatches);
  const workflowId = `bench-parallel-k${shards}-${Date.now()}`;
  const handle = await stack.startParallel(benchQueue('parallel'), workflowId, {
    task: TASK,
    epochs,
    seed: 1,
    batchSize: options.batchSize,
    hparams: options.hparams,
    checkpoint: { everyBatches: 0, everySeconds: 0 },
    parallel: { shards, syncEverySteps: options.syncEverySteps },
  });
  const result = await handle.result();
  const rounds = result.rounds ?? [];
  if (result.status !== 'completed' || rounds.length < options.rounds)
    throw new Error(
      `parallel run ${workflowId} ended ${result.status} with ${rounds.length} rounds logged (wanted ${options.rounds}); see its history`,
    );
  return result;
}

async function roundRow(
  store: CheckpointIO,
  result: ParallelTrainingResult,
  options: ParallelBenchOptions,
  shards: number,
  single: ParallelRoundRow | undefined,
): Promise<ParallelRoundRow> {
  const all = [...(result.rounds ?? [])].sort((a, b) => a.round - b.round);
  const measured = all.length > 1 ? all.slice(1) : all;
  const bytesOf = sizeCache(store);
  const moved = await Promise.all(measured.map((r) => roundBytes(r, all, bytesOf)));
  const ms = (pick: (r: RoundLog) => number | undefined) => summarize(measured.map((r) => pick(r) ?? NaN));
  const roundMs = ms((r) => r.roundMs);
  const shardMs = ms((r) => r.shardMs);
  const mergeMs = ms((r) => r.mergeMs);
  const otherMs = ms((r) => (r.roundMs ?? NaN) - (r.shardMs ?? NaN) - (r.mergeMs ?? NaN));
  const samplesPerRound = shards * options.syncEverySteps * options.batchSize;
  const samplesPerSec = samplesPerRound / (roundMs.median / 1000);
  // On K machines each shard trains alone, as K = 1's one shard did here; merge and rest as measured.
  const projectedRoundMs = (single ?? { shardMs }).shardMs.median + mergeMs.median + otherMs.median;
  const singleRate = single?.samplesPerSec ?? samplesPerSec;
  const last = measured.at(-1);
  return {
    shards,
    rounds: measured.length,
    samplesPerRound,
    shardCkptBytes: last ? await bytesOf(last.shards[0]?.ckpt ?? '') : 0,
    globalCkptBytes: last ? await bytesOf(last.ckpt) : 0,
    shardReadBytes: summarize(moved.map((m) => m.shardRead)),
    shardWriteBytes: summarize(moved.map((m) => m.shardWrite)),
    mergeBytes: summarize(measured.map((r) => r.mergeBytes ?? NaN)),
    totalBytes: summarize(moved.map((m, i) => m.shardRead + m.shardWrite + (measured[i]?.mergeBytes ?? NaN))),
    roundMs,
    shardMs,
    mergeMs,
    otherMs,
    samplesPerSec,
    projectedRoundMs,
    projectedSpeedup: samplesPerRound / (projectedRoundMs / 1000) / singleRate,
  };
}

/**
 * Bytes the shards of round `r` moved: each read the round's global and its own previous result
 * (round 0 starts fresh: nothing read), and wrote its result.
 */
async function roundBytes(
  r: RoundLog,
  all: RoundLog[],
  bytesOf: (url: string) => Promise<number>,
): Promise<{ shardRead: number; shardWrite: number }> {
  const previous = all.find((p) => p.round === r.round - 1);
  const sum = async (urls: string[]) => (await Promise.all(urls.map(bytesOf))).reduce((a, b) => a + b, 0);
  const shardWrite = await sum(r.shards.map((s) => s.ckpt));
  if (r.round === 0) return { shardRead: 0, shardWrite };
  if (!previous) throw new Error(`round ${r.round - 1} is not in the run's round log; measure fewer rounds`);
  // The previous round's merge wrote this round's global.
  const shardRead =
    r.shards.length * (await bytesOf(previous.ckpt)) + (await sum(previous.shards.map((s) => s.ckpt)));
  return { shardRead, shardWrite };
}

/** Object sizes by URL, each fetched once. */
function sizeCache(store: CheckpointIO): (url: string) => Promise<number> {
  const cache = new Map<string, Promise<number>>();
  return (url) => {
    let size = cache.get(url);
    if (!size) cache.set(url, (size = store.stat(url).then((s) => s.bytes)));
    return size;
  };
}
