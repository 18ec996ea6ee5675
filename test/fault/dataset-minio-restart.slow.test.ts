// A streamed run whose shard fetch meets a MinIO that is down (issue 23 item 6), on servers of this
// file's own (MinIO is stopped and paused on purpose). The mnist digits are imported as 8 shards of
// 48 rows; the worker's trainers hold a 1-byte window (DFIT_DATASET_WINDOW), so each shard is fetched
// when the first batch that needs it is due, never ahead. The held task stops its trainer before the
// step just ahead of a batch that needs a shard not yet fetched (test/helpers/held-stream-task.ts),
// after a checkpoint of the epoch is durable; the test stops (or SIGSTOPs) MinIO and lets the
// trainer go, so the next fetch is made while MinIO is down (or hung). Three cases: MinIO restarted
// (same port and data folder) and a hung MinIO are ridden through to the uninterrupted run's weights,
// resumed from the newest checkpoint; MinIO down for longer than the infrastructure budget fails the
// run naming it. No sleeps: the test waits on the hold's marker, heartbeats and the run's history.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { resolveOptions } from '../../src/config/options';
import { TRAIN_MODEL, progressQuery } from '../../src/contract';
import type { TrainModel, TrainingResult } from '../../src/contract';
import { DatasetStore } from '../../src/data/dataset-store';
import type { ResolvedDataset } from '../../src/data/dataset-store';
import { shardOffsets, shardOfRow, streamOrder } from '../../src/data/order';
import { WINDOW_ENV } from '../../src/data/window-env';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { finalizeState } from '../../src/training/capture';
import { runSession } from '../../src/training/run-loop';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { Trainer } from '../../src/training/trainer';
import { HELD_SHUFFLE_BUFFER, HOLD_AT_ENV, HOLD_ENV, heldMarker } from '../helpers/held-stream-task';
import type { Held } from '../helpers/held-stream-task';
import { assertLedgerConsistent, assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { startTestStack } from '../helpers/start-test-stack';
import type { RunningTestStack } from '../helpers/start-test-stack';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';

const EVERY_BATCHES = 4;
const BATCH = 16;
const SEED = 23;
/** The S3 deadline the workers get: shard reads for the trainer go through the worker's client. */
const DEADLINE_S = 3;
const name = `digits-restart-${process.pid}`;
const hparams = { valSize: 64, hidden: 16, dataset: name };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-dataset-restart-'));
const LOG_DIR = 'test-artifacts/dataset-minio-restart';

let running: RunningTestStack;
let client: Client;
let close: () => Promise<void>;
let dataset: ResolvedDataset;
let uninterrupted: string;
const fleets: WorkerFleet[] = [];

function spec(recovery: Partial<NonNullable<TrainingSpecInput['recovery']>> = {}): TrainingSpecInput {
  return {
    task: 'held-mnist-mlp-stream',
    epochs: 2,
    seed: SEED,
    batchSize: BATCH,
    hparams,
    checkpoint: { everyBatches: EVERY_BATCHES, everySeconds: 0 },
    recovery: { heartbeatTimeoutSeconds: 10, backoffSeconds: 3, ...recovery },
  };
}

before(async () => {
  running = await startTestStack(resolveOptions(process.env).toolsDir);
  ({ client, close } = await testClient(running.stack));
  const store = new DatasetStore(createMinioObjectClient(running.stack.s3));
  const { version } = await importMnistDataset(store, name, { rows: 384, shardRows: 48 });
  dataset = await store.resolve(`${name}@${version}`);
  // The uninterrupted run, in this process (the test's environment sets no hold).
  await import('../helpers/held-stream-task');
  const trainer = await Trainer.create({ backend: 'cpu', datasets: store, windowBytes: 1 });
  const session = await trainer.openSession({
    task: 'held-mnist-mlp-stream',
    hparams,
    seed: SEED,
    batchSize: BATCH,
    epochs: 2,
  });
  try {
    uninterrupted = finalizeState((await runSession(session)).state).meta.weightsSha256;
  } finally {
    session.dispose();
  }
});
after(async () => {
  await Promise.all(fleets.map((f) => f.stopAll()));
  await close?.();
  await running?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The step to hold in epoch 0: the first batch H whose next batch needs a shard no earlier batch
 * read, at least two steps past the first checkpoint's boundary (batch 3 or 4: the save falls due
 * in the report of batch 2 and is taken at the boundary the request reaches). With a 1-byte window
 * that shard is fetched right after step H, when batch H + 1 is prepared.
 */
function holdPoint(): { batch: number; shard: number } {
  const rows = dataset.manifest.shards.map((s) => s.rows);
  const order = streamOrder(rows, { seed: SEED, epoch: 0, bufferSize: HELD_SHUFFLE_BUFFER });
  const offsets = shardOffsets(rows);
  const firstBatch = new Map<number, number>();
  order.forEach((row, p) => {
    const shard = shardOfRow(offsets, row);
    if (!firstBatch.has(shard)) firstBatch.set(shard, Math.floor(p / BATCH));
  });
  for (const [shard, batch] of [...firstBatch].sort((a, b) => a[1] - b[1])) {
    const held = batch - 1;
    if (held >= EVERY_BATCHES + 2) return { batch: held, shard };
  }
  throw new Error(`no batch of epoch 0 fits: shards first needed at ${JSON.stringify([...firstBatch])}`);
}

interface HeldRun {
  handle: WorkflowHandle<TrainModel>;
  point: ReturnType<typeof holdPoint>;
  release: () => void;
  fleet: WorkerFleet;
  /** The epoch attempt's heartbeat once the trainer was held and the checkpoint before it durable. */
  seen: Awaited<ReturnType<typeof waitForEpoch>>;
}

/** Starts a run on a fresh worker whose trainer holds before the step ahead of a shard fetch. */
async function startHeld(
  cell: string,
  recovery?: Partial<NonNullable<TrainingSpecInput['recovery']>>,
): Promise<HeldRun> {
  const point = holdPoint();
  const release = path.join(dir, `release-${cell}`);
  const taskQueue = `dataset-restart-${cell}-${process.pid}`;
  const logs = path.join(LOG_DIR, cell);
  fs.rmSync(logs, { recursive: true, force: true }); // a log from before would pass for this worker's start
  const fleet = new WorkerFleet(
    {
      ...testEnv(running.stack),
      DFIT_TASK_MODULES: path.resolve('test/helpers/held-stream-task.ts'),
      [HOLD_ENV]: release,
      [HOLD_AT_ENV]: `0:${point.batch}`,
      [WINDOW_ENV]: '1',
      DFIT_S3_DEADLINE: `${DEADLINE_S}s`,
      DFIT_S3_DEADLINE_PER_MIB: '1s',
    },
    taskQueue,
    logs,
  );
  fleets.push(fleet);
  await fleet.start();
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `dataset-restart-${cell}-${Date.now()}`,
    args: [spec(recovery)],
  });
  const marker = heldMarker(release);
  await waitFor(() => fs.existsSync(marker), 120_000, `the trainer to hold at batch ${point.batch}`);
  const held = JSON.parse(fs.readFileSync(marker, 'utf8')) as Held;
  assert.deepEqual([held.epoch, held.batch], [0, point.batch]);
  // A held trainer answers no snapshot request: the epoch's first checkpoint was taken before the
  // hold (the slowed steps), or it never comes.
  const seen = await waitForEpoch(
    handle,
    (p) => p.details?.ckpt?.epoch === 0 && p.details.ckpt.batch > 0,
    30_000,
  ).catch((err: Error) => {
    throw new Error(
      `no checkpoint of epoch 0 was durable while the trainer held at batch ${point.batch} ` +
        `(its request came after the hold: slow the steps more): ${err.message}`,
    );
  });
  return { handle, point, release: () => fs.writeFileSync(release, 'go'), fleet, seen };
}

