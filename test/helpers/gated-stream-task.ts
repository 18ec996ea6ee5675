/**
 * `gated-mnist-mlp-stream`: the built-in `mnist-mlp-stream` (training data streamed from a dataset
 * in the bucket), except that every training step first sleeps while the `DFIT_TEST_GATE` file is
 * missing (gated-task.ts), so a test can hold a durable run inside an epoch. The sleep does not touch
 * the math: the weights equal the ungated task's. A task module for the worker and its trainer.
 */
import { registerTask } from '../../src/training/tasks';
import type { TaskDefinition } from '../../src/training/tasks';
import { mnistMlpStreamTask } from '../../src/training/tasks/mnist-stream';
import { waitAtGate } from './gated-task';

export const gatedMnistMlpStreamTask: TaskDefinition = {
  ...mnistMlpStreamTask,
  name: 'gated-mnist-mlp-stream',
  description: 'mnist-mlp-stream, held while a test gate file is missing (tests only)',
  onTrainBatchStart: () => waitAtGate(),
};

registerTask(gatedMnistMlpStreamTask);
