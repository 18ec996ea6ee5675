/**
 * Gated tasks for tests: `gated-synthetic` and `gated-mnist-cnn` are `synthetic` and `mnist-cnn`,
 * except that every training step first sleeps while the file named by `DFIT_TEST_GATE` does not
 * exist. A test holds a run inside an epoch for as long as it needs (pause and checkpoint-now reach a
 * running epoch through a 2 s control poll; a fault lands mid-epoch) and then opens the gate, so the
 * rest trains at full speed. The sleep runs in `onTrainBatchStart`, so it holds eager and graph-mode
 * steps alike and does not touch the math: weights equal the ungated task's. Loaded as a task module
 * by the worker and its trainer process, and imported by the test itself.
 *
 * Validation has a gate of its own (`DFIT_TEST_VALIDATION_GATE`): while that file is missing, the
 * tasks' metric functions, which run only inside an epoch's validation, write a marker file (the
 * gate's name + `.held`: the trainer's pid and the last batch trained) and wait until the file
 * exists. A fault test learns from the marker that a trainer is inside validation, and that it
 * stays there until the test opens the gate. A trainer held there whose worker is gone (SIGKILLed)
 * exits, as the trainer does when its worker disconnects.
 */
import fs from 'node:fs';
import { registerTask } from '../../src/training/tasks';
import type { BatchScalarFn } from '../../src/training/tasks';
import { mnistCnnTask } from '../../src/training/tasks/mnist-tasks';
import { syntheticTask } from '../../src/training/tasks/synthetic';
import type { TaskDefinition } from '../../src/training/tasks';

/** Environment variable naming the gate file. */
export const GATE_ENV = 'DFIT_TEST_GATE';
/** Environment variable for the sleep per batch while the gate is closed, in ms. */
export const GATE_SLEEP_ENV = 'DFIT_TEST_GATE_SLEEP_MS';
/** Sleep per batch while the gate is closed (100 ms: 512 batches hold an epoch for about 50 s). */
const CLOSED_SLEEP_MS = Number(process.env[GATE_SLEEP_ENV] ?? 100);
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps while the gate file is missing (a no-op without `DFIT_TEST_GATE`). */
export function waitAtGate(): void {
  const gate = process.env[GATE_ENV];
  if (gate && !fs.existsSync(gate)) Atomics.wait(sleeper, 0, 0, CLOSED_SLEEP_MS);
}

/** Environment variable naming the validation gate file. */
export const VALIDATION_GATE_ENV = 'DFIT_TEST_VALIDATION_GATE';

/** What a trainer held in validation writes to `<validation gate>.held`. */
export interface ValidationHeld {
  /** The trainer process. */
  pid: number;
  /** Its worker. */
  ppid: number;
  /** The last training step this trainer started (validation follows an epoch's last batch). */
  epoch: number;
  batch: number;
  step: number;
}

/** The marker file a trainer held in validation writes. */
export function validationMarker(gate: string): string {
  return `${gate}.held`;
}

let lastStep = { epoch: -1, batch: -1, step: -1 };
const parentAtStart = process.ppid;

function gateAndRemember(position: { epoch: number; batch: number; step: number }): void {
  lastStep = { ...position };
  waitAtGate();
}

/**
 * Holds the caller (a metric function, inside validation) while the validation gate file is
 * missing; the marker says so. A no-op without `DFIT_TEST_VALIDATION_GATE`.
 */
export function waitAtValidationGate(): void {
  const gate = process.env[VALIDATION_GATE_ENV];
  if (!gate || fs.existsSync(gate)) return;
  const held: ValidationHeld = { pid: process.pid, ppid: parentAtStart, ...lastStep };
  const marker = validationMarker(gate);
  fs.writeFileSync(`${marker}.${process.pid}`, JSON.stringify(held));
  fs.renameSync(`${marker}.${process.pid}`, marker); // whole, or not there
  while (!fs.existsSync(gate)) {
    // The worker is gone (its trainer is re-parented): leave, as on its disconnect.
    if (process.ppid !== parentAtStart) process.exit(1);
    Atomics.wait(sleeper, 0, 0, 20);
  }
}

function gatedMetrics(metrics: Record<string, BatchScalarFn> | undefined): Record<string, BatchScalarFn> {
  return Object.fromEntries(
    Object.entries(metrics ?? {}).map(([name, fn]): [string, BatchScalarFn] => [
      name,
      (labels, outputs) => {
        waitAtValidationGate();
        return fn(labels, outputs);
      },
    ]),
  );
}

function gated<T extends TaskDefinition>(task: T): T {
  return {
    ...task,
    name: `gated-${task.name}`,
    description: `${task.name}, held while a test gate file is missing (tests only)`,
    onTrainBatchStart: gateAndRemember,
    metrics: gatedMetrics(task.metrics),
  };
}

export const gatedSyntheticTask = gated(syntheticTask);
export const gatedMnistCnnTask = gated(mnistCnnTask);

registerTask(gatedSyntheticTask);
registerTask(gatedMnistCnnTask);
