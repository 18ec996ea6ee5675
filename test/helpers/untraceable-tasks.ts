/**
 * Two `synthetic` variants whose training step cannot become a graph (tests only), loaded as a task
 * module by trainer processes: `peeking-synthetic` reads the model's output back into JavaScript
 * mid-step; `label-weighted-synthetic` scales its loss by a number computed in JavaScript from the
 * batch, which a graph would freeze. Both are deterministic, so their eager fallback resumes exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerTask } from '../../src/training/tasks';
import { syntheticTask } from '../../src/training/tasks/synthetic';
import type { TaskDefinition } from '../../src/training/tasks';

export const peekingTask: TaskDefinition<typeof syntheticTask.hparams> = {
  ...syntheticTask,
  name: 'peeking-synthetic',
  description: 'synthetic, reading its outputs mid-step (tests only)',
  loss(labels, outputs) {
    const first = outputs.dataSync()[0] as number;
    return tf.mul(syntheticTask.loss(labels, outputs), first > 1e9 ? 2 : 1);
  },
};

export const labelWeightedTask: TaskDefinition<typeof syntheticTask.hparams> = {
  ...syntheticTask,
  name: 'label-weighted-synthetic',
  description: 'synthetic, loss scaled by a value taken from the batch in JavaScript (tests only)',
  loss(labels, outputs) {
    const weight = 1 + (labels.dataSync()[0] as number);
    return tf.mul(syntheticTask.loss(labels, outputs), tf.scalar(weight));
  },
};

registerTask(peekingTask);
registerTask(labelWeightedTask);
