// Fault matrix (issue 22), worker SIGKILLs in two phases between the epochs of other workflows.
// During a data-parallel merge: the merge of round 0 (`aggregateRound`) has its global checkpoint's
// PUT held at the S3 hold proxy; the cell SIGKILLs the worker running it. During a sweep decision:
// an ASHA sweep (one trial at a time) whose last trial of a rung is held between its epoch-end
// checkpoint and its completion (its epoch log PUT held); the cell SIGKILLs the worker that runs the
// sweep workflow (the one that took its last workflow task), so the rung's decision, due when that
// trial completes, is taken by another worker replaying the sweep's history (rung 0's, or rung 1's
// when the sweep's worker also trains rung 0's last trial). Two workers (a replacement starts after
// each kill), S3 through the hold proxy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultRunName, parseCheckpointUrl } from '../../../src/checkpoint/keys';
import { ObjectRunFolder } from '../../../src/checkpoint/run-folder';
import type { TrainModel } from '../../../src/contract';
import type { SweepInput } from '../../../src/contract/sweep';
import type { TrainingSpecInput } from '../../../src/spec';
import { createMinioObjectClient } from '../../../src/storage/minio-adapter';
import { startSweep } from '../../../src/sweep/client';
import { assertResumedFromNewest, resumePoints } from '../../helpers/resume-point';
import { WorkerFleet, pendingEpoch } from '../../helpers/worker-fleet';
import { referenceWeightsSha256 } from '../../integration/parallel-reference';
import { measureCell, noteRun } from './cell';
import { BACKOFF_S, DEADLINE_S, HEARTBEAT_TIMEOUT_S, killWorker, openMatrixFile } from './fixture';
import type { MatrixFile } from './fixture';
import { waitForRetry, waitForStartedActivity, within } from './phases';

const taskQueue = `matrix-kill-merge-sweep-${process.pid}`;
/** The "no hang beyond heartbeat timeout + backoff + deadline", plus 2 s of scheduling. */
const RECOVERY_BOUND_S = HEARTBEAT_TIMEOUT_S + BACKOFF_S + DEADLINE_S;
const SCHEDULING_S = 2;
const WORKERS = 2;
/** Longest wait for a run or sweep to end once its fault is over. */
const RESULT_MS = 120_000;
const recovery = { heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S, backoffSeconds: BACKOFF_S };

let file: MatrixFile;
let fleet: WorkerFleet;
let runs: ObjectRunFolder;

before(async () => {
  file = await openMatrixFile('kill-merge-sweep');
  runs = new ObjectRunFolder(createMinioObjectClient(file.stack.s3));
  fleet = new WorkerFleet({ ...file.env, DFIT_S3_ENDPOINT: file.hold.endpoint }, taskQueue, file.logDir);
  await Promise.all(Array.from({ length: WORKERS }, () => fleet.start()));
});
after(async () => {
  await fleet?.stopAll();
  await file?.close();
});

/** Starts workers until the fleet has its size again (after a kill). */
async function topUp(): Promise<void> {
  const missing = WORKERS - fleet.workers.size;
  await Promise.all(Array.from({ length: Math.max(0, missing) }, () => fleet.start()));
}

/** The run folder a checkpoint URL is in. */
function folderOf(url: string): string {
  return parseCheckpointUrl(url).key.split('/')[0] as string;
}

/** Two shards, 12 steps a round: 2 rounds (4 epochs of 6 shard batches), as parallel-reference computes. */
const PARALLEL = { seed: 5, epochs: 4, batchSize: 8, samples: 96, shards: 2, syncEverySteps: 12 };
const parallelSpec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: PARALLEL.epochs,
  seed: PARALLEL.seed,
  batchSize: PARALLEL.batchSize,
  hparams: { samples: PARALLEL.samples },
  checkpoint: { everyBatches: 0, everySeconds: 0 },
  recovery,
  parallel: { shards: PARALLEL.shards, syncEverySteps: PARALLEL.syncEverySteps },
};

