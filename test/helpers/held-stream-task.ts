/**
 * `held-mnist-mlp-stream`: the built-in `mnist-mlp-stream` with a 16-row shuffle buffer (so a small
 * shard window fetches shards one after another through the epoch, not all at its start), whose
 * trainer stops before one chosen training step until a test lets it go: with `DFIT_TEST_HOLD` set
 * to a file and `DFIT_TEST_HOLD_AT` to `epoch:batch`, the step at that position writes
 * `<file>.held` (its pid and position) and waits until `<file>` exists. The batch it holds was
 * already fetched (a streamed session fetches a batch before its step), the next one not yet, so a
 * test knows exactly which fetch comes next. Until the release, every other step sleeps
 * `SLOW_STEP_MS`. Neither touches the math: the weights equal those of the same task unheld. A task module for the worker and its trainer, and for the test.
 */
import fs from 'node:fs';
import { registerTask } from '../../src/training/tasks';
import type { TaskDefinition } from '../../src/training/tasks';
import type { TaskData } from '../../src/training/tasks/types';
import { mnistMlpStreamTask } from '../../src/training/tasks/mnist-stream';

/** Environment variable naming the hold's release file. */
export const HOLD_ENV = 'DFIT_TEST_HOLD';
/** Environment variable naming the step held, as `epoch:batch`. */
export const HOLD_AT_ENV = 'DFIT_TEST_HOLD_AT';
/** Rows in the task's shuffle buffer. */
export const HELD_SHUFFLE_BUFFER = 16;

/** What a held trainer writes to `<release file>.held`. */
export interface Held {
  pid: number;
  epoch: number;
  batch: number;
}

/** The marker file a held trainer writes. */
export function heldMarker(release: string): string {
  return `${release}.held`;
}

/**
 * How long each step before the release sleeps. A held trainer answers no snapshot request (it
 * serves them between steps), so a checkpoint that falls due shortly before the held step must be
 * taken at a boundary before it: the steps are slowed so that the worker's request arrives in time.
 */
export const SLOW_STEP_MS = 100;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const parentAtStart = process.ppid;

function holdAt(position: { epoch: number; batch: number }): void {
  const release = process.env[HOLD_ENV];
  if (!release || fs.existsSync(release)) return;
  if (process.env[HOLD_AT_ENV] !== `${position.epoch}:${position.batch}`) {
    Atomics.wait(sleeper, 0, 0, SLOW_STEP_MS);
    return;
  }
  const held: Held = { pid: process.pid, ...position };
  const marker = heldMarker(release);
  fs.writeFileSync(`${marker}.${process.pid}`, JSON.stringify(held));
  fs.renameSync(`${marker}.${process.pid}`, marker); // whole, or not there
  while (!fs.existsSync(release)) {
    if (process.ppid !== parentAtStart) process.exit(1); // the worker is gone: leave, as on its disconnect
    Atomics.wait(sleeper, 0, 0, 20);
  }
}

export const heldMnistMlpStreamTask: TaskDefinition = {
  ...mnistMlpStreamTask,
  name: 'held-mnist-mlp-stream',
  description: 'mnist-mlp-stream with a 16-row shuffle buffer, held at one step (tests only)',
  data: { ...(mnistMlpStreamTask.data as TaskData), shuffleBuffer: HELD_SHUFFLE_BUFFER },
  onTrainBatchStart: holdAt,
};

registerTask(heldMnistMlpStreamTask);
