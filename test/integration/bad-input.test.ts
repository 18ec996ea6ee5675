// Bad input: each case is a clear, non-retryable error at the client or in the first activity
// (as when a run is started with Temporal's own CLI), writes nothing, and disturbs no other run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { validateSpecInput } from '../../src/client';
import { readCheckpointHeader } from '../../src/checkpoint/format';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainingSpecInput, TrainModel } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { startTestRig, startTestWorker, testOptions } from '../helpers/training';
import type { TestRig } from '../helpers/training';
import { buffer } from 'node:stream/consumers';
import { createHash } from 'node:crypto';

const taskQueue = `bad-input-${process.pid}`;
const objects = createMinioObjectClient(testStack().s3);
const good = { task: 'synthetic', epochs: 1, seed: 3, batchSize: 16, hparams: { samples: 64 } };
let client: Client;
let rig: TestRig;
let ckpt: string;

before(async () => {
  rig = await startTestRig(testOptions(taskQueue));
  ({ client } = rig);
  const result = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `bad-input-fixture-${Date.now()}`,
    args: [good],
  });
  ckpt = result.finalCheckpoint.url;
  await objects.put(`${runOf(ckpt)}/notes.txt`, Buffer.from('not a checkpoint'));
  const future = await withFormatVersion(ckpt, 99);
  const sha256 = createHash('sha256').update(future).digest('hex');
  await objects.put(`${runOf(ckpt)}/future.ckpt`, future, { metadata: { sha256 } });
});
after(() => rig?.stop());

function runOf(url: string): string {
  return parseCheckpointUrl(url).key.split('/')[0] as string;
}

/** A copy of a checkpoint whose header claims another format version. */
async function withFormatVersion(url: string, version: number): Promise<Buffer> {
  const bytes = await buffer(await objects.get(parseCheckpointUrl(url).key));
  const header = readCheckpointHeader(bytes);
  const json = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
  json.__metadata__.format_version = String(version);
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  assert.ok(header);
  return Buffer.concat([prefix, Buffer.from(text), bytes.subarray(8 + Number(bytes.readBigUInt64LE(0)))]);
}

