// Signed checkpoints on the real MinIO and Temporal: a checkpoint whose bytes and SHA-256 metadata
// were both replaced by someone with bucket write access but without the signing key is refused;
// a genuine signed copy re-uploaded with another tool still loads; unsigned files are refused only
// when a key is configured; an old key keeps verifying after rotation; `ckpt import` refuses what it
// cannot verify and signs only on request; a real training run with signing on ends with the
// weights of the run without it.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { CheckpointSignatureError, CheckpointUnsignedError } from '../../src/checkpoint/errors';
import { decodeCheckpoint, encodeCheckpoint, readCheckpointHeader } from '../../src/checkpoint/format';
import { PAYLOAD_SIGNATURE_KEY } from '../../src/checkpoint/payload-hash';
import { createSigning } from '../../src/checkpoint/signing';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import type { TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import { sampleState, editHeader } from '../helpers/checkpoint-fixtures';
import { rawMinioClient } from '../helpers/raw-minio';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, startTestWorker, testClient, testEnv, testOptions } from '../helpers/training';

const K1 = { id: 'fleet-2025', secret: 'a3f1c0de'.repeat(8) };
const K2 = { id: 'fleet-2026', secret: '5eed5eed'.repeat(8) };
const connection: MinioConnection = {
  ...testStack().s3,
  bucket: `ckpt-signed-${process.pid}-${Date.now() % 1e6}`,
};
const objects = createMinioObjectClient(connection);
const plain = new ObjectCheckpointIO(objects);
const keyed = new ObjectCheckpointIO(objects, { signing: createSigning([K1], K1.id) });
const runs = new ObjectRunFolder(objects);
const raw = rawMinioClient(connection);
const url = (key: string) => `s3://${connection.bucket}/${key}`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'ckpt-signed-'));

