/**
 * `poisoned-synthetic`: the `synthetic` task with one training sample's features set to NaN
 * (`poisonRow`; -1 = none). The batch that holds it gives a NaN loss: a divergence at a step the test
 * can compute from the epoch order (`poisonedBatch`). Steps sleep while a gate is closed, as the
 * gated tasks' do (gated-task.ts). Loaded as a task module by the worker and its
 * trainer process, and imported by the test itself.
 */
import { z } from 'zod';
import { registerTask } from '../../src/training/tasks';
import { epochOrder } from '../../src/training/rng';
import { syntheticTask } from '../../src/training/tasks/synthetic';
import type { TaskDefinition } from '../../src/training/tasks';
import { waitAtGate } from './gated-task';

const hparams = syntheticTask.hparams.extend({ poisonRow: z.number().int().min(-1).default(-1) });

export const poisonedSyntheticTask: TaskDefinition<typeof hparams> = {
  ...(syntheticTask as unknown as TaskDefinition<typeof hparams>),
  name: 'poisoned-synthetic',
  description: 'synthetic with one NaN sample (tests only)',
  hparams,
  // Held like the gated tasks while a test's gate file is missing: steps slow enough for every
  // batch's progress to reach the activity, so saves fall where the policy puts them on any backend.
  onTrainBatchStart: waitAtGate,
  loadDataset(h) {
    const data = syntheticTask.loadDataset(h);
    if (h.poisonRow >= 0) data.train.x.fill(NaN, h.poisonRow * h.features, (h.poisonRow + 1) * h.features);
    return data;
  },
};

/** The batch of `epoch` that holds sample `row`. */
export function poisonedBatch(seed: number, epoch: number, samples: number, batchSize: number, row: number) {
  const position = epochOrder(seed, epoch, samples).indexOf(row);
  return Math.floor(position / batchSize);
}

registerTask(poisonedSyntheticTask);
