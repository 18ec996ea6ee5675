// Fault matrix (issue 22), S3 refused and S3 answering 500s: the worker's MinIO connections go
// through a real toxiproxy, disabled for the refused fault (its listener closed, open connections
// cut: what a stopped server looks like), then an HTTP proxy that answers 500 on demand (toxiproxy
// cannot: it works on TCP), then the S3 hold proxy. A refused or failed intra-epoch save is a
// warning and training goes on, so the attempt fails only when the epoch-end save fails, or, once
// the run resumes, when its checkpoint cannot be read.
// Each cell drives the run to its phase (gated batches, heartbeat details, a held upload), then
// injects the fault; see cell.ts for what each row records.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { TrainingResult } from '../../../src/contract';
import { assertResumedFromNewest } from '../../helpers/resume-point';
import type { ResumePoint } from '../../helpers/resume-point';
import { assertConsistent, logMark, recordRun, waitForLog, waitForRecovery } from './cell';
import type { CellMeasure } from './cell';
import type { ToxiproxyProxy } from '../../helpers/toxiproxy';
import {
  BACKOFF_S,
  DEADLINE_S,
  HEARTBEAT_TIMEOUT_S,
  INTERVAL,
  STEP_MS,
  matrixSpec,
  openMatrixFile,
  workerLog,
} from './fixture';
import type { Gate, MatrixFile } from './fixture';
import { startS3ErrorProxy } from './s3-error-proxy';
import type { S3ErrorProxy } from './s3-error-proxy';
import { holdNextUpload, midEpoch, startS3Fleet } from './s3-fleet';
import type { S3Fleet } from './s3-fleet';

const taskQueue = `matrix-s3-refused-${process.pid}`;
const SAVE_FAILED = 'intra-epoch checkpoint failed';
/**
 * Batches past one interval that may be trained again: training goes on while the failing save
 * snapshots, hashes and is refused, and stops at the next batch boundary after (3 in our runs).
 */
const SAVE_SLACK = 4;
let file: MatrixFile;
let errors: S3ErrorProxy;
let fleet: S3Fleet;
let s3: ToxiproxyProxy;
let gate: Gate;

before(async () => {
  file = await openMatrixFile('s3-refused');
  errors = await startS3ErrorProxy(file.hold.endpoint);
  fleet = await startS3Fleet(file, taskQueue, errors.endpoint, () => errors.fail(false));
  ({ s3, gate } = fleet);
});
after(async () => {
  await fleet?.fleet.stopAll();
  await errors?.close();
  await file?.close();
});

/**
 * The run is mid-epoch (or its upload held): refuses S3 until the failed save's recovery, heals it
 * (then `healed`), lets the rest train at full speed, records the row and checks the run (golden,
 * one infrastructure recovery first). Returns the resume points for the cell's own checks.
 */
async function refuseUntilRecovered(
  row: CellMeasure,
  handle: WorkflowHandle,
  spec: ReturnType<typeof matrixSpec>,
  healed: () => void = () => undefined,
): Promise<ResumePoint[]> {
  const log = workerLog(file.logDir, fleet.worker.identity);
  const mark = logMark(log);
  await s3.refuse();
  const faultAt = Date.now();
  await waitForLog(log, mark, SAVE_FAILED, 1);
  await waitForRecovery(handle);
  await s3.heal();
  healed();
  gate.open();
  const result = await handle.result();
  const { points } = await recordRun(row, handle, faultAt, result);
  row.redoneBound = `interval (${INTERVAL}) + ${SAVE_SLACK}`;
  await assertConsistent(result, spec, file.golden, file.stack);
  assert.equal(points[0]?.recovery.kind, 'infrastructure', JSON.stringify(result.recoveries));
  return points;
}

const base = { fault: 'S3 refused', interval: INTERVAL };

test('S3 refused mid-epoch, then back: the refused save stops training, resumed from the newest', async () => {
  await fleet.cell(
    {
      ...base,
      cell: 's3-refused-mid-epoch-brief',
      phase: 'mid-epoch after an intra-epoch checkpoint',
      expect:
        'the next save is refused: training stops there (an infrastructure failure), resumed from the ' +
        'newest durable checkpoint once S3 is back, redone ≤ the interval, golden',
    },
    async (row) => {
      const spec = matrixSpec();
      const handle = await file.start(taskQueue, 's3-refused-brief', spec);
      const seen = await midEpoch(handle);
      const points = await refuseUntilRecovered(row, handle, spec);
      assert.match(points[0]?.recovery.reason ?? '', /a checkpoint save failed, so training stopped/);
      assertResumedFromNewest(points[0]!, {
        newest: seen.details?.ckpt,
        reached: seen.details?.batch,
        interval: INTERVAL,
        slack: SAVE_SLACK,
      });
    },
  );
});

test('S3 refused during an upload, then back: the cut upload stops training, resumed from the previous', async () => {
  await fleet.cell(
    {
      ...base,
      cell: 's3-refused-during-upload-brief',
      phase: 'during an upload',
      expect:
        'the upload in flight is cut: training stops there, resumed from the previous durable ' +
        'checkpoint once S3 is back, redone ≤ the interval, golden',
    },
    async (row) => {
      const spec = matrixSpec();
      const handle = await file.start(taskQueue, 's3-refused-upload', spec);
      const seen = await midEpoch(handle);
      const held = await holdNextUpload(file, handle, seen); // in flight
      // Refusing S3 cuts the held upload's connection: it is never answered; released once S3 is
      // back, it is dropped (its client is gone).
      const points = await refuseUntilRecovered(row, handle, spec, () => held.release());
      assertResumedFromNewest(points[0]!, {
        newest: seen.details?.ckpt,
        interval: INTERVAL,
        slack: SAVE_SLACK,
      });
    },
  );
});

