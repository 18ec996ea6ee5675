/**
 * Scale: N concurrent `synthetic` runs on 2 `durable-fit worker` processes. All must complete.
 * Reports epochs/min over the whole batch, the latency of the start call (client → server
 * accepted) and of the first epoch starting (queueing behind the 2 training slots included), and
 * the resident memory of each worker (with its trainer process) sampled once a second.
 */
import type { BenchStack } from './bench-stack';
import { benchQueue, treeRssMb } from './bench-stack';
import { completedEpochs, workflowTimings } from './history';
import { percentile, sleep } from './stats';

export interface ScaleBenchOptions {
  runs: number;
  epochs: number;
  backend: string;
  log(line: string): void;
}

export interface ScaleResult {
  runs: number;
  completed: number;
  epochsPerRun: number;
  wallS: number;
  epochsPerMin: number;
  startCallMs: { p50: number; p99: number };
  firstEpochStartS: { p50: number; p99: number };
  /** Per worker: RSS samples (MB) once a second, worker plus trainer process. */
  rssMb: number[][];
  /** Largest (last − first) over workers, in MB, after the first sample. */
  rssGrowthMb: number;
}

export async function runScaleBench(stack: BenchStack, options: ScaleBenchOptions): Promise<ScaleResult> {
  const fleet = stack.fleet('scale', options.backend);
  const workers = await Promise.all([fleet.start(), fleet.start()]);
  const rssMb: number[][] = workers.map(() => []);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      workers.forEach((w, i) => rssMb[i]?.push(Math.round(treeRssMb(w.child.pid ?? 0))));
      await sleep(1000);
    }
  })();
  try {
    const started = Date.now();
    const ids = Array.from({ length: options.runs }, (_, i) => `bench-scale-${started}-${i}`);
    const startCalls = await Promise.all(ids.map((id, i) => startOne(stack, id, i, options.epochs)));
    const outcomes = await Promise.allSettled(ids.map((id) => stack.client.workflow.getHandle(id).result()));
    const wallS = (Date.now() - started) / 1000;
    const completed = outcomes.filter((o) => o.status === 'fulfilled').length;
    const firstEpoch = await Promise.all(ids.map((id) => firstEpochStartS(stack, id)));
    options.log(`scale: ${completed}/${options.runs} runs completed in ${wallS.toFixed(1)} s`);
    sampling = false;
    await sampler;
    const growth = rssMb.map((s) => (s.at(-1) ?? 0) - (s[0] ?? 0));
    return {
      runs: options.runs,
      completed,
      epochsPerRun: options.epochs,
      wallS,
      epochsPerMin: (completed * options.epochs) / (wallS / 60),
      startCallMs: { p50: percentile(startCalls, 50), p99: percentile(startCalls, 99) },
      firstEpochStartS: { p50: percentile(firstEpoch, 50), p99: percentile(firstEpoch, 99) },
      rssMb,
      rssGrowthMb: Math.max(...growth),
    };
  } finally {
    sampling = false;
    await sampler;
    await fleet.stopAll();
  }
}

async function startOne(
  stack: BenchStack,
  workflowId: string,
  seed: number,
  epochs: number,
): Promise<number> {
  const t = performance.now();
  await stack.startRun(benchQueue('scale'), workflowId, {
    task: 'synthetic',
    epochs,
    seed,
    checkpoint: { everySeconds: 0, everyBatches: 0 },
  });
  return performance.now() - t;
}

async function firstEpochStartS(stack: BenchStack, workflowId: string): Promise<number> {
  const timings = await workflowTimings(stack.client, workflowId);
  const first = completedEpochs(timings)[0];
  return first?.startedMs !== undefined ? (first.startedMs - timings.startedMs) / 1000 : NaN;
}
