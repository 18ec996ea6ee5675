// Infrastructure faults on servers of this file's own (they are stopped and corrupted on purpose):
// a corrupted latest checkpoint, MinIO stopped mid-upload, and the Temporal server restarted.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainModel } from '../../src/contract';
import type { RunningTestStack } from '../helpers/start-test-stack';
import { goldenWeightsSha256, testClient } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import type { WorkerFleet } from '../helpers/worker-fleet';
import { startOwnStack } from '../helpers/fleet-rig';
import type { OwnStack } from '../helpers/fleet-rig';
import { saveHistories } from '../helpers/histories';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { buffer } from 'node:stream/consumers';

/** Batches trained between a save falling due and its checkpoint being durable (kill-worker measures it). */
const SAVE_LAG_BATCHES = 15;
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 2,
  seed: 21,
  batchSize: 16,
  hparams: { samples: 8192, features: 32, hidden: 256 },
  checkpoint: { everyBatches: 40, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 3, backoffSeconds: 1 }, // the default budget of 10 in a row
};
let running: RunningTestStack;
let client: Client;
let fleet: WorkerFleet;
let own: OwnStack;
let golden: Promise<string>;

before(async () => {
  own = await startOwnStack({
    taskQueue: `infra-${process.pid}`,
    logDir: 'test-artifacts/infrastructure',
    workers: 2,
  });
  ({ running, client, fleet } = own);
  golden = goldenWeightsSha256(spec);
});
after(() => own?.stop());

function start(name: string) {
  return client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue: `infra-${process.pid}`,
    workflowId: `${name}-${Date.now()}`,
    args: [spec],
  });
}

test('a corrupted latest checkpoint is detected, the fallback is recorded, and the run ends golden', async () => {
  const handle = await start('corrupt');
  const victim = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 1 && (p.details?.ckpt?.batch ?? 0) >= 80,
  );
  const latest = victim.details?.ckpt?.url as string;
  const objects = createMinioObjectClient(running.stack.s3);
  const { key } = parseCheckpointUrl(latest);
  const bytes = await buffer(await objects.get(key));
  const stat = await objects.stat(key);
  const at = bytes.length - 5;
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at); // one bit flipped in the last tensor
  await objects.put(key, bytes, { metadata: stat?.metadata }); // same size and recorded hash: only the content lies
  await fleet.kill(victim.identity, 'SIGKILL');
  const replacement = fleet.start(); // awaited below: a start still pending when the test ends fails it

  const result = await handle.result();
  await replacement;
  await saveHistories(client, running.stack, handle.workflowId, 'test-artifacts/infrastructure/histories');
  assert.equal(result.weightsSha256, await golden);
  const fallback = result.recoveries.find((r) => r.kind === 'fallback');
  assert.ok(fallback, JSON.stringify(result.recoveries));
  assert.match(fallback.reason, /hash|sha-?256|corrupt/i);
  assert.notEqual(fallback.fromCkpt, latest, 'resumed from an earlier, verified checkpoint');
  assert.ok(!result.epochs.some((e) => e.ckpt.url === latest));
  // The crash resumed from the newest durable checkpoint (the one then corrupted); the fallback from
  // the newest one the run had recorded before it, the end of epoch 0.
  const [crash, back] = await resumePoints(handle, result);
  assert.ok(crash && back);
  assertResumedFromNewest(crash, {
    newest: victim.details?.ckpt,
    reached: victim.details?.batch,
    interval: spec.checkpoint?.everyBatches,
    slack: SAVE_LAG_BATCHES,
  });
  assert.equal(back.recovery.fromCkpt, result.epochs.find((e) => e.epoch === 0)?.ckpt.url);
});

test('MinIO down for 30 s mid-upload (a restart for an upgrade): the run rides through, golden', async () => {
  const handle = await start('minio-down');
  const seen = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.batch ?? 0) >= 100,
  );
  await running.stopMinio();
  // Longer than 10 fixed 1 s backoffs (what used to exhaust the budget); the doubling backoff waits it out.
  await new Promise((r) => setTimeout(r, 30_000));
  await running.startMinio();
  const result = await handle.result();
  assert.equal(result.weightsSha256, await golden);
  assert.ok((result.recoveryCount ?? 0) >= 1, JSON.stringify(result.recoveries));
  // Saves failed while MinIO was down, so the epoch went on without new checkpoints: no bound on
  // the batches redone, but every recovery resumed from the newest durable one, never the start.
  for (const point of await resumePoints(handle, result))
    assertResumedFromNewest(point, { newest: seen.details?.ckpt });
  const store = new ObjectCheckpointIO(createMinioObjectClient(running.stack.s3));
  const referenced = [
    ...result.epochs.map((e) => e.ckpt),
    ...result.recoveries.map((r) => ({ url: r.fromCkpt })),
  ];
  for (const ckpt of referenced) {
    if (!ckpt.url.startsWith('s3://')) continue;
    const state = await store.load(ckpt.url); // verifies size and SHA-256
    assert.ok(state.meta.weightsSha256.length === 64, ckpt.url);
  }
});

test('the Temporal server restarted mid-run (same database): the run completes golden', async () => {
  const handle = await start('temporal-restart');
  const seen = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.batch ?? 0) >= 100,
  );
  await running.restartTemporal();
  const { client: fresh, close: closeFresh } = await testClient(running.stack);
  try {
    const fetched = fresh.workflow.getHandle(handle.workflowId);
    const result = await fetched.result();
    assert.equal(result.status, 'completed');
    assert.equal(result.weightsSha256, await golden);
    // Heartbeats lost during the restart may time the attempt out: if so, it resumed from the newest
    // checkpoint it had heartbeated.
    for (const point of await resumePoints(fetched, result))
      assertResumedFromNewest(point, {
        newest: seen.details?.ckpt,
        interval: spec.checkpoint?.everyBatches,
        slack: SAVE_LAG_BATCHES,
      });
  } finally {
    await closeFresh();
  }
});
