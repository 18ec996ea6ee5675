/**
 * One training run in memory: model, optimizer, data, cursor and RNG. `step()` trains exactly the
 * batch the cursor names; an epoch ends (validation, metrics, cursor advance) inside the step that
 * trains its last batch, so a capture always sits at a batch boundary with `batch < batchesPerEpoch`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { BackendInfo, DatasetBinding, EpochMetrics, TrainingCursor } from '../state';
import { BackendUnsupportedError } from './errors';
import { allLayers } from './model-weights';
import { RunRng, epochOrder } from './rng';
import type { ShardConfig } from './shard-order';
import { shardBatchesPerEpoch, shardBatchRows, shardPosition, shardProblem } from './shard-order';
import type { TaskDataset, TaskDefinition } from './tasks/types';
import type { StreamedTrain, TrainBatch } from './streamed-train';
import type { SeededLayer, StepDriver } from './step-driver';
import { EagerDriver } from './step-driver';
import type { DivergencePolicy, SkipWindow } from './divergence';
import { DivergenceDetector, isSkipped } from './divergence';

/** What a run is: the inputs a resume must agree on (besides `epochs`, which may grow). */
export interface RunConfig {
  task: string;
  /** Raw hparams; missing ones take the task's defaults. */
  hparams?: Record<string, unknown>;
  seed: number;
  batchSize: number;
  /** Total epochs of the run. */
  epochs: number;
  /**
   * A data-parallel shard (shard-order.ts): trains its own slice of the data, and its "epochs" are
   * rounds of `shard.steps` batches. Absent: the whole dataset, one epoch per pass.
   */
  shard?: ShardConfig;
  /** Watch each step's loss and end the run with `DivergedError` when it diverges (divergence.ts). */
  divergence?: DivergencePolicy;
  /** Batches a divergence rollback skips: the cursor moves past them and nothing trains. */
  skips?: SkipWindow[];
  /**
   * For a task with `data`: the dataset (`name` or `name@version`) instead of the task's own
   * reference; a version other than the checkpoint's is refused on resume (docs/datasets.md).
   */
  dataset?: string;
  /**
   * For a task with `data`: validation rows from this dataset (`name` or `name@version`) instead of
   * the task's own (`data.validation`, else `loadDataset().validation`).
   */
  validationDataset?: string;
}

/** The parts a session is made of (built by `Trainer.open`). */
export interface SessionParts {
  task: TaskDefinition;
  hparams: Record<string, unknown>;
  config: RunConfig;
  dataset: TaskDataset;
  model: LayersModel;
  optimizer: tf.Optimizer;
  weightNames: string[];
  topology: unknown;
  backend: BackendInfo;
  /** How a batch is trained; eager when absent (see `createStepDriver`). */
  driver?: (eager: EagerDriver) => StepDriver;
  /** Training batches streamed from a dataset (tasks with `data`); `dataset.train` is unused then. */
  stream?: StreamedTrain;
  /** The dataset version `dataset.validation` was read from, when it came from one. */
  validation?: DatasetBinding;
}

export interface StepResult {
  epoch: number;
  batch: number;
  loss: number;
  /** Present when this step finished its epoch. */
  epochEnd?: EpochMetrics;
  /** The batch is in a window a divergence rollback skips: nothing trained (`loss` is NaN). */
  skipped?: boolean;
}

const EVAL_CHUNK = 512;

export class TrainingSession {
  cursor: TrainingCursor;
  metrics: EpochMetrics[] = [];
  progress = { lossSum: 0, batches: 0 };
  rng: RunRng;
  /** Set when this run was resumed from a checkpoint written on another backend. */
  crossBackendResume = false;
  readonly trainable: tf.Variable[];
  readonly trainableNames: string[];
  readonly driver: StepDriver;
  /** Watches the loss (runs with a divergence policy); its window is saved in checkpoints. */
  divergence: DivergenceDetector | undefined;
  private order: { epoch: number; indices: Uint32Array } | undefined;
  /** The streamed batch for the step it was fetched for (`prepareBatch`). */
  private pending: { step: number; batch: TrainBatch } | undefined;
  /** Training samples: the streamed dataset's rows, or the in-memory train split's. */
  readonly trainSize: number;

