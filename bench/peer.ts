/**
 * durable-fit against its peer (issue 20): Keras 3 `model.fit` on the pinned TensorFlow wheel in the
 * project's venv (bench/peer-keras.ts), plain and with BackupAndRestore, against a real
 * `durable-fit worker` on its default backend (`auto`), on the same architecture, the same arrays
 * (exported from the task's loadDataset), batch 32, Adam and the same TensorFlow settings, in
 * interleaved triples: Keras, Keras + BackupAndRestore, durable-fit. The first epoch of every run is
 * a warm-up on both sides. durable-fit's steps/s are taken two ways from its workflow history: from
 * the epoch activities' `durationMs`, and from the time between epoch completions. The second is
 * what a user waits: the warm trainer trains the next epoch ahead while the workflow schedules its
 * activity, so part of an epoch can run before its activity starts and `durationMs` misses it.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { EpochResult } from '../src/contract';
import { getTask, validateHparams } from '../src/training/tasks';
import { WorkerFleet } from '../test/helpers/worker-fleet';
import type { BenchStack } from './bench-stack';
import { benchQueue } from './bench-stack';
import { eventMs } from './history';
import type { DataFile, RunRate } from './peer-keras';
import { exportDataset, kerasPython, rateAfterWarmup, runKeras } from './peer-keras';
import type { Summary } from './stats';
import { summarize } from './stats';

/** One compared model: a task and the hparams that differ from its defaults. */
export interface PeerModel {
  label: string;
  task: string;
  hparams: Record<string, unknown>;
}

export interface PeerBenchOptions {
  models: PeerModel[];
  /** Epochs per run; the first is a warm-up on both sides. */
  epochs: number;
  /** Interleaved triples (Keras, Keras + BackupAndRestore, durable-fit) per model. */
  pairs: number;
  /** BackupAndRestore's `save_freq`, and durable-fit's `checkpoint.everyBatches`. */
  saveEveryBatches: number;
  log(line: string): void;
}

/** Steps/s per run, and the per-pair ratios. */
export interface PeerRow {
  label: string;
  task: string;
  /** The task's hparams, defaults filled in: both sides build the model from these. */
  hparams: Record<string, unknown>;
  stepsPerEpoch: number;
  /** The backend durable-fit's runs trained on (the result's `backend`). */
  backend?: string;
  keras?: Summary;
  kerasBackup?: Summary;
  /** Steps ÷ time between epoch completions (the headline figure). */
  durableFit?: Summary;
  /** Steps ÷ the epoch activities' `durationMs`. */
  durableFitActivity?: Summary;
  /** Per pair: durable-fit ÷ Keras steps/s (higher is better). */
  ratio?: Summary;
  /** Per pair: durable-fit ÷ Keras with BackupAndRestore steps/s (higher is better). */
  ratioVsBackup?: Summary;
  /** Why the row has no figures (e.g. the task cannot train on the backend `auto` picked). */
  skipped?: string;
}

export interface PeerResult {
  rows: PeerRow[];
  epochs: number;
  saveEveryBatches: number;
  batchSize: number;
  /** TensorFlow settings of both sides. */
  env: Record<string, string>;
  versions: Record<string, string>;
  /** Whether Keras compiled its step with XLA (`jit_compile`; Keras's default picks off on CPU). */
  kerasJit?: boolean;
}

/** The settings both sides train with (durable-fit's native defaults, pinned to 2 intra-op threads). */
export const PEER_ENV = {
  TF_DETERMINISTIC_OPS: '1',
  TF_NUM_INTEROP_THREADS: '1',
  TF_NUM_INTRAOP_THREADS: '2',
  TF_ENABLE_ONEDNN_OPTS: '1',
  TF_CPP_MIN_LOG_LEVEL: '2',
};
const BATCH_SIZE = 32;
/** durable-fit validates in chunks of 512 samples (src/training/session.ts); Keras does the same. */
const VALIDATION_BATCH_SIZE = 512;
const LEARNING_RATE = 1e-3;

export async function runPeerBench(stack: BenchStack, options: PeerBenchOptions): Promise<PeerResult> {
  const python = kerasPython();
  const dir = path.join(stack.running.dir, 'peer');
  const env: NodeJS.ProcessEnv = { ...stack.env, ...PEER_ENV };
  delete env.DFIT_BACKEND; // durable-fit's default: `auto`
  const fleet = new WorkerFleet(env, benchQueue('peer'), path.join(dir, 'workers'), 'auto');
  await fleet.start();
  const result: PeerResult = {
    rows: [],
    epochs: options.epochs,
    saveEveryBatches: options.saveEveryBatches,
    batchSize: BATCH_SIZE,
    env: PEER_ENV,
    versions: {},
  };
  try {
    for (const model of options.models)
      result.rows.push(await compare(stack, model, python, dir, options, result));
  } finally {
    await fleet.stopAll();
  }
  return result;
}

