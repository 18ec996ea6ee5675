/**
 * The task plugin surface — what a user implements to train their own model durably, like a
 * LightningModule: hparams schema, model, deterministic dataset, optimizer, loss and metrics.
 *
 * A task has two halves: its descriptor (name, hparams schema, metric names, backends it cannot
 * train on), which validates a spec and loads no tfjs, and its builder (model, data, optimizer,
 * loss, metric functions), which the trainer needs. A `TaskDefinition` carries both.
 */
import type { SampleDraw } from '../../data/sample-draw';
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { z } from 'zod';

/** One split of a dataset: row-major samples and labels in host memory. */
export interface DatasetSplit {
  /** `size * product(inputShape)` values. */
  x: Float32Array;
  /** `size * product(labelShape)` values (e.g. one-hot class labels). */
  y: Float32Array;
  size: number;
}

/** A deterministic, fully known dataset: the same hparams always give the same bytes. */
export interface TaskDataset {
  /** Shape of one sample, e.g. `[784]` or `[28, 28, 1]`. */
  inputShape: number[];
  /** Shape of one label, e.g. `[10]`. */
  labelShape: number[];
  train: DatasetSplit;
  validation: DatasetSplit;
}

/** One row of a streamed dataset: the columns a task asked for, as views of that row's values. */
export type DatasetRow = Readonly<Record<string, Float32Array | Int32Array>>;

/** A task's training data as a dataset reference plus a per-row transform. */
export interface TaskData<H = Record<string, unknown>> {
  /** `name` (its latest version when the run starts) or `name@version`. */
  dataset(hparams: H): string;
  /** Columns to read. */
  columns: readonly string[];
  /**
   * One row → its sample: write `product(inputShape)` input values into `x` and
   * `product(labelShape)` label values into `y` (both zeroed). Deterministic: no Math.random or time.
   * Augment only with `draw` (src/data/sample-draw.ts): the row's own stream, seeded by the run's
   * seed, the data epoch and the row's index, so resumes and shards draw the same. Validation rows
   * get no `draw`.
   */
  transform(row: DatasetRow, x: Float32Array, y: Float32Array, draw?: SampleDraw): void;
  /** Rows in the seeded shuffle buffer (order.ts). @default 4096 */
  shuffleBuffer?: number;
  /**
   * Validation data from a dataset too: its reference (`name`, `name@version`), read in its stored
   * order through the same `columns` and `transform`, in place of `loadDataset().validation`.
   * Undefined (or absent): validation stays in memory. A spec's `validationDataset` overrides it.
   */
  validation?(hparams: H): string | undefined;
}

/** The optimizers whose full internal state the engine can capture and restore bit for bit. */
export type OptimizerConfig =
  | { kind: 'sgd'; learningRate: number }
  | { kind: 'momentum'; learningRate: number; momentum: number; useNesterov?: boolean }
  | { kind: 'adam'; learningRate: number; beta1?: number; beta2?: number; epsilon?: number }
  | {
      kind: 'rmsprop';
      learningRate: number;
      decay?: number;
      momentum?: number;
      epsilon?: number;
      centered?: boolean;
    };

/** A loss or metric: mean over the batch, as a scalar. */
export type BatchScalarFn = (labels: tf.Tensor, outputs: tf.Tensor) => tf.Scalar;

/** A trainable task. `S` is its hparams schema: a zod object whose fields all have defaults. */
export interface TaskDefinition<S extends z.ZodObject = z.ZodObject> {
  /** Registry key, e.g. `mnist-mlp`. */
  name: string;
  description?: string;
  /** Hyperparameters with defaults; unknown keys are rejected. */
  hparams: S;
  /**
   * A fresh model. Name every layer (tfjs's automatic names are process-local counters) and seed
   * every random initializer from `seed` (see `createSeedSequence`), or runs are not reproducible.
   */
  buildModel(hparams: z.output<S>, seed: number): LayersModel;
  /** The dataset; must not depend on anything but `hparams` (never Math.random or time). */
  loadDataset(hparams: z.output<S>): TaskDataset;
  /**
   * Training data streamed from a dataset in the bucket (docs/datasets.md) instead of
   * `loadDataset().train`; `loadDataset` still gives the shapes and the validation split (its
   * `train` may then be empty).
   */
  data?: TaskData<z.output<S>>;
  /** Which hparams the dataset depends on, so a warm trainer can reuse it. @default all hparams */
  datasetKey?(hparams: z.output<S>): string;
  optimizer(hparams: z.output<S>): OptimizerConfig;
  /** Training loss on (labels, model outputs in training mode). */
  loss: BatchScalarFn;
  /**
   * tfjs backends that cannot train this model, with why (e.g. `{ wasm: 'no Conv2D gradient' }`):
   * refused when a session opens, not halfway through an epoch.
   */
  unsupportedBackends?: Record<string, string>;
  /** Validation metrics, reported per epoch as `val<Name>` (plus `valLoss`). */
  metrics?: Record<string, BatchScalarFn>;
  /**
   * Called in the trainer before every training step, on every backend and step mode (Lightning's
   * `on_train_batch_start`): for logging or pacing. It must not touch the model, optimizer or data —
   * a graph-mode step never sees what it does — so it cannot change the trained weights.
   */
  onTrainBatchStart?(position: { epoch: number; batch: number; step: number }): void;
}

/**
 * What a spec is checked against, without building anything: a client validates with it and loads
 * no tfjs. `registerTask` derives it from a full task; `defineTask` builds a task from one.
 */
export interface TaskDescriptor<S extends z.ZodObject = z.ZodObject> {
  /** Registry key, e.g. `mnist-mlp`. */
  name: string;
  description?: string;
  /** Hyperparameters with defaults; unknown keys are rejected. */
  hparams: S;
  /** Names of the validation metrics (the keys of the task's `metrics`), reported as `val<Name>`. */
  metricNames: readonly string[];
  /** tfjs backends that cannot train this model, with why. */
  unsupportedBackends?: Record<string, string>;
  /**
   * Where its training data comes from: `true`, streamed from a dataset (`data`, so a spec's
   * `dataset` applies); `false`, in memory (a client refuses a `dataset` before starting the run).
   * Absent: the client cannot tell, and the run's first activity checks.
   */
  streams?: boolean;
}

/** The tfjs half of a task: what `defineTask` adds to a descriptor. */
export type TaskBuilder<S extends z.ZodObject = z.ZodObject> = Omit<
  TaskDefinition<S>,
  'name' | 'description' | 'hparams' | 'unsupportedBackends'
>;
