// stop / pause / resume / checkpoint-now in every state of the real workflow, with stub activities
// the test drives (running, paused between epochs, paused mid-epoch, recovering, backing off).
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { ControlState, TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainingResult } from '../../src/contract';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, waitForProgress, withWorker } from './harness';
import { ckptAt, StubActivities } from './stub-activities';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

let ids = 0;
const spec = (extra: Partial<TrainingSpecInput> = {}): TrainingSpecInput => ({
  task: 'synthetic',
  epochs: 3,
  seed: 1,
  recovery: { heartbeatTimeoutSeconds: 1, backoffSeconds: 0.05 },
  ...extra,
});

async function run(
  stubs: StubActivities,
  input: TrainingSpecInput,
  body: (h: WorkflowHandle<TrainModel>, id: string) => Promise<void>,
): Promise<void> {
  await withWorker(t, stubs, async (taskQueue) => {
    const workflowId = `wf-controls-${process.pid}-${++ids}`;
    const handle = await t.env.client.workflow.start<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId,
      args: [input],
    });
    await body(handle, workflowId);
  });
}

test('running: stop finishes the running epoch, then the run ends stopped at its checkpoint', async () => {
  const stubs = new StubActivities();
  await run(stubs, spec(), async (h, id) => {
    const first = await stubs.call(0);
    await h.signal('stop');
    first.complete();
    const r = await h.result();
    assert.equal(r.status, 'stopped');
    assert.deepEqual(r.finalCheckpoint, ckptAt(id, 1, 0));
    assert.equal(stubs.calls.length, 1);
  });
});

test('running: checkpoint-now reaches the running epoch; pause at a batch, checkpoint-now while paused, resume', async () => {
  const stubs = new StubActivities();
  await run(stubs, spec({ epochs: 1 }), async (h, id) => {
    const first = await stubs.call(0);
    await h.signal('checkpointNow');
    assert.equal((await h.query<ControlState>('controls')).checkpointRequests, 1);
    await h.signal('pause');
    assert.equal((await h.query<ControlState>('controls')).paused, true);
    const saved = first.interrupt('Paused', 4); // the activity saw the pause at batch 4
    await waitForProgress(h, (p) => p.status === 'paused' && p.lastCheckpoint?.url === saved.url);
    await h.signal('checkpointNow'); // served by the checkpoint the run paused at
    await h.signal('resume');
    const resumed = await stubs.call(1);
    assert.equal(resumed.type, 'resumeEpoch');
    assert.equal(resumed.input.reason, 'pause');
    assert.equal(resumed.input.ckptPath, saved.url);
    assert.equal(resumed.input.checkpointRequestsServed, 2, 'no redundant save after resume');
    resumed.complete();
    const r = await h.result();
    assert.equal(r.status, 'completed');
    assert.deepEqual(r.finalCheckpoint, ckptAt(id, 1, 0));
  });
});

test('paused mid-epoch: stop ends the run at once, stopped, naming the pause checkpoint', async () => {
  const stubs = new StubActivities();
  await run(stubs, spec(), async (h) => {
    const first = await stubs.call(0);
    await h.signal('pause');
    const saved = first.interrupt('Paused', 5);
    await waitForProgress(h, (p) => p.status === 'paused');
    await h.signal('stop');
    const r = await resultOrTaskFailure(h); // before the fix: a busy loop, caught by the loop guard
    assert.equal(r.status, 'stopped');
    assert.deepEqual(r.finalCheckpoint, saved);
    assert.equal(r.weightsSha256, '', 'no epoch finished');
    assert.equal(stubs.calls.length, 1, 'no epoch started after the stop');
    await assertNoWorkflowTaskFailures(h);
  });
});

test('paused between epochs: the next epoch waits; resume trains it; stop ends the run at the epoch end', async () => {
  const stubs = new StubActivities();
  await run(stubs, spec(), async (h, id) => {
    const first = await stubs.call(0);
    await h.signal('pause'); // the epoch ends before the activity notices
    first.complete();
    await waitForProgress(h, (p) => p.status === 'paused' && p.lastCheckpoint?.epoch === 1);
    await h.signal('checkpointNow'); // served by the epoch-end checkpoint
    await h.signal('resume');
    const second = await stubs.call(1);
    assert.equal(second.type, 'trainEpoch');
    assert.equal(second.input.ckptPath, ckptAt(id, 1, 0).url);
    assert.equal(second.input.checkpointRequestsServed, 1);
    await h.signal('pause');
    second.complete();
    await waitForProgress(h, (p) => p.status === 'paused' && p.lastCheckpoint?.epoch === 2);
    await h.signal('stop');
    const r = await h.result();
    assert.equal(r.status, 'stopped');
    assert.deepEqual(r.finalCheckpoint, ckptAt(id, 2, 0));
    assert.equal(r.weightsSha256, 'w1');
    assert.equal(stubs.calls.length, 2);
    await assertNoWorkflowTaskFailures(h);
  });
});

