/**
 * Input stall of streamed training (issue 23): the same epochs of a model trained twice in one
 * process through the trainer's engine (Trainer + runSession, as the worker's trainer child runs
 * them) on native TensorFlow — from the task's in-memory data, and streamed from a dataset in the
 * local MinIO holding exactly those training rows (the `-stream` twin of the task).
 *
 * Each mode keeps one session: epoch 0 is a warm-up (graph build, first fetches), then epochs
 * 1..R alternate in-memory / streamed (A/B/A/B), each timed from its first batch to its end
 * (validation on `valSize` digits and the epoch-end capture included, the same in both modes).
 * Input stall = the time the streamed loop spent inside `StreamedTrain.batch` during the epoch
 * (waiting for its next batch: fetch, SHA-256, Parquet decode, gather, transform) ÷ the epoch's
 * time; the difference of the two modes' epoch times is the cross-check. The input pipeline's own
 * rate reads the same epoch through a `StreamedTrain` with no training.
 */
import os from 'node:os';
import { publishArrays } from '../src/data/arrays-import';
import type { DatasetStore } from '../src/data/dataset-store';
import { runSession } from '../src/training/run-loop';
import type { RunConfig } from '../src/training/session';
import type { TrainingSession } from '../src/training/session';
import { StreamedTrain } from '../src/training/streamed-train';
import { getTask, validateHparams } from '../src/training/tasks';
import type { TaskData } from '../src/training/tasks/types';
import { Trainer } from '../src/training/trainer';
import { isNativeLoadable } from './native';
import type { Summary } from './stats';
import { summarize } from './stats';

export interface StallModel {
  /** The in-memory task (its training split is what the dataset holds). */
  task: string;
  /** Its streamed twin, reading columns `pixels` and `label`. */
  streamTask: string;
  hparams: Record<string, unknown>;
  /** The twin's hparams (without `dataset`, which the bench sets). */
  streamHparams: Record<string, unknown>;
}

export interface DataStallOptions {
  store: DatasetStore;
  models: StallModel[];
  /** Timed epochs per mode, alternating. */
  repeats: number;
  batchSize: number;
  shardRows: number;
  windowMb: number;
  tag: string;
  log: (line: string) => void;
}

export interface DataStallRow {
  model: string;
  backend: string;
  rows: number;
  shards: number;
  shardRows: number;
  batchSize: number;
  windowMb: number;
  steps: number;
  memoryEpochS: Summary;
  streamedEpochS: Summary;
  memoryStepsPerS: Summary;
  streamedStepsPerS: Summary;
  memorySamplesPerS: Summary;
  streamedSamplesPerS: Summary;
  /** The input pipeline alone (StreamedTrain.batch over the epoch, no training). */
  pipelineSamplesPerS: Summary;
  /** Time in StreamedTrain.batch ÷ streamed epoch time, % (one value per streamed epoch). */
  stallPct: Summary;
  /** Per A/B pair: (streamed − in-memory epoch time) ÷ streamed epoch time, %. */
  epochDiffPct: Summary;
  /** The part of the stall that was the task's row transform, % of the epoch. */
  transformPct: Summary;
  /** 1-minute load average when this model's measuring began and ended (the machine is shared). */
  loadAverage: [number, number];
}

export interface DataStallResult {
  rows: DataStallRow[];
  /** Why nothing was measured (the native backend is not built). */
  skipped?: string;
}

const IMAGE = [28, 28, 1];

export async function runDataStallBench(o: DataStallOptions): Promise<DataStallResult> {
  if (!isNativeLoadable()) {
    const skipped = 'native TensorFlow is not built here (`durable-fit backend build`): no stall figures';
    o.log(`data: stall skipped: ${skipped}`);
    return { rows: [], skipped };
  }
  const trainer = await Trainer.create({
    backend: 'tensorflow-graph',
    datasets: o.store,
    windowBytes: o.windowMb * 1e6,
  });
  const rows: DataStallRow[] = [];
  for (const model of o.models) rows.push(await measureModel(trainer, model, o));
  return { rows };
}

/** Publishes the task's in-memory training split as a dataset: the streamed twin trains those rows. */
async function publishTrainSplit(model: StallModel, o: DataStallOptions) {
  const task = getTask(model.task);
  const { train } = task.loadDataset(validateHparams(task, model.hparams));
  const labels = new Int32Array(train.size);
  for (let r = 0; r < train.size; r++) labels[r] = train.y.subarray(r * 10, (r + 1) * 10).indexOf(1);
  const name = `bench-stall-${model.task}-${o.tag}`;
  const { version, manifest } = await publishArrays(
    o.store,
    {
      name,
      columns: [
        { name: 'pixels', dtype: 'float32', shape: IMAGE },
        { name: 'label', dtype: 'int32', shape: [] },
      ],
      labelColumn: 'label',
      shardRows: o.shardRows,
    },
    {
      rows: train.size,
      columns: new Map<string, Float32Array | Int32Array>([
        ['pixels', train.x],
        ['label', labels],
      ]),
    },
  );
  return { ref: `${name}@${version}`, name, version, rows: manifest.rows, shards: manifest.shards.length };
}

