// Fault matrix (issue 22), Temporal unreachable from the worker for 2× the heartbeat timeout: two
// workers, each reaching the Temporal frontend through its own toxiproxy proxy; the cell cuts the
// one training the run (refused, or black-holed) while the other still reaches the server. The
// server times the attempt out (its heartbeats stop arriving) and the run resumes on the other
// worker from the newest checkpoint the server heard of; the cut worker's attempt trains on
// unheard until it is back and learns it was replaced. S3 goes straight to MinIO through the S3
// hold proxy, so a cell can keep the first checkpoint from becoming durable.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { assertResumedFromNewest, resumePoints } from '../../helpers/resume-point';
import type { ToxiproxyProxy } from '../../helpers/toxiproxy';
import { WorkerFleet, waitForEpoch } from '../../helpers/worker-fleet';
import type { PendingEpoch } from '../../helpers/worker-fleet';
import { assertConsistent, measureCell, recordRedone, recordTimeline, timelineOf } from './cell';
import type { CellMeasure } from './cell';
import { BACKOFF_S, DEADLINE_S, GATE_ENV, Gate, INTERVAL, matrixSpec, openMatrixFile } from './fixture';
import type { MatrixFile } from './fixture';
import type { TrainModel } from '../../../src/contract';

const taskQueue = `matrix-temporal-${process.pid}`;
/**
 * Longer than the matrix's 3 s: the server frees a black-holed worker's polls within 3 s of its last
 * frame (keepalive, DEAD_WORKER_CONFIG in src/stack/servers.ts), and the attempt's timeout must fire
 * after that, at ≥ timeout − 1 s (heartbeat throttle) after the cut (docs/recovery.md: over 4 s).
 */
const HEARTBEAT_S = 6;
const OUTAGE_MS = 2 * HEARTBEAT_S * 1000;
/**
 * The run's workflow tasks go to the sticky queue of the worker that last ran one, often the cut
 * one: the server hands the task to another worker only after the sticky schedule-to-start timeout
 * (the workers ask 300 ms; the server fired it after 1.0 s, measured in these cells' histories).
 */
const STICKY_S = 1;
/** The "no hang beyond heartbeat timeout + backoff + deadline", plus the sticky hand-over. */
const RECOVERY_BOUND_S = HEARTBEAT_S + BACKOFF_S + DEADLINE_S + STICKY_S;

interface Side {
  identity: string;
  proxy: ToxiproxyProxy;
  gate: Gate;
}
let file: MatrixFile;
let fleet: WorkerFleet;
const sides: Side[] = [];

before(async () => {
  file = await openMatrixFile('temporal');
  fleet = new WorkerFleet({ ...file.env, DFIT_S3_ENDPOINT: file.hold.endpoint }, taskQueue, file.logDir);
  for (const name of ['a', 'b']) {
    const proxy = await file.toxiproxy.proxy(`temporal-${name}`, file.stack.temporalAddress);
    const gate = new Gate(file.tmp, name);
    // `env` execs the worker with its own Temporal address and gate (kill still reaches it).
    const worker = await fleet.start({
      launcher: ['env', `TEMPORAL_ADDRESS=${proxy.listen}`, `${GATE_ENV}=${gate.file}`],
    });
    sides.push({ identity: worker.identity, proxy, gate });
  }
});
after(async () => {
  await fleet?.stopAll();
  await file?.close();
});

async function cell(row: CellMeasure, body: (row: CellMeasure) => Promise<void>): Promise<void> {
  for (const side of sides) side.gate.close();
  try {
    await measureCell(row, body);
  } finally {
    for (const side of sides) {
      await side.proxy.heal();
      side.gate.open();
    }
  }
}

function sideOf(identity: string): { victim: Side; other: Side } {
  const victim = sides.find((s) => s.identity === identity);
  const other = sides.find((s) => s.identity !== identity);
  assert.ok(victim && other, `the attempt runs on ${identity}, not one of this file's workers`);
  return { victim, other };
}

/**
 * After the cut at `faultAt`: waits until the run resumed on the other worker, opens its gate, keeps
 * the victim cut until 2× the heartbeat timeout has passed, heals it, and checks the run.
 */
