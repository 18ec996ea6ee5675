/**
 * Stall: how long training is blocked per intra-epoch checkpoint. In the trainer process only two
 * things run on the training thread: the phase-1 capture at a batch boundary (host copies of weights
 * and optimizer slots) and the serialisation of that state into the IPC message to the worker.
 * Hashing, encoding and the upload happen in the worker process, off the training thread. This
 * times exactly those two steps on the real run loop, many times, and divides by the interval.
 */
import v8 from 'node:v8';
import type { TrainingState } from '../src/state';
import type { BackendRequest } from '../src/training/backend';
import { selectBackend } from '../src/training/backend';
import { RunControl, runSession } from '../src/training/run-loop';
import { compactTensors } from '../src/training/tensor-bytes';
import { Trainer } from '../src/training/trainer';
import type { Summary } from './stats';
import { summarize } from './stats';

export interface StallBenchOptions {
  task: string;
  hparams: Record<string, unknown>;
  backend: BackendRequest;
  batchSize: number;
  /** Snapshots to time. */
  snapshots: number;
  /** The checkpoint interval the fraction is taken against, in seconds. */
  intervalS: number;
}

export interface StallResult {
  task: string;
  backend: string;
  checkpointBytes: number;
  captureMs: Summary;
  sendMs: Summary;
  blockedMs: Summary;
  intervalS: number;
  /** median blocked time / interval. */
  stallFraction: number;
}

/** A RunControl that times what the trainer process does on the training thread per snapshot. */
class TimedControl extends RunControl {
  readonly samples: { captureMs: number; sendMs: number; bytes: number }[] = [];

  override serveSnapshots(capture: () => TrainingState): void {
    super.serveSnapshots(() => {
      const t0 = performance.now();
      const state = capture();
      const t1 = performance.now();
      const message = v8.serialize({
        type: 'snapshot',
        state: { ...state, tensors: compactTensors(state.tensors) },
      });
      const t2 = performance.now();
      this.samples.push({ captureMs: t1 - t0, sendMs: t2 - t1, bytes: message.length });
      return state;
    });
  }
}

export async function runStallBench(options: StallBenchOptions): Promise<StallResult> {
  await selectBackend(options.backend);
  const trainer = await Trainer.create({ backend: options.backend });
  const session = trainer.open({
    task: options.task,
    hparams: options.hparams,
    seed: 1,
    batchSize: options.batchSize,
    epochs: 1000,
  });
  const control = new TimedControl();
  const wanted = options.snapshots + 1; // the first one warms up
  const ask = () => {
    if (control.samples.length >= wanted) return control.requestStop();
    void control.requestSnapshot().then(() => setTimeout(ask, 20));
  };
  ask();
  await runSession(session, { control });
  session.dispose();
  const samples = control.samples.slice(1);
  const blocked = summarize(samples.map((s) => s.captureMs + s.sendMs));
  return {
    task: options.task,
    backend: trainer.backend.name,
    checkpointBytes: samples[0]?.bytes ?? 0,
    captureMs: summarize(samples.map((s) => s.captureMs)),
    sendMs: summarize(samples.map((s) => s.sendMs)),
    blockedMs: blocked,
    intervalS: options.intervalS,
    stallFraction: blocked.median / 1000 / options.intervalS,
  };
}