test('worker SIGKILL during a data-parallel merge: merged once elsewhere, the reference weights', async () => {
  await measureCell(
    {
      cell: 'worker-kill-during-merge',
      fault: 'worker SIGKILL',
      phase: "during a data-parallel merge (round 0's global checkpoint PUT held)",
      interval: 0,
      expect:
        "the worker merging round 0 is SIGKILLed while its global checkpoint's PUT is in flight: the " +
        'merge is given to another worker within heartbeat timeout + backoff + deadline, the round ' +
        'is merged once (one global checkpoint, no shard trained again), the run completes with the ' +
        "plain-tfjs reference's weights",
    },
    async (row) => {
      // The merge writes round 1's global: `<run>/parallel/round=0001/global.ckpt`.
      const global = '/parallel/round=0001/global.ckpt';
      const holding = file.hold.hold(
        (method, path) => method === 'PUT' && path.includes('/matrix-kill-merge-') && path.endsWith(global),
      );
      holding.catch(() => undefined); // awaited below; a cell that fails first leaves it unheard
      const handle = await file.startParallel(taskQueue, 'kill-merge', parallelSpec);
      const runName = defaultRunName(handle.workflowId, handle.firstExecutionRunId);
      let replaced: Promise<void> | undefined;
      try {
        const held = await holding;
        const lost = await waitForStartedActivity(handle, 'aggregateRound');
        const faultAt = Date.now();
        await killWorker(fleet, lost.identity);
        held.release(); // its client is gone: dropped
        replaced = topUp();
        row.recoveryBoundSeconds = RECOVERY_BOUND_S;
        const retriedAt = await waitForRetry(handle, lost, (RECOVERY_BOUND_S + SCHEDULING_S) * 1000);
        row.recoverySeconds = Math.round(retriedAt - faultAt) / 1000;
        const result = await within(handle.result(), RESULT_MS, 'the run');
        row.completionSeconds = Math.round(Date.now() - faultAt) / 1000;
        row.recoveries = result.recoveryCount ?? result.recoveries.length;
        row.stepsRedone = 0;
        assert.equal(result.status, 'completed');
        // Computed here: it holds this process (and the hold proxy in it) while it trains.
        const reference = await referenceWeightsSha256(PARALLEL);
        assert.equal(result.weightsSha256, reference, 'bit-exact with the reference');
        assert.deepEqual(
          (result.rounds ?? []).map((r) => r.round),
          [0, 1],
          'each round merged and logged once',
        );
        assert.deepEqual(result.recoveries, [], 'a merge retry is no shard recovery');
        const globals = await runs.listCkptUrlsUnder(runName, 'parallel');
        assert.deepEqual(
          globals.filter((u) => u.includes('/round=0001/global')),
          [`s3://${file.stack.s3.bucket}/${runName}${global}`],
          "round 1's global written once, at its plain key",
        );
        const events = (await handle.fetchHistory()).events ?? [];
        const scheduled = (name: string) =>
          events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
        assert.equal(scheduled('trainShard'), 4, 'no shard trained again (2 shards × 2 rounds)');
        assert.equal(scheduled('aggregateRound'), 2, 'one merge activity per round (its retries inside)');
        const puts = file.hold.requests.filter(
          (r) => r.method === 'PUT' && r.path.includes(`/${runName}${global}`) && r.status === 200,
        );
        assert.equal(puts.length, 1, "round 1's global stored by one PUT");
      } finally {
        await handle.terminate('the cell is over').catch(() => undefined); // a run stuck by the gap
        await replaced;
      }
    },
  );
});

/** Three trials, one at a time: rung 0 (1 epoch) ends with t02; one trial is promoted to rung 1 (2 epochs). */
const sweepInput: SweepInput = {
  task: 'synthetic',
  seed: 9,
  epochs: 2,
  trials: 3,
  concurrency: 1,
  metric: 'valLoss',
  mode: 'min',
  search: { kind: 'asha', reductionFactor: 2 },
  space: { learningRate: { kind: 'range', min: 0.001, max: 0.1, log: true } },
  base: {
    batchSize: 16,
    hparams: { samples: 256 },
    checkpoint: { everyBatches: 0, everySeconds: 0 },
    recovery,
  },
};

