// Fault matrix (issue 22), S3 hung and S3 slow: the worker's MinIO connections go through a real
// toxiproxy. Hung: timeout toxics without a timeout on both streams (connections accepted, kept
// open, nothing passes: a black hole). Every S3 call has a deadline (DFIT_S3_DEADLINE, 3 s here), so
// the save that meets the hang fails the attempt as an infrastructure failure carrying its newest
// durable checkpoint. Slow: latency toxics, slower than normal but well inside the deadline, and
// the run must not notice. Each cell drives the run to its phase (gated batches, heartbeat details,
// an upload held at the S3 hold proxy behind toxiproxy) before it injects the fault.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TrainingResult, TrainModel } from '../../../src/contract';
import { createMinioObjectClient } from '../../../src/storage/minio-adapter';
import { assertResumedFromNewest } from '../../helpers/resume-point';
import type { ResumePoint } from '../../helpers/resume-point';
import type { ToxiproxyProxy } from '../../helpers/toxiproxy';
import { waitForEpoch } from '../../helpers/worker-fleet';
import type { PendingEpoch } from '../../helpers/worker-fleet';
import { assertConsistent, recordRun, waitForRecovery } from './cell';
import type { CellMeasure } from './cell';
import {
  BACKOFF_S,
  DEADLINE_S,
  HEARTBEAT_TIMEOUT_S,
  INTERVAL,
  STEP_MS,
  matrixSpec,
  openMatrixFile,
} from './fixture';
import type { Gate, MatrixFile } from './fixture';
import { holdNextUpload, midEpoch, startS3Fleet } from './s3-fleet';
import type { S3Fleet } from './s3-fleet';

const taskQueue = `matrix-s3-hung-${process.pid}`;
/**
 * Training goes on while a save hangs (one upload in flight at a time), so the attempt that fails
 * at the deadline has trained up to a deadline's worth of batches past the save that hung: those
 * are redone too. Bound: the interval, the batches of one deadline (at STEP_MS each: the gate is
 * closed until the recovery), and 4 batches for the snapshot and hash before the PUT starts and
 * progress-report lag.
 */
const DEADLINE_BATCHES = Math.ceil((DEADLINE_S * 1000) / STEP_MS);
const HUNG_REDONE_BOUND = INTERVAL + DEADLINE_BATCHES + 4;
/** The "no hang beyond heartbeat timeout + backoff + deadline". */
const RECOVERY_BOUND_S = HEARTBEAT_TIMEOUT_S + BACKOFF_S + DEADLINE_S;
/** Latency added each way by the slow cell: ~1.2 s a call against a 3 s deadline. */
const SLOW_MS = 600;

let file: MatrixFile;
let fleet: S3Fleet;
let s3: ToxiproxyProxy;
let gate: Gate;

before(async () => {
  file = await openMatrixFile('s3-hung-slow');
  fleet = await startS3Fleet(file, taskQueue, file.hold.endpoint);
  ({ s3, gate } = fleet);
});
after(async () => {
  await fleet?.fleet.stopAll();
  await file?.close();
});

/**
 * After a hang injected at `faultAt`: waits for the recovery, heals S3 and lets the rest train at
 * full speed; checks the recovery (an S3 deadline, in time) and the result, and records the row.
 * Returns the resume points, for `assertResumes` at the end of the cell.
 */
async function recoverAndCheck(
  row: CellMeasure,
  handle: WorkflowHandle<TrainModel>,
  spec: ReturnType<typeof matrixSpec>,
  faultAt: number,
): Promise<{ result: TrainingResult; points: ResumePoint[] }> {
  const recovery = await waitForRecovery(handle);
  await s3.heal();
  gate.open();
  const result = await handle.result();
  const { timeline, points } = await recordRun(row, handle, faultAt, result);
  row.redoneBound = `interval + batches trained during one S3 deadline + 4 (${HUNG_REDONE_BOUND})`;
  row.recoveryBoundSeconds = RECOVERY_BOUND_S;
  assert.equal(recovery.kind, 'infrastructure');
  assert.match(recovery.reason, /S3DeadlineError|deadline/, recovery.reason);
  await assertConsistent(result, spec, file.golden, file.stack);
  assert.ok(points.length >= 1);
  assert.ok(
    (timeline.resumedAt ?? Infinity) - faultAt <= RECOVERY_BOUND_S * 1000,
    `resumed ${row.recoverySeconds} s after S3 hung; bound ${RECOVERY_BOUND_S} s`,
  );
  return { result, points };
}

/** Every recovery resumed from at least `seen`'s checkpoint, where the attempt was, redo bounded. */
function assertResumes(points: ResumePoint[], seen?: PendingEpoch): void {
  for (const point of points)
    assertResumedFromNewest(point, {
      newest: seen?.details?.ckpt,
      ...(point === points[0] && seen ? { reached: seen.details?.batch } : {}),
      interval: HUNG_REDONE_BOUND,
    });
}

const hung = { fault: 'S3 hung (black-holed)', interval: INTERVAL };

