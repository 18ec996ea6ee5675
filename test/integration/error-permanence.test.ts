// A permanent error fails the run at once, through the real activity boundary and the real trainer
// process: a conv task on a wasm worker (no conv gradient kernels) used to be retried as
// "infrastructure" ten times because its class was missing from a hand-kept list of names.
import type { TrainModel } from '../../src/contract';
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { startTestWorker, testClient, testOptions } from '../helpers/training';

const taskQueue = `error-permanence-${process.pid}`;
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

before(async () => {
  ({ client, close } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue, 'wasm'));
});
after(async () => {
  await worker.stop();
  await close();
});

test('a conv task on a wasm worker fails at once with BackendUnsupportedError, no recoveries', async () => {
  const workflowId = `conv-on-wasm-${Date.now()}`;
  const spec = {
    task: 'mnist-cnn',
    epochs: 1,
    seed: 5,
    batchSize: 16,
    hparams: { trainSize: 64, valSize: 32 },
  };
  const err = await client.workflow
    .execute<TrainModel>(TRAIN_MODEL, { taskQueue, workflowId, args: [spec] })
    .then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  const cause = err.cause as { type?: string; message: string };
  assert.equal(cause.type, 'BackendUnsupportedError', cause.message);
  assert.match(cause.message, /cannot train on the wasm backend.*DFIT_BACKEND=cpu/);
  // prepareRun and one epoch attempt: the failure was not treated as a crash or infrastructure.
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
  const types = scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
  assert.deepEqual(types, ['prepareRun', 'trainEpoch']);
});
