/**
 * How a session trains one batch. `EagerDriver` runs the step op by op through tfjs (every
 * backend); `GraphDriver` (graph/graph-driver.ts) runs a traced TensorFlow graph of the same step
 * in one session call. A driver may hold the training variables outside tfjs: `syncToHost` makes
 * the tfjs model and optimizer current (before a capture or an evaluation), `hostWritten` says
 * they were replaced (a restore), so the driver reloads them before its next step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { layerSeed } from './rng';
import type { BatchScalarFn } from './tasks/types';

/** One batch, as host arrays, and the step's seed for random layers. */
export interface StepBatch {
  x: Float32Array;
  y: Float32Array;
  rows: number;
  stepSeed: number;
}

export interface StepDriver {
  /** `eager`, `graph`, or `eager (graph unsupported: …)` after a fallback. */
  readonly mode: string;
  /** Trains the batch; returns its loss. */
  train(batch: StepBatch): number;
  syncToHost(): void;
  hostWritten(): void;
  dispose(): void;
}

export type SeededLayer = { seed?: number };

/** What a step trains: the model, its optimizer and loss, in the session's variable order. */
export interface StepModel {
  model: LayersModel;
  optimizer: tf.Optimizer;
  loss: BatchScalarFn;
  trainable: tf.Variable[];
  /** Dropout layers, seeded per step from the run's stream. */
  randomLayers: SeededLayer[];
  inputShape: number[];
  labelShape: number[];
}

export class EagerDriver implements StepDriver {
  readonly mode: string = 'eager';

  constructor(readonly parts: StepModel) {}

  train(batch: StepBatch): number {
    const cost = this.cost(batch);
    const value = cost.dataSync()[0] as number;
    cost.dispose();
    return value;
  }

  /** Runs the step and returns its loss tensor (the caller disposes it). */
  cost(batch: StepBatch): tf.Scalar {
    const { model, optimizer, loss, trainable, inputShape, labelShape } = this.parts;
    this.seedRandomLayers(batch.stepSeed);
    try {
      return tf.tidy(() => {
        const xs = tf.tensor(batch.x, [batch.rows, ...inputShape], 'float32');
        const ys = tf.tensor(batch.y, [batch.rows, ...labelShape], 'float32');
        const lossFn = () => loss(ys, model.apply(xs, { training: true }) as tf.Tensor);
        return optimizer.minimize(lossFn, true, trainable) as tf.Scalar;
      });
    } finally {
      this.seedRandomLayers(undefined);
    }
  }

  /** The seed random layer `i` draws with at step seed `stepSeed`. */
  layerSeeds(stepSeed: number): number[] {
    return this.parts.randomLayers.map((_, i) => layerSeed(stepSeed, i));
  }

  syncToHost(): void {}
  hostWritten(): void {}
  dispose(): void {}

  /**
   * A Dropout layer with a fixed seed draws the same mask on every call, so each step gets fresh
   * per-layer seeds from the run's stream; they are cleared afterwards so the topology stays put.
   */
  private seedRandomLayers(stepSeed: number | undefined): void {
    this.parts.randomLayers.forEach((layer, i) => {
      layer.seed = stepSeed === undefined ? undefined : layerSeed(stepSeed, i);
    });
  }
}