  constructor(readonly parts: SessionParts) {
    const { dataset, config, model } = parts;
    this.trainSize = parts.stream?.rows ?? dataset.train.size;
    const problem = config.shard && shardProblem(config.shard, this.trainSize);
    if (problem) throw new Error(`cannot train this shard: ${problem}`);
    this.cursor = {
      epoch: 0,
      batch: 0,
      step: 0,
      batchesPerEpoch: config.shard?.steps ?? Math.ceil(this.trainSize / config.batchSize),
    };
    // Pass the variables explicitly: by default minimize() trains every trainable variable in the
    // process, and the slot order must follow the model's trainable weights.
    this.trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.trainableNames = model.trainableWeights.map((w) => w.originalName);
    this.rng = RunRng.create(config.seed);
    this.divergence = config.divergence ? new DivergenceDetector(config.divergence) : undefined;
    const eager = new EagerDriver({
      model,
      optimizer: parts.optimizer,
      loss: parts.task.loss,
      trainable: this.trainable,
      randomLayers: allLayers(model).filter((l) => l.getClassName().includes('Dropout')) as SeededLayer[],
      inputShape: dataset.inputShape,
      labelShape: dataset.labelShape,
    });
    this.driver = parts.driver?.(eager) ?? eager;
  }

  get finished(): boolean {
    return this.cursor.epoch >= this.parts.config.epochs;
  }

  /**
   * A streamed session fetches the batch at the cursor before `step()` trains it (the run loop
   * awaits this); a no-op for in-memory data and for a batch a rollback skips.
   */
  async prepareBatch(): Promise<void> {
    const { stream, config } = this.parts;
    const { epoch, batch, step } = this.cursor;
    if (!stream || this.pending?.step === step || isSkipped(config.skips, epoch, batch)) return;
    const at = config.shard
      ? shardPosition(step, shardBatchesPerEpoch(this.trainSize, config.shard.count, config.batchSize))
      : { dataEpoch: epoch, batch };
    this.pending = { step, batch: await stream.batch(at.dataEpoch, at.batch) };
  }

  /** Trains the batch at the cursor and advances it. */
  step(): StepResult {
    const { epoch, batch, step, batchesPerEpoch } = this.cursor;
    const skipped = isSkipped(this.parts.config.skips, epoch, batch);
    let loss = NaN;
    if (!skipped) {
      this.parts.task.onTrainBatchStart?.({ epoch, batch, step });
      loss = this.trainOn(this.batchAt(epoch, batch, step));
      this.divergence?.check(loss, { epoch, batch, step });
      this.progress.lossSum += loss;
      this.progress.batches += 1;
    }
    this.cursor = { epoch, batch: batch + 1, step: step + 1, batchesPerEpoch };
    const result = { epoch, batch, loss, ...(skipped ? { skipped } : {}) };
    if (batch + 1 < batchesPerEpoch) return result;
    return { ...result, epochEnd: this.finishEpoch() };
  }

  /** Validation loss and task metrics, in inference mode (no dropout). */
  evaluate(): Record<string, number> {
    this.driver.syncToHost();
    const { task, dataset } = this.parts;
    const split = dataset.validation;
    const sums: Record<string, number> = {};
    for (let start = 0; start < split.size; start += EVAL_CHUNK) {
      const rows = Array.from({ length: Math.min(EVAL_CHUNK, split.size - start) }, (_, i) => start + i);
      const values = tf.tidy(() => {
        const { inputShape, labelShape } = this.parts.dataset;
        const xs = tf.tensor(gatherRows(split.x, rows, inputShape), [rows.length, ...inputShape]);
        const ys = tf.tensor(gatherRows(split.y, rows, labelShape), [rows.length, ...labelShape]);
        const out = this.parts.model.apply(xs, { training: false }) as tf.Tensor;
        const fns = { loss: task.loss, ...task.metrics };
        return Object.entries(fns).map(([name, fn]) => [name, fn(ys, out).dataSync()[0] as number] as const);
      });
      for (const [name, value] of values) sums[name] = (sums[name] ?? 0) + value * rows.length;
    }
    return Object.fromEntries(
      Object.entries(sums).map(([name, sum]) => [
        `val${name[0]?.toUpperCase()}${name.slice(1)}`,
        sum / split.size,
      ]),
    );
  }

