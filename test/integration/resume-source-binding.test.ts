// A run's starting checkpoint (`resumeFrom`, a fork's `forkedFrom.ckpt`) is bound to what was read
// (issue 22 item 4), on the real Temporal dev server and MinIO: a file copied in without our object
// metadata is recorded with the SHA-256 of the bytes the run verified, not '', and a file whose
// cursor disagrees with the `epoch=`/`step=` its key names is refused, naming both.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import type { PreparedRun, TrainEpochInput, TrainingResult, TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { testStack } from '../helpers/stack-env';
import { startTestRig, testOptions } from '../helpers/training';
import type { TestRig } from '../helpers/training';

const taskQueue = `resume-source-${process.pid}`;
const objects = createMinioObjectClient(testStack().s3);
const store = new ObjectCheckpointIO(objects);
const tag = `${process.pid}-${Date.now() % 1e6}`;
const good = { task: 'synthetic', seed: 5, batchSize: 16, hparams: { samples: 64 } }; // 4 batches an epoch
let client: Client;
let rig: TestRig;
/** The fixture run's final checkpoint (cursor epoch 1, step 4) and its bytes. */
let source: { url: string; bytes: Buffer; sha256: string };

before(async () => {
  rig = await startTestRig(testOptions(taskQueue));
  ({ client } = rig);
  const result = await train({ ...good, epochs: 1 }).result();
  const { url } = result.finalCheckpoint;
  assert.match(url, /\/epoch=0001-step=0000004\.ckpt$/);
  const bytes = await buffer(await objects.get(parseCheckpointUrl(url).key));
  source = { url, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
});
after(() => rig?.stop());

function train(spec: TrainingSpecInput): {
  handle: Promise<WorkflowHandle<TrainModel>>;
  result: () => Promise<TrainingResult>;
} {
  const workflowId = `resume-source-${tag}-${Math.random().toString(36).slice(2, 8)}`;
  const handle = client.workflow.start<TrainModel>(TRAIN_MODEL, { taskQueue, workflowId, args: [spec] });
  return { handle, result: async () => (await handle).result() };
}

/** Copies the fixture's bytes to `key` with another tool: no object metadata at all. */
async function copyWithoutMetadata(key: string): Promise<string> {
  await objects.put(key, source.bytes);
  const url = `s3://${store.bucket}/${key}`;
  assert.equal((await store.stat(url)).sha256, undefined, 'the copy carries no sha256 metadata');
  return url;
}

/** What `prepareRun` returned and what the first epoch activity was handed, from the run's history. */
async function recorded(
  handle: WorkflowHandle,
): Promise<{ prepared: PreparedRun; epochInput: TrainEpochInput }> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes);
  const prepareAt = scheduled.findIndex((a) => a?.activityType?.name === 'prepareRun');
  const completed = events.find(
    (e) =>
      Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) ===
      Number(events[prepareAt]?.eventId),
  );
  const prepared = defaultPayloadConverter.fromPayload<PreparedRun>(
    completed!.activityTaskCompletedEventAttributes!.result!.payloads![0]!,
  );
  const epoch = scheduled.find((a) => /^(train|resume)Epoch$/.test(a?.activityType?.name ?? ''));
  const epochInput = defaultPayloadConverter.fromPayload<TrainEpochInput>(epoch!.input!.payloads![0]!);
  return { prepared, epochInput };
}

/** Starts the run and returns its failure (type and message) and how many activity attempts it took. */
async function failure(
  spec: TrainingSpecInput,
): Promise<{ type?: string; message: string; attempts: number }> {
  const run = train(spec);
  const err = await run.result().then(
    () => assert.fail('the run should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  const cause = err.cause as { type?: string; message: string };
  const history = await (await run.handle).fetchHistory();
  const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).length;
  return { type: cause.type, message: cause.message, attempts };
}

describe('a resume source copied in without our metadata', () => {
  test('resumeFrom: the run records the SHA-256 of the bytes it read, and completes', async () => {
    const url = await copyWithoutMetadata(`copied-${tag}/epoch=0001-step=0000004.ckpt`);
    const run = train({ ...good, epochs: 2, resumeFrom: url });
    const result = await run.result();
    assert.equal(result.status, 'completed');
    const { prepared, epochInput } = await recorded(await run.handle);
    assert.equal(prepared.resumeFrom?.url, url);
    assert.equal(prepared.resumeFrom?.sha256, source.sha256, 'the run record holds the hash of the bytes');
    assert.equal(prepared.resumeFrom?.bytes, source.bytes.length);
    assert.equal(epochInput.ckpt?.sha256, source.sha256, 'the epoch is handed the recorded hash');
  });

  test('forkedFrom: the fork records the SHA-256 of its source', async () => {
    const url = await copyWithoutMetadata(`copied-fork-${tag}/epoch=0001-step=0000004.ckpt`);
    const run = train({ ...good, epochs: 1, seed: 6, forkedFrom: { ckpt: url } });
    const result = await run.result();
    assert.equal(result.status, 'completed');
    const { prepared, epochInput } = await recorded(await run.handle);
    assert.equal(prepared.initFrom?.sha256, source.sha256);
    assert.equal(epochInput.initFrom?.sha256, source.sha256);
  });
});

describe('a checkpoint under a key whose epoch=/step= disagree with the cursor inside', () => {
  for (const [name, key, keyCursor] of [
    ['wrong step', `moved-step-${tag}/epoch=0001-step=0000099.ckpt`, /epoch 1, step 99/],
    ['wrong epoch', `moved-epoch-${tag}/epoch=0000-step=0000004.ckpt`, /epoch 0, step 4/],
  ] as const) {
    test(`resumeFrom with a ${name}: refused, naming the key's and the file's cursor`, async () => {
      // With our metadata (its hash is right): the file is intact, only its name lies.
      await objects.put(key, source.bytes, { metadata: { sha256: source.sha256 } });
      const url = `s3://${store.bucket}/${key}`;
      const failed = await failure({ ...good, epochs: 3, resumeFrom: url });
      assert.equal(failed.type, 'CheckpointCursorMismatchError', failed.message);
      assert.ok(failed.message.includes(url), failed.message);
      assert.match(failed.message, keyCursor, "the key's cursor");
      assert.match(failed.message, /epoch 1, step 4\b/, "the file's cursor");
      assert.match(failed.message, /epoch=0001-step=0000004\.ckpt/, 'the key it belongs under');
      assert.equal(failed.attempts, 1, 'non-retryable: one attempt');
    });
  }

  test('forkedFrom with a wrong step: refused the same way', async () => {
    const key = `moved-fork-${tag}/epoch=0001-step=0000007.ckpt`;
    await objects.put(key, source.bytes);
    const url = `s3://${store.bucket}/${key}`;
    const failed = await failure({ ...good, epochs: 1, seed: 6, forkedFrom: { ckpt: url } });
    assert.equal(failed.type, 'CheckpointCursorMismatchError', failed.message);
    assert.match(failed.message, /epoch 1, step 7\b/);
    assert.match(failed.message, /epoch 1, step 4\b/);
    assert.equal(failed.attempts, 1, 'non-retryable: one attempt');
  });
});
