/**
 * `hog-synthetic` for the trainer memory cap test: `gated-synthetic` (test/helpers/gated-task.ts),
 * except that at the first batch that finds the file named by `DFIT_TEST_HOG` it deletes the file
 * and allocates memory (64 MB at a time, every page written) up to `DFIT_TEST_HOG_MB` (default
 * 4096), held until the process dies. Under a memory cap the kernel kills the trainer there; the
 * resumed trainer finds no file and trains on. The allocation does not touch the math: the weights
 * are those of `synthetic`.
 */
import fs from 'node:fs';
import { registerTask } from '../../src/training/tasks';
import { gatedSyntheticTask } from './gated-task';

export const HOG_ENV = 'DFIT_TEST_HOG';
export const HOG_MB_ENV = 'DFIT_TEST_HOG_MB';

const held: Buffer[] = [];

function hogIfAsked(): void {
  const file = process.env[HOG_ENV];
  if (!file || !fs.existsSync(file)) return;
  fs.rmSync(file, { force: true });
  const mb = Number(process.env[HOG_MB_ENV] ?? 4096);
  for (let total = 0; total < mb; total += 64) held.push(Buffer.alloc(64 * 2 ** 20, 1));
}

export const hogSyntheticTask = {
  ...gatedSyntheticTask,
  name: 'hog-synthetic',
  description: 'gated-synthetic that allocates memory once when a test file says so (tests only)',
  onTrainBatchStart(position: { epoch: number; batch: number; step: number }) {
    hogIfAsked();
    gatedSyntheticTask.onTrainBatchStart?.(position);
  },
};

registerTask(hogSyntheticTask);
