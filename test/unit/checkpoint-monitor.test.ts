// Top-K's monitored metric must be one the task reports: a misspelling would rank nothing and leave
// only the newest checkpoint, so it is refused at validation with the task's metric names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertMonitorKnown } from '../../src/checkpoint/monitor';
import { parseSpec, InvalidSpecError } from '../../src/spec';
import { getTask, taskMetricNames } from '../../src/training/tasks';

const spec = (monitor: string) =>
  parseSpec({ task: 'synthetic', epochs: 5, seed: 1, checkpoint: { topK: { k: 2, monitor, mode: 'min' } } });

test('each built-in task declares loss, valLoss and val<Metric> for its metrics', () => {
  assert.deepEqual(taskMetricNames(getTask('synthetic')), ['loss', 'valLoss', 'valAccuracy']);
  assert.deepEqual(taskMetricNames(getTask('mnist-mlp')), ['loss', 'valLoss', 'valAccuracy']);
});

test('a known monitor passes; an unknown one is an InvalidSpecError listing the metrics', () => {
  const metrics = taskMetricNames(getTask('synthetic'));
  for (const ok of metrics) assertMonitorKnown(spec(ok), metrics);
  assertMonitorKnown(parseSpec({ task: 'synthetic', epochs: 1, seed: 1 }), metrics);
  assert.throws(
    () => assertMonitorKnown(spec('val_loss'), metrics),
    (err: unknown) =>
      err instanceof InvalidSpecError &&
      /"val_loss" \(did you mean "valLoss"\?\); its metrics are loss, valLoss, valAccuracy/.test(err.message),
  );
  assert.throws(() => assertMonitorKnown(spec('f1'), metrics), /no metric "f1"; its metrics are/);
});