test('recovering: after a crash the resume runs; checkpoint-now, pause and resume it, stop finishes its epoch', async () => {
  const stubs = new StubActivities();
  await run(stubs, spec(), async (h, id) => {
    (await stubs.call(0)).crash();
    const resumed = await stubs.call(1);
    assert.equal(resumed.type, 'trainEpoch', 'no checkpoint yet: a fresh start');
    await waitForProgress(h, (p) => p.status === 'recovering' && p.recoveries.length === 1);
    await h.signal('checkpointNow'); // the resuming activity sees it through the controls query
    assert.equal((await h.query<ControlState>('controls')).checkpointRequests, 1);
    await h.signal('pause');
    const saved = resumed.interrupt('Paused', 3);
    await waitForProgress(h, (p) => p.status === 'paused');
    await h.signal('resume');
    const again = await stubs.call(2);
    assert.equal(again.input.ckptPath, saved.url);
    assert.equal(again.input.checkpointRequestsServed, 1, 'served by the checkpoint saved at the pause');
    await h.signal('stop');
    again.complete();
    const r = await h.result();
    assert.equal(r.status, 'stopped');
    assert.deepEqual(r.finalCheckpoint, ckptAt(id, 1, 0));
    assert.equal(r.recoveries[0]?.kind, 'crash');
  });
});

test('backing off: stop ends the wait and the run at once; pause ends the wait, resume continues', async () => {
  const slow = spec({ recovery: { heartbeatTimeoutSeconds: 1, backoffSeconds: 600 } });
  const stubs = new StubActivities();
  await run(stubs, slow, async (h, id) => {
    const first = await stubs.call(0);
    const saved = first.interrupt('Preempted', 6);
    await waitForProgress(h, (p) => p.status === 'recovering');
    await h.signal('checkpointNow');
    await h.signal('pause');
    await waitForProgress(h, (p) => p.status === 'paused');
    await h.signal('resume');
    const resumed = await stubs.call(1);
    assert.equal(resumed.input.ckptPath, saved.url);
    assert.equal(resumed.input.checkpointRequestsServed, 1);
    resumed.fail(new Error('stub: S3 unreachable'));
    await waitForProgress(h, (p) => p.recoveries.length === 2);
    await h.signal('stop');
    const r = await h.result();
    assert.equal(r.status, 'stopped');
    assert.deepEqual(r.finalCheckpoint, saved);
    assert.ok(r.finalCheckpoint.url.includes(id));
  });
});

test('continue-as-new every epoch carries pause, stop and checkpoint-now requests', async () => {
  const stubs = new StubActivities();
  await run(stubs, spec({ continueAsNewEvery: 1, epochs: 2 }), async (h) => {
    const first = await stubs.call(0);
    await h.signal('checkpointNow');
    await h.signal('pause');
    first.complete(); // the epoch ends before the activity notices the pause: continue-as-new is due
    const latest = t.env.client.workflow.getHandle(h.workflowId);
    await waitForProgress(latest, (p) => p.status === 'paused' && p.lastCheckpoint?.epoch === 1);
    const controls = await latest.query<ControlState>('controls');
    assert.equal(controls.checkpointRequests, 1);
    assert.equal(stubs.calls.length, 1, 'paused: no epoch started');
    await latest.signal('resume');
    const second = await stubs.call(1);
    assert.equal(second.input.checkpointRequestsServed, 1);
    await latest.signal('stop');
    second.complete();
    const r = await latest.result();
    assert.equal(r.status, 'completed');
  });
});

/** The result, or the first workflow task failure's message as an error (no waiting for a timeout). */
async function resultOrTaskFailure(h: WorkflowHandle<TrainModel>): Promise<TrainingResult> {
  for (;;) {
    if ((await h.describe()).status.name !== 'RUNNING') return h.result();
    const { events } = await h.fetchHistory();
    const failed = (events ?? []).find((e) => e.workflowTaskFailedEventAttributes);
    if (failed)
      throw new Error(`workflow task failed: ${failed.workflowTaskFailedEventAttributes?.failure?.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function assertNoWorkflowTaskFailures(h: WorkflowHandle): Promise<void> {
  const { events } = await h.fetchHistory();
  const failed = (events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
  assert.deepEqual(failed, [], 'no workflow task failed');
}

test('starting: progress answers while prepareRun still runs, and a pause sent then is kept', async () => {
  const stubs = new StubActivities();
  let release!: () => void;
  stubs.prepareGate = new Promise<void>((r) => (release = r));
  await run(stubs, spec({ epochs: 2 }), async (h) => {
    const starting = await waitForProgress(h, (p) => p.status === 'starting');
    assert.deepEqual({ epoch: starting.epoch, epochs: starting.epochs }, { epoch: 0, epochs: 2 });
    await h.signal('pause');
    release();
    await waitForProgress(h, (p) => p.status === 'paused');
    assert.equal(stubs.calls.length, 0, 'no epoch started while paused');
    await h.signal('resume');
    (await stubs.call(0)).complete();
    (await stubs.call(1)).complete();
    assert.equal((await h.result()).status, 'completed');
  });
});
