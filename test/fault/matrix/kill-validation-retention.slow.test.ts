// Fault matrix (issue 22), process faults in two phases of an epoch run that no network proxy
// reaches by itself. During validation: the gated task's metric functions hold the trainer inside
// epoch 0's validation (after its last batch, before the epoch-end checkpoint) and say so in a
// marker file; the cell SIGKILLs the worker, or the trainer child. During retention: a run with
// `keepLast 1` whose retention after epoch 0 has its second DELETE held at the S3 hold proxy; the
// cell SIGKILLs the worker running it. Two workers (a replacement starts after each kill), S3
// through the hold proxy; every batch sleeps 50 ms while the training gate is closed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultRunName } from '../../../src/checkpoint/keys';
import { ObjectRunFolder } from '../../../src/checkpoint/run-folder';
import { createMinioObjectClient } from '../../../src/storage/minio-adapter';
import { GATE_SLEEP_ENV, VALIDATION_GATE_ENV, validationMarker } from '../../helpers/gated-task';
import { assertResumedFromNewest, resumePoints } from '../../helpers/resume-point';
import { WorkerFleet, waitForEpoch } from '../../helpers/worker-fleet';
import type { PendingEpoch } from '../../helpers/worker-fleet';
import { assertConsistent, measureCell, recordRedone, recordTimeline, timelineOf } from './cell';
import type { CellMeasure } from './cell';
import {
  BACKOFF_S,
  DEADLINE_S,
  GATE_ENV,
  Gate,
  HEARTBEAT_TIMEOUT_S,
  INTERVAL,
  killWorker,
  matrixSpec,
  openMatrixFile,
} from './fixture';
import type { MatrixFile } from './fixture';
import { waitForRetry, waitForStartedActivity, waitForValidation, within } from './phases';

const taskQueue = `matrix-kill-epoch-${process.pid}`;
/** Batches of an epoch of the matrix run (fixture.ts: 2048 samples of 16). */
const BATCHES = 128;
/** Sleep per batch while the training gate is closed: an epoch of 6.4 s, a save every 0.4 s. */
const STEP_SLEEP_MS = 50;
/** Batches a save may fall behind its due step (progress reports reach the activity every 50 ms). */
const SAVE_LAG = 3;
/** A save that began before the trainer reached validation is durable and heartbeated by then. */
const SETTLE_MS = 1500;
/** The "no hang beyond heartbeat timeout + backoff + deadline", plus 2 s of scheduling. */
const RECOVERY_BOUND_S = HEARTBEAT_TIMEOUT_S + BACKOFF_S + DEADLINE_S;
const SCHEDULING_S = 2;
const WORKERS = 2;
/** Longest wait for a run to end once its fault is over. */
const RESULT_MS = 120_000;

let file: MatrixFile;
let fleet: WorkerFleet;
let runs: ObjectRunFolder;
let gate: Gate;
let validation: Gate;

before(async () => {
  file = await openMatrixFile('kill-validation-retention');
  runs = new ObjectRunFolder(createMinioObjectClient(file.stack.s3));
  gate = new Gate(file.tmp, 'train');
  validation = new Gate(file.tmp, 'validation');
  gate.open();
  validation.open();
  fleet = new WorkerFleet(
    {
      ...file.env,
      DFIT_S3_ENDPOINT: file.hold.endpoint,
      [GATE_ENV]: gate.file,
      [GATE_SLEEP_ENV]: String(STEP_SLEEP_MS),
      [VALIDATION_GATE_ENV]: validation.file,
    },
    taskQueue,
    file.logDir,
  );
  await Promise.all(Array.from({ length: WORKERS }, () => fleet.start()));
});
after(async () => {
  await fleet?.stopAll();
  await file?.close();
});

/** Runs a cell with both gates open at its end, and the fleet back at its size. */
async function cell(row: CellMeasure, body: (row: CellMeasure) => Promise<void>): Promise<void> {
  try {
    await measureCell(row, body);
  } finally {
    gate.open();
    validation.open();
  }
}

/** Starts workers until the fleet has its size again (after a kill). */
async function topUp(): Promise<void> {
  const missing = WORKERS - fleet.workers.size;
  await Promise.all(Array.from({ length: Math.max(0, missing) }, () => fleet.start()));
}

