// Bounds on untrusted input, on the real Temporal dev server and MinIO: hparams that would exhaust a
// worker are refused by the client before a workflow exists (with the allowed range); a resumeFrom
// larger than the worker's limit is refused from its size alone, before any GET; a checkpoint whose
// cursor is negative or fractional is refused with the field named.
import type { TrainingSpecInput, TrainModel } from '../../src/contract';
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { startTraining, validateSpecInput } from '../../src/client';
import { encodeCheckpoint, decodeContainer, encodeContainerParts } from '../../src/checkpoint/format';
import { PAYLOAD_SHA256_KEY } from '../../src/checkpoint/payload-hash';
import { CheckpointTooLargeError } from '../../src/checkpoint/size-limit';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { InvalidHparamsError } from '../../src/training/errors';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { ObjectClient } from '../../src/storage/object-client';
import { largeState, sampleState } from '../helpers/checkpoint-fixtures';
import { testStack } from '../helpers/stack-env';
import { startTestWorker, testClient, testOptions } from '../helpers/training';
import { cli } from '../e2e/cli-helpers';

const taskQueue = `input-bounds-${process.pid}`;
/** The test worker's limit: above the small checkpoints here (about 1.2 KB), below the big one (200 KB). */
const LIMIT = 64 * 1024;
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const objects = createMinioObjectClient(testStack().s3);
const folder = `input-bounds-${Date.now()}`;

before(async () => {
  ({ client, close } = await testClient());
  worker = await startTestWorker({ ...testOptions(taskQueue), maxCheckpointBytes: LIMIT });
});
after(async () => {
  await worker.stop();
  await close();
});

/** Runs a spec to its end and returns the failure the workflow reports (type and message). */
async function runFailure(workflowId: string, spec: object): Promise<{ type?: string; message: string }> {
  const err = await client.workflow
    .execute<TrainModel>(TRAIN_MODEL, { taskQueue, workflowId, args: [spec as TrainingSpecInput] }) // out of bounds on purpose
    .then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  return err.cause as { type?: string; message: string };
}

const spec = { task: 'synthetic', epochs: 1, seed: 1, batchSize: 16 };

test('hidden: 1e9 is refused by the client with the allowed range, and no workflow starts', async () => {
  const workflowId = `huge-hidden-${Date.now()}`;
  const huge = { ...spec, task: 'mnist-mlp', hparams: { hidden: 1e9 } };
  await assert.rejects(startTraining(client, huge, { workflowId, taskQueue }), (err: Error) => {
    assert.ok(err instanceof InvalidHparamsError, String(err));
    assert.match(err.message, /hidden: must be an integer from 1 to 65536/);
    return true;
  });
  await assert.rejects(client.workflow.getHandle(workflowId).describe(), WorkflowNotFoundError);
  // The CLI says the same and exits 2; a big but sane model is accepted.
  const args = [
    'start',
    '--task',
    'mnist-mlp',
    '--epochs',
    '1',
    '--seed',
    '1',
    '--hparam',
    'hidden=1000000000',
  ];
  const r = await cli([...args, '--workflow-id', `${workflowId}-cli`], taskQueue);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /hidden: must be an integer from 1 to 65536/);
  await assert.rejects(client.workflow.getHandle(`${workflowId}-cli`).describe(), WorkflowNotFoundError);
  const big = { ...spec, task: 'mnist-mlp', hparams: { hidden: 32768 } };
  assert.equal(validateSpecInput(big, 'w').hparams.hidden, 32768);
});

test('a resumeFrom larger than the limit is refused from its size, before a byte is downloaded', async () => {
  const key = `${folder}/big/epoch=0001-step=0000030.ckpt`;
  const bytes = encodeCheckpoint(largeState(0.2));
  assert.ok(bytes.length > LIMIT, `the checkpoint (${bytes.length} bytes) is over the limit`);
  await objects.put(key, bytes);
  const url = `s3://${objects.bucket}/${key}`;

  // The store alone, on MinIO, with every GET counted: it stats the object and stops there.
  const gets: string[] = [];
  const counting: ObjectClient = {
    ...objects,
    get: (k: string) => (gets.push(k), objects.get(k)),
    getRange: (k: string, offset: number, length: number) => (
      gets.push(k),
      objects.getRange(k, offset, length)
    ),
  };
  const store = new ObjectCheckpointIO(counting, { maxCheckpointBytes: LIMIT });
  await assert.rejects(store.load(url), CheckpointTooLargeError);
  await assert.rejects(store.getToFile(url, '/nonexistent/never-written.ckpt'), CheckpointTooLargeError);
  assert.deepEqual(gets, [], 'no GET was sent');
  const unlimited = new ObjectCheckpointIO(counting);
  await unlimited.loadBytes(url);
  assert.deepEqual(
    [...new Set(gets)],
    [key],
    'the same object downloads under the default limit (the count works)',
  );

  // Through a run: prepareRun fails at once, permanently, saying how to raise the limit.
  const cause = await runFailure(`too-big-${Date.now()}`, { ...spec, resumeFrom: url });
  assert.equal(cause.type, 'CheckpointTooLargeError', cause.message);
  assert.match(cause.message, new RegExp(`${bytes.length} bytes.*DFIT_MAX_CHECKPOINT_BYTES=${bytes.length}`));
});

test('a checkpoint with a negative or fractional cursor is refused, naming the field', async () => {
  const cases = [
    {
      name: 'negative',
      cursor: { epoch: -1, batch: 0, step: 30, batchesPerEpoch: 30 },
      field: 'cursor.epoch',
    },
    {
      name: 'fractional',
      cursor: { epoch: 1, batch: 0.5, step: 30, batchesPerEpoch: 30 },
      field: 'cursor.batch',
    },
  ];
  for (const c of cases) {
    // What an attacker with bucket write access can do: rewrite the cursor and re-embed a matching hash.
    const { tensors, metadata } = decodeContainer(encodeCheckpoint(sampleState()));
    const { [PAYLOAD_SHA256_KEY]: _old, ...rest } = metadata;
    const forged = encodeContainerParts(tensors, { ...rest, cursor: JSON.stringify(c.cursor) });
    const key = `${folder}/${c.name}/epoch=0001-step=0000030.ckpt`;
    await objects.put(key, Buffer.concat(forged.parts));
    const url = `s3://${objects.bucket}/${key}`;

    const store = new ObjectCheckpointIO(objects);
    await assert.rejects(
      store.load(url),
      new RegExp(`bad-metadata: ${c.field}: must be a non-negative integer`),
    );
    const cause = await runFailure(`cursor-${c.name}-${Date.now()}`, { ...spec, resumeFrom: url });
    assert.equal(cause.type, 'CheckpointCorruptError', cause.message);
    assert.match(cause.message, new RegExp(`${c.field}: must be a non-negative integer`));
  }
});