async function outageAndCheck(
  row: CellMeasure,
  handle: WorkflowHandle<TrainModel>,
  spec: ReturnType<typeof matrixSpec>,
  faultAt: number,
  victim: Side,
  other: Side,
): Promise<{ points: Awaited<ReturnType<typeof resumePoints>>; inTime: () => void }> {
  await waitForEpoch(handle, (p) => p.identity === other.identity && p.details !== undefined);
  other.gate.open();
  const left = faultAt + OUTAGE_MS - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  await victim.proxy.heal();
  victim.gate.open();
  const result = await handle.result();
  const timeline = await timelineOf(handle, faultAt);
  recordTimeline(row, timeline, faultAt);
  const points = await resumePoints(handle, result);
  recordRedone(row, points, result);
  row.recoveryBoundSeconds = RECOVERY_BOUND_S;
  await assertConsistent(result, spec, file.golden, file.stack);
  assert.equal(points.length, 1, JSON.stringify(result.recoveries));
  const [point] = points;
  assert.equal(point?.recovery.kind, 'crash');
  assert.match(point?.recovery.reason ?? '', /heartbeat/i);
  const inTime = () =>
    assert.ok(
      (timeline.resumedAt ?? Infinity) - faultAt <= RECOVERY_BOUND_S * 1000,
      `resumed ${row.recoverySeconds} s after the worker was cut off; bound ${RECOVERY_BOUND_S} s`,
    );
  return { points, inTime };
}

/**
 * Found by this matrix: a black-holed worker's long polls stay open at the server, which hands them
 * the run's workflow tasks; each is lost until the workflow task timeout (10 s), and the retry can
 * go to the same dead poll (2 lost, ~24 s to resume, measured). The stack's frontend now closes dead
 * connections within 3 s (keepalive), which cancels those polls; with the matrix's 3 s heartbeat
 * timeout the attempt could time out first (8 of 9 runs passed, 13.8 s in one CI run), so these
 * cells use a heartbeat timeout that fires after the close (HEARTBEAT_S).
 */
const base = { fault: 'Temporal unreachable from the worker (2× heartbeat timeout)', interval: INTERVAL };

test('Temporal refused to the training worker mid-epoch: heartbeat timeout, resumed elsewhere from the newest', async () => {
  await cell(
    {
      ...base,
      cell: 'temporal-refused-mid-epoch',
      phase: 'mid-epoch after an intra-epoch checkpoint',
      expect:
        'the worker training cannot connect for 2× the heartbeat timeout: a crash recovery on the other ' +
        'worker from the newest checkpoint the server heard of, redone ≤ interval, golden',
    },
    async (row) => {
      const spec = matrixSpec({ heartbeatTimeoutSeconds: HEARTBEAT_S });
      const handle = await file.start(taskQueue, 'temporal-refused', spec);
      const seen: PendingEpoch = await waitForEpoch(
        handle,
        (p) => p.details?.epoch === 0 && p.details.ckpt?.epoch === 0 && p.details.ckpt.batch >= 2 * INTERVAL,
      );
      const { victim, other } = sideOf(seen.identity);
      await victim.proxy.refuse();
      const faultAt = Date.now();
      const { points, inTime } = await outageAndCheck(row, handle, spec, faultAt, victim, other);
      row.redoneBound = `interval + 2 batches of save lag (${INTERVAL + 2})`;
      assertResumedFromNewest(points[0]!, {
        newest: seen.details?.ckpt,
        reached: seen.details?.batch,
        interval: INTERVAL,
        slack: 2,
      });
      inTime();
    },
  );
});

test('Temporal black-holed from the training worker before its first checkpoint: resumed elsewhere from the start', async () => {
  await cell(
    {
      ...base,
      cell: 'temporal-black-holed-before-first-checkpoint',
      phase: 'before the first checkpoint (its upload held)',
      expect:
        'the worker training gets no answer from Temporal for 2× the heartbeat timeout: a crash recovery ' +
        'on the other worker from the start (nothing was durable), redone ≤ interval, golden',
    },
    async (row) => {
      const spec = matrixSpec({ heartbeatTimeoutSeconds: HEARTBEAT_S });
      const handle = await file.start(taskQueue, 'temporal-black-holed', spec);
      // Its first checkpoint's PUT is held: training has begun and nothing is durable.
      const held = await file.hold.hold(
        (method, path) => method === 'PUT' && path.includes(handle.workflowId) && path.endsWith('.ckpt'),
      );
      const seen = await waitForEpoch(handle, (p) => p.details !== undefined);
      assert.equal(seen.details?.ckpt, undefined);
      const { victim, other } = sideOf(seen.identity);
      await victim.proxy.hang();
      const faultAt = Date.now();
      const { points, inTime } = await outageAndCheck(row, handle, spec, faultAt, victim, other);
      held.release(); // the cut attempt's upload, if its client still waits: the same bytes as the resumed one's
      assert.equal(points[0]?.recovery.fromCkpt, '(fresh start)', 'nothing was durable');
      // Slack: the batches between the first save falling due (its snapshot and hash) and the cut.
      row.redoneBound = `interval + 4 batches between the first save falling due and the cut (${INTERVAL + 4})`;
      assertResumedFromNewest(points[0]!, { reached: seen.details?.batch, interval: INTERVAL, slack: 4 });
      inTime();
    },
  );
});