async function waitFor(ok: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The type and message of the run's first failed epoch attempt's failure, once there is one. */
async function firstAttemptFailure(handle: WorkflowHandle): Promise<string> {
  let message: string | undefined;
  await waitFor(
    async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const failed = events.find((e) => e.activityTaskFailedEventAttributes);
      const failure = failed?.activityTaskFailedEventAttributes?.failure;
      const type = failure?.applicationFailureInfo?.type ?? failure?.cause?.applicationFailureInfo?.type;
      message = failure ? `${type}: ${failure.message} ${failure.cause?.message ?? ''}` : undefined;
      return message !== undefined;
    },
    60_000,
    'the epoch attempt to fail',
  );
  return message as string;
}

function shardFile(shard: number): string {
  return dataset.manifest.shards[shard]?.file as string;
}

/**
 * The run completed with the uninterrupted weights; its first recovery was the failed fetch
 * (infrastructure), resumed from the newest durable checkpoint within the interval; the ledger agrees.
 */
async function assertRodeThrough(held: HeldRun, reason: RegExp): Promise<TrainingResult> {
  const { handle, seen } = held;
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, uninterrupted);
  const [first, ...others] = await resumePoints(handle, result);
  assert.ok(first, 'the failed fetch was recovered from');
  assert.equal(first.recovery.kind, 'infrastructure', JSON.stringify(first.recovery));
  assert.match(first.recovery.reason, reason);
  assertResumedFromNewest(first, {
    newest: seen.details?.ckpt,
    reached: seen.details?.batch,
    interval: EVERY_BATCHES,
    // The held step trains before the next fetch fails (1), and a save falling due is taken at the
    // boundary its request reaches, one step later (1).
    slack: 2,
  });
  // A resume that found MinIO not yet back failed before training: infrastructure, nothing redone.
  for (const other of others) {
    assert.equal(other.recovery.kind, 'infrastructure', JSON.stringify(other.recovery));
    assert.equal(other.recovery.stepsRedone ?? 0, 0, JSON.stringify(other.recovery));
  }
  assertLedgerConsistent(result);
  const status = await handle.query(progressQuery);
  assert.deepEqual(status.goodput?.byKind, result.goodput?.byKind, 'status and result show one ledger');
  assert.equal(status.goodput?.stepsRedone, result.goodput?.stepsRedone);
  const redone = result.recoveries.map((r) => r.stepsRedone ?? 0).join(', ');
  console.error(`  ${result.recoveries.length} recovery(ies), steps redone ${redone}`);
  await held.fleet.stopAll(); // its CPU back for the next case
  return result;
}

