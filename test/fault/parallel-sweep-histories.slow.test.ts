// Replay fixtures of a data-parallel run and of a sweep (issue 21), recorded from real runs: real
// worker processes, the Temporal dev server and MinIO. The data-parallel run continues as new after
// every round and meets a trainer crash (infrastructure), a worker SIGKILL (crash) and a checkpoint-
// now, pause and resume inside a round; the ASHA sweep continues as new, stops trials early at its
// first rung and has a trial that fails (an invalid hyperparameter). Both end as they should, and
// their histories replay against the current workflow code; they are saved under
// test-artifacts/parallel-sweep-histories, where the committed fixtures
// (test/fixtures/histories/parallel-*.json, sweep-*.json) were taken from.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { ShardHeartbeat, TrainParallel } from '../../src/contract';
import type { Sweep, SweepInput } from '../../src/contract/sweep';
import { SWEEP, SWEEP_ID } from '../../src/contract/sweep';
import type { TrainingSpecInput } from '../../src/spec';
import { GATE_ENV, GATE_SLEEP_ENV } from '../helpers/gated-task';
import { replayFiles, saveHistories } from '../helpers/histories';
import { waitForShard } from '../helpers/pending-shards';
import { testStack } from '../helpers/stack-env';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet } from '../helpers/worker-fleet';
import { referenceWeightsSha256 } from '../integration/parallel-reference';
import { waitForStatus } from '../helpers/poll';

const taskQueue = `parallel-sweep-histories-${process.pid}`;
const artifacts = 'test-artifacts/parallel-sweep-histories';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-parallel-sweep-histories-'));
const gate = path.join(dir, 'gate'); // closed: 250 ms a step, a round of 20 steps lasts about 5 s
const env = {
  ...testEnv(),
  [GATE_ENV]: gate,
  [GATE_SLEEP_ENV]: '250',
  DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
};
const fleet = new WorkerFleet(env, taskQueue, artifacts);
let client: Client;
let close: () => Promise<void>;

before(async () => {
  ({ client, close } = await testClient());
  await Promise.all([fleet.start(), fleet.start()]); // one shard per worker
});
after(async () => {
  await fleet.stopAll();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** 64 samples, 2 shards of 32, batch 8: 4 shard batches a data epoch; 15 epochs = 3 rounds of 20. */
const spec: TrainingSpecInput = {
  task: 'gated-synthetic',
  epochs: 15,
  seed: 17,
  batchSize: 8,
  hparams: { samples: 64 },
  checkpoint: { everyBatches: 5, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 1 },
  continueAsNewEvery: 1,
  parallel: { shards: 2, syncEverySteps: 20 },
};

test('data-parallel run: trainer crash, worker SIGKILL, checkpoint-now and pause in rounds; reference weights; replays', async () => {
  const reference = referenceWeightsSha256({
    seed: 17,
    epochs: 15,
    batchSize: 8,
    samples: 64,
    shards: 2,
    syncEverySteps: 20,
  });
  const workflowId = `parallel-history-${Date.now()}`;
  const handle = await client.workflow.start<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  const savedInRound = (round: number, shard: number) => (d: ShardHeartbeat) =>
    d.round === round && d.shard === shard && d.ckpt?.epoch === round && d.ckpt.batch > 0 && d.batch <= 12;
  const failure = 'the shard never reached the expected point of its round';

  // Round 0: shard 0's trainer child dies (the attempt fails at once: infrastructure).
  const first = await waitForShard(handle, savedInRound(0, 0), failure);
  const [trainer] = fleet.trainerPids(first.identity);
  assert.ok(trainer, 'the worker runs a trainer child');
  process.kill(trainer, 'SIGKILL');
  // Round 1: shard 1's worker is SIGKILLed (its heartbeat times out: a crash).
  const second = await waitForShard(handle, savedInRound(1, 1), failure);
  await fleet.kill(second.identity, 'SIGKILL');
  const replacement = fleet.start();
  // Round 2: checkpoint-now, then pause both shards inside the round, then resume.
  await waitForShard(handle, (d) => d.round === 2 && d.batch >= 2, failure);
  await handle.signal('checkpointNow');
  await handle.signal('pause');
  await waitForStatus(handle, 'paused');
  fs.writeFileSync(gate, 'open');
  await handle.signal('resume');

  const result = await handle.result();
  await replacement;
  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, await reference);
  assert.deepEqual(
    result.recoveries.map((r) => [r.kind, r.atEpoch]),
    [
      ['infrastructure', 0],
      ['crash', 1],
    ],
  );
  const files = await saveHistories(client, testStack(), workflowId, `${artifacts}/parallel`);
  assert.ok(files.length >= 3, `${files.length} executions (one per round)`);
  assert.deepEqual(await replayFiles(files), []);
});

test('ASHA sweep: continue-as-new, trials stopped at a rung and one failed trial; replays', async () => {
  const input: SweepInput = {
    task: 'synthetic',
    seed: 2, // draws hidden 0, 4, 8, 8
    epochs: 2,
    trials: 4,
    concurrency: 2,
    metric: 'valLoss',
    mode: 'min',
    continueAsNewEvery: 2,
    search: { kind: 'asha', reductionFactor: 2, rungs: [1, 2] },
    space: { hidden: { kind: 'choice', values: [4, 8, 0] } }, // hidden 0 is refused: that trial fails
    base: {
      batchSize: 16,
      hparams: { samples: 64, valSamples: 32 },
      recovery: { heartbeatTimeoutSeconds: 5, backoffSeconds: 0.1 },
    },
  };
  const workflowId = `sweep-history-${Date.now()}`;
  // Started without the client's check of the space (`startSweep` refuses hidden 0), as a client of
  // another SDK could: the trial with hidden 0 fails in prepareRun, and the sweep goes on without it.
  const handle = await client.workflow.start<Sweep>(SWEEP, {
    taskQueue,
    workflowId,
    args: [input],
    typedSearchAttributes: [{ key: SWEEP_ID, value: workflowId }],
  });
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  const states = result.trials.map((t) => t.state);
  assert.ok(states.includes('failed'), `a trial failed: ${states.join(', ')}`);
  assert.ok(states.includes('stopped'), `a trial was stopped at rung 0: ${states.join(', ')}`);
  const files = await saveHistories(client, testStack(), workflowId, `${artifacts}/sweep`);
  assert.ok(files.length >= 2, `${files.length} executions (continue-as-new)`);
  assert.deepEqual(await replayFiles(files), []);
});
