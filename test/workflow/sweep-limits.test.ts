// The sweep workflow checks its ceilings and a parallel base spec's search itself when it starts (as
// when it is started without the client, e.g. by `temporal workflow start`): over-cap input and ASHA
// over a data-parallel base fail the sweep with the reason, before any trial run starts; an input
// within the caps runs, continues as new and replays.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { SWEEP } from '../../src/contract/sweep';
import type { Sweep, SweepInput } from '../../src/contract/sweep';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, withWorker } from './harness';
import { StubActivities } from './stub-activities';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

const input = (extra: Partial<SweepInput>): SweepInput => ({
  task: 'synthetic',
  seed: 5,
  epochs: 1,
  trials: 2,
  space: { learningRate: { kind: 'range', min: 0.001, max: 0.1, log: true } },
  search: { kind: 'random' },
  metric: 'valLoss',
  mode: 'min',
  ...extra,
});

let ids = 0;
async function failureOf(sweepInput: SweepInput, workflowId = `sweep-limits-${process.pid}-${++ids}`) {
  const stubs = new StubActivities();
  const err = await withWorker(t, stubs, (taskQueue) =>
    t.env.client.workflow.execute<Sweep>(SWEEP, { taskQueue, workflowId, args: [sweepInput] }),
  ).then(
    () => assert.fail('the sweep should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.equal(stubs.calls.length, 0, 'no trial trained');
  const children: string[] = [];
  for await (const w of t.env.client.workflow.list({ query: `WorkflowId STARTS_WITH "${workflowId}-"` }))
    children.push(w.workflowId);
  assert.deepEqual(children, [], 'no trial run was started');
  return err.cause as { type?: string; message: string };
}

test('20,000 random trials: the sweep fails at its start with the limit', async () => {
  const cause = await failureOf(input({ trials: 20_000 }));
  assert.equal(cause.type, 'InvalidSweepError');
  assert.match(cause.message, /trials: 20000 is over the limit of 500: use --trials 500 or fewer/);
});

test('a sweep id over 64 characters: refused with the limit', async () => {
  const cause = await failureOf(input({}), `s-${process.pid}-${'x'.repeat(70)}`);
  assert.match(cause.message, /id: \d+ characters, over the limit of 64/);
});

test('ASHA over a data-parallel base spec: refused, naming grid and random', async () => {
  const cause = await failureOf(
    input({ search: { kind: 'asha' }, base: { parallel: { shards: 2, syncEverySteps: 4 } } }),
  );
  assert.match(cause.message, /asha continues or forks trials from their checkpoints.*grid or random/);
});

test('within the caps: runs through continue-as-new, and its history replays', async () => {
  const stubs = new StubActivities();
  stubs.onCall = (c) => c.complete({ loss: 1, valLoss: 1 / (c.input.epoch + 1) });
  const workflowId = `sweep-limits-ok-${process.pid}`;
  const result = await withWorker(t, stubs, (taskQueue) =>
    t.env.client.workflow.execute<Sweep>(SWEEP, {
      taskQueue,
      workflowId,
      args: [input({ continueAsNewEvery: 1 })],
    }),
  );
  assert.equal(result.status, 'completed');
  assert.equal(result.trials.length, 2);
  const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: t.bundle }, history, workflowId);
});
