// Chaos during an ASHA sweep, on servers of this file's own: SIGKILL the worker running a trial's
// epoch three times (once per rung) and restart the Temporal server once. The sweep must make the
// same decisions and end with the same best trial, hparams and weightsSha256 as an undisturbed one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { resolveOptions } from '../../src/config/options';
import type { HeartbeatDetails, TrainModel } from '../../src/contract';
import type { Sweep, SweepInput, SweepProgress } from '../../src/contract/sweep';
import { sweepProgressQuery } from '../../src/contract/sweep';
import { startSweep } from '../../src/sweep/client';
import { startTestStack } from '../helpers/start-test-stack';
import type { RunningTestStack } from '../helpers/start-test-stack';
import { testClient, testEnv } from '../helpers/training';
import { pendingEpoch, WorkerFleet } from '../helpers/worker-fleet';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';

const taskQueue = `sweep-chaos-${process.pid}`;
/** Batches trained between a save falling due and its checkpoint being durable (see kill-worker). */
const SAVE_LAG_BATCHES = 15;
/** The trial run each SIGKILL hit, with its heartbeat details just before. */
const victims: { run: string; details?: HeartbeatDetails }[] = [];
const input: SweepInput = {
  task: 'synthetic',
  seed: 9,
  epochs: 3,
  trials: 4,
  concurrency: 2,
  metric: 'valLoss',
  mode: 'min',
  search: { kind: 'asha', reductionFactor: 2 },
  space: {
    learningRate: { kind: 'range', min: 0.001, max: 0.1, log: true },
    hidden: { kind: 'choice', values: [128, 256] },
  },
  base: {
    batchSize: 16,
    hparams: { samples: 8192, features: 32 }, // epochs of seconds on cpu: time to kill one
    checkpoint: { everyBatches: 50, everySeconds: 0 },
    recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 0 },
  },
};
let running: RunningTestStack;
let client: Client;
let close: () => Promise<void>;
let fleet: WorkerFleet;

before(async () => {
  running = await startTestStack(resolveOptions(process.env).toolsDir);
  ({ client, close } = await testClient(running.stack));
  fleet = new WorkerFleet(testEnv(running.stack), taskQueue, 'test-artifacts/sweep-chaos');
  await Promise.all([fleet.start(), fleet.start()]);
});
after(async () => {
  await fleet.stopAll();
  await close();
  await running.stop();
});

test('ASHA sweep: 3 worker SIGKILLs and a Temporal restart change no decision and no weights', async () => {
  const calm = await (
    await startSweep(client, input, { workflowId: `calm-${Date.now()}`, taskQueue })
  ).result();
  const handle = await startSweep(client, input, { workflowId: `chaos-${Date.now()}`, taskQueue });
  await killDuring(handle.workflowId, 0);
  await killDuring(handle.workflowId, 1);
  await running.restartTemporal();
  await close();
  ({ client, close } = await testClient(running.stack));
  await killDuring(handle.workflowId, 2);
  const chaos = await client.workflow.getHandle<Sweep>(handle.workflowId).result();

  assert.equal(chaos.status, 'completed');
  assert.deepEqual(chaos.decisions, calm.decisions);
  assert.deepEqual(
    chaos.trials.map((t) => [t.id, t.state, t.epochsDone, t.metric, t.weightsSha256]),
    calm.trials.map((t) => [t.id, t.state, t.epochsDone, t.metric, t.weightsSha256]),
  );
  assert.ok(chaos.best && calm.best);
  assert.equal(chaos.best.trial, calm.best.trial);
  assert.deepEqual(chaos.best.hparams, calm.best.hparams);
  assert.equal(chaos.best.weightsSha256, calm.best.weightsSha256);
  const runs = chaos.trials.flatMap((t) => t.runs);
  const results = await Promise.all(
    runs.map(async (id) => ({ id, result: await client.workflow.getHandle<TrainModel>(id).result() })),
  );
  const crashes = results.reduce((n, { result: r }) => n + (r.recoveryCount ?? r.recoveries.length), 0);
  assert.ok(crashes >= 3, `each SIGKILL is a recovery of the trial it hit (${crashes})`);
  // Each recovery of a trial run resumed from the newest checkpoint its attempt had heartbeated (at
  // least the one seen before the kill) and redid at most a save interval plus the save lag.
  for (const { id, result } of results) {
    for (const point of await resumePoints(client.workflow.getHandle(id), result)) {
      const seen = victims.find((v) => v.run === id && v.details?.epoch === point.recovery.atEpoch);
      assertResumedFromNewest(point, { newest: seen?.details?.ckpt, interval: 50, slack: SAVE_LAG_BATCHES });
    }
  }
});

/** Waits for an epoch of a trial run of the sweep's `phase` to be under way, then SIGKILLs its worker. */
async function killDuring(sweepId: string, phase: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  let seen: unknown;
  while (Date.now() < deadline) {
    const p: SweepProgress | undefined = await client.workflow
      .getHandle(sweepId)
      .query(sweepProgressQuery)
      .catch(() => undefined);
    for (const t of p?.phase === phase ? p.trials.filter((tr) => tr.state === 'running') : []) {
      const run = t.runs[t.runs.length - 1] as string;
      const epoch = await pendingEpoch(client.workflow.getHandle(run)).catch(() => undefined);
      const batch = epoch?.details?.batch ?? 0;
      seen = { phase: p?.phase, trial: t.id, run, epoch };
      if (epoch && batch >= 1 && batch < (epoch.details?.batches ?? 0) - 50) {
        victims.push({ run, ...(epoch.details ? { details: epoch.details } : {}) });
        await fleet.kill(epoch.identity, 'SIGKILL');
        await fleet.start();
        return;
      }
    }
    if (!seen) seen = { phase: p?.phase, states: p?.trials.map((tr) => tr.state) };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no trial epoch of phase ${phase} to kill; last seen ${JSON.stringify(seen)}`);
}
