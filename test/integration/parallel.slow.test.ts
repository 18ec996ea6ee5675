// Data-parallel rounds end to end (real Temporal + MinIO, an in-process worker with trainer
// processes): K = 3 shards, H = 20 steps per round, against a plain-tfjs reference of the algorithm.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { startTestWorker, testClient, testOptions } from '../helpers/training';
import { referenceWeightsSha256 } from './parallel-reference';
import { assertParallelLedgerConsistent } from '../helpers/parallel-ledger';

const taskQueue = `parallel-${process.pid}`;
let client: Client;
let closeClient: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

/** 96 samples, 3 shards of 32, batch 8: 4 shard batches per epoch; 20 epochs = 80 steps = 4 rounds of 20. */
const PARALLEL_SPEC: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 20,
  seed: 5,
  batchSize: 8,
  hparams: { samples: 96 },
  checkpoint: { everyBatches: 5, everySeconds: 0 },
  parallel: { shards: 3, syncEverySteps: 20 },
};

before(async () => {
  ({ client, close: closeClient } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue), { maxConcurrentTrainings: 2 });
});
after(async () => {
  await worker.stop();
  await closeClient();
});

test('K=3, H=20: rounds of shard activities merge to the reference implementation’s weights', async () => {
  const reference = await referenceWeightsSha256({
    seed: 5,
    epochs: 20,
    batchSize: 8,
    samples: 96,
    shards: 3,
    syncEverySteps: 20,
  });
  const workflowId = `parallel-${Date.now()}`;
  const result = await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [PARALLEL_SPEC],
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.rounds?.length, 4, 'four rounds');
  for (const round of result.rounds ?? []) {
    assert.deepEqual(
      round.shards.map((s) => s.shard),
      [0, 1, 2],
    );
    assert.match(round.ckpt, new RegExp(`/parallel/round=000${round.round + 1}/global\\.ckpt$`));
  }
  assert.equal(result.recoveryCount, 0);
  // Per round: the slowest shard, the merge, the rest (scheduling and round trips), bytes merged.
  for (const r of result.rounds ?? []) {
    assert.ok((r.mergeBytes ?? 0) > 0 && (r.roundMs ?? 0) >= (r.mergeMs ?? 0));
    const timing = `round ${r.round}: ${r.roundMs} ms = shard ${r.shardMs} + merge ${r.mergeMs} + other`;
    console.log(`${timing}; merge moved ${r.mergeBytes} bytes`);
  }
  const { searchAttributes } = await client.workflow.getHandle(workflowId).describe();
  assert.deepEqual(searchAttributes.DfitEpoch, [4], 'DfitEpoch counts merged rounds');
  assert.deepEqual(searchAttributes.DfitShards, ['3']);
  assert.notEqual(result.weightsSha256, '');
  assert.equal(result.weightsSha256, reference);
  // The goodput ledger in shard steps: 3 shards × 20 steps × 4 rounds trained, all kept.
  assertParallelLedgerConsistent(result, { shards: 3, steps: 20, rounds: 4 });
  assert.deepEqual([result.goodput?.stepsTrained, result.goodput?.stepsRedone], [240, 0]);
});

test('the nesterov merge: outer momentum kept in the global checkpoints, still the reference’s weights', async () => {
  const outer = { optimizer: 'nesterov' as const, lr: 0.7, momentum: 0.9 };
  const spec = { ...PARALLEL_SPEC, epochs: 10, parallel: { shards: 3, syncEverySteps: 20, outer } };
  const reference = await referenceWeightsSha256({
    seed: 5,
    epochs: 10,
    batchSize: 8,
    samples: 96,
    shards: 3,
    syncEverySteps: 20,
    nesterov: { lr: 0.7, momentum: 0.9 },
  });
  const result = await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `parallel-nesterov-${Date.now()}`,
    args: [spec],
  });
  assert.equal(result.rounds?.length, 2);
  assert.equal(result.weightsSha256, reference);
  const average = await referenceWeightsSha256({
    seed: 5,
    epochs: 10,
    batchSize: 8,
    samples: 96,
    shards: 3,
    syncEverySteps: 20,
  });
  assert.notEqual(result.weightsSha256, average, 'the outer step changed the weights');
});

test('continue-as-new after every round carries the rounds forward: same weights as in one execution', async () => {
  const spec = { ...PARALLEL_SPEC, epochs: 15, continueAsNewEvery: 1 };
  const workflowId = `parallel-can-${Date.now()}`;
  const result = await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  const reference = await referenceWeightsSha256({
    seed: 5,
    epochs: 15,
    batchSize: 8,
    samples: 96,
    shards: 3,
    syncEverySteps: 20,
  });
  assert.equal(result.weightsSha256, reference);
  assert.deepEqual(
    result.rounds?.map((r) => r.round),
    [0, 1, 2],
  );
  // The ledger travelled with the record: every round's shard steps are in the last execution's.
  assertParallelLedgerConsistent(result, { shards: 3, steps: 20, rounds: 3 });
  assert.equal(result.goodput?.stepsTrained, 180);
  const description = await client.workflow.getHandle(workflowId).describe();
  const firstRunId = description.raw.workflowExecutionInfo?.firstRunId;
  assert.ok(firstRunId, 'the first run is known');
  assert.notEqual(description.runId, firstRunId, 'it continued as new');
});