/** The newest checkpoint of `epoch` (by its cursor) in the run's folder, if any. */
async function newestOfEpoch(runName: string, epoch: number): Promise<string | undefined> {
  const listed = (await runs.list(runName)).filter((c) => c.epoch === epoch);
  return listed.sort((a, b) => a.step - b.step || (a.url < b.url ? -1 : 1)).pop()?.url;
}

/**
 * The trainer is held in validation (seen at `seenAt`): it can start no other save. Waits until any
 * save begun before is durable (SETTLE_MS) and the attempt's heartbeat carries the newest epoch-0
 * checkpoint in the bucket; returns that heartbeat.
 */
async function settled(handle: WorkflowHandle, runName: string, seenAt: number): Promise<PendingEpoch> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const seen = await waitForEpoch(handle, (p) => p.details?.ckpt?.epoch === 0, 10_000);
    const newest = await newestOfEpoch(runName, 0);
    if (Date.now() >= seenAt + SETTLE_MS && newest !== undefined && seen.details?.ckpt?.url === newest)
      return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the heartbeat never carried the newest checkpoint of epoch 0 in ${runName}`);
}

for (const victim of ['worker', 'trainer'] as const) {
  const fault = victim === 'worker' ? 'worker SIGKILL' : 'trainer child SIGKILL';
  test(`${fault} during validation: resumed from the epoch's newest checkpoint, its steps since redone`, async () => {
    await cell(
      {
        cell: `${victim}-kill-during-validation`,
        fault,
        phase: "during validation (after the epoch's last batch, before its epoch-end checkpoint)",
        interval: INTERVAL,
        expect:
          `the ${victim === 'worker' ? 'worker' : 'trainer child'} is SIGKILLed while epoch 0's validation ` +
          'runs: one recovery from the newest intra-epoch checkpoint, only the steps since it redone, ' +
          'validation done again in the resumed attempt (its metrics recorded), golden',
      },
      async (row) => {
        const spec = matrixSpec();
        fs.rmSync(validationMarker(validation.file), { force: true });
        gate.close();
        validation.close();
        const handle = await file.start(taskQueue, `${victim}-kill-validation`, spec);
        const runName = defaultRunName(handle.workflowId, handle.firstExecutionRunId);
        const { held, seenAt } = await waitForValidation(validation.file);
        assert.deepEqual(
          [held.epoch, held.batch],
          [0, BATCHES - 1],
          "held in epoch 0's validation, after its last batch",
        );
        const seen = await settled(handle, runName, seenAt);
        const newest = seen.details?.ckpt;
        assert.ok(newest, 'an intra-epoch checkpoint of epoch 0 is durable');
        assert.equal(
          await newestOfEpoch(runName, 1),
          undefined,
          'no epoch-end checkpoint yet: validation comes first',
        );
        const faultAt = Date.now();
        if (victim === 'worker') await killWorker(fleet, seen.identity);
        else process.kill(held.pid, 'SIGKILL');
        validation.open();
        gate.open(); // the rest at full speed
        const replaced = topUp();
        const result = await within(handle.result(), RESULT_MS, 'the run');
        await replaced;
        const timeline = await timelineOf(handle, faultAt);
        recordTimeline(row, timeline, faultAt);
        const points = await resumePoints(handle, result);
        recordRedone(row, points, result);
        const sinceNewest = BATCHES - newest.batch;
        row.redoneBound = `the epoch's batches after its newest checkpoint (${sinceNewest})`;
        row.recoveryBoundSeconds = RECOVERY_BOUND_S;
        (row.notes ??= []).push(
          `held at epoch 0 batch ${held.batch} (trainer ${held.pid}); newest checkpoint ${newest.url.split('/').pop()}`,
        );
        await assertConsistent(result, spec, file.golden, file.stack);
        assert.equal(points.length, 1, JSON.stringify(result.recoveries));
        const [point] = points;
        if (victim === 'worker') {
          assert.equal(point?.recovery.kind, 'crash');
          assert.match(point?.recovery.reason ?? '', /heartbeat/i);
        } else {
          assert.equal(point?.recovery.kind, 'infrastructure');
          assert.match(point?.recovery.reason ?? '', /TrainerCrashed|trainer/i);
        }
        assert.equal(point?.recovery.atEpoch, 0);
        assertResumedFromNewest(point!, {
          newest,
          reached: seen.details?.batch,
          interval: sinceNewest,
        });
        // The saves kept pace: the newest checkpoint is within an interval (and save lag) of the end.
        assert.ok(
          sinceNewest <= INTERVAL + SAVE_LAG,
          `newest checkpoint at batch ${newest.batch}: saves fell behind`,
        );
        assert.ok(Number.isFinite(result.epochs[0]?.metrics.valAccuracy), "epoch 0's validation metrics");
        assert.ok(
          (timeline.resumedAt ?? Infinity) - faultAt <= (RECOVERY_BOUND_S + SCHEDULING_S) * 1000,
          `resumed ${row.recoverySeconds} s after the kill; bound ${RECOVERY_BOUND_S} s + ${SCHEDULING_S} s`,
        );
      },
    );
  });
}

