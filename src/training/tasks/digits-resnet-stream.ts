/**
 * `digits-resnet-stream`: the digits-resnet model trained from a dataset in the bucket
 * (docs/datasets.md) with the columns `pixels` (float32 [28, 28, 1]) and `label` (int32), as
 * `importMnistDataset` writes them. The rows are trained as they are: for augmented training, import
 * the augmented rows as the dataset (bench/data-stall.ts imports digits-resnet's own training set).
 * Validation stays in memory: the last `valSize` digits of the package's fixed order.
 */
import { digitsResnetTask } from './digits-resnet';
import { digitsResnetStreamDescriptor } from './descriptors';
import { streamed } from './mnist-stream';
import type { TaskDefinition, TaskDescriptor } from './types';

export const digitsResnetStreamTask = streamed(
  digitsResnetTask as unknown as TaskDefinition,
  digitsResnetStreamDescriptor as unknown as TaskDescriptor,
  [28, 28, 1],
);
