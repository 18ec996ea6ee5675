// Recovery budgets and backoff of the real workflow, with stub activities the test drives: a storage
// outage is ridden through (consecutive budget, capped exponential backoff), a failed retention is a
// warning, fallbacks have a budget and blame only the checkpoint resumed from, a zero backoff starts
// no timer.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainModel } from '../../src/contract';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, withWorker } from './harness';
import type { EpochCall } from './stub-activities';
import { StubActivities } from './stub-activities';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

let ids = 0;
const fast = { heartbeatTimeoutSeconds: 1, backoffSeconds: 0.001, maxBackoffSeconds: 0.004 };
const spec = (extra: Partial<TrainingSpecInput> = {}): TrainingSpecInput => ({
  task: 'synthetic',
  epochs: 3,
  seed: 1,
  recovery: fast,
  ...extra,
});

async function run<T>(
  stubs: StubActivities,
  input: TrainingSpecInput,
  body: (h: WorkflowHandle<TrainModel>) => Promise<T>,
) {
  return withWorker(t, stubs, async (taskQueue) => {
    const workflowId = `wf-recovery-${process.pid}-${++ids}`;
    const handle = await t.env.client.workflow.start<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId,
      args: [input],
    });
    return body(handle);
  });
}

const s3Down = () =>
  ApplicationFailure.create({ type: 'S3Error', message: 'connect ECONNREFUSED 127.0.0.1:9000' });

/** Each epoch fails `perEpoch` times with an infrastructure error, then completes. */
function outage(stubs: StubActivities, perEpoch: number): void {
  const failures = new Map<number, number>();
  stubs.onCall = (call: EpochCall) => {
    const n = failures.get(call.input.epoch) ?? 0;
    failures.set(call.input.epoch, n + 1);
    if (n < perEpoch) call.fail(s3Down());
    else call.complete();
  };
}

// The dev server fires timers about once a second, so these use a backoff of 0 (no timer); the
// doubling and its cap are unit-tested (test/unit/run-record-bounded.test.ts).
const noWait = { ...fast, backoffSeconds: 0 };

test('an outage longer than the budget in total, but not in a row, is ridden through', async () => {
  const stubs = new StubActivities();
  outage(stubs, 8); // 24 infrastructure failures in all, at most 8 in a row (budget 10)
  const r = await run(stubs, spec({ recovery: noWait }), (h) => h.result());
  assert.equal(r.status, 'completed');
  assert.equal(r.recoveryCount, 24);
  assert.ok(r.recoveries.length <= 20, 'the record keeps a window of recoveries');
});

test('more consecutive infrastructure failures than the budget fail the run with a clear message', async () => {
  const stubs = new StubActivities();
  outage(stubs, 11);
  await run(stubs, spec({ recovery: noWait }), async (h) => {
    const err = await h.result().then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /consecutive infrastructure budget of 10 exhausted/);
  });
});

test('a failed retention is a warning: the run completes and says so', async () => {
  const stubs = new StubActivities();
  stubs.retentionFailures = 1;
  stubs.onCall = (call) => call.complete();
  const r = await run(stubs, spec({ checkpoint: { keepLast: 1 } }), (h) => h.result());
  assert.equal(r.status, 'completed');
  assert.equal(r.warnings?.length, 1);
  assert.match(r.warnings?.[0] ?? '', /retention .* failed/);
  assert.equal(stubs.retention.length, 3, 'retention ran after every epoch');
  assert.deepEqual(
    stubs.retention.map((i) => i.epochLog?.epoch),
    [0, 1, 2],
    'each epoch is logged',
  );
});

test('fallbacks have a budget: a starting checkpoint that is always corrupt fails the run', async () => {
  const stubs = new StubActivities();
  stubs.onCall = (call) => {
    if (call.input.epoch === 0) return call.complete();
    if (!call.input.ckptPath) return call.complete(); // a fresh start is never the problem here
    call.fail(corrupt(call.input.ckptPath));
  };
  await run(stubs, spec({ recovery: { ...fast, maxFallbacks: 0 } }), async (h) => {
    const err = await h.result().then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /fallback budget of 0 exhausted/);
  });
});

test('a corrupt object at another key (the one being written) is not blamed on the starting checkpoint', async () => {
  const stubs = new StubActivities();
  let conflicts = 0;
  stubs.onCall = (call) => {
    if (call.input.epoch === 1 && conflicts++ < 3) {
      return call.fail(corrupt(call.input.ckptPath!.replace('epoch=0001', 'epoch=0002')));
    }
    call.complete();
  };
  const r = await run(stubs, spec({ recovery: noWait }), (h) => h.result());
  assert.equal(r.status, 'completed');
  assert.deepEqual(
    r.recoveries.map((e) => e.kind),
    ['infrastructure', 'infrastructure', 'infrastructure'],
  );
  const resumed = stubs.calls.filter((c) => c.input.epoch === 1).map((c) => c.input.ckptPath);
  assert.equal(new Set(resumed).size, 1, 'every attempt resumed from the same, good, checkpoint');
});

test('a backoff of 0 starts no timer', async () => {
  const stubs = new StubActivities();
  let failed = false;
  stubs.onCall = (call) => (failed ? call.complete() : ((failed = true), call.fail(s3Down())));
  await run(stubs, spec({ epochs: 1, recovery: { ...fast, backoffSeconds: 0 } }), async (h) => {
    const r = await h.result();
    assert.equal(r.recoveryCount, 1);
    const { events } = await h.fetchHistory();
    assert.equal((events ?? []).filter((e) => e.timerStartedEventAttributes).length, 0);
  });
});

function corrupt(url: string): Error {
  return ApplicationFailure.create({
    type: 'CheckpointCorruptError',
    message: `checkpoint ${url} is corrupt (hash-mismatch: stub); do not resume from it`,
    nonRetryable: true,
  });
}