/** The worker that runs the sweep workflow: the one that took its latest workflow task (sticky). */
async function sweepOwner(handle: WorkflowHandle): Promise<string> {
  const events = (await handle.fetchHistory()).events ?? [];
  const started = events.filter((e) => e.workflowTaskStartedEventAttributes).pop();
  const identity = started?.workflowTaskStartedEventAttributes?.identity;
  assert.ok(identity, 'the sweep has run a workflow task');
  return identity;
}

function msOf(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return ts ? Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6) : NaN;
}

/**
 * In the sweep's history: the trial run's completion, and the workflow task that took the decision
 * after it (the first one completed after the completion event): who took it and when.
 */
async function decisionAfter(handle: WorkflowHandle, trialRun: string) {
  const events = (await handle.fetchHistory()).events ?? [];
  const done = events.findIndex(
    (e) => e.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId === trialRun,
  );
  assert.ok(done >= 0, `${trialRun} completed in the sweep's history`);
  const after = events.slice(done + 1);
  const decided = after.findIndex((e) => e.workflowTaskCompletedEventAttributes);
  assert.ok(decided >= 0, `a workflow task completed after ${trialRun} did`);
  const completed = after[decided];
  const startedId = Number(completed?.workflowTaskCompletedEventAttributes?.startedEventId ?? -1);
  const started = after.find((e) => Number(e.eventId) === startedId);
  const timeouts = after.slice(0, decided).filter((e) => e.workflowTaskTimedOutEventAttributes).length;
  return {
    completedAt: msOf(events[done]?.eventTime),
    decidedAt: msOf(completed?.eventTime),
    by: started?.workflowTaskStartedEventAttributes?.identity ?? '',
    timeouts,
    children: events
      .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId)
      .filter((id): id is string => id !== undefined && id !== null),
  };
}