async function rawBytes(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await raw.getObject(connection.bucket, key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * What an attacker with bucket write access and no key can make: other weights, a correct embedded
 * payload hash (they can run our encoder) and the genuine file's signature copied over.
 */
function forge(genuine: Buffer): Buffer {
  const state = decodeCheckpoint(genuine);
  const evil = {
    ...state,
    tensors: state.tensors.map((t) => {
      if (t.name !== 'model/dense_1/kernel') return t;
      const data = Uint8Array.from(t.data);
      data[3] = (data[3] ?? 0) ^ 0x40; // a different weight
      return { ...t, data };
    }),
  };
  const signature = readCheckpointHeader(genuine).metadata[PAYLOAD_SIGNATURE_KEY];
  assert.ok(signature, 'the genuine file is signed');
  return editHeader(encodeCheckpoint(evil), (m) => (m[PAYLOAD_SIGNATURE_KEY] = signature));
}

/** Overwrites an object as an attacker would: new bytes, and object metadata as `store` writes it. */
async function replaceObject(key: string, body: Buffer): Promise<string> {
  const sha256 = createHash('sha256').update(body).digest('hex');
  await raw.putObject(connection.bucket, key, body, body.length, { 'x-amz-meta-sha256': sha256 });
  return sha256;
}

/** Runs the real CLI with the test stack's environment plus `env`. */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/durable-fit.cjs', ...args],
      { env: { ...testEnv(), DFIT_S3_BUCKET: connection.bucket, ...env }, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  if (!(await objects.bucketExists())) await objects.makeBucket();
});

after(async () => {
  for (const o of await objects.list('')) await objects.remove(o.key);
});

describe('signed checkpoints (MinIO)', () => {
  test('a signed save loads, and so does a copy re-uploaded with the raw client (no object metadata)', async () => {
    const saved = await keyed.save('origin', sampleState());
    const bytes = await rawBytes(saved.key);
    assert.match(
      readCheckpointHeader(bytes).metadata[PAYLOAD_SIGNATURE_KEY] ?? '',
      /^hmac-sha256:fleet-2025:/,
    );
    assert.deepEqual((await keyed.load(saved.url)).meta.cursor, sampleState().meta.cursor);
    const copyKey = 'copied/epoch=0001-step=0000030.ckpt';
    await raw.putObject(connection.bucket, copyKey, bytes, bytes.length);
    assert.equal((await keyed.stat(url(copyKey))).sha256, undefined); // the metadata is gone
    assert.deepEqual((await keyed.load(url(copyKey))).meta.cursor, sampleState().meta.cursor);
    await keyed.getToFile(url(copyKey), path.join(dir, 'copy.ckpt'));
  });

  test('tampered bytes with a correct SHA-256 header and object metadata are refused by a keyed store', async () => {
    const saved = await keyed.save('victim', sampleState());
    const forged = forge(await rawBytes(saved.key));
    const sha256 = await replaceObject(saved.key, forged);
    assert.equal((await keyed.stat(saved.url)).sha256, sha256); // the metadata checks out...
    // ...so without a key the forgery loads: this is the attack signing exists for.
    assert.notDeepEqual((await plain.load(saved.url)).tensors, sampleState().tensors);
    for (const load of [
      () => keyed.load(saved.url),
      () => keyed.loadBytes(saved.url),
      () => keyed.getToFile(saved.url, path.join(dir, 'forged.ckpt')),
    ]) {
      await assert.rejects(load(), (err: unknown) => {
        assert.ok(err instanceof CheckpointSignatureError, String(err));
        assert.equal(err.url, saved.url);
        assert.match(
          err.message,
          /failed signature verification \(signature does not match key "fleet-2025"/,
        );
        assert.match(err.message, /resume from an earlier checkpoint/);
        return true;
      });
    }
    // Stripping the signature instead does not help either.
    const stripped = editHeader(forged, (m) => delete m[PAYLOAD_SIGNATURE_KEY]);
    await replaceObject(saved.key, stripped);
    await assert.rejects(keyed.load(saved.url), CheckpointUnsignedError);
  });

  test('an unsigned checkpoint is refused when a key is configured and accepted when none is', async () => {
    const saved = await plain.save('unsigned', sampleState());
    await assert.rejects(keyed.load(saved.url), (err: unknown) => {
      assert.ok(err instanceof CheckpointUnsignedError, String(err));
      assert.match(err.message, /is not signed and a checkpoint signing key is configured/);
      assert.match(err.message, /ckpt import --sign/);
      assert.match(err.message, /DFIT_CKPT_ACCEPT_UNSIGNED=1/);
      return true;
    });
    assert.deepEqual((await plain.load(saved.url)).meta.cursor, sampleState().meta.cursor);
  });

  test('rotation: checkpoints signed with the old key id still verify while it is loaded', async () => {
    const old = await keyed.save('rotating', sampleState());
    const rotated = new ObjectCheckpointIO(objects, { signing: createSigning([K1, K2], K2.id) });
    await rotated.load(old.url);
    const cursor = { epoch: 2, batch: 0, step: 60, batchesPerEpoch: 30 };
    const fresh = await rotated.save('rotating', sampleState({ cursor }));
    assert.match(
      readCheckpointHeader(await rawBytes(fresh.key)).metadata[PAYLOAD_SIGNATURE_KEY] ?? '',
      /:fleet-2026:/,
    );
    const retired = new ObjectCheckpointIO(objects, { signing: createSigning([K2], K2.id) });
    await retired.load(fresh.url);
    await assert.rejects(
      retired.load(old.url),
      /signed with key "fleet-2025", which is not among the loaded keys/,
    );
  });

  test('ckpt import refuses unsigned and tampered files when keyed, signs only with --sign; inspect shows the key', async () => {
    const env = { DFIT_CKPT_SIGNING_KEY: `${K1.id}:${K1.secret}` };
    const unsignedFile = path.join(dir, 'unsigned.ckpt');
    writeFileSync(unsignedFile, encodeCheckpoint(sampleState()));
    const refused = await cli(['ckpt', 'import', unsignedFile, 'imported'], env);
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(refused.stderr, /is not signed and a checkpoint signing key is configured/);
    assert.equal((await runs.list('imported')).length, 0);

    const genuine = await rawBytes((await keyed.save('import-source', sampleState())).key);
    const forgedFile = path.join(dir, 'forged.ckpt');
    writeFileSync(forgedFile, forge(genuine));
    const forged = await cli(['ckpt', 'import', '--sign', forgedFile, 'imported'], env);
    assert.notEqual(forged.code, 0, forged.stdout);
    assert.match(forged.stderr, /failed signature verification/);
    assert.equal((await runs.list('imported')).length, 0);

    const signed = await cli(['ckpt', 'import', '--sign', unsignedFile, 'imported'], env);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /signed with key fleet-2025, imported/);
    const [record] = await runs.list('imported');
    assert.ok(record);
    assert.deepEqual((await keyed.load(record.url)).meta.cursor, sampleState().meta.cursor);
    const inspected = await cli(['ckpt', 'inspect', record.url, '--json'], env);
    assert.equal(inspected.code, 0, inspected.stderr);
    const report = JSON.parse(inspected.stdout) as { signature: { keyId: string; verified: boolean } };
    assert.deepEqual(report.signature, { keyId: K1.id, verified: true });
  });
});

describe('training with signing on (Temporal + MinIO)', () => {
  const taskQueue = `signed-train-${process.pid}`;
  let client: Client;
  let closeClient: () => Promise<void>;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  const signingKey = `${K2.id}:${K2.secret}`;

  before(async () => {
    ({ client, close: closeClient } = await testClient());
    worker = await startTestWorker({ ...testOptions(taskQueue), ckptSigningKey: signingKey });
  });
  after(async () => {
    await worker.stop();
    await closeClient();
  });

  test('a run signs every checkpoint, keeps the key out of history, and ends with the same weights as without signing', async () => {
    const spec: TrainingSpecInput = {
      task: 'synthetic',
      epochs: 2,
      seed: 5,
      batchSize: 16,
      hparams: { samples: 64 },
      checkpoint: { everyBatches: 2, everySeconds: 0, keepLast: 0 },
    };
    const workflowId = `signed-run-${Date.now()}`;
    const result = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId,
      args: [spec],
    });
    assert.equal(result.status, 'completed');
    // The key lives in the worker's options only: neither it nor its secret reaches history.
    const history = JSON.stringify(await client.workflow.getHandle(workflowId).fetchHistory());
    const payloads = [...history.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) =>
      Buffer.from(m[1] ?? '', 'base64').toString(),
    );
    assert.ok(
      payloads.some((p) => p.includes('synthetic')),
      'payloads were decoded',
    );
    for (const text of [history, ...payloads])
      assert.ok(!text.includes(K2.secret), 'no signing secret in history');
    assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));
    const stack = createMinioObjectClient(testStack().s3);
    const keyedStack = new ObjectCheckpointIO(stack, { signing: createSigning([K2], K2.id) });
    for (const e of result.epochs) {
      const bytes = await keyedStack.loadBytes(e.ckpt.url); // verifies the signature
      assert.match(
        readCheckpointHeader(bytes).metadata[PAYLOAD_SIGNATURE_KEY] ?? '',
        /^hmac-sha256:fleet-2026:/,
      );
    }

    // Resuming from a signed checkpoint works; from an unsigned one the run fails and says why.
    const resumed = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: `signed-resume-${Date.now()}`,
      args: [{ ...spec, epochs: 2, resumeFrom: result.epochs[0]?.ckpt.url }],
    });
    assert.equal(resumed.weightsSha256, result.weightsSha256);
    const unsigned = await new ObjectCheckpointIO(stack).save(`unsigned-${process.pid}`, sampleState());
    await assert.rejects(
      client.workflow.execute<TrainModel>(TRAIN_MODEL, {
        taskQueue,
        workflowId: `signed-refuse-${Date.now()}`,
        args: [{ ...spec, resumeFrom: unsigned.url }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError, String(err));
        const messages: string[] = [];
        for (let e: unknown = err.cause; e instanceof Error; e = e.cause) messages.push(e.message);
        assert.match(messages.join(' | '), /not signed and a checkpoint signing key is configured/);
        return true;
      },
    );
  });
});
