/**
 * Memory soak: one `durable-fit worker` process trains one long run (saves every epoch and every few
 * seconds) for a fixed time while the bench samples the worker's and its trainer's resident memory.
 * The figure is each one's least-squares slope in MB/h after a warm-up (the first 10 % of samples),
 * with its standard error: a leak shows as a slope well above its error.
 */
import type { BenchStack } from './bench-stack';
import { benchQueue, childrenRssMb, processRssMb } from './bench-stack';
import { sleep, slope } from './stats';

export interface SoakBenchOptions {
  durationS: number;
  sampleEveryS: number;
  backend: string;
  log(line: string): void;
}

export interface RssSeries {
  /** MB/h and its standard error. */
  slopeMbPerH: number;
  stderrMbPerH: number;
  firstMb: number;
  lastMb: number;
  /** [seconds since start, MB], thinned to at most ~60 points for the report. */
  samples: [number, number][];
}

export interface SoakResult {
  durationS: number;
  epochs: number;
  worker: RssSeries;
  trainer: RssSeries;
}

export async function runSoakBench(stack: BenchStack, options: SoakBenchOptions): Promise<SoakResult> {
  const fleet = stack.fleet('soak', options.backend);
  const worker = await fleet.start();
  const pid = worker.child.pid ?? 0;
  try {
    const handle = await stack.startRun(benchQueue('soak'), `bench-soak-${Date.now()}`, {
      task: 'synthetic',
      epochs: 100_000,
      seed: 1,
      batchSize: 32,
      hparams: { samples: 32 * 50, features: 64, hidden: 256, classes: 10, valSamples: 256 },
      checkpoint: { everySeconds: 2, everyBatches: 0, keepLast: 3 },
    });
    const started = Date.now();
    const t: number[] = [];
    const w: number[] = [];
    const c: number[] = [];
    while (Date.now() - started < options.durationS * 1000) {
      await sleep(options.sampleEveryS * 1000);
      t.push((Date.now() - started) / 1000);
      w.push(processRssMb(pid));
      c.push(childrenRssMb(pid));
    }
    const progress = (await handle.query('progress')) as { epoch: number };
    await handle.terminate('soak done');
    options.log(`soak: ${t.length} samples over ${options.durationS} s, ${progress.epoch} epochs`);
    return {
      durationS: options.durationS,
      epochs: progress.epoch,
      worker: series(t, w),
      trainer: series(t, c),
    };
  } finally {
    await fleet.stopAll();
  }
}

function series(t: number[], mb: number[]): RssSeries {
  const skip = Math.floor(t.length / 10);
  const fit = slope(t.slice(skip), mb.slice(skip));
  const step = Math.max(1, Math.ceil(t.length / 60));
  return {
    slopeMbPerH: fit.slope * 3600,
    stderrMbPerH: fit.stderr * 3600,
    firstMb: mb[skip] ?? NaN,
    lastMb: mb.at(-1) ?? NaN,
    samples: t.flatMap((x, i) => (i % step === 0 ? [[Math.round(x), Math.round(mb[i] ?? 0)]] : [])) as [
      number,
      number,
    ][],
  };
}