test('S3 hung during the first upload (nothing durable yet): S3 deadline, fresh restart, golden', async () => {
  await fleet.cell(
    {
      ...hung,
      cell: 's3-hung-before-first-checkpoint',
      phase: 'before the first checkpoint (its upload in flight)',
      expect: 'an S3 deadline failure within the bound, resumed from the start (no checkpoint), golden',
    },
    async (row) => {
      const spec = matrixSpec();
      const handle = await file.start(taskQueue, 's3-hung-first', spec);
      // Training has begun and its first checkpoint is not durable while its PUT is held.
      const held = await file.hold.hold(
        (method, path) => method === 'PUT' && path.includes(handle.workflowId) && path.endsWith('.ckpt'),
      );
      await s3.hang();
      const faultAt = Date.now();
      const { points } = await recoverAndCheck(row, handle, spec, faultAt);
      held.release(); // after the heal; its client is gone by now
      assert.equal(points[0]?.recovery.fromCkpt, '(fresh start)', 'nothing was durable');
      assertResumes(points);
    },
  );
});

test('S3 hung mid-epoch after an intra-epoch checkpoint: S3 deadline, resumed from the newest', async () => {
  await fleet.cell(
    {
      ...hung,
      cell: 's3-hung-mid-epoch',
      phase: 'mid-epoch after an intra-epoch checkpoint',
      expect: 'an S3 deadline failure within the bound, resumed from the newest durable checkpoint, golden',
    },
    async (row) => {
      const spec = matrixSpec();
      const handle = await file.start(taskQueue, 's3-hung-mid', spec);
      const seen = await midEpoch(handle);
      await s3.hang();
      const faultAt = Date.now();
      const { points } = await recoverAndCheck(row, handle, spec, faultAt);
      assertResumes(points, seen);
    },
  );
});

test('S3 hung during an upload whose object lands but whose answer is lost: resumed from the previous', async () => {
  await fleet.cell(
    {
      ...hung,
      cell: 's3-hung-during-upload',
      phase: 'during an upload (stored, answer black-holed)',
      expect:
        'an S3 deadline failure within the bound, resumed from the checkpoint before the lost answer; ' +
        'the resumed attempt meets the stored object at the same key and keeps it; golden',
    },
    async (row) => {
      const spec = matrixSpec();
      const handle = await file.start(taskQueue, 's3-hung-upload', spec);
      const seen = await midEpoch(handle);
      const held = await holdNextUpload(file, handle, seen);
      await s3.hang();
      const faultAt = Date.now();
      held.release(); // MinIO stores it; its answer goes into the black hole
      const { points } = await recoverAndCheck(row, handle, spec, faultAt);
      const key = held.path.replace(/^\/[^/]+\//, '').split('?')[0] as string;
      const stat = await createMinioObjectClient(file.stack.s3).stat(key);
      assert.ok(stat, `${key} was stored although its answer was lost`);
      (row.notes ??= []).push(`held upload: ${key.split('/').pop()} (stored, answer lost)`);
      assertResumes(points, seen);
    },
  );
});

test('S3 slow (latency within the deadline) mid-epoch until the end: no recovery, golden', async () => {
  await fleet.cell(
    {
      fault: 'S3 slow',
      interval: INTERVAL,
      cell: 's3-slow-mid-epoch',
      phase: 'mid-epoch after an intra-epoch checkpoint, to the end of the run',
      expect: `+${SLOW_MS} ms each way on every S3 connection (a call ≥ ${(2 * SLOW_MS) / 1000} s, deadline ${DEADLINE_S} s): no recovery`,
    },
    async (row) => {
      const spec = matrixSpec();
      const handle = await file.start(taskQueue, 's3-slow', spec);
      const seen = await midEpoch(handle);
      await s3.slow(SLOW_MS);
      const faultAt = Date.now();
      // The toxic is on: a checkpoint-sized PUT through the proxy takes at least the two delays, and
      // stays inside the deadline.
      const probe = createMinioObjectClient({ ...file.stack.s3, endpoint: `http://${s3.listen}` });
      const probeStarted = Date.now();
      await probe.put(`matrix-probe/${handle.workflowId}.bin`, Buffer.alloc(50 * 1024, 7));
      const probeMs = Date.now() - probeStarted;
      assert.ok(probeMs >= 2 * SLOW_MS, `a PUT through the slow proxy took ${probeMs} ms`);
      assert.ok(probeMs < DEADLINE_S * 1000, `a PUT through the slow proxy took ${probeMs} ms`);
      // Saves still become durable through the slow link.
      await waitForEpoch(handle, (p) => (p.details?.ckpt?.step ?? 0) > (seen.details?.ckpt?.step ?? 0));
      const savedMs = Date.now() - faultAt;
      gate.open();
      const result = await handle.result();
      await recordRun(row, handle, faultAt, result);
      (row.notes ??= []).push(
        `a 50 KB PUT through the proxy: ${probeMs} ms`,
        `first checkpoint durable after: ${savedMs} ms`,
      );
      assert.deepEqual(result.recoveries, [], 'a slow store within its deadline is not a failure');
      await assertConsistent(result, spec, file.golden, file.stack);
    },
  );
});
