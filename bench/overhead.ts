/**
 * Overhead: a durable-fit run (real `durable-fit worker` process, trainer child process, Temporal,
 * MinIO; a checkpoint every epoch and every T seconds inside epochs) against the bare tfjs loop on
 * the same task, hparams, batch size, backend and data. Samples are epochs: for durable-fit the time
 * between consecutive epoch completions in the workflow history (so scheduling, checkpoint uploads
 * and retention are all inside), for the bare loop the time of an epoch plus validation. The first
 * epoch of each run is a warm-up (trainer start, dataset, kernels) and is left out. Durable and bare
 * runs alternate (A/B/A/B, `repeats` pairs) so drift in the machine's load hits both sides alike;
 * each pair gives one ratio, and the row reports the median ratio with its spread.
 */
import type { BackendRequest } from '../src/training/backend';
import { selectBackend } from '../src/training/backend';
import { createBareRun } from './bare-loop';
import type { BenchStack } from './bench-stack';
import { benchQueue } from './bench-stack';
import { epochPeriodsMs, workflowTimings } from './history';
import type { Summary } from './stats';
import { summarize } from './stats';

export interface OverheadBenchOptions {
  backend: BackendRequest;
  /** Target epoch lengths in seconds (calibrated on the bare loop). */
  epochSeconds: number[];
  /** Epochs per run, the first being a warm-up. */
  epochs: number;
  /** Interleaved durable/bare pairs per epoch length. */
  repeats: number;
  /** Intra-epoch checkpoint interval. */
  everySeconds: number;
  log(line: string): void;
}

export interface OverheadRow {
  targetEpochS: number;
  samples: number;
  batchesPerEpoch: number;
  durableEpochS: Summary;
  bareEpochS: Summary;
  /** Per pair: median durable epoch ÷ median bare epoch of that pair (lower is better). */
  pairRatios: Summary;
  /** The median of the pair ratios. */
  ratio: number;
}

const BASE_HPARAMS = { features: 64, hidden: 512, classes: 10, valSamples: 1024 };
const BATCH_SIZE = 32;

export async function runOverheadBench(
  stack: BenchStack,
  options: OverheadBenchOptions,
): Promise<OverheadRow[]> {
  await selectBackend(options.backend);
  const stepS = calibrateStepSeconds();
  const fleet = stack.fleet('overhead', options.backend);
  await fleet.start();
  const rows: OverheadRow[] = [];
  try {
    for (const target of options.epochSeconds) {
      const batches = Math.max(4, Math.round(target / stepS));
      const hparams = { ...BASE_HPARAMS, samples: batches * BATCH_SIZE };
      options.log(
        `overhead: ~${target}s epochs (${batches} batches), ${options.repeats} × (durable, bare) of ${options.epochs} epochs`,
      );
      const durable: number[] = [];
      const bare: number[] = [];
      const ratios: number[] = [];
      for (let rep = 0; rep < options.repeats; rep++) {
        const d = await durableEpochs(stack, hparams, options, target);
        const b = bareEpochs(hparams, options.epochs);
        durable.push(...d);
        bare.push(...b);
        ratios.push(summarize(d).median / summarize(b).median);
      }
      const pairRatios = summarize(ratios);
      rows.push({
        targetEpochS: target,
        samples: Math.min(durable.length, bare.length),
        batchesPerEpoch: batches,
        durableEpochS: summarize(durable),
        bareEpochS: summarize(bare),
        pairRatios,
        ratio: pairRatios.median,
      });
    }
  } finally {
    await fleet.stopAll();
  }
  return rows;
}

/** Seconds per training step of the bare loop for the base model (after a warm-up). */
function calibrateStepSeconds(): number {
  const run = createBareRun('synthetic', { ...BASE_HPARAMS, samples: 64 * BATCH_SIZE }, BATCH_SIZE);
  run.trainBatches(0, 0, 16);
  const seconds = run.trainBatches(0, 16, 48);
  run.dispose();
  return seconds / 48;
}

async function durableEpochs(
  stack: BenchStack,
  hparams: Record<string, unknown>,
  options: OverheadBenchOptions,
  target: number,
): Promise<number[]> {
  const workflowId = `bench-overhead-${options.backend}-${target}s-${Date.now()}`;
  const handle = await stack.startRun(benchQueue('overhead'), workflowId, {
    task: 'synthetic',
    epochs: options.epochs,
    seed: 1,
    batchSize: BATCH_SIZE,
    hparams,
    checkpoint: { everySeconds: options.everySeconds, everyBatches: 0 },
  });
  await handle.result();
  return epochPeriodsMs(await workflowTimings(stack.client, workflowId)).map((ms) => ms / 1000);
}

function bareEpochs(hparams: Record<string, unknown>, epochs: number): number[] {
  const run = createBareRun('synthetic', hparams, BATCH_SIZE);
  const seconds = Array.from({ length: epochs }, (_, epoch) => run.trainEpoch(epoch));
  run.dispose();
  return seconds.slice(1);
}
