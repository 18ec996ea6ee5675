/**
 * `mnist-mlp-stream` and `mnist-cnn-stream`: the MNIST models trained from a dataset in the bucket
 * (docs/datasets.md) — columns `pixels` (float32, 784 values) and `label` (int32), as
 * `importMnistDataset` writes from the `mnist` package. Validation stays in memory: the last
 * `valSize` digits of the package's fixed order, which the imported rows leave out.
 *
 * Built in: their descriptors (descriptors.ts) are in the client's catalog, the full tasks are
 * registered with the others (index.ts). `registerStreamedMnistTasks()` registers them again (a no-op).
 */
import { mnistCnnStreamDescriptor, mnistMlpStreamDescriptor } from './descriptors';
import { loadMnist } from './mnist-data';
import { mnistCnnTask, mnistMlpTask } from './mnist-tasks';
import { defineTask, registerTask } from './registry';
import type { TaskData, TaskDefinition, TaskDescriptor } from './types';

const streamData: TaskData<{ dataset: string }> = {
  dataset: (h) => h.dataset,
  columns: ['pixels', 'label'],
  transform(row, x, y) {
    x.set(row.pixels as Float32Array);
    y[row.label?.[0] as number] = 1;
  },
  shuffleBuffer: 512,
};

/** `base`'s model and optimizer trained on the mnist columns of a dataset, validated in memory. */
export function streamed(
  base: TaskDefinition,
  descriptor: TaskDescriptor,
  inputShape: number[],
): TaskDefinition {
  return defineTask(descriptor, {
    buildModel: (h, seed) => base.buildModel(h, seed),
    loadDataset: (h) => {
      const { validation } = loadMnist(1, h.valSize as number, inputShape);
      const empty = { x: new Float32Array(0), y: new Float32Array(0), size: 0 };
      return { inputShape, labelShape: [10], train: empty, validation };
    },
    datasetKey: (h) => `val:${h.valSize}`,
    data: streamData as unknown as TaskData<Record<string, unknown>>,
    optimizer: (h) => base.optimizer(h),
    loss: base.loss,
    ...(base.metrics ? { metrics: base.metrics } : {}),
  });
}

export const mnistMlpStreamTask = streamed(
  mnistMlpTask as unknown as TaskDefinition,
  mnistMlpStreamDescriptor as unknown as TaskDescriptor,
  [784],
);
export const mnistCnnStreamTask = streamed(
  mnistCnnTask as unknown as TaskDefinition,
  mnistCnnStreamDescriptor as unknown as TaskDescriptor,
  [28, 28, 1],
);

/** Registers both streamed MNIST tasks (idempotent; index.ts already does). */
export function registerStreamedMnistTasks(): void {
  registerTask(mnistMlpStreamTask);
  registerTask(mnistCnnStreamTask);
}
