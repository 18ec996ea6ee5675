// A real-sized model (6.5 M parameters, ~78 MB checkpoints with Adam's state) on real workers:
// intra-epoch checkpoints every few batches under the default heartbeat timeout cost no recovery,
// slow epoch-end work (validation and a 78 MB upload) outlasting a 2 s timeout costs none either,
// a SIGKILL resumes golden, and a SIGSTOPped trainer is killed and recovered from within a bound
// (issue 10 items 0 and 15).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import { TRAIN_MODEL } from '../../src/contract';
import type { Progress, TrainModel } from '../../src/contract';
import { goldenWeightsSha256, testEnv } from '../helpers/training';
import { WorkerFleet, pendingEpoch, waitForEpoch } from '../helpers/worker-fleet';
import { startFleet } from '../helpers/fleet-rig';
import type { Fleet } from '../helpers/fleet-rig';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';

const taskQueue = `real-size-${process.pid}`;
/** 784 × 8192 + 8192 × 10 ≈ 6.5 M weights: a 78 MB checkpoint with Adam's two slots. */
const big = { hidden: 8192, trainSize: 640, valSize: 200 };
let client: Client;
let fleet: WorkerFleet;
let rig: Fleet;

before(async () => {
  rig = await startFleet({ taskQueue, logDir: 'test-artifacts/real-size', workers: 2, backend: 'wasm' });
  ({ client, fleet } = rig);
});
after(() => rig?.stop());

async function run(spec: TrainingSpecInput, id: string) {
  const workflowId = `${id}-${Date.now()}`;
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  return { handle, workflowId };
}

test('6.5 M parameters, a checkpoint every 4 batches, default heartbeat timeout: no recovery at all', async () => {
  const spec = {
    task: 'mnist-mlp',
    epochs: 1,
    seed: 31,
    hparams: big,
    checkpoint: { everyBatches: 4, everySeconds: 0 },
  };
  const { handle } = await run(spec, 'big-ckpts');
  const seen = new Set<string>();
  let finished = false;
  const watching = (async () => {
    while (!finished) {
      const ckpt = (await pendingEpoch(handle).catch(() => undefined))?.details?.ckpt;
      if (ckpt) seen.add(ckpt.url);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const result = await handle.result().finally(() => (finished = true));
  await watching;
  assert.deepEqual(result.recoveries, [], JSON.stringify(result.recoveries));
  assert.ok(seen.size >= 2, `${seen.size} intra-epoch checkpoints were heartbeated as durable`);
});

test('epoch-end validation and upload outlasting a 2 s heartbeat timeout: no recovery', async () => {
  const spec = {
    task: 'mnist-mlp',
    epochs: 2,
    seed: 33,
    hparams: { ...big, trainSize: 128, valSize: 1500 },
    checkpoint: { everyBatches: 0, everySeconds: 0 },
    recovery: { heartbeatTimeoutSeconds: 2 },
  };
  const { handle } = await run(spec, 'slow-epoch-end');
  const result = await handle.result();
  assert.deepEqual(result.recoveries, [], JSON.stringify(result.recoveries));
});

test('the same model survives a SIGKILL mid-epoch and ends with the golden weights', async () => {
  const spec = {
    task: 'mnist-mlp',
    epochs: 1,
    seed: 32,
    hparams: big,
    checkpoint: { everyBatches: 5, everySeconds: 0 },
  };
  const golden = goldenWeightsSha256(spec, 'wasm');
  const { handle } = await run(spec, 'big-kill');
  const victim = await waitForEpoch(handle, (p) => p.details?.ckpt !== undefined, 300_000);
  await fleet.kill(victim.identity, 'SIGKILL');
  await fleet.start();
  const result = await handle.result();
  assert.equal(result.recoveries.length, 1, JSON.stringify(result.recoveries));
  assert.equal(result.recoveries[0]?.kind, 'crash');
  assert.equal(result.recoveries[0]?.fromCkpt, victim.details?.ckpt?.url);
  assert.equal(result.weightsSha256, await golden);
  const [point] = await resumePoints(handle, result);
  assert.ok(point);
  assertResumedFromNewest(point, { newest: victim.details?.ckpt, reached: victim.details?.batch });
});

test('a SIGSTOPped trainer is killed after the hang timeout and the run recovers within 4 s of it', async () => {
  const hangQueue = `${taskQueue}-hang`;
  const hangFleet = new WorkerFleet(
    { ...testEnv(), DFIT_TRAINER_HANG_TIMEOUT: '3s' },
    hangQueue,
    'test-artifacts/real-size-hang',
    'wasm',
  );
  const worker = await hangFleet.start();
  try {
    const spec = {
      task: 'synthetic',
      epochs: 2,
      seed: 9,
      batchSize: 16,
      hparams: { samples: 16384, features: 32, hidden: 256 },
      checkpoint: { everyBatches: 100, everySeconds: 0 },
      recovery: { backoffSeconds: 0.5 },
    };
    const golden = goldenWeightsSha256(spec, 'wasm');
    const workflowId = `hang-${Date.now()}`;
    const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
      taskQueue: hangQueue,
      workflowId,
      args: [spec],
    });
    const seen = await waitForEpoch(handle, (p) => p.details?.ckpt !== undefined);
    const [trainer] = hangFleet.trainerPids(worker.identity);
    assert.ok(trainer, 'the worker has a trainer child');
    process.kill(trainer, 'SIGSTOP');
    const stoppedAt = Date.now();
    for (;;) {
      const progress = await handle.query<Progress>('progress');
      if (progress.recoveries.length > 0) {
        assert.match(progress.recoveries[0]?.reason ?? '', /hung/);
        break;
      }
      assert.ok(Date.now() - stoppedAt < 30_000, 'no recovery 30 s after the trainer stopped');
      await new Promise((r) => setTimeout(r, 100));
    }
    const took = Date.now() - stoppedAt;
    assert.ok(took < 3000 + 4000, `recovery recorded ${took} ms after SIGSTOP (hang timeout 3 s + 4 s)`);
    assert.ok(
      !fs.existsSync(`/proc/${trainer}`) || fs.readFileSync(`/proc/${trainer}/stat`, 'utf8').includes(') Z'),
    );
    const result = await handle.result();
    assert.equal(result.weightsSha256, await golden);
    // TrainerHungError is an infrastructure failure: it resumes from the newest durable checkpoint.
    const [point] = await resumePoints(handle, result);
    assert.ok(point);
    assertResumedFromNewest(point, {
      newest: seen.details?.ckpt,
      reached: seen.details?.batch,
      interval: spec.checkpoint.everyBatches,
      slack: 15, // batches between a save falling due and its being durable (kill-worker measures it)
    });
  } finally {
    await hangFleet.stopAll();
  }
});
