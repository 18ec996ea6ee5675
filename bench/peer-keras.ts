/**
 * The Keras side of the peer section: the project's venv with the pinned TensorFlow wheel, the task's
 * dataset exported for it, and one bench/peer/keras_peer.py process per pair (plain Keras, then
 * Keras with BackupAndRestore).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { getTask } from '../src/training/tasks';

/** Steps/s over the epochs after the first (a warm-up), and how many steps that was. */
export interface RunRate {
  stepsPerSec: number;
  steps: number;
}

export interface DataFile {
  file: string;
  meta: { trainSize: number; valSize: number; inputShape: number[]; labelShape: number[] };
}

export interface KerasRuns {
  plain: RunRate;
  backup: RunRate;
  versions: Record<string, string>;
  /** Whether Keras compiled its step with XLA (`jit_compile`). */
  jit: boolean;
}

export interface KerasRunOptions {
  python: string;
  task: string;
  /** The task's hparams with defaults filled in: the script builds the model from these. */
  hparams: Record<string, unknown>;
  data: DataFile;
  epochs: number;
  batchSize: number;
  /** Keras's `validation_batch_size`: durable-fit validates in chunks of 512 (src/training/session.ts). */
  validationBatchSize: number;
  saveEveryBatches: number;
  env: Record<string, string>;
}

const SCRIPT = path.join(__dirname, 'peer', 'keras_peer.py');

/** The venv's python, with tensorflow-cpu installed on first use (scripts/python-venv.sh keras). */
export function kerasPython(): string {
  return execFileSync('sh', [path.join(__dirname, '..', 'scripts', 'python-venv.sh'), 'keras'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** The task's own dataset as little-endian float32, back to back: x_train, y_train, x_val, y_val. */
export function exportDataset(task: string, hparams: Record<string, unknown>, file: string): DataFile {
  const data = getTask(task).loadDataset(hparams);
  const parts = [data.train.x, data.train.y, data.validation.x, data.validation.y];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat(parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  const meta = {
    trainSize: data.train.size,
    valSize: data.validation.size,
    inputShape: data.inputShape,
    labelShape: data.labelShape,
  };
  return { file, meta };
}

interface KerasLine {
  variant: 'plain' | 'backup';
  epochs: { seconds: number; steps: number }[];
  versions: Record<string, string>;
  jitCompile: boolean;
}

/** One Python process: a plain Keras run, then one with BackupAndRestore. */
export async function runKeras(o: KerasRunOptions): Promise<KerasRuns> {
  const args = [
    ...[SCRIPT, '--task', o.task, '--hparams', JSON.stringify(o.hparams), '--data', o.data.file],
    ...['--meta', JSON.stringify(o.data.meta), '--epochs', String(o.epochs)],
    ...['--batch-size', String(o.batchSize), '--val-batch-size', String(o.validationBatchSize)],
    ...['--backup-every', String(o.saveEveryBatches)],
  ];
  const { stdout } = await promisify(execFile)(o.python, args, {
    env: { ...process.env, ...o.env },
    maxBuffer: 16 << 20,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`keras_peer.py failed: ${err.message}\n${(err.stderr ?? '').slice(-2000)}`);
  });
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as KerasLine);
  const pick = (variant: KerasLine['variant']) => {
    const line = lines.find((l) => l.variant === variant);
    if (!line) throw new Error(`keras_peer.py printed no ${variant} run:\n${stdout.slice(-2000)}`);
    return rateAfterWarmup(line.epochs.map((e) => ({ ms: e.seconds * 1000, steps: e.steps })));
  };
  const first = lines[0];
  return {
    plain: pick('plain'),
    backup: pick('backup'),
    versions: first?.versions ?? {},
    jit: first?.jitCompile === true,
  };
}

/** Steps/s over the epochs after the first (a warm-up: tracing, trainer start, dataset load). */
export function rateAfterWarmup(epochs: { ms: number; steps: number }[]): RunRate {
  const measured = epochs.slice(1);
  if (measured.length === 0) throw new Error('a run needs at least 2 epochs: the first is a warm-up');
  const steps = measured.reduce((a, e) => a + e.steps, 0);
  const ms = measured.reduce((a, e) => a + e.ms, 0);
  return { stepsPerSec: steps / (ms / 1000), steps };
}