test('MinIO restarted while a shard fetch is due mid-epoch: the run rides through to the uninterrupted weights', async () => {
  const held = await startHeld('restart');
  await running.stopMinio();
  const stopped = Date.now();
  held.release();
  const failure = await firstAttemptFailure(held.handle);
  const failedMs = Date.now() - stopped;
  await running.startMinio();
  console.error(
    `  fetch failed ${failedMs} ms after MinIO stopped; MinIO back after ${Date.now() - stopped} ms`,
  );
  assert.match(failure, /DatasetFetchError/, failure);
  const file = shardFile(held.point.shard);
  assert.ok(failure.includes(file), `the failure names shard ${file}: ${failure}`);
  await assertRodeThrough(held, /DatasetFetchError/);
});

test('MinIO hung (SIGSTOP) while a shard fetch is due: the fetch fails at the S3 deadline and the run rides through', async () => {
  const held = await startHeld('hung');
  running.pauseMinio();
  const paused = Date.now();
  let failure: string;
  try {
    held.release();
    failure = await firstAttemptFailure(held.handle);
  } finally {
    running.continueMinio();
  }
  const failedMs = Date.now() - paused;
  console.error(`  fetch failed ${failedMs} ms after MinIO was paused (deadline ${DEADLINE_S} s)`);
  assert.match(failure, /DatasetFetchError/, failure);
  assert.match(failure, /deadline/, failure);
  // Not before the deadline (the read waited on the hung store), and not much after it.
  assert.ok(failedMs >= DEADLINE_S * 1000, `failed after ${failedMs} ms`);
  assert.ok(failedMs < DEADLINE_S * 1000 + 15_000, `failed after ${failedMs} ms`);
  await assertRodeThrough(held, /DatasetFetchError.*deadline/);
});

test('MinIO down for longer than the recovery budget allows: the run fails naming the budget', async () => {
  const { handle, release, fleet } = await startHeld('budget', { maxInfraRetries: 2, backoffSeconds: 1 });
  await running.stopMinio();
  const stopped = Date.now();
  try {
    release();
    const failure = await handle.result().then(
      () => assert.fail('the run completed with MinIO down'),
      (err: unknown) => err as Error & { cause?: Error },
    );
    const message = String(failure.cause?.message ?? failure.message);
    console.error(`  the run failed ${Date.now() - stopped} ms after MinIO stopped: ${message}`);
    assert.match(message, /consecutive infrastructure budget of 2 exhausted/, message);
    assert.equal((await handle.describe()).status.name, 'FAILED');
    // The failed fetch, then a resume that could not load its checkpoint: both infrastructure.
    const status = await handle.query(progressQuery);
    assert.deepEqual(
      status.recoveries.map((r) => r.kind),
      ['infrastructure', 'infrastructure'],
      JSON.stringify(status.recoveries),
    );
    assert.match(status.recoveries[0]?.reason ?? '', /DatasetFetchError/);
  } finally {
    await running.startMinio();
    await fleet.stopAll();
  }
});