async function measureModel(trainer: Trainer, model: StallModel, o: DataStallOptions): Promise<DataStallRow> {
  const loadBefore = os.loadavg()[0] as number;
  const dataset = await publishTrainSplit(model, o);
  const epochs = o.repeats + 1;
  const base = { seed: 1, batchSize: o.batchSize, epochs };
  const memory = trainer.open({ ...base, task: model.task, hparams: model.hparams });
  const streamedConfig: RunConfig = {
    ...base,
    task: model.streamTask,
    hparams: { ...model.streamHparams, dataset: dataset.ref },
  };
  const streamed = await trainer.openSession(streamedConfig);
  try {
    if (memory.trainSize !== streamed.trainSize)
      throw new Error(`${model.task}: ${memory.trainSize} rows in memory, ${streamed.trainSize} streamed`);
    const steps = memory.cursor.batchesPerEpoch;
    const stats = () => streamed.parts.stream?.stats ?? { batches: 0, waitMs: 0, transformMs: 0 };
    const epoch = async (session: TrainingSession) => {
      const until = session.cursor.epoch + 1;
      const before = { ...stats() };
      const started = performance.now();
      await runSession(session, { untilEpoch: until });
      const ms = performance.now() - started;
      return {
        ms,
        waitMs: stats().waitMs - before.waitMs,
        transformMs: stats().transformMs - before.transformMs,
      };
    };
    await epoch(memory); // warm-up: graph build, kernels
    await epoch(streamed);
    const memoryMs: number[] = [];
    const streamedMs: number[] = [];
    const stallPct: number[] = [];
    const transformPct: number[] = [];
    const diffPct: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const a = await epoch(memory);
      const b = await epoch(streamed);
      memoryMs.push(a.ms);
      streamedMs.push(b.ms);
      stallPct.push((100 * b.waitMs) / b.ms);
      transformPct.push((100 * b.transformMs) / b.ms);
      diffPct.push((100 * (b.ms - a.ms)) / b.ms);
      o.log(
        `data: ${model.task} epoch ${r + 1}: in memory ${(a.ms / 1000).toFixed(2)} s, streamed ${(b.ms / 1000).toFixed(2)} s, ` +
          `waiting for batches ${b.waitMs.toFixed(0)} ms (${((100 * b.waitMs) / b.ms).toFixed(1)} %)`,
      );
    }
    const pipeline: number[] = [];
    for (let r = 0; r < o.repeats; r++) pipeline.push(await pipelineRate(streamed, o, dataset.rows));
    const rate = (per: number, ms: number[]) => summarize(ms.map((m) => per / (m / 1000)));
    return {
      model: model.task,
      backend: trainer.backend.name,
      rows: dataset.rows,
      shards: dataset.shards,
      shardRows: o.shardRows,
      batchSize: o.batchSize,
      windowMb: o.windowMb,
      steps,
      memoryEpochS: summarize(memoryMs.map((m) => m / 1000)),
      streamedEpochS: summarize(streamedMs.map((m) => m / 1000)),
      memoryStepsPerS: rate(steps, memoryMs),
      streamedStepsPerS: rate(steps, streamedMs),
      memorySamplesPerS: rate(dataset.rows, memoryMs),
      streamedSamplesPerS: rate(dataset.rows, streamedMs),
      pipelineSamplesPerS: summarize(pipeline),
      stallPct: summarize(stallPct),
      epochDiffPct: summarize(diffPct),
      transformPct: summarize(transformPct),
      loadAverage: [loadBefore, os.loadavg()[0] as number],
    };
  } finally {
    memory.dispose();
    streamed.dispose();
  }
}

/** Samples/s of one epoch read through a fresh StreamedTrain like the session's (no training). */
async function pipelineRate(session: TrainingSession, o: DataStallOptions, rows: number): Promise<number> {
  const stream = session.parts.stream as StreamedTrain;
  const data = session.parts.task.data as TaskData<never>;
  const shapes = {
    inputShape: session.parts.dataset.inputShape,
    labelShape: session.parts.dataset.labelShape,
  };
  const reader = new StreamedTrain(o.store, stream.dataset, data, shapes, {
    seed: 1,
    batchSize: o.batchSize,
    windowBytes: o.windowMb * 1e6,
  });
  const started = performance.now();
  let samples = 0;
  for (let b = 0; samples < rows; b++) samples += (await reader.batch(1, b)).rows;
  const perS = samples / ((performance.now() - started) / 1000);
  await reader.close();
  return perS;
}