/** One model: `pairs` interleaved triples. A durable-fit run that fails ends the row, not the section. */
async function compare(
  stack: BenchStack,
  model: PeerModel,
  python: string,
  dir: string,
  options: PeerBenchOptions,
  result: PeerResult,
): Promise<PeerRow> {
  const hparams = validateHparams(getTask(model.task), {
    ...model.hparams,
    optimizer: 'adam',
    learningRate: LEARNING_RATE,
  });
  const data: DataFile = exportDataset(model.task, hparams, path.join(dir, `${slug(model.label)}.f32`));
  const stepsPerEpoch = Math.ceil(data.meta.trainSize / BATCH_SIZE);
  const row: PeerRow = { label: model.label, task: model.task, hparams, stepsPerEpoch };
  const [plain, backup, ours, activity]: [number[], number[], number[], number[]] = [[], [], [], []];
  const keras = {
    python,
    task: model.task,
    hparams,
    data,
    epochs: options.epochs,
    batchSize: BATCH_SIZE,
    validationBatchSize: VALIDATION_BATCH_SIZE,
  };
  for (let pair = 0; pair < options.pairs; pair++) {
    const k = await runKeras({ ...keras, saveEveryBatches: options.saveEveryBatches, env: PEER_ENV });
    Object.assign(result.versions, k.versions);
    result.kerasJit = k.jit;
    let d: DurableFitRun;
    try {
      d = await runDurableFit(stack, model, hparams, options, `${pair}`);
    } catch (err) {
      row.skipped = `durable-fit's run failed: ${causes(err)}`;
      options.log(`peer: ${model.label}: ${row.skipped}`);
      return row;
    }
    row.backend = d.backend;
    plain.push(k.plain.stepsPerSec);
    backup.push(k.backup.stepsPerSec);
    ours.push(d.periods.stepsPerSec);
    activity.push(d.activities.stepsPerSec);
    options.log(
      `peer: ${model.label} pair ${pair}: Keras ${k.plain.stepsPerSec.toFixed(1)}, + backup ${k.backup.stepsPerSec.toFixed(1)}, durable-fit (${d.backend}) ${d.periods.stepsPerSec.toFixed(1)} (by durationMs ${d.activities.stepsPerSec.toFixed(1)}) steps/s`,
    );
  }
  return {
    ...row,
    keras: summarize(plain),
    kerasBackup: summarize(backup),
    durableFit: summarize(ours),
    durableFitActivity: summarize(activity),
    ratio: summarize(ours.map((x, i) => x / plain[i]!)),
    ratioVsBackup: summarize(ours.map((x, i) => x / backup[i]!)),
  };
}

interface DurableFitRun {
  /** Steps of the epochs after the first ÷ the time from the first epoch's completion to the last's. */
  periods: RunRate;
  /** The same steps ÷ the sum of their epoch activities' `durationMs`. */
  activities: RunRate;
  backend: string;
}

async function runDurableFit(
  stack: BenchStack,
  model: PeerModel,
  hparams: Record<string, unknown>,
  options: PeerBenchOptions,
  tag: string,
): Promise<DurableFitRun> {
  const workflowId = `bench-peer-${slug(model.label)}-${Date.now()}-${tag}`;
  const handle = await stack.startRun(benchQueue('peer'), workflowId, {
    task: model.task,
    epochs: options.epochs,
    seed: 1,
    batchSize: BATCH_SIZE,
    hparams,
    checkpoint: { everyBatches: options.saveEveryBatches, everySeconds: 0 },
  });
  const result = await handle.result();
  const epochs = (await epochResults(stack.client, workflowId)).sort((a, b) => a.epoch - b.epoch);
  if (epochs.length !== options.epochs || new Set(epochs.map((e) => e.epoch)).size !== epochs.length)
    throw new Error(
      `${workflowId}: ${epochs.length} epoch results in history, wanted ${options.epochs} (one each)`,
    );
  const stepped = epochs.map((e, i) => ({ ...e, steps: e.step - (epochs[i - 1]?.step ?? 0) }));
  const activities = rateAfterWarmup(stepped.map((e) => ({ ms: e.durationMs, steps: e.steps })));
  const periods = rateAfterWarmup(
    stepped.map((e, i) => ({ ms: e.closedMs - (stepped[i - 1]?.closedMs ?? e.closedMs), steps: e.steps })),
  );
  return { periods, activities, backend: result.backend ?? epochs[0]?.backend ?? 'unknown' };
}

/** A workflow's completed epoch activities, from its history: each result and when it completed. */
async function epochResults(
  client: Client,
  workflowId: string,
): Promise<(EpochResult & { closedMs: number })[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const types = new Map<string, string>();
  const out: (EpochResult & { closedMs: number })[] = [];
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) types.set(e.eventId?.toString() ?? '', scheduled.activityType?.name ?? '');
    const done = e.activityTaskCompletedEventAttributes;
    const payload = done?.result?.payloads?.[0];
    if (!done || !payload || !/Epoch$/.test(types.get(done.scheduledEventId?.toString() ?? '') ?? ''))
      continue;
    out.push({ ...defaultPayloadConverter.fromPayload<EpochResult>(payload), closedMs: eventMs(e) });
  }
  return out;
}

/** An error's message with its causes' (a workflow failure says why only in its cause chain). */
function causes(err: unknown): string {
  const messages: string[] = [];
  for (let e = err; e instanceof Error && messages.length < 4; e = e.cause) messages.push(e.message);
  return messages.join(': ') || String(err);
}

const slug = (label: string) => label.replace(/[^\w-]+/g, '_');
