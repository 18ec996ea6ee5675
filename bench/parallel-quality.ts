/**
 * Quality of data-parallel rounds (issue 15): mnist-mlp trained by K shards merging every H steps
 * against one worker without `parallel`, both after the same samples seen (the same data epochs:
 * K shards see one worker's samples per data epoch). Both final checkpoints are evaluated here, with
 * the engine's own validation pass on the same validation set; the target is K shards no more than
 * one accuracy point below one worker.
 */
import type { TrainingResult } from '../src/contract';
import type { CheckpointIO } from '../src/checkpoint/checkpoint-io';
import type { TrainingSpecInput } from '../src/spec';
import type { BackendRequest } from '../src/training/backend';
import { restoreModelWeights } from '../src/training/model-weights';
import { shardBatchesPerEpoch, shardSamples } from '../src/training/shard-order';
import { Trainer } from '../src/training/trainer';
import type { BenchStack } from './bench-stack';
import { benchQueue } from './bench-stack';

/** Accuracy points K shards may lose against one worker. */
export const QUALITY_TOLERANCE_POINTS = 1;

export interface QualityOptions {
  hparams: { trainSize: number; valSize: number; hidden: number };
  batchSize: number;
  /** Data epochs of both runs: the sample budget is epochs × trainSize. */
  epochs: number;
  shards: number;
  syncEverySteps: number;
  /** One parallel run per outer step. */
  outers: ('average' | 'nesterov')[];
  backend: BackendRequest;
}

export interface QualityRow {
  outer: string;
  rounds: number;
  samples: number;
  valAccuracy: number;
  /** valAccuracy − one worker's, in points (negative: K shards are worse). */
  diffPoints: number;
  met: boolean;
}

export interface QualityResult {
  task: string;
  hparams: Record<string, unknown>;
  batchSize: number;
  epochs: number;
  shards: number;
  syncEverySteps: number;
  toleratedPoints: number;
  single: { samples: number; valAccuracy: number; seconds: number };
  rows: (QualityRow & { seconds: number })[];
}

const TASK = 'mnist-mlp';
const SEED = 7;

export async function runQualityBench(
  stack: BenchStack,
  store: CheckpointIO,
  options: QualityOptions & { log(line: string): void },
): Promise<QualityResult> {
  const trainer = await Trainer.create({ backend: options.backend });
  const base: TrainingSpecInput = {
    task: TASK,
    epochs: options.epochs,
    seed: SEED,
    batchSize: options.batchSize,
    hparams: options.hparams,
    checkpoint: { everyBatches: 0, everySeconds: 0 },
  };
  const single = await timedResult(stack, base, 'single');
  const singleAccuracy = await valAccuracy(trainer, store, options, single.result);
  // The run's own last validation must agree with this evaluation, or the comparison measures nothing.
  const reported = single.result.epochs.at(-1)?.metrics.valAccuracy;
  if (reported === undefined || Math.abs(reported - singleAccuracy) > 1e-6)
    throw new Error(
      `the bench's evaluation (${singleAccuracy}) disagrees with the run's own (${reported}); fix valAccuracy in bench/parallel-quality.ts`,
    );
  options.log(`parallel quality: one worker ${(singleAccuracy * 100).toFixed(2)} %`);
  const rows: QualityResult['rows'] = [];
  for (const outer of options.outers) {
    const parallel = {
      shards: options.shards,
      syncEverySteps: options.syncEverySteps,
      outer: { optimizer: outer },
    };
    const run = await timedResult(stack, { ...base, parallel }, `k${options.shards}-${outer}`);
    const accuracy = await valAccuracy(trainer, store, options, run.result);
    const rounds = run.result.rounds?.length ?? 0;
    const diffPoints = (accuracy - singleAccuracy) * 100;
    rows.push({
      outer,
      rounds,
      samples: parallelSamples(options, rounds),
      valAccuracy: accuracy,
      diffPoints,
      met: diffPoints >= -QUALITY_TOLERANCE_POINTS,
      seconds: run.seconds,
    });
    options.log(
      `parallel quality: K=${options.shards} ${outer} ${(accuracy * 100).toFixed(2)} % (${diffPoints.toFixed(2)} points)`,
    );
  }
  return {
    task: TASK,
    hparams: options.hparams,
    batchSize: options.batchSize,
    epochs: options.epochs,
    shards: options.shards,
    syncEverySteps: options.syncEverySteps,
    toleratedPoints: QUALITY_TOLERANCE_POINTS,
    single: {
      samples: options.epochs * options.hparams.trainSize,
      valAccuracy: singleAccuracy,
      seconds: single.seconds,
    },
    rows,
  };
}

async function timedResult(stack: BenchStack, spec: TrainingSpecInput, name: string) {
  const started = Date.now();
  const workflowId = `bench-parallel-quality-${name}-${Date.now()}`;
  // Single-worker and parallel runs alike: a single run's result has no rounds.
  const handle = await stack.startParallel(benchQueue('parallel'), workflowId, spec);
  const result = await handle.result();
  if (result.status !== 'completed') throw new Error(`quality run ${workflowId} ended ${result.status}`);
  return { result, seconds: (Date.now() - started) / 1000 };
}

/** The final checkpoint's validation accuracy, from the engine's evaluation pass (dropout off). */
async function valAccuracy(
  trainer: Trainer,
  store: CheckpointIO,
  options: QualityOptions,
  result: TrainingResult,
): Promise<number> {
  const { url, sha256, bytes } = result.finalCheckpoint;
  const state = await store.load(url, { sha256, bytes });
  const session = trainer.open({
    task: TASK,
    hparams: options.hparams,
    seed: SEED,
    batchSize: options.batchSize,
    epochs: 1,
  });
  try {
    restoreModelWeights(session.parts.model, session.parts.weightNames, state.tensors);
    const accuracy = session.evaluate().valAccuracy;
    if (accuracy === undefined) throw new Error(`${TASK} reports no validation accuracy`);
    return accuracy;
  } finally {
    session.dispose();
  }
}

/** Samples the K shards trained in `rounds` rounds of H steps (each step one batch of its slice). */
function parallelSamples(options: QualityOptions, rounds: number): number {
  const { trainSize } = options.hparams;
  const m = shardSamples(trainSize, options.shards);
  const perEpoch = shardBatchesPerEpoch(trainSize, options.shards, options.batchSize);
  const steps = rounds * options.syncEverySteps;
  const partial = Math.min((steps % perEpoch) * options.batchSize, m);
  return options.shards * (Math.floor(steps / perEpoch) * m + partial);
}
