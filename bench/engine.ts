/**
 * Engine overhead benchmark: steps/s of the durable-fit engine (owned data order, per-step seeds,
 * cursor, run loop with yields and progress) against a bare tfjs loop on the same model, data,
 * batch size and backend. Rounds alternate so drift (thermal, GC) hits both alike; each round is
 * one sample, and the ratio is of the medians.
 *
 *   npx tsx bench/engine.ts [task…]        prints a table for tensorflow (when built), wasm and cpu
 */
import type { BackendRequest } from '../src/training/backend';
import { selectBackend } from '../src/training/backend';
import { runSession } from '../src/training/run-loop';
import { getTask } from '../src/training/tasks';
import { Trainer } from '../src/training/trainer';
import { createBareRun } from './bare-loop';
import type { Summary } from './stats';
import { summarize } from './stats';

export interface EngineBenchOptions {
  task: string;
  backend: BackendRequest;
  /** Batches per timed round (kept within one epoch, so no validation pass is timed). */
  batches: number;
  /** @default 32 */
  batchSize?: number;
  /** Timed rounds per side. @default 5 */
  rounds?: number;
  hparams?: Record<string, unknown>;
}

export interface EngineBenchResult {
  task: string;
  backend: string;
  engineStepsPerSec: Summary;
  bareStepsPerSec: Summary;
  /** median engine / median bare; 1 means no overhead. */
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
  // Both loops must stay inside one epoch: past it the engine stops at the epoch's end (a count of
  // batches it did not train) and the bare loop trains empty batches. Asking for more is clamped.
  const probe = trainer.open(config);
  const batches = Math.min(options.batches, probe.cursor.batchesPerEpoch - 1);
  probe.dispose();
  const engine = async () => {
    const session = trainer.open(config);
    const start = performance.now();
    await runSession(session, { stopAtStep: batches, onProgress: () => undefined });
    const seconds = (performance.now() - start) / 1000;
    session.dispose();
    return seconds;
  };
  const bare = () => {
    const run = createBareRun(options.task, config.hparams, config.batchSize, config.seed);
    const seconds = run.trainBatches(0, 0, batches);
    run.dispose();
    return seconds;
  };
  await engine(); // warm-up: kernels, dataset cache
  bare();
  const engineRates: number[] = [];
  const bareRates: number[] = [];
  for (let round = 0; round < (options.rounds ?? 5); round++) {
    engineRates.push(batches / (await engine()));
    bareRates.push(batches / bare());
  }
  const engineStepsPerSec = summarize(engineRates);
  const bareStepsPerSec = summarize(bareRates);
  return {
    task: options.task,
    backend: trainer.backend.name,
    engineStepsPerSec,
    bareStepsPerSec,
    ratio: engineStepsPerSec.median / bareStepsPerSec.median,
  };
}

export interface EngineSuiteOptions {
  tasks: string[];
  backends: BackendRequest[];
  /** Batches per round for a task on a backend; undefined leaves the pair out (too slow there). */
  batchesFor(task: string, backend: BackendRequest): number | undefined;
  rounds: number;
  /** Called for a backend that does not load here (e.g. native TensorFlow not built); it is left out. */
  onSkip?(backend: BackendRequest, reason: string): void;
}

/** Every (backend, task) pair the task supports; conv tasks cannot train on wasm (no conv gradient). */
export async function runEngineSuite(options: EngineSuiteOptions): Promise<EngineBenchResult[]> {
  const rows: EngineBenchResult[] = [];
  for (const backend of options.backends) {
    try {
      await selectBackend(backend);
    } catch (err) {
      options.onSkip?.(backend, err instanceof Error ? err.message : String(err));
      continue;
    }
    for (const task of options.tasks) {
      if (backend !== 'auto' && getTask(task).unsupportedBackends?.[backend]) continue;
      const batches = options.batchesFor(task, backend);
      if (batches === undefined) continue;
      rows.push(await runEngineBench({ task, backend, batches, rounds: options.rounds }));
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const tasks = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['mnist-mlp', 'mnist-cnn'];
  const rows = await runEngineSuite({
    tasks,
    backends: ['tensorflow', 'wasm', 'cpu'],
    batchesFor: (task, backend) =>
      backend === 'tensorflow' ? 100 : task === 'digits-resnet' ? undefined : task === 'mnist-cnn' ? 8 : 150,
    onSkip: (backend, reason) => console.error(`${backend} left out: ${reason}`),
    rounds: 5,
  });
  console.log('| task | backend | engine steps/s | bare steps/s | engine/bare |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.task} | ${r.backend} | ${r.engineStepsPerSec.median.toFixed(1)} | ${r.bareStepsPerSec.median.toFixed(1)} | ${r.ratio.toFixed(3)} |`,
    );
  }
}

if (require.main === module) void main();
