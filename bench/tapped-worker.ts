/**
 * A real durable-fit worker in the bench process (real trainer child process, Temporal, MinIO) whose
 * engine is tapped, so every trained batch comes with the trainer's own timestamp, and the activity's
 * own moments that history does not record are time-stamped too: when it asked the engine to start
 * an epoch, when the epoch's state was handed to it, and when that state was saved (the job's
 * `markWarm`, called once the checkpoint is durable). Runs go one at a time; `run` returns the marks
 * of that run and its workflow id (for its history).
 */
import { resolveOptions } from '../src/config/options';
import type { TrainingResult } from '../src/contract';
import type { TrainingSpecInput } from '../src/spec';
import { runWorker } from '../test/helpers/training';
import type { EpochEngine, EpochJob } from '../activities/epoch-engine';
import { createProcessEngine } from '../activities/process-engine';
import type { BenchStack } from './bench-stack';
import { tapProgress } from './boundary-gap';

export interface BatchMark {
  epoch: number;
  batch: number;
  batches: number;
  /** Epoch milliseconds at which the trainer finished the batch. */
  at: number;
}

/** A moment of the epoch activity on the worker: engine start asked, state handed over, state saved. */
export interface JobMoment {
  kind: 'start' | 'done' | 'saved';
  epoch: number;
  at: number;
}

export interface TappedRun {
  workflowId: string;
  marks: BatchMark[];
  moments: JobMoment[];
  result: TrainingResult;
}

export interface TappedWorker {
  run(name: string, spec: TrainingSpecInput): Promise<TappedRun>;
  close(): Promise<void>;
}

export async function startTappedWorker(stack: BenchStack, backend: string): Promise<TappedWorker> {
  const taskQueue = `bench-tapped-${process.pid}-${Date.now()}`;
  const options = resolveOptions(stack.env, { taskQueue, backend });
  const marks: BatchMark[] = [];
  const moments: JobMoment[] = [];
  const engine = tapJobs(
    tapProgress(createProcessEngine({ backend: options.backend as 'cpu' }), marks),
    moments,
  );
  const worker = await runWorker(options, stack.env, { engine });
  let n = 0;
  return {
    async run(name, spec) {
      marks.length = 0;
      moments.length = 0;
      const workflowId = `bench-${name}-${Date.now()}-${++n}`;
      const handle = await stack.startRun(taskQueue, workflowId, spec);
      const result = await handle.result();
      return { workflowId, marks: [...marks], moments: [...moments], result };
    },
    close: () => worker.stop(),
  };
}

/** Wraps an engine so the activity's start, hand-over and save moments of every job are time-stamped. */
function tapJobs(engine: EpochEngine, moments: JobMoment[]): EpochEngine {
  return {
    ...engine,
    async start(request) {
      const mark = (kind: JobMoment['kind']) => moments.push({ kind, epoch: request.epoch, at: Date.now() });
      mark('start');
      const job = await engine.start(request);
      job.done.then(
        () => mark('done'),
        () => undefined,
      );
      const tapped: EpochJob = {
        snapshot: () => job.snapshot(),
        stop: () => job.stop(),
        done: job.done,
        markWarm(saved) {
          mark('saved');
          job.markWarm(saved);
        },
        get began() {
          return job.began;
        },
      };
      return tapped;
    },
  };
}

/** Steps per second inside epoch `epoch` (first to last mark of it; the first batch is left out). */
export function stepsPerSecond(marks: readonly BatchMark[], epoch?: number): number {
  const mine = marks.filter((m) => epoch === undefined || m.epoch === epoch);
  const first = mine[0];
  const last = mine.at(-1);
  if (!first || !last || last.at === first.at) return NaN;
  const steps = (last.epoch - first.epoch) * first.batches + last.batch - first.batch;
  return steps / ((last.at - first.at) / 1000);
}
