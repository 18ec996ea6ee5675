/**
 * `gated-synthetic`: the `synthetic` task, except that every batch sleeps while the file named by
 * `DFIT_TEST_GATE` does not exist. A test holds a run inside epoch 0 for as long as it needs (pause
 * and checkpoint-now reach a running epoch through a 2 s control poll) and then opens the gate, so
 * the rest trains at full speed. The sleep does not touch the math: weights equal `synthetic`'s.
 * Loaded as a task module by the worker and its trainer process, and imported by the test itself.
 */
import fs from 'node:fs';
import { registerTask } from '../../src/training/tasks';
import { syntheticTask } from '../../src/training/tasks/synthetic';
import type { TaskDefinition } from '../../src/training/tasks';

/** Environment variable naming the gate file. */
export const GATE_ENV = 'DFIT_TEST_GATE';
/** Environment variable for the sleep per batch while the gate is closed, in ms. */
export const GATE_SLEEP_ENV = 'DFIT_TEST_GATE_SLEEP_MS';
/** Sleep per batch while the gate is closed (100 ms: 512 batches hold an epoch for about 50 s). */
const CLOSED_SLEEP_MS = Number(process.env[GATE_SLEEP_ENV] ?? 100);
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function waitAtGate(): void {
  const gate = process.env[GATE_ENV];
  if (gate && !fs.existsSync(gate)) Atomics.wait(sleeper, 0, 0, CLOSED_SLEEP_MS);
}

export const gatedSyntheticTask: TaskDefinition<typeof syntheticTask.hparams> = {
  ...syntheticTask,
  name: 'gated-synthetic',
  description: 'synthetic, held while a test gate file is missing (tests only)',
  loss(labels, outputs) {
    waitAtGate();
    return syntheticTask.loss(labels, outputs);
  },
};

registerTask(gatedSyntheticTask);
