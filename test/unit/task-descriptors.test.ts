/**
 * A task's descriptor (name, hparams schema, metric names, unsupported backends) is apart from its
 * tfjs builder: the built-in tasks are built from their descriptors, the registry validates with
 * descriptors and trains with full tasks, and `registerTask(task)` still takes a full definition.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { TaskDefinitionError, UnknownTaskError } from '../../src/training/errors';
import { BUILT_IN_TASKS } from '../helpers/built-in-tasks';
import {
  defineTask,
  describeTask,
  digitsResnetDescriptor,
  digitsResnetStreamDescriptor,
  digitsResnetStreamTask,
  digitsResnetTask,
  getTask,
  getTaskDescriptor,
  listTasks,
  mnistCnnDescriptor,
  mnistCnnStreamDescriptor,
  mnistCnnStreamTask,
  mnistCnnTask,
  mnistMlpDescriptor,
  mnistMlpStreamDescriptor,
  mnistMlpStreamTask,
  mnistMlpTask,
  registerTask,
  registerTaskDescriptor,
  syntheticDescriptor,
  syntheticTask,
  tabularMlpStreamDescriptor,
  tabularMlpStreamTask,
  taskMetricNames,
  validateHparams,
} from '../../src/training/tasks';
import type { TaskDefinition, TaskDescriptor } from '../../src/training/tasks';

const builtins: [TaskDescriptor, TaskDefinition][] = [
  [syntheticDescriptor, syntheticTask as unknown as TaskDefinition],
  [mnistMlpDescriptor, mnistMlpTask as unknown as TaskDefinition],
  [mnistCnnDescriptor, mnistCnnTask as unknown as TaskDefinition],
  [digitsResnetDescriptor, digitsResnetTask as unknown as TaskDefinition],
  [mnistMlpStreamDescriptor as unknown as TaskDescriptor, mnistMlpStreamTask as unknown as TaskDefinition],
  [mnistCnnStreamDescriptor as unknown as TaskDescriptor, mnistCnnStreamTask as unknown as TaskDefinition],
  [
    digitsResnetStreamDescriptor as unknown as TaskDescriptor,
    digitsResnetStreamTask as unknown as TaskDefinition,
  ],
  [
    tabularMlpStreamDescriptor as unknown as TaskDescriptor,
    tabularMlpStreamTask as unknown as TaskDefinition,
  ],
];

test('each built-in task is its descriptor plus a builder, registered both ways', () => {
  assert.deepEqual(listTasks(), BUILT_IN_TASKS);
  for (const [descriptor, task] of builtins) {
    assert.equal(getTask(descriptor.name), task);
    assert.equal(getTaskDescriptor(descriptor.name), descriptor);
    assert.equal(describeTask(task), descriptor);
    assert.equal(task.hparams, descriptor.hparams);
    assert.equal(task.description, descriptor.description);
    assert.deepEqual(task.unsupportedBackends, descriptor.unsupportedBackends);
    assert.deepEqual(Object.keys(task.metrics ?? {}), [...descriptor.metricNames]);
    assert.deepEqual(taskMetricNames(descriptor), taskMetricNames(task));
    assert.deepEqual(validateHparams(descriptor, {}), validateHparams(task, {}));
  }
  assert.deepEqual(taskMetricNames(mnistCnnDescriptor), ['loss', 'valLoss', 'valAccuracy']);
  assert.match(mnistCnnDescriptor.unsupportedBackends?.wasm ?? '', /Conv2DBackpropFilter/);
  // Registering a built-in again, or its descriptor again, is a no-op.
  registerTask(syntheticTask);
  registerTaskDescriptor(syntheticDescriptor);
});

const hparams = z.object({ units: z.number().int().default(4) });
const builder = {
  buildModel: () => {
    throw new Error('not built in this test');
  },
  loadDataset: () => {
    throw new Error('not loaded in this test');
  },
  optimizer: () => ({ kind: 'sgd' as const, learningRate: 0.1 }),
  loss: syntheticTask.loss,
};

test("defineTask refuses a builder whose metrics are not the descriptor's", () => {
  const descriptor: TaskDescriptor<typeof hparams> = { name: 'm-check', hparams, metricNames: ['accuracy'] };
  assert.throws(
    () => defineTask(descriptor, { ...builder, metrics: { precision: syntheticTask.loss } }),
    (err: unknown) =>
      err instanceof TaskDefinitionError &&
      /builder's metrics \(precision\) differ from its descriptor's metricNames \(accuracy\)/.test(
        err.message,
      ),
  );
  assert.throws(() => defineTask(descriptor, builder), /builder's metrics \(none\)/);
  const task = defineTask(descriptor, { ...builder, metrics: { accuracy: syntheticTask.loss } });
  assert.equal(describeTask(task), descriptor);
});

test('a descriptor alone validates; the trainer needs the full task', () => {
  const descriptor: TaskDescriptor<typeof hparams> = {
    name: 'descriptor-first',
    description: 'registered by a client',
    hparams,
    metricNames: [],
  };
  registerTaskDescriptor(descriptor);
  assert.ok(listTasks().includes('descriptor-first'));
  assert.deepEqual(validateHparams(getTaskDescriptor('descriptor-first'), {}), { units: 4 });
  assert.throws(
    () => getTask('descriptor-first'),
    (err: unknown) =>
      err instanceof TaskDefinitionError && /only its descriptor is registered/.test(err.message),
  );
  // Another definition under that name is refused; the one built from the descriptor is taken.
  assert.throws(() => registerTask({ ...builder, name: 'descriptor-first', hparams }), /already registered/);
  assert.throws(
    () => registerTaskDescriptor({ name: 'descriptor-first', hparams, metricNames: [] }),
    /already registered/,
  );
  const task = defineTask(descriptor, builder);
  registerTask(task);
  assert.equal(getTask('descriptor-first'), task);
  assert.equal(getTaskDescriptor('descriptor-first'), descriptor);
  assert.throws(() => getTaskDescriptor('never-registered'), UnknownTaskError);
});

test('registerTask takes a full definition, as user task modules write it', () => {
  registerTask({
    ...builder,
    name: 'user-style',
    hparams,
    metrics: { accuracy: syntheticTask.loss, recall: syntheticTask.loss },
    unsupportedBackends: { wasm: 'no' },
  });
  const descriptor = getTaskDescriptor('user-style');
  assert.deepEqual(descriptor.metricNames, ['accuracy', 'recall']);
  assert.deepEqual(descriptor.unsupportedBackends, { wasm: 'no' });
  assert.deepEqual(taskMetricNames(descriptor), ['loss', 'valLoss', 'valAccuracy', 'valRecall']);
  assert.equal(getTask('user-style').name, 'user-style');
  // A copy of a built-in under a new name (as test helpers make) is its own task.
  registerTask({ ...syntheticTask, name: 'synthetic-copy' });
  assert.deepEqual(getTaskDescriptor('synthetic-copy').metricNames, ['accuracy']);
  assert.throws(() => registerTask({ ...syntheticTask }), /task "synthetic" is already registered/);
});
