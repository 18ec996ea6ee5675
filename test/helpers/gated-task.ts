/**
 * Gated tasks for tests: `gated-synthetic` and `gated-mnist-cnn` are `synthetic` and `mnist-cnn`,
 * except that every training step first sleeps while the file named by `DFIT_TEST_GATE` does not
 * exist. A test holds a run inside an epoch for as long as it needs (pause and checkpoint-now reach a
 * running epoch through a 2 s control poll; a fault lands mid-epoch) and then opens the gate, so the
 * rest trains at full speed. The sleep runs in `onTrainBatchStart`, so it holds eager and graph-mode
 * steps alike and does not touch the math: weights equal the ungated task's. Loaded as a task module
 * by the worker and its trainer process, and imported by the test itself.
 */
import fs from 'node:fs';
import { registerTask } from '../../src/training/tasks';
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

function gated<T extends TaskDefinition>(task: T): T {
  return {
    ...task,
    name: `gated-${task.name}`,
    description: `${task.name}, held while a test gate file is missing (tests only)`,
    onTrainBatchStart: waitAtGate,
  };
}

export const gatedSyntheticTask = gated(syntheticTask);
export const gatedMnistCnnTask = gated(mnistCnnTask);

registerTask(gatedSyntheticTask);
registerTask(gatedMnistCnnTask);
