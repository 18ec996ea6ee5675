/**
 * The loop a tfjs user would write by hand, as the baseline every engine and overhead figure is a
 * ratio against: same task, model, data, optimizer and batch order, and nothing else (no cursor, no
 * per-step seeds, no progress, no yields, no checkpoints). Validation at an epoch's end is included
 * as `model.fit({ validationData })` would do it, because the engine does it too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer } from '../src/training/optimizer-state';
import { epochOrder } from '../src/training/rng';
import { getTask, validateHparams } from '../src/training/tasks';
import type { DatasetSplit } from '../src/training/tasks/types';

const EVAL_CHUNK = 512; // as the engine

export interface BareRun {
  /** Batches per epoch at this batch size (a last partial batch included, as the engine does). */
  batchesPerEpoch: number;
  /** Trains `count` batches of `epoch` starting at batch `from`; returns the seconds it took. */
  trainBatches(epoch: number, from: number, count: number): number;
  /** One full epoch plus validation; returns the seconds it took. */
  trainEpoch(epoch: number): number;
  dispose(): void;
}

export function createBareRun(
  taskName: string,
  raw: Record<string, unknown> | undefined,
  batchSize: number,
  seed = 1,
): BareRun {
  const task = getTask(taskName);
  const hparams = validateHparams(task, raw);
  const data = task.loadDataset(hparams); // cached by the module for mnist
  const model = task.buildModel(hparams, seed);
  const optimizer = createOptimizer(task.optimizer(hparams));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const classes = data.labelShape.reduce((a, b) => a * b, 1);
  const batchOf = (split: DatasetSplit, rows: ArrayLike<number>) => {
    const x = new Float32Array(rows.length * width);
    const y = new Float32Array(rows.length * classes);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as number;
      x.set(split.x.subarray(r * width, (r + 1) * width), i * width);
      y.set(split.y.subarray(r * classes, (r + 1) * classes), i * classes);
    }
    return [tf.tensor(x, [rows.length, ...data.inputShape]), tf.tensor(y, [rows.length, ...data.labelShape])];
  };
  const trainBatches = (epoch: number, from: number, count: number) => {
    const order = epochOrder(seed, epoch, data.train.size);
    const start = performance.now();
    for (let b = from; b < from + count; b++) {
      const rows = order.subarray(b * batchSize, (b + 1) * batchSize);
      const cost = tf.tidy(() => {
        const [xs, ys] = batchOf(data.train, rows) as [tf.Tensor, tf.Tensor];
        const loss = () => task.loss(ys, model.apply(xs, { training: true }) as tf.Tensor);
        return optimizer.minimize(loss, true, vars) as tf.Scalar;
      });
      cost.dataSync();
      cost.dispose();
    }
    return (performance.now() - start) / 1000;
  };
  const validate = () => {
    const split = data.validation;
    for (let start = 0; start < split.size; start += EVAL_CHUNK) {
      const rows = Array.from({ length: Math.min(EVAL_CHUNK, split.size - start) }, (_, i) => start + i);
      tf.tidy(() => {
        const [xs, ys] = batchOf(split, rows) as [tf.Tensor, tf.Tensor];
        const out = model.apply(xs, { training: false }) as tf.Tensor;
        for (const fn of [task.loss, ...Object.values(task.metrics ?? {})]) fn(ys, out).dataSync();
      });
    }
  };
  const batchesPerEpoch = Math.ceil(data.train.size / batchSize);
  return {
    batchesPerEpoch,
    trainBatches,
    trainEpoch(epoch) {
      const start = performance.now();
      trainBatches(epoch, 0, batchesPerEpoch);
      validate();
      return (performance.now() - start) / 1000;
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
    },
  };
}
