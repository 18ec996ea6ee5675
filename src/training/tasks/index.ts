/** Task plugin API and the built-in tasks, registered on first import. */
import { digitsResnetTask } from './digits-resnet';
import { mnistCnnTask, mnistMlpTask } from './mnist-tasks';
import { registerTask } from './registry';
import { syntheticTask } from './synthetic';

registerTask(syntheticTask);
registerTask(mnistMlpTask);
registerTask(mnistCnnTask);
registerTask(digitsResnetTask);

export { getTask, listTasks, registerTask, taskMetricNames, validateHparams } from './registry';
export { createSeedSequence } from './seeds';
export { accuracy, oneHotRows, softmaxCrossEntropy } from './common';
export { syntheticTask } from './synthetic';
export { mnistCnnTask, mnistMlpTask } from './mnist-tasks';
export { digitsResnetTask } from './digits-resnet';
export type { BatchScalarFn, DatasetSplit, OptimizerConfig, TaskDataset, TaskDefinition } from './types';
