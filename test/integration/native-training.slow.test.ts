/**
 * mnist-cnn on native TensorFlow through real Temporal and MinIO, on real worker processes
 * (`durable-fit worker --backend tensorflow`, and `tensorflow-graph`: graph-mode steps): two separate worker processes produce the same
 * weightsSha256 as the in-process golden run; a worker SIGKILLed mid-epoch is recovered from its
 * .ckpt bit-exactly; a SIGTERMed one saves a preemption checkpoint and the run resumes from it,
 * bit-exactly; a corrupted checkpoint is detected and the run falls back, still golden. Skipped
 * locally when native is not built; in CI it fails instead.
 */
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainingResult, TrainModel } from '../../src/contract';
import { buffer } from 'node:stream/consumers';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { Progress } from '../../src/contract';
import { skipUnlessNative } from '../helpers/native';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';
import { GATE_ENV, GATE_SLEEP_ENV } from '../helpers/gated-task';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-native-training-'));

const spec: TrainingSpecInput = {
  task: 'gated-mnist-cnn', // mnist-cnn, held at 30 ms a step while the gate file is missing
  epochs: 2,
  seed: 21,
  batchSize: 32,
  hparams: { trainSize: 6400, valSize: 500 }, // 200 batches an epoch: 6 s while held
  checkpoint: { everyBatches: 25, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 0 },
};

for (const backend of ['tensorflow', 'tensorflow-graph'] as const) describeBackend(backend);

function describeBackend(backend: 'tensorflow' | 'tensorflow-graph'): void {
  describe(`mnist-cnn on native TensorFlow workers (${backend})`, { skip: skipUnlessNative() }, () => {
    let client: Client;
    let close: () => Promise<void>;
    const taskQueue = `native-${backend}-${process.pid}`;
    // Each fault test closes the gate, so the epoch it faults is held on any machine and in any
    // step mode, and opens it once the fault is sent.
    const gate = path.join(dir, `gate-${backend}`);
    const fleet = new WorkerFleet(
      {
        ...testEnv(),
        [GATE_ENV]: gate,
        [GATE_SLEEP_ENV]: '30',
        DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
      },
      taskQueue,
      `test-artifacts/native-training-${backend}`,
      backend,
    );
    const openGate = (): void => fs.writeFileSync(gate, '');
    const closeGate = (): void => fs.rmSync(gate, { force: true });
    let golden: Promise<string>;

    before(async () => {
      openGate();
      ({ client, close } = await testClient());
      golden = goldenWeightsSha256(spec, backend);
    });
    after(async () => {
      await fleet.stopAll();
      await close();
      fs.rmSync(gate, { force: true });
    });

    async function train(workflowId: string): Promise<TrainingResult> {
      const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
        taskQueue,
        workflowId,
        args: [spec],
      });
      return await handle.result();
    }

    test(`two separate worker processes give the golden weightsSha256, recorded as ${backend}`, async () => {
      const first = await fleet.start();
      const a = await train(`native-a-${Date.now()}`);
      await fleet.kill(first.identity, 'SIGTERM');
      await fleet.start();
      const b = await train(`native-b-${Date.now()}`);
      assert.equal(a.status, 'completed');
      assert.equal(a.backend, backend);
      assert.equal(b.weightsSha256, a.weightsSha256, 'another process, the same bits');
      assert.equal(a.weightsSha256, await golden, 'and the same as the uninterrupted in-process run');
    });

    test('a worker SIGKILLed mid-epoch is recovered from its .ckpt with the golden weights', async () => {
      while (fleet.workers.size < 2) await fleet.start();
      closeGate();
      const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
        taskQueue,
        workflowId: `native-kill-${Date.now()}`,
        args: [spec],
      });
      const victim = await waitForEpoch(handle, (p) => (p.details?.ckpt?.step ?? 0) >= 50);
      await fleet.kill(victim.identity, 'SIGKILL');
      openGate();
      const result = await handle.result();
      assert.equal(result.status, 'completed');
      assert.ok(
        result.recoveries.some((r) => r.kind === 'crash'),
        'the kill was a crash recovery',
      );
      assert.equal(result.weightsSha256, await golden, `bit-exact on ${backend}`);
    });

    test('a SIGTERMed worker saves a preemption checkpoint; the run resumes from it with the golden weights', async () => {
      while (fleet.workers.size < 2) await fleet.start();
      closeGate();
      const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
        taskQueue,
        workflowId: `native-term-${Date.now()}`,
        args: [{ ...spec, checkpoint: { everyBatches: 0, everySeconds: 0 } }],
      });
      const victim = await waitForEpoch(
        handle,
        (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.batch ?? 0) >= 40,
      );
      await fleet.kill(victim.identity, 'SIGTERM'); // returns once the worker exited gracefully
      openGate();
      const result = await handle.result();
      assert.equal(result.status, 'completed');
      const preemption = result.recoveries.find((r) => r.kind === 'preemption');
      assert.match(
        preemption?.fromCkpt ?? '',
        /epoch=0000-step=\d{7}\.ckpt$/,
        'resumed from a mid-epoch save',
      );
      assert.equal(result.weightsSha256, await golden, 'checkpoint policy does not change the bits');
    });

    test('a corrupted epoch-end checkpoint is detected after a crash; the run falls back and ends golden', async () => {
      const epochEndsOnly = { ...spec, epochs: 3, checkpoint: { everyBatches: 0, everySeconds: 0 } };
      const golden3 = goldenWeightsSha256(epochEndsOnly, backend);
      await fleet.stopAll();
      await fleet.start(); // one worker: the one that resumes later holds nothing warm
      closeGate();
      const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
        taskQueue,
        workflowId: `native-corrupt-${Date.now()}`,
        args: [epochEndsOnly],
      });
      const victim = await waitForEpoch(handle, (p) => p.details?.epoch === 2 && p.details.batch >= 1);
      const bad = (await handle.query<Progress>('progress')).lastCheckpoint;
      assert.equal(bad?.epoch, 2, 'the run trains epoch 2 from the end of epoch 1');
      const objects = createMinioObjectClient(testStack().s3);
      const { key } = parseCheckpointUrl(bad.url);
      const bytes = await buffer(await objects.get(key));
      const stat = await objects.stat(key);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 0x01, bytes.length - 5); // one bit, same size
      await objects.put(key, bytes, { metadata: stat?.metadata });
      await fleet.kill(victim.identity, 'SIGKILL');
      openGate();
      await fleet.start();
      const result = await handle.result();
      assert.equal(result.status, 'completed');
      assert.ok(
        result.recoveries.some((r) => r.kind === 'fallback'),
        JSON.stringify(result.recoveries),
      );
      assert.equal(result.weightsSha256, await golden3);
    });
  });
}