/** Starts the run as `temporal workflow start` would (no client-side checks) and returns its failure. */
async function serverFailure(spec: unknown): Promise<{ type?: string; message: string; workflowId: string }> {
  const workflowId = `bad-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    // Deliberately not a valid spec: what a hand-written `temporal workflow start --input` can send.
    await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId,
      args: [spec as TrainingSpecInput],
    });
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const cause = err.cause as { type?: string; message: string };
    return { type: cause.type, message: cause.message, workflowId };
  }
  assert.fail('the run should have failed');
}

const CASES: { name: string; spec: () => unknown; type: string; message: RegExp; client: boolean }[] = [
  {
    name: 'unknown task',
    spec: () => ({ ...good, task: 'nope' }),
    type: 'UnknownTaskError',
    message: /unknown task "nope".*synthetic/,
    client: true,
  },
  {
    name: 'epochs 0',
    spec: () => ({ ...good, epochs: 0 }),
    type: 'InvalidSpecError',
    message: /epochs/,
    client: true,
  },
  {
    name: 'negative epochs',
    spec: () => ({ ...good, epochs: -2 }),
    type: 'InvalidSpecError',
    message: /epochs/,
    client: true,
  },
  {
    name: 'fractional epochs',
    spec: () => ({ ...good, epochs: 1.5 }),
    type: 'InvalidSpecError',
    message: /epochs.*int/,
    client: true,
  },
  {
    name: 'batch size 0',
    spec: () => ({ ...good, batchSize: 0 }),
    type: 'InvalidSpecError',
    message: /batchSize/,
    client: true,
  },
  {
    name: 'unknown hparam',
    spec: () => ({ ...good, hparams: { bogus: 1 } }),
    type: 'InvalidHparamsError',
    message: /unknown hparam bogus/,
    client: true,
  },
  {
    name: 'wrongly typed hparam',
    spec: () => ({ ...good, hparams: { hidden: 'many' } }),
    type: 'InvalidHparamsError',
    message: /hidden/,
    client: true,
  },
  {
    name: 'heartbeat timeout under 1 s',
    spec: () => ({ ...good, recovery: { heartbeatTimeoutSeconds: 0.5 } }),
    type: 'InvalidSpecError',
    message: /heartbeatTimeoutSeconds must be at least 1 second/,
    client: true,
  },
  {
    name: 'run name with ../',
    spec: () => ({ ...good, runName: '../escape' }),
    type: 'InvalidSpecError',
    message: /runName/,
    client: true,
  },
  {
    name: 'run name with /',
    spec: () => ({ ...good, runName: 'a/b' }),
    type: 'InvalidSpecError',
    message: /runName.*path separator/,
    client: true,
  },
  {
    name: 'run name with spaces',
    spec: () => ({ ...good, runName: 'my run' }),
    type: 'InvalidSpecError',
    message: /runName.*whitespace/,
    client: true,
  },
  {
    name: 'resumeFrom a prefix',
    spec: () => ({ ...good, resumeFrom: `s3://durable-fit/${runOf(ckpt)}/` }),
    type: 'CheckpointIsPrefixError',
    message: /point at a \.ckpt file; found \d+ checkpoints? under that prefix, newest: s3:\/\//,
    client: false,
  },
  {
    name: 'resumeFrom a missing object',
    spec: () => ({ ...good, resumeFrom: ckpt.replace(/epoch=\d+/, 'epoch=0042') }),
    type: 'CheckpointNotFoundError',
    message: /not found|does not exist|no checkpoint/i,
    client: false,
  },
  {
    name: 'resumeFrom a non-.ckpt object',
    spec: () => ({ ...good, resumeFrom: `s3://durable-fit/${runOf(ckpt)}/notes.txt` }),
    type: 'NotACkptError',
    message: /\.ckpt/,
    client: false,
  },
  {
    name: 'resumeFrom a checkpoint of another task',
    spec: () => ({ ...good, task: 'mnist-mlp', hparams: {}, resumeFrom: ckpt }),
    type: 'IncompatibleResumeError',
    message: /task "synthetic", not "mnist-mlp"/,
    client: false,
  },
  {
    name: 'a misspelled top-K metric (it would rank nothing and delete every checkpoint but the newest)',
    spec: () => ({ ...good, checkpoint: { topK: { k: 2, monitor: 'val_loss', mode: 'min' } } }),
    type: 'InvalidSpecError',
    message: /no metric "val_loss" \(did you mean "valLoss"\?\); its metrics are loss, valLoss, valAccuracy/,
    client: true,
  },
  {
    name: 'resumeFrom a checkpoint of another topology',
    spec: () => ({ ...good, epochs: 2, hparams: { samples: 64, hidden: 99 }, resumeFrom: ckpt }),
    type: 'IncompatibleResumeError',
    message: /hparams\.hidden is 8 in the checkpoint, 99 here/,
    client: false,
  },
  {
    name: 'resumeFrom a newer format version',
    spec: () => ({ ...good, resumeFrom: `s3://durable-fit/${runOf(ckpt)}/future.ckpt` }),
    type: 'UnsupportedFormatVersionError',
    message: /version/,
    client: false,
  },
];

describe('bad input', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      if (c.client) assert.throws(() => validateSpecInput(c.spec(), 'client-check'), c.message);
      const failure = await serverFailure(c.spec());
      assert.equal(failure.type, c.type, failure.message);
      assert.match(failure.message, c.message);
      const history = await client.workflow.getHandle(failure.workflowId).fetchHistory();
      const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).length;
      assert.equal(attempts, 1, 'non-retryable: one attempt');
      assert.deepEqual(await objects.list(failure.workflowId), [], 'nothing written'); // any run folder of it
    });
  }

  test('wrong S3 credentials: a clear error naming the variables to set', async () => {
    const queue = `${taskQueue}-badcreds`;
    const options = { ...testOptions(queue), s3SecretKey: 'wrong-secret-123' };
    const badWorker = await startTestWorker(options);
    try {
      const workflowId = `bad-creds-${Date.now()}`;
      const err = await client.workflow
        .execute<TrainModel>(TRAIN_MODEL, { taskQueue: queue, workflowId, args: [good] })
        .catch((e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError);
      assert.equal((err.cause as { type?: string }).type, 'S3CredentialsError');
      assert.match(String(err.cause?.message), /DFIT_S3_ACCESS_KEY and DFIT_S3_SECRET_KEY/);
    } finally {
      await badWorker.stop();
    }
  });

  test('other runs are not disturbed: a good run still completes', async () => {
    const result = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: `bad-input-good-${Date.now()}`,
      args: [good],
    });
    assert.equal(result.status, 'completed');
  });
});