  /** Makes the tfjs model and optimizer current (the driver may hold newer values). */
  syncToHost(): void {
    this.driver.syncToHost();
  }

  /** The tfjs model or optimizer were replaced from outside (a restore): the driver reloads them. */
  hostWritten(): void {
    this.driver.hostWritten();
  }

  dispose(): void {
    void this.parts.stream?.close().catch(() => undefined);
    this.driver.dispose();
    this.parts.optimizer.dispose();
    this.parts.model.dispose();
  }

  /** The batch at the cursor: the streamed one prepared for this step, or gathered from memory. */
  private batchAt(epoch: number, batch: number, step: number): TrainBatch {
    if (this.parts.stream) {
      const pending = this.pending;
      this.pending = undefined;
      if (pending?.step !== step) throw new Error(`streamed step ${step}: call prepareBatch() before step()`);
      return pending.batch;
    }
    const { train, inputShape, labelShape } = this.parts.dataset;
    const rows = this.batchRows(epoch, batch, step);
    return {
      x: gatherRows(train.x, rows, inputShape),
      y: gatherRows(train.y, rows, labelShape),
      rows: rows.length,
    };
  }

  private trainOn({ x, y, rows }: TrainBatch): number {
    const stepSeed = this.rng.nextStepSeed();
    try {
      return this.driver.train({ x, y, rows, stepSeed });
    } catch (error) {
      const kernel = /Kernel '(\w+)' not registered for backend '(\w+)'/.exec((error as Error).message);
      if (!kernel) throw error;
      throw new BackendUnsupportedError(
        this.parts.task.name,
        kernel[2] as string,
        `no '${kernel[1]}' kernel`,
      );
    }
  }

  private finishEpoch(): EpochMetrics {
    const { epoch, step, batchesPerEpoch } = this.cursor;
    const metrics: EpochMetrics = {
      epoch,
      loss: this.progress.lossSum / this.progress.batches,
      ...this.evaluate(),
    };
    this.metrics.push(metrics);
    this.progress = { lossSum: 0, batches: 0 };
    this.cursor = { epoch: epoch + 1, batch: 0, step, batchesPerEpoch };
    return metrics;
  }

  /** The rows of the batch at the cursor: of the epoch's order, or of the shard's slice of it. */
  private batchRows(epoch: number, batch: number, step: number): Uint32Array {
    const { batchSize, shard } = this.parts.config;
    if (!shard) return this.epochIndices(epoch).subarray(batch * batchSize, (batch + 1) * batchSize);
    const shardBatches = shardBatchesPerEpoch(this.trainSize, shard.count, batchSize);
    const at = shardPosition(step, shardBatches);
    return shardBatchRows(this.epochIndices(at.dataEpoch), shard, batchSize, at.batch);
  }

  private epochIndices(epoch: number): Uint32Array {
    if (this.order?.epoch !== epoch) {
      this.order = {
        epoch,
        indices: epochOrder(this.parts.config.seed, epoch, this.trainSize),
      };
    }
    return this.order.indices;
  }
}

function gatherRows(source: Float32Array, rows: ArrayLike<number>, rowShape: number[]): Float32Array {
  const width = rowShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const start = (rows[i] as number) * width;
    out.set(source.subarray(start, start + width), i * width);
  }
  return out;
}
