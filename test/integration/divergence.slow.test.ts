// Divergence rollback (issue 25) through real Temporal and MinIO, on real worker processes (cpu and
// native graph mode): a run fed a poisoned sample diverges (NaN loss) at the batch that holds it; the
// workflow rolls back to a checkpoint before the skipped window, records that window durably, skips
// exactly it, and completes with the weights of an uninterrupted run that skips the same data. A
// rerun of the same spec makes the same decision and ends with the same weights.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { skipUnlessNative } from '../helpers/native';
import { GATE_ENV, GATE_SLEEP_ENV } from '../helpers/gated-task';
import { poisonedBatch } from '../helpers/poisoned-task';
import { assertLedgerConsistent, resumePoints } from '../helpers/resume-point';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet } from '../helpers/worker-fleet';

const samples = 256;
const batchSize = 8;
const seed = 5;
const poisonRow = 77;
const spec: TrainingSpecInput = {
  task: 'poisoned-synthetic',
  epochs: 1,
  seed,
  batchSize,
  hparams: { samples, poisonRow, features: 8, hidden: 16 },
  checkpoint: { everyBatches: 4, everySeconds: 0 },
  recovery: { backoffSeconds: 0 },
  divergence: { onNonFinite: true, skipBatches: 3, rollbackSteps: 2, maxRollbacks: 2 },
};
const diverged = poisonedBatch(seed, 0, samples, batchSize, poisonRow);

for (const backend of ['cpu', 'tensorflow-graph'] as const) {
  describe(
    `divergence rollback on ${backend} workers`,
    { skip: backend === 'cpu' ? false : skipUnlessNative() },
    () => {
      let client: Client;
      let close: () => Promise<void>;
      const taskQueue = `divergence-${backend}-${process.pid}`;
      const fleet = new WorkerFleet(
        {
          ...testEnv(),
          DFIT_TASK_MODULES: path.resolve('test/helpers/poisoned-task.ts'),
          // A gate never opened: 60 ms a step, so every batch's progress reaches the activity and the
          // saves fall every 4 batches on graph mode too (its steps take well under a millisecond).
          [GATE_ENV]: path.join(os.tmpdir(), `dfit-divergence-never-${process.pid}`),
          [GATE_SLEEP_ENV]: '60',
        },
        taskQueue,
        `test-artifacts/divergence-${backend}`,
        backend,
      );

      before(async () => {
        ({ client, close } = await testClient());
        await fleet.start();
      });
      after(async () => {
        await fleet.stopAll();
        await close();
      });

      const train = async (workflowId: string) => {
        const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
          taskQueue,
          workflowId,
          args: [spec],
        });
        return { handle, result: await handle.result() };
      };

      test('a NaN loss at the poisoned batch: one rollback, the window skipped, golden weights, and a rerun decides the same', async () => {
        // Far enough in that the first save (at about batch 4, durable before the attempt fails) is
        // before the window, on graph mode too, where a save spans many tiny steps.
        assert.ok(
          diverged >= 12,
          `the poisoned sample sits at batch ${diverged}: after the first checkpoint`,
        );
        const { handle, result } = await train(`divergence-${backend}-a-${Date.now()}`);
        assert.equal(result.status, 'completed');
        const rollbacks = result.recoveries.filter((r) => r.kind === 'divergence');
        assert.equal(rollbacks.length, 1, JSON.stringify(result.recoveries));
        const [rollback] = rollbacks;
        assert.equal(rollback?.atEpoch, 0);
        assert.equal(rollback?.atBatch, diverged, 'diverged at the batch that holds the poisoned sample');
        assert.match(rollback?.reason ?? '', /loss is NaN/);
        const window = { epoch: 0, fromBatch: diverged - 2, toBatch: diverged };
        assert.deepEqual(
          result.skipped?.map(({ epoch, fromBatch, toBatch }) => ({ epoch, fromBatch, toBatch })),
          [window],
        );
        assert.equal(result.skipped?.[0]?.firstSample, window.fromBatch * batchSize);
        assert.equal(result.skipped?.[0]?.lastSample, (diverged + 1) * batchSize - 1);

        // Rolled back to a checkpoint before the window and at least rollbackSteps before the step.
        const [point] = await resumePoints(handle, result);
        assert.ok(point?.ckpt, 'the rollback resumed from a checkpoint');
        assert.ok(
          point.ckpt.step <= window.fromBatch && point.ckpt.step <= diverged - 2,
          JSON.stringify(point),
        );
        assert.ok(
          point.ckpt.step >= window.fromBatch - 4 - 2,
          'the newest such checkpoint (saves every 4 batches)',
        );
        assert.equal(
          rollback?.stepsRedone,
          diverged + 1 - point.ckpt.step,
          'the ledger counts the lost steps',
        );
        assertLedgerConsistent(result);

        // The Web UI's current details show the rollback, the skipped window and the goodput ledger.
        const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        assert.match(
          metadata.currentDetails ?? '',
          new RegExp(`- divergence at epoch 0 batch ${diverged}: resumed from `),
        );
        assert.match(
          metadata.currentDetails ?? '',
          new RegExp(`skipped after a divergence: epoch 0 batches ${window.fromBatch}-${diverged}`),
        );
        assert.match(metadata.currentDetails ?? '', /goodput [\d.]+ %: steps kept \d+ of \d+, \d+ redone/);

        const golden = await goldenWeightsSha256(spec, backend, [window]);
        assert.equal(
          result.weightsSha256,
          golden,
          'the same weights as an uninterrupted run skipping that window',
        );

        const rerun = await train(`divergence-${backend}-b-${Date.now()}`);
        assert.equal(rerun.result.weightsSha256, result.weightsSha256, 'a rerun ends with the same weights');
        assert.deepEqual(rerun.result.skipped, result.skipped, 'and skips the same data');
      });
    },
  );
}
