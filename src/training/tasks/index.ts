/**
 * Task plugin API and the built-in tasks, registered on first import: their descriptors through
 * the catalog (catalog.ts, no tfjs), then the full tasks built from them (tfjs).
 */
import './catalog';
import { digitsResnetTask } from './digits-resnet';
import { digitsResnetStreamTask } from './digits-resnet-stream';
import { mnistCnnTask, mnistMlpTask } from './mnist-tasks';
import { mnistCnnStreamTask, mnistMlpStreamTask } from './mnist-stream';
import { registerTask } from './registry';
import { syntheticTask } from './synthetic';
import { tabularMlpStreamTask } from './tabular-stream';

registerTask(syntheticTask);
registerTask(mnistMlpTask);
registerTask(mnistCnnTask);
registerTask(digitsResnetTask);
registerTask(mnistMlpStreamTask);
registerTask(mnistCnnStreamTask);
registerTask(digitsResnetStreamTask);
registerTask(tabularMlpStreamTask);

export {
  defineTask,
  describeTask,
  getTask,
  getTaskDescriptor,
  listTasks,
  registerTask,
  registerTaskDescriptor,
  taskMetricNames,
  validateHparams,
} from './registry';
export { createSeedSequence } from './seeds';
export { accuracy, oneHotRows, softmaxCrossEntropy } from './common';
export { syntheticTask } from './synthetic';
export { mnistCnnTask, mnistMlpTask } from './mnist-tasks';
export { digitsResnetTask } from './digits-resnet';
export { digitsResnetStreamTask } from './digits-resnet-stream';
export { mnistCnnStreamTask, mnistMlpStreamTask } from './mnist-stream';
export { tabularMlpStreamTask } from './tabular-stream';
export { tabularMlpStreamDescriptor } from './tabular-descriptor';
export {
  digitsResnetDescriptor,
  digitsResnetStreamDescriptor,
  mnistCnnDescriptor,
  mnistCnnStreamDescriptor,
  mnistMlpDescriptor,
  mnistMlpStreamDescriptor,
  syntheticDescriptor,
} from './descriptors';
export type {
  BatchScalarFn,
  DatasetSplit,
  OptimizerConfig,
  TaskBuilder,
  TaskData,
  TaskDataset,
  TaskDefinition,
  TaskDescriptor,
} from './types';
