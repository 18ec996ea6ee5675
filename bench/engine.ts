/**
 * Engine overhead benchmark: steps/s of the durable-fit engine (owned data order, per-step seeds,
 * cursor, run loop with yields and progress) against a bare tfjs loop on the same model, data,
 * batch size and backend. Rounds alternate so drift (thermal, GC) hits both alike.
 *
 *   npx tsx bench/engine.ts [task…]        prints a table for cpu and wasm
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendRequest } from '../src/training/backend';
import { selectBackend } from '../src/training/backend';
import { createOptimizer } from '../src/training/optimizer-state';
import { epochOrder } from '../src/training/rng';
import { runSession } from '../src/training/run-loop';
import { getTask, validateHparams } from '../src/training/tasks';
import { Trainer } from '../src/training/trainer';

export interface EngineBenchOptions {
  task: string;
  backend: BackendRequest;
  /** Batches per timed round (kept within one epoch, so no validation pass is timed). */
  batches: number;
  /** @default 32 */
  batchSize?: number;
  /** Timed rounds per side. @default 3 */
  rounds?: number;
  hparams?: Record<string, unknown>;
}

export interface EngineBenchResult {
  task: string;
  backend: string;
  engineStepsPerSec: number;
  bareStepsPerSec: number;
  /** engine / bare; 1 means no overhead. */
  ratio: number;
}

export async function runEngineBench(options: EngineBenchOptions): Promise<EngineBenchResult> {
  const trainer = await Trainer.create({ backend: options.backend });
  const config = {
    task: options.task,
    hparams: options.hparams,
    seed: 1,
    batchSize: options.batchSize ?? 32,
    epochs: 1,
  };
  const engine = async () => {
    const session = trainer.open(config);
    const start = performance.now();
    await runSession(session, { stopAtStep: options.batches, onProgress: () => undefined });
    const seconds = (performance.now() - start) / 1000;
    session.dispose();
    return seconds;
  };
  const bare = () => bareLoop(options.task, config.hparams, config.batchSize, options.batches);
  await engine(); // warm-up: kernels, dataset cache
  bare();
  let engineSeconds = 0;
  let bareSeconds = 0;
  for (let round = 0; round < (options.rounds ?? 3); round++) {
    engineSeconds += await engine();
    bareSeconds += bare();
  }
  const engineStepsPerSec = ((options.rounds ?? 3) * options.batches) / engineSeconds;
  const bareStepsPerSec = ((options.rounds ?? 3) * options.batches) / bareSeconds;
  return {
    task: options.task,
    backend: trainer.backend.name,
    engineStepsPerSec,
    bareStepsPerSec,
    ratio: engineStepsPerSec / bareStepsPerSec,
  };
}

/** The loop a tfjs user would write by hand: same model, data and optimizer, nothing else. */
function bareLoop(
  taskName: string,
  raw: Record<string, unknown> | undefined,
  batchSize: number,
  batches: number,
): number {
  const task = getTask(taskName);
  const hparams = validateHparams(task, raw);
  const data = task.loadDataset(hparams); // cached by the module for mnist
  const model = task.buildModel(hparams, 1);
  const optimizer = createOptimizer(task.optimizer(hparams));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const order = epochOrder(1, 0, data.train.size);
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const classes = data.labelShape.reduce((a, b) => a * b, 1);
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const rows = order.subarray(b * batchSize, (b + 1) * batchSize);
    const x = new Float32Array(rows.length * width);
    const y = new Float32Array(rows.length * classes);
    rows.forEach((r, i) => {
      x.set(data.train.x.subarray(r * width, (r + 1) * width), i * width);
      y.set(data.train.y.subarray(r * classes, (r + 1) * classes), i * classes);
    });
    const cost = tf.tidy(() => {
      const xs = tf.tensor(x, [rows.length, ...data.inputShape]);
      const ys = tf.tensor(y, [rows.length, ...data.labelShape]);
      const loss = () => task.loss(ys, model.apply(xs, { training: true }) as tf.Tensor);
      return optimizer.minimize(loss, true, vars) as tf.Scalar;
    });
    cost.dataSync();
    cost.dispose();
  }
  const seconds = (performance.now() - start) / 1000;
  optimizer.dispose();
  model.dispose();
  return seconds;
}

async function main(): Promise<void> {
  const tasks = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['mnist-mlp', 'mnist-cnn'];
  const rows: EngineBenchResult[] = [];
  for (const backend of ['wasm', 'cpu'] as const) {
    await selectBackend(backend);
    for (const task of tasks) {
      // mnist-cnn cannot train on wasm (no conv gradient kernel there); the task says so.
      if (getTask(task).unsupportedBackends?.[backend]) continue;
      rows.push(await runEngineBench({ task, backend, batches: task === 'mnist-cnn' ? 8 : 150 }));
    }
  }
  console.log('| task | backend | engine steps/s | bare steps/s | engine/bare |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.task} | ${r.backend} | ${r.engineStepsPerSec.toFixed(1)} | ${r.bareStepsPerSec.toFixed(1)} | ${r.ratio.toFixed(3)} |`,
    );
  }
}

if (require.main === module) void main();