test('worker SIGKILL during a sweep decision: another worker decides the same, no trial runs twice', async () => {
  await measureCell(
    {
      cell: 'worker-kill-during-sweep-decision',
      fault: 'worker SIGKILL',
      phase: "during a sweep decision (a rung's last trial completing)",
      interval: 0,
      expect:
        'the worker running an ASHA sweep is SIGKILLed as the last trial of a rung completes (held ' +
        'between its epoch-end checkpoint and its completion): another worker replays the sweep and ' +
        'takes the decision, the sweep makes the decisions of an uninterrupted sweep of the same seed ' +
        '(same trials, metrics, weights, best trial), and no trial runs twice',
    },
    async (row) => {
      const calmHandle = await startSweep(file.client, sweepInput, {
        workflowId: `matrix-sweep-calm-${Date.now()}`,
        taskQueue,
      });
      const calm = await within(calmHandle.result(), RESULT_MS, 'the uninterrupted sweep');
      const sweepId = `matrix-sweep-chaos-${Date.now()}`;
      // Each rung's last trial run, held between its epoch-end checkpoint (durable, heartbeated) and
      // its completion by its epoch log PUT: the kill goes to rung 0's, unless the sweep's worker
      // also runs that trial's epoch (then the trial would lose its epoch too): then to rung 1's.
      const promoted = calm.trials.find((t) => t.runs.length === 2)?.id;
      assert.ok(promoted, 'the uninterrupted sweep promoted a trial to rung 1');
      const rungs = [
        { run: `${sweepId}-t02-r0`, log: '/log/epoch=000000.json' },
        { run: `${sweepId}-${promoted}-r1`, log: '/log/epoch=000001.json' },
      ].map((r) => {
        const holding = file.hold.hold(
          (method, path) => method === 'PUT' && path.includes(`/${r.run}-`) && path.endsWith(r.log),
        );
        holding.catch(() => undefined); // awaited below; a cell that fails first leaves it unheard
        return { ...r, holding };
      });
      const handle = await startSweep(file.client, sweepInput, { workflowId: sweepId, taskQueue });
      let replaced: Promise<void> | undefined;
      try {
        let target = rungs[0]!;
        let held = await target.holding;
        let owner = await sweepOwner(handle);
        let trial = await pendingEpoch(file.client.workflow.getHandle(target.run));
        if (trial?.identity === owner) {
          held.release();
          target = rungs[1]!;
          held = await target.holding;
          owner = await sweepOwner(handle);
          trial = await pendingEpoch(file.client.workflow.getHandle(target.run));
        } else {
          // Not rung 1's: its trial's log PUT goes on as soon as it comes.
          void rungs[1]!.holding.then(
            (h) => h.release(),
            () => undefined,
          );
        }
        const lastOfRung = target.run;
        const faultAt = Date.now();
        await killWorker(fleet, owner);
        held.release(); // forwarded if the trial's worker is alive, dropped if it was the one killed
        replaced = topUp();
        const chaos = await within(handle.result(), RESULT_MS, 'the sweep');
        const closedAt = Date.now();

        const decision = await decisionAfter(handle, lastOfRung);
        const decideS = Math.round(decision.decidedAt - decision.completedAt) / 1000;
        const trialDoneS = Math.round(decision.completedAt - faultAt) / 1000;
        row.recoverySeconds = Math.round(decision.decidedAt - faultAt) / 1000;
        row.completionSeconds = Math.round(closedAt - faultAt) / 1000;
        (row.notes ??= []).push(
          `killed at rung ${target === rungs[0] ? 0 : 1}'s decision (${lastOfRung.slice(sweepId.length + 1)}); ` +
            `the sweep ran on ${owner}, the held trial's epoch on ${trial?.identity ?? '?'}` +
            (trial?.identity === owner ? ' (the same worker: that trial recovered too)' : ''),
          `the trial completed ${trialDoneS} s after the kill; the decision (fault → resumed) was taken by ` +
            `${decision.by} ${decideS} s later (bound ${RECOVERY_BOUND_S + SCHEDULING_S} s), after ` +
            `${decision.timeouts} workflow task timeout(s)`,
        );
        assert.equal(chaos.status, 'completed');
        assert.notEqual(decision.by, owner, 'the decision was taken by another worker');
        assert.deepEqual(chaos.decisions, calm.decisions, 'the same decisions');
        assert.deepEqual(
          chaos.trials.map((t) => [t.id, t.state, t.epochsDone, t.metric, t.weightsSha256, t.runs.length]),
          calm.trials.map((t) => [t.id, t.state, t.epochsDone, t.metric, t.weightsSha256, t.runs.length]),
        );
        assert.ok(chaos.best && calm.best);
        assert.equal(chaos.best.trial, calm.best.trial);
        assert.deepEqual(chaos.best.hparams, calm.best.hparams);
        assert.equal(chaos.best.weightsSha256, calm.best.weightsSha256);
        // No trial runs twice: each trial run was started once, and there are as many as undisturbed.
        const runs = chaos.trials.flatMap((t) => t.runs);
        assert.deepEqual([...decision.children].sort(), [...runs].sort(), 'each trial run started once');
        assert.equal(runs.length, calm.trials.flatMap((t) => t.runs).length);
        let recoveries = 0;
        for (const id of runs) {
          const trialHandle = file.client.workflow.getHandle<TrainModel>(id);
          const result = await trialHandle.result();
          noteRun(folderOf(result.finalCheckpoint.url));
          const points = await resumePoints(trialHandle, result);
          recoveries += points.length;
          // Only the held trial can have lost its epoch (with the sweep's worker): it resumed from
          // its epoch-end checkpoint, nothing redone.
          if (id !== lastOfRung || trial?.identity !== owner) assert.deepEqual(result.recoveries, [], id);
          for (const point of points)
            assertResumedFromNewest(point, { newest: trial?.details?.ckpt, interval: 0 });
        }
        row.recoveries = recoveries;
        row.stepsRedone = 0;
        assert.ok(
          decideS <= RECOVERY_BOUND_S + SCHEDULING_S,
          `decided ${decideS} s after the trial completed`,
        );
      } finally {
        await handle.terminate('the cell is over').catch(() => undefined); // if it failed midway
        await replaced;
      }
    },
  );
});
