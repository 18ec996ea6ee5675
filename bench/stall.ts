/**
 * Stall as lost throughput: steps/s inside an epoch with an intra-epoch save every T seconds versus
 * with none, on the same worker, model and data, in alternating runs (with, without, with, …). Each
 * pair gives lost = 1 − with ÷ without; the row reports the median with its spread. Steps/s come from
 * the trainer's own batch timestamps (first to last batch of the epoch), so everything a save costs
 * the training thread and the machine (capture, IPC, hashing and upload competing for the cores)
 * is inside, and the epoch-end save and workflow round trips are not.
 */
import type { Summary } from './stats';
import { summarize } from './stats';
import type { TappedWorker } from './tapped-worker';
import { stepsPerSecond } from './tapped-worker';

export interface StallBenchOptions {
  task: string;
  hparams: Record<string, unknown>;
  batchSize: number;
  /** Seconds between intra-epoch saves in the "with" runs. */
  intervalS: number;
  /** Length of the measured epoch, in seconds (several intervals). */
  epochS: number;
  /** Interleaved (with, without) pairs. */
  repeats: number;
  log(line: string): void;
}

export interface StallResult {
  task: string;
  hparams: Record<string, unknown>;
  checkpointBytes: number;
  batchesPerEpoch: number;
  intervalS: number;
  withSavesStepsPerSec: Summary;
  withoutStepsPerSec: Summary;
  /** Per pair: 1 − with ÷ without (lower is better; < 0 is noise). */
  lost: Summary;
}

export async function runStallBench(worker: TappedWorker, options: StallBenchOptions): Promise<StallResult> {
  const spec = (samples: number, everySeconds: number) => ({
    task: options.task,
    epochs: 1,
    seed: 1,
    batchSize: options.batchSize,
    hparams: { ...options.hparams, ...sizeHparam(options.task, samples) },
    checkpoint: { everySeconds, everyBatches: 0 },
  });
  // Progress marks come a few per second, not one per batch: calibrate on a few hundred batches.
  const calibration = await worker.run('stall-calibrate', spec(400 * options.batchSize, 0));
  const rate = stepsPerSecond(calibration.marks.filter((m) => m.batch >= 100)); // past the warm-up
  const batches = Math.max(8, Math.round(options.epochS * rate));
  options.log(`stall: ${options.task} ${rate.toFixed(1)} steps/s → ${batches} batches per epoch`);
  const withSaves: number[] = [];
  const without: number[] = [];
  const lost: number[] = [];
  let bytes = calibration.result.finalCheckpoint.bytes;
  for (let rep = 0; rep < options.repeats; rep++) {
    const a = await worker.run('stall-saves', spec(batches * options.batchSize, options.intervalS));
    const b = await worker.run('stall-none', spec(batches * options.batchSize, 0));
    bytes = a.result.finalCheckpoint.bytes;
    const [w, n] = [stepsPerSecond(a.marks), stepsPerSecond(b.marks)];
    withSaves.push(w);
    without.push(n);
    lost.push(1 - w / n);
  }
  return {
    task: options.task,
    hparams: options.hparams,
    checkpointBytes: bytes,
    batchesPerEpoch: batches,
    intervalS: options.intervalS,
    withSavesStepsPerSec: summarize(withSaves),
    withoutStepsPerSec: summarize(without),
    lost: summarize(lost),
  };
}

/** The hparam that sets the training set's size, per task. */
export function sizeHparam(task: string, samples: number): Record<string, number> {
  return task === 'synthetic' ? { samples } : { trainSize: samples };
}