test('worker SIGKILL during retention: retried elsewhere, the run completes keeping what the policy keeps', async () => {
  await cell(
    {
      cell: 'worker-kill-during-retention',
      fault: 'worker SIGKILL',
      phase: 'during retention (keepLast 1, after epoch 0: its second DELETE held)',
      interval: INTERVAL,
      expect:
        'the worker applying retention after epoch 0 is SIGKILLed between two DELETEs: retention is ' +
        'given to another worker within heartbeat timeout + backoff + deadline, no checkpoint the run ' +
        'still needs is deleted, the run completes golden, and its folder ends with exactly what ' +
        'keepLast 1 keeps (the final checkpoint)',
    },
    async (row) => {
      const spec = {
        ...matrixSpec(),
        checkpoint: { everyBatches: INTERVAL, everySeconds: 0, keepLast: 1 },
      };
      gate.close(); // until three intra-epoch checkpoints are durable: retention has some to delete
      const handle = await file.start(taskQueue, 'kill-retention', spec);
      const runName = defaultRunName(handle.workflowId, handle.firstExecutionRunId);
      let deletes = 0;
      const holding = file.hold.hold(
        (method, path) => method === 'DELETE' && path.includes(`/${runName}/`) && ++deletes === 2,
      );
      holding.catch(() => undefined); // awaited below; a cell that fails first leaves it unheard
      let replaced: Promise<void> | undefined;
      try {
        await waitForEpoch(
          handle,
          (p) => p.details?.ckpt?.epoch === 0 && p.details.ckpt.batch >= 3 * INTERVAL,
        );
        gate.open();
        const held = await holding; // retention listed the folder and deleted one checkpoint
        const lost = await waitForStartedActivity(handle, 'applyRetention');
        const before = await runs.list(runName);
        const faultAt = Date.now();
        await killWorker(fleet, lost.identity);
        held.release(); // its client is gone: dropped
        replaced = topUp();
        (row.notes ??= []).push(
          `held: DELETE ${held.path.split('/').pop()}; ${before.length} checkpoints in the folder at the kill`,
        );
        const resumeTarget = (await runs.list(runName)).filter((c) => c.epoch === 1 && c.step === BATCHES);
        assert.equal(resumeTarget.length, 1, "epoch 0's end (what epoch 1 starts from) is kept");
        row.recoveryBoundSeconds = RECOVERY_BOUND_S;
        const retriedAt = await waitForRetry(handle, lost, (RECOVERY_BOUND_S + SCHEDULING_S) * 1000);
        row.recoverySeconds = Math.round(retriedAt - faultAt) / 1000;
        const result = await within(handle.result(), RESULT_MS, 'the run');
        recordTimeline(row, await timelineOf(handle, faultAt), faultAt);
        recordRedone(row, await resumePoints(handle, result), result);
        await assertConsistent(result, spec, file.golden, file.stack);
        assert.deepEqual(result.recoveries, [], 'a retention failure is no training recovery');
        const kept = (await runs.list(runName)).map((c) => c.url);
        assert.deepEqual(kept, [result.finalCheckpoint.url], 'keepLast 1 keeps the final checkpoint alone');
      } finally {
        await handle.terminate('the cell is over').catch(() => undefined); // a run stuck by the gap
        await replaced;
      }
    },
  );
});
