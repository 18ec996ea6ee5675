/**
 * Epoch boundary gap: from the last batch of epoch N to the first batch of epoch N+1, as the trainer
 * trained them (child timestamps where progress carries them, else the parent's receipt time). A
 * small run on an in-process worker whose engine is tapped; everything else is real (trainer child,
 * Temporal, MinIO, the epoch-end upload and the workflow round trips between epochs).
 *
 *   npx tsx bench/boundary-gap.ts    synthetic and mnist-mlp, a few boundaries each
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { resolveOptions } from '../src/config/options';
import type { TrainingSpecInput } from '../src/spec';
import { runWorker } from '../test/helpers/training';
import type { EpochEngine } from '../activities/epoch-engine';
import { createProcessEngine } from '../activities/process-engine';
import type { BenchStack } from './bench-stack';
import { completedEpochs, workflowTimings } from './history';
import { startBenchStack } from './bench-stack';
import type { Summary } from './stats';
import { summarize } from './stats';

export interface BoundaryGapResult {
  task: string;
  /** Milliseconds from the last batch of an epoch to the first batch of the next, one per boundary. */
  gapsMs: number[];
  gap: Summary;
  /** Median milliseconds per batch inside epochs (the gap includes one such batch). */
  batchMs: number;
  /**
   * Milliseconds from one epoch activity's completion to the next one's start, from the history:
   * the workflow's part of the boundary (what the continuation trains through).
   */
  roundTripMs: Summary;
  weightsSha256: string;
}

interface Mark {
  epoch: number;
  batch: number;
  batches: number;
  at: number;
}

/** Wraps an engine so every batch it reports is time-stamped (the child's `at`, else now). */
export function tapProgress(engine: EpochEngine, marks: Mark[]): EpochEngine {
  return {
    ...engine,
    start: (request) =>
      engine.start({
        ...request,
        onProgress(p) {
          marks.push({ epoch: p.epoch, batch: p.batch, batches: p.batches, at: p.trainedAt ?? Date.now() });
          request.onProgress(p);
        },
      }),
  };
}

/** Gaps between the last batch of each epoch and the first batch of the next, from progress marks. */
export function boundaryGaps(marks: readonly Mark[]): { gapsMs: number[]; batchMs: number } {
  const gapsMs: number[] = [];
  const steps: number[] = [];
  for (let i = 1; i < marks.length; i++) {
    const [prev, cur] = [marks[i - 1] as Mark, marks[i] as Mark];
    if (cur.epoch === prev.epoch + 1 && cur.batch === 0 && prev.batch === prev.batches - 1)
      gapsMs.push(cur.at - prev.at);
    else if (cur.epoch === prev.epoch && cur.batch > prev.batch)
      steps.push((cur.at - prev.at) / (cur.batch - prev.batch));
  }
  return { gapsMs, batchMs: summarize(steps).median };
}

/** Trains `spec` once on an in-process worker and measures its epoch boundaries. */
export async function measureBoundaryGaps(
  stack: BenchStack,
  spec: TrainingSpecInput,
  backend = 'cpu',
): Promise<BoundaryGapResult> {
  const taskQueue = `boundary-${spec.task}-${process.pid}-${Date.now()}`;
  const options = resolveOptions(stack.env, { taskQueue, backend });
  const marks: Mark[] = [];
  const engine = tapProgress(createProcessEngine({ backend: options.backend as 'cpu' }), marks);
  const worker = await runWorker(options, stack.env, { engine });
  try {
    const handle = await stack.startRun(taskQueue, taskQueue, spec);
    const result = await handle.result();
    const { gapsMs, batchMs } = boundaryGaps(marks);
    const epochs = completedEpochs(await workflowTimings(stack.client, taskQueue));
    const roundTrips = epochs.slice(1).map((a, i) => (a.startedMs ?? NaN) - (epochs[i]?.closedMs ?? NaN));
    return {
      task: spec.task,
      gapsMs,
      gap: summarize(gapsMs),
      batchMs,
      roundTripMs: summarize(roundTrips),
      weightsSha256: result.weightsSha256,
    };
  } finally {
    await worker.stop();
  }
}

const SPECS: TrainingSpecInput[] = [
  {
    task: 'synthetic',
    epochs: 6,
    seed: 3,
    batchSize: 16,
    hparams: { samples: 160 },
    checkpoint: { everyBatches: 0, everySeconds: 0 },
  },
  {
    task: 'mnist-mlp',
    epochs: 5,
    seed: 3,
    batchSize: 32,
    hparams: { trainSize: 320, valSize: 64, hidden: 32 },
    checkpoint: { everyBatches: 0, everySeconds: 0 },
  },
];

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stack = await startBenchStack(() => undefined);
  try {
    for (const spec of SPECS) {
      const r = await measureBoundaryGaps(stack, spec, process.env.DFIT_BACKEND ?? 'cpu');
      const ms = (v: number) => v.toFixed(1);
      console.log(
        `${r.task}: boundary gap median ${ms(r.gap.median)} ms (min ${ms(r.gap.min)}, max ${ms(r.gap.max)}, ` +
          `n ${r.gap.n}); batch ${ms(r.batchMs)} ms; gaps ${r.gapsMs.map(ms).join(' ')}; ` +
          `activity completed -> next started median ${ms(r.roundTripMs.median)} ms`,
      );
    }
  } finally {
    await stack.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
