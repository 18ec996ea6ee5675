// SIGKILL (twice, different shards) or SIGTERM the worker process training one shard of a
// data-parallel round, after that shard saved a checkpoint inside the round. Only that shard is
// started again (from its newest checkpoint, on another worker); the other shards' results stay;
// the final weights equal the plain-tfjs reference's. The run's goodput ledger (issue 22) counts the
// shard steps each recovery redid, as its resume point implies, and trained = kept + redone.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { GATE_ENV, GATE_SLEEP_ENV } from '../helpers/gated-task';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet } from '../helpers/worker-fleet';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { assertParallelLedgerConsistent } from '../helpers/parallel-ledger';
import { shardInputs, waitForShard } from '../helpers/pending-shards';
import type { PendingShard } from '../helpers/pending-shards';
import { referenceWeightsSha256 } from '../integration/parallel-reference';

const taskQueue = `parallel-kill-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-parallel-kill-'));
// Never opened: gated-synthetic sleeps 250 ms per step, so a round of 20 steps lasts about 5 s. A
// shard's heartbeat is up to 1 s (4 steps) old when seen: a fault seen at step 12 or before lands
// before the round's step 20 (at 100 ms a step, one seen at step 19 could land after it: CI saw a
// SIGTERM miss its round).
const gate = path.join(dir, 'gate');
const env = {
  ...testEnv(),
  [GATE_ENV]: gate,
  [GATE_SLEEP_ENV]: '250',
  DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
};
const fleet = new WorkerFleet(env, taskQueue, 'test-artifacts/parallel-kill');
let client: Client;
let close: () => Promise<void>;

const spec: TrainingSpecInput = {
  task: 'gated-synthetic',
  epochs: 20,
  seed: 5,
  batchSize: 8,
  hparams: { samples: 96 },
  checkpoint: { everyBatches: 5, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 0 },
  parallel: { shards: 3, syncEverySteps: 20 },
};

const FAULTS: { round: number; shard: number; signal: NodeJS.Signals }[] = [
  { round: 1, shard: 1, signal: 'SIGKILL' },
  { round: 2, shard: 0, signal: 'SIGKILL' },
  { round: 3, shard: 2, signal: 'SIGTERM' },
];

before(async () => {
  ({ client, close } = await testClient());
  // One shard per worker: killing one worker kills exactly one shard.
  await Promise.all([fleet.start(), fleet.start(), fleet.start()]);
});
after(async () => {
  await fleet.stopAll();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two SIGKILLs and a SIGTERM of shards’ workers mid-round re-run only those shards, from their checkpoints; same weights', async () => {
  const reference = referenceWeightsSha256({
    seed: 5,
    epochs: 20,
    batchSize: 8,
    samples: 96,
    shards: 3,
    syncEverySteps: 20,
  });
  const handle = await client.workflow.start<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `parallel-kill-${Date.now()}`,
    args: [spec],
  });
  // Each fault hits one shard once a checkpoint it saved inside the round is durable, before the
  // round ends: SIGKILL shard 1 in round 1 and shard 0 in round 2, SIGTERM shard 2 in round 3.
  const victims: ((typeof FAULTS)[number] & PendingShard)[] = [];
  const replacements: Promise<unknown>[] = [];
  for (const fault of FAULTS) {
    const victim = await waitForShard(
      handle,
      (d) =>
        d.shard === fault.shard &&
        d.round === fault.round &&
        d.ckpt?.epoch === fault.round &&
        d.ckpt.batch > 0 &&
        d.batch <= 12,
      'the shard never reached a checkpoint inside its round',
    );
    await fleet.kill(victim.identity, fault.signal);
    replacements.push(fleet.start()); // the resumed shard may also go to a worker free now
    victims.push({ ...fault, ...victim });
  }

  const result = await handle.result();
  await Promise.all(replacements); // each is up before the fleet is stopped
  assert.equal(result.status, 'completed');
  assert.equal(await reference, result.weightsSha256, 'bit-exact with the reference');

  const inputs = await shardInputs(handle);
  const byShard = (round: number, shard: number) =>
    inputs.filter((i) => i.round === round && i.shard === shard);
  const hit = (round: number, shard: number) => FAULTS.some((f) => f.round === round && f.shard === shard);
  for (let round = 0; round < 4; round++)
    for (let shard = 0; shard < 3; shard++)
      assert.equal(byShard(round, shard).length, hit(round, shard) ? 2 : 1, `round ${round} shard ${shard}`);
  for (const victim of victims) {
    const rerun = byShard(victim.round, victim.shard)[1];
    const reason = victim.signal === 'SIGKILL' ? 'crash' : 'preemption';
    assert.equal(rerun?.reason, reason, `${victim.signal} of shard ${victim.shard}`);
    if (victim.signal === 'SIGKILL')
      assert.equal(
        rerun?.resumeFrom?.url,
        victim.details.ckpt?.url,
        'resumed from the checkpoint it had heartbeated',
      );
    // SIGTERM: the shard stops at a batch boundary and saves there, so it resumes from a newer one.
    else
      assert.ok(
        (rerun?.resumeFrom?.step ?? 0) >= (victim.details.ckpt?.step ?? Infinity),
        'from its last save',
      );
    const pattern = new RegExp(
      `/parallel/round=000${victim.round}/shard=0${victim.shard}/step=\\d{7}-try=0\\.ckpt$`,
    );
    assert.match(rerun?.resumeFrom?.url ?? '', pattern);
    assert.equal(result.rounds?.[victim.round]?.shards[victim.shard]?.recoveries, 1);
  }
  assert.equal(result.recoveryCount, FAULTS.length);
  assert.deepEqual(
    result.recoveries.map((r) => r.kind),
    ['crash', 'crash', 'preemption'],
  );
  // Each recovery resumed its shard from the newest checkpoint it had saved in the round, at the
  // step it had reached; a crash redid at most one save interval (a step is 100 ms here, so a save
  // is at most a step late), a preemption nothing.
  const points = await resumePoints(handle, result);
  points.forEach((point, i) =>
    assertResumedFromNewest(point, {
      newest: victims[i]?.details.ckpt,
      reached: victims[i]?.details.batch,
      interval: victims[i]?.signal === 'SIGKILL' ? (spec.checkpoint?.everyBatches ?? 0) : 0,
      slack: 1,
    }),
  );
  // The ledger, in shard steps: each recovery's steps redone (checked against its resume point
  // above) were handed to the resumed shard for its worker's steps-redone counter; 3 shards × 20
  // steps × 4 rounds were kept, and every other step trained was redone.
  points.forEach(({ recovery }, i) => {
    const victim = victims[i];
    assert.ok(victim && recovery.stepsRedone !== undefined, `recovery ${i} counts its steps redone`);
    assert.equal(byShard(victim.round, victim.shard)[1]?.stepsRedone, recovery.stepsRedone);
  });
  assertParallelLedgerConsistent(result, { shards: 3, steps: 20, rounds: 4 });
  const byKind = result.goodput?.byKind;
  assert.deepEqual([byKind?.crash?.failures, byKind?.preemption?.failures], [2, 1]);
});
