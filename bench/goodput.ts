/**
 * Goodput under failures: one long run on real `durable-fit worker` processes with a fault every
 * `faultEveryS` seconds, alternating a lost worker (the worker training the run SIGKILLed: noticed
 * by the heartbeat timeout) and an OOM kill (its trainer child SIGKILLed: noticed at once), then the
 * run's own goodput ledger (workflows/goodput.ts): productive training time ÷ wall time, steps kept ÷
 * trained, steps redone and seconds lost, by failure kind. A run without faults gives the baseline
 * (what checkpoints and epoch boundaries cost). The anchor: torchft reports 81 % at one failure a
 * minute. After `durationS` the run is stopped (`stop`: it ends at its newest checkpoint).
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { Goodput } from '../src/contract';
import { stopSignal } from '../src/contract';
import type { TrainingSpecInput } from '../src/spec';
import type { WorkerFleet } from '../test/helpers/worker-fleet';
import { pendingEpoch } from '../test/helpers/worker-fleet';
import type { BenchStack } from './bench-stack';
import { benchQueue } from './bench-stack';
import { pollFor, sleep } from './stats';

export interface GoodputBenchOptions {
  backend: string;
  task: string;
  hparams: Record<string, unknown>;
  batchSize: number;
  /** Intra-epoch checkpoint every this many seconds. */
  everySeconds: number;
  heartbeatTimeoutS: number;
  durationS: number;
  /** Fault intervals to measure; 0 = no faults (the baseline). */
  faultEveryS: number[];
  log(line: string): void;
}

export interface GoodputRow {
  backend: string;
  task: string;
  faultEveryS: number;
  faults: { worker: number; trainer: number };
  heartbeatTimeoutS: number;
  everySeconds: number;
  goodput: Goodput;
}

export async function runGoodputBench(
  stack: BenchStack,
  options: GoodputBenchOptions,
): Promise<GoodputRow[]> {
  const rows: GoodputRow[] = [];
  for (const faultEveryS of options.faultEveryS) {
    const name = `goodput-${faultEveryS}`;
    const fleet = stack.fleet(name, options.backend);
    await Promise.all([fleet.start(), fleet.start()]);
    try {
      rows.push(await oneRun(stack, fleet, name, faultEveryS, options));
    } finally {
      await fleet.stopAll();
    }
  }
  return rows;
}

async function oneRun(
  stack: BenchStack,
  fleet: WorkerFleet,
  name: string,
  faultEveryS: number,
  options: GoodputBenchOptions,
): Promise<GoodputRow> {
  const spec: TrainingSpecInput = {
    task: options.task,
    epochs: 10_000, // stopped after durationS
    seed: 7,
    batchSize: options.batchSize,
    hparams: options.hparams,
    checkpoint: { everyBatches: 0, everySeconds: options.everySeconds },
    recovery: {
      heartbeatTimeoutSeconds: options.heartbeatTimeoutS,
      backoffSeconds: 0,
      maxCrashRecoveries: 10_000,
      maxInfraRetries: 10_000,
    },
  };
  const handle = await stack.startRun(benchQueue(name), `bench-${name}-${Date.now()}`, spec);
  const faults = { worker: 0, trainer: 0 };
  const end = Date.now() + options.durationS * 1000;
  let next = faultEveryS > 0 ? Date.now() + faultEveryS * 1000 : Infinity;
  while (Date.now() < end) {
    await sleep(Math.max(0, Math.min(end, next) - Date.now()));
    if (Date.now() < next || Date.now() >= end) continue;
    const kind = (faults.worker + faults.trainer) % 2 === 0 ? 'trainer' : 'worker';
    await fault(fleet, handle, kind);
    faults[kind]++;
    next += faultEveryS * 1000;
  }
  await handle.signal(stopSignal);
  const result = await handle.result();
  if (!result.goodput) throw new Error('the result carries no goodput ledger');
  const g = result.goodput;
  options.log(
    `goodput: fault every ${faultEveryS || '∞'} s: ${(g.ratio * 100).toFixed(1)} % of ${g.wallSeconds.toFixed(0)} s, ` +
      `kept ${g.stepsKept}/${g.stepsTrained} steps, faults ${faults.worker} worker + ${faults.trainer} trainer`,
  );
  return {
    backend: options.backend,
    task: options.task,
    faultEveryS,
    faults,
    heartbeatTimeoutS: options.heartbeatTimeoutS,
    everySeconds: options.everySeconds,
    goodput: g,
  };
}

/** Kills the worker training the run, or its trainer child, once the run is training; a lost worker is replaced. */
async function fault(fleet: WorkerFleet, handle: WorkflowHandle, kind: 'worker' | 'trainer'): Promise<void> {
  const running = await pollFor(async () => {
    const p = await pendingEpoch(handle);
    return p?.details && fleet.workers.has(p.identity) ? p : undefined;
  }, 'a training attempt');
  if (kind === 'worker') {
    await fleet.kill(running.identity, 'SIGKILL');
    await fleet.start();
    return;
  }
  const [trainer] = fleet.trainerPids(running.identity);
  if (trainer) process.kill(trainer, 'SIGKILL');
}
