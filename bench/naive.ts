/**
 * The naive alternative: what a tfjs user would write by hand to keep checkpoints, `model.fit` for
 * one epoch and then `model.save('s3://…')` through a `tf.io` handler (durable-fit's
 * `registerS3IOHandlers`), every epoch, in one process. Against it, durable-fit on the same model,
 * data and batch size with one save per epoch (a `durable-fit worker` process, real Temporal and
 * MinIO), in alternating runs. The naive loop saves only the model's weights (no optimizer state, no
 * data cursor, no RNG: it cannot resume exactly) and nothing restarts it when the process dies.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ObjectCheckpointIO } from '../src/checkpoint/object-checkpoint-io';
import { registerS3IOHandlers } from '../src/checkpoint/tfjs-io';
import type { BackendRequest } from '../src/training/backend';
import { selectBackend } from '../src/training/backend';
import { createOptimizer } from '../src/training/optimizer-state';
import { getTask, validateHparams } from '../src/training/tasks';
import { createMinioObjectClient } from '../src/storage/minio-adapter';
import type { BenchStack } from './bench-stack';
import { benchQueue } from './bench-stack';
import { epochPeriodsMs, workflowTimings } from './history';
import type { Summary } from './stats';
import { summarize } from './stats';

export interface NaiveBenchOptions {
  task: string;
  hparams: Record<string, unknown>;
  batchSize: number;
  /** Epochs per run, the first a warm-up. */
  epochs: number;
  /** Interleaved (durable, naive) pairs. */
  repeats: number;
  backend: BackendRequest;
  log(line: string): void;
}

export interface NaiveResult {
  task: string;
  hparams: Record<string, unknown>;
  /** Seconds per epoch, fit + save. */
  naiveEpochS: Summary;
  /** Seconds of `model.save` per epoch. */
  naiveSaveS: Summary;
  durableEpochS: Summary;
  /** Per pair: durable ÷ naive epoch time (lower is better). */
  ratio: Summary;
}

export async function runNaiveBench(stack: BenchStack, options: NaiveBenchOptions): Promise<NaiveResult> {
  await selectBackend(options.backend);
  registerS3IOHandlers(new ObjectCheckpointIO(createMinioObjectClient(stack.running.stack.s3)));
  const fleet = stack.fleet('naive', options.backend);
  await fleet.start();
  const naive: number[] = [];
  const saves: number[] = [];
  const durable: number[] = [];
  const ratios: number[] = [];
  try {
    for (let rep = 0; rep < options.repeats; rep++) {
      const d = await durableRun(stack, options, rep);
      const n = await naiveRun(stack.running.stack.s3.bucket, options, rep);
      durable.push(...d);
      naive.push(...n.epochS);
      saves.push(...n.saveS);
      ratios.push(summarize(d).median / summarize(n.epochS).median);
    }
  } finally {
    await fleet.stopAll();
  }
  options.log(`naive: durable ÷ naive ${summarize(ratios).median.toFixed(3)}`);
  return {
    task: options.task,
    hparams: options.hparams,
    naiveEpochS: summarize(naive),
    naiveSaveS: summarize(saves),
    durableEpochS: summarize(durable),
    ratio: summarize(ratios),
  };
}

async function durableRun(stack: BenchStack, options: NaiveBenchOptions, rep: number): Promise<number[]> {
  const workflowId = `bench-naive-durable-${Date.now()}-${rep}`;
  const handle = await stack.startRun(benchQueue('naive'), workflowId, {
    task: options.task,
    epochs: options.epochs,
    seed: 1,
    batchSize: options.batchSize,
    hparams: options.hparams,
    checkpoint: { everySeconds: 0, everyBatches: 0 },
  });
  await handle.result();
  return epochPeriodsMs(await workflowTimings(stack.client, workflowId)).map((ms) => ms / 1000);
}

/** `model.fit` one epoch + `model.save('s3://…')`, `epochs` times; the first epoch is left out. */
async function naiveRun(
  bucket: string,
  options: NaiveBenchOptions,
  rep: number,
): Promise<{ epochS: number[]; saveS: number[] }> {
  const task = getTask(options.task);
  const hparams = validateHparams(task, options.hparams);
  const data = task.loadDataset(hparams);
  const model = task.buildModel(hparams, 1);
  const optimizer = createOptimizer(task.optimizer(hparams));
  model.compile({ optimizer, loss: (y: tf.Tensor, p: tf.Tensor) => task.loss(y, p) });
  const tensor = (split: typeof data.train, key: 'x' | 'y', shape: number[]) =>
    tf.tensor(split[key], [split.size, ...shape]);
  const [x, y] = [tensor(data.train, 'x', data.inputShape), tensor(data.train, 'y', data.labelShape)];
  const val = [tensor(data.validation, 'x', data.inputShape), tensor(data.validation, 'y', data.labelShape)];
  const epochS: number[] = [];
  const saveS: number[] = [];
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const t0 = performance.now();
      await model.fit(x, y, {
        epochs: 1,
        batchSize: options.batchSize,
        shuffle: true,
        validationData: val as [tf.Tensor, tf.Tensor],
        verbose: 0,
      });
      const t1 = performance.now();
      await model.save(`s3://${bucket}/bench-naive-${Date.now()}-${rep}/epoch=${epoch}.ckpt`);
      const t2 = performance.now();
      if (epoch > 0) epochS.push((t2 - t0) / 1000);
      if (epoch > 0) saveS.push((t2 - t1) / 1000);
    }
  } finally {
    tf.dispose([x, y, ...val]);
    optimizer.dispose();
    model.dispose();
  }
  return { epochS, saveS };
}