for (const fault of ['refused', '500s'] as const) {
  const what = fault === 'refused' ? 'S3 refused' : 'S3 answering 500s';
  test(`${what} mid-epoch until the attempt fails: resumes from the newest checkpoint, redone ≤ the interval`, async () => {
    await fleet.cell(
      {
        ...base,
        fault: what,
        cell: `s3-${fault}-mid-epoch-until-failure`,
        phase: 'mid-epoch after an intra-epoch checkpoint',
        expect:
          `${what} until the attempt fails (its first failed save stops it), then back: an infrastructure ` +
          'recovery from the newest durable checkpoint, redone ≤ the interval',
      },
      async (row) => {
        const spec = matrixSpec();
        const handle = await file.start(taskQueue, `s3-${fault}-long`, spec);
        const seen = await midEpoch(handle);
        if (fault === 'refused') await s3.refuse();
        else errors.fail(true);
        const faultAt = Date.now();
        // The gate stays closed (steps of STEP_MS): the first failed save stops training, and the
        // steps trained while it failed stay few, as with a real model's steps.
        await waitForRecovery(handle);
        await s3.heal();
        errors.fail(false);
        gate.open();
        const result = await handle.result();
        const { timeline, points } = await recordRun(row, handle, faultAt, result);
        if (fault === '500s') (row.notes ??= []).push(`${errors.failed} requests answered 500`);
        // Noticed at the first refused save (training stops there); resumed a backoff after, plus scheduling.
        const bound = (timeline.failedAt ?? Infinity) - faultAt + (BACKOFF_S + 2) * 1000;
        row.recoveryBoundSeconds = Math.round(bound) / 1000;
        assert.ok(
          (timeline.resumedAt ?? Infinity) - faultAt <= bound,
          `resumed ${row.recoverySeconds} s after the fault`,
        );
        await assertConsistent(result, spec, file.golden, file.stack);
        assert.ok(points.length >= 1);
        assert.equal(points[0]?.recovery.kind, 'infrastructure', 'a transient store error, not fatal');
        // A 500 is an answer: the save fails at once, it does not wait for the S3 deadline.
        assert.doesNotMatch(points[0]?.recovery.reason ?? '', /S3DeadlineError/);
        for (const point of points)
          assertResumedFromNewest(point, {
            newest: seen.details?.ckpt,
            reached: point === points[0] ? seen.details?.batch : undefined,
          });
        // The bound: a failed save stops training, so at most one interval is trained again,
        // plus the batches of the failing save: a 500 is sent 3 times, 100 then 200 ms apart
        // (src/storage/server-errors.ts), about 4 more batches at STEP_MS than a refused connection.
        const slack = fault === '500s' ? SAVE_SLACK + Math.ceil(400 / STEP_MS) : SAVE_SLACK;
        row.redoneBound = `interval (${INTERVAL}) + ${slack}`;
        assertResumedFromNewest(points[0]!, { newest: seen.details?.ckpt, interval: INTERVAL, slack });
      },
    );
  });
}

test('S3 refused longer than the infrastructure budget: the run fails naming the budget', async () => {
  await fleet.cell(
    {
      ...base,
      cell: 's3-refused-outlasting-budget',
      phase: 'mid-epoch after an intra-epoch checkpoint',
      expect:
        'S3 never comes back, maxInfraRetries 1: one recovery from the newest checkpoint, then the run fails ' +
        'with RecoveryBudgetExhaustedError naming the budget',
    },
    async (row) => {
      const spec = matrixSpec({ maxInfraRetries: 1 });
      const handle = await file.start(taskQueue, 's3-refused-budget', spec);
      const seen = await midEpoch(handle);
      await s3.refuse();
      const faultAt = Date.now();
      gate.open();
      const failure = await handle.result().then(
        () => assert.fail('the run completed although S3 never came back'),
        (err: unknown) => err,
      );
      assert.ok(failure instanceof WorkflowFailedError, String(failure));
      const cause = failure.cause;
      assert.match(cause?.message ?? '', /consecutive infrastructure budget of 1 exhausted/);
      assert.equal((cause as { type?: string } | undefined)?.type, 'RecoveryBudgetExhaustedError');
      // The one recovery: from the newest checkpoint the attempt had (its failure carried it).
      const progress = await handle.query<{ recoveries: TrainingResult['recoveries'] }>('progress');
      const { timeline, points } = await recordRun(row, handle, faultAt, {
        recoveries: progress.recoveries,
        epochs: [],
      });
      assert.equal(points.length, 1, JSON.stringify(progress.recoveries));
      assertResumedFromNewest(points[0]!, { newest: seen.details?.ckpt, reached: seen.details?.batch });
      // No hang: after the first failure, a backoff and one more attempt that cannot outlast a
      // heartbeat timeout or an S3 deadline (a refused call fails at once), plus 2 s of scheduling.
      const failedAt = timeline.failedAt ?? Infinity;
      const bound = failedAt - faultAt + (BACKOFF_S + HEARTBEAT_TIMEOUT_S + DEADLINE_S + 2) * 1000;
      row.recoveryBoundSeconds = Math.round(bound) / 1000;
      assert.ok(
        (timeline.closedAt ?? Infinity) - faultAt <= bound,
        `the run failed ${row.completionSeconds} s after the fault; bound ${row.recoveryBoundSeconds} s`,
      );
    },
  );
});
