/**
 * Model size: the same questions at checkpoint sizes from ~1 MB to ~500 MB. A `synthetic` model
 * (Adam: weights plus two slots each) whose `hidden` width sets the size (see `modelFor`). Per size, in alternating runs on a tapped in-process worker: durable-fit with a save
 * every epoch and every T seconds, the same without intra-epoch saves, and the bare loop; giving the
 * overhead (durable ÷ bare epoch time) and the stall (steps/s lost to the saves). Save/load at these
 * sizes is the checkpoint I/O section; recovery at these sizes is the recovery bench run per size.
 */
import type { BackendRequest } from '../src/training/backend';
import { selectBackend } from '../src/training/backend';
import { createBareRun } from './bare-loop';
import type { Summary } from './stats';
import { summarize } from './stats';
import type { TappedWorker } from './tapped-worker';
import { stepsPerSecond } from './tapped-worker';

export interface SizesBenchOptions {
  sizesMb: number[];
  /** Seconds an epoch should take (calibrated per size on the bare loop; several save intervals). */
  epochS: number;
  everySeconds: number;
  /** Interleaved (with saves, without, bare) triples per size. */
  repeats: number;
  backend: BackendRequest;
  log(line: string): void;
}

export interface SizeRow {
  targetMb: number;
  hidden: number;
  batchesPerEpoch: number;
  checkpointBytes: number;
  durableEpochS: Summary;
  bareEpochS: Summary;
  /** Per triple: durable (with saves) ÷ bare epoch time, lower is better. */
  overhead: Summary;
  /** Per triple: 1 − steps/s with saves ÷ without, lower is better. */
  lost: Summary;
}

const BATCH = 32;

/**
 * A `synthetic` model whose checkpoint (weights + 2 Adam slots, float32) is about `mb` MB. Small ones
 * are narrow (64 → hidden → 10) so that the many batches of a several-second epoch fit in memory;
 * large ones are wide (1024 → hidden → 1000) so that `hidden` stays within its 65,536 limit.
 */
export function modelFor(mb: number): { features: number; classes: number; hidden: number } {
  const [features, classes] = mb < 50 ? [64, 10] : [1024, 1000];
  const bytesPerUnit = 3 * 4 * (features + classes + 1);
  return { features, classes, hidden: Math.max(1, Math.min(65_536, Math.round((mb * 1e6) / bytesPerUnit))) };
}

export async function runSizesBench(worker: TappedWorker, options: SizesBenchOptions): Promise<SizeRow[]> {
  await selectBackend(options.backend);
  const rows: SizeRow[] = [];
  for (const targetMb of options.sizesMb) {
    const base = { ...modelFor(targetMb), valSamples: BATCH };
    const hidden = base.hidden;
    const batches = Math.max(4, Math.min(20_000, Math.round(options.epochS / stepSeconds(base))));
    const hparams = { ...base, samples: batches * BATCH };
    const spec = (everySeconds: number) => ({
      task: 'synthetic',
      epochs: 2,
      seed: 1,
      batchSize: BATCH,
      hparams,
      checkpoint: { everySeconds, everyBatches: 0, keepLast: 1 },
    });
    const durable: number[] = [];
    const bare: number[] = [];
    const overhead: number[] = [];
    const lost: number[] = [];
    let bytes = 0;
    for (let rep = 0; rep < options.repeats; rep++) {
      const withSaves = await worker.run(`size-${targetMb}-saves`, spec(options.everySeconds));
      const without = await worker.run(`size-${targetMb}-none`, spec(0));
      const b = bareSecondEpoch(hparams);
      const d = epochSpanS(withSaves.marks);
      bytes = withSaves.result.finalCheckpoint.bytes;
      durable.push(d);
      bare.push(b);
      overhead.push(d / b);
      lost.push(1 - stepsPerSecond(withSaves.marks, 1) / stepsPerSecond(without.marks, 1));
    }
    options.log(
      `sizes: ${(bytes / 1e6).toFixed(1)} MB checkpoint (hidden ${hidden}, ${batches} batches/epoch)`,
    );
    rows.push({
      targetMb,
      hidden,
      batchesPerEpoch: batches,
      checkpointBytes: bytes,
      durableEpochS: summarize(durable),
      bareEpochS: summarize(bare),
      overhead: summarize(overhead),
      lost: summarize(lost),
    });
  }
  return rows;
}

/** Last batch of epoch 0 → last batch of epoch 1, from the trainer's marks: one epoch with its boundary. */
function epochSpanS(marks: readonly { epoch: number; batch: number; batches: number; at: number }[]): number {
  const end = (e: number) => marks.filter((m) => m.epoch === e).at(-1)?.at ?? NaN;
  return (end(1) - end(0)) / 1000;
}

/** Seconds per step of the bare loop at this size (after two warm-up steps). */
function stepSeconds(hparams: Record<string, unknown>): number {
  const run = createBareRun('synthetic', { ...hparams, samples: 8 * BATCH }, BATCH);
  try {
    run.trainBatches(0, 0, 2);
    return run.trainBatches(0, 2, 4) / 4;
  } finally {
    run.dispose();
  }
}

/** Seconds of the bare loop's second epoch (the first warms up). */
function bareSecondEpoch(hparams: Record<string, unknown>): number {
  const run = createBareRun('synthetic', hparams, BATCH);
  try {
    run.trainEpoch(0);
    return run.trainEpoch(1);
  } finally {
    run.dispose();
  }
}
