// Where the real workflow resumes (issue 22), with stub activities the test drives: a failure of any
// type carries the attempt's newest durable checkpoint and the run resumes from it; a worker lost
// after the epoch-end heartbeat leaves the epoch recorded (metrics, weights hash, log entry).
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import type { ResumeEpochInput, TrainingResult, TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, withWorker } from './harness';
import { BATCHES, ckptAt, StubActivities } from './stub-activities';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

let ids = 0;
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 3,
  seed: 1,
  recovery: { heartbeatTimeoutSeconds: 1, backoffSeconds: 0 },
};

function run(stubs: StubActivities): Promise<TrainingResult> {
  return withWorker(t, stubs, async (taskQueue) => {
    const workflowId = `wf-resume-point-${process.pid}-${++ids}`;
    const handle = await t.env.client.workflow.start<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId,
      args: [spec],
    });
    return await handle.result();
  });
}

test('a trainer crash mid-epoch resumes from the checkpoint its failure carries, not the epoch start', async () => {
  const stubs = new StubActivities();
  stubs.onCall = (call) => {
    if (call.input.epoch !== 1 || call.type === 'resumeEpoch') return call.complete();
    const ckpt = ckptAt(call.run, 1, 6);
    const details = { epoch: 1, batch: 8, batches: BATCHES, loss: 1, ckpt };
    call.fail(
      ApplicationFailure.create({ type: 'TrainerCrashedError', message: 'SIGKILL', details: [details] }),
    );
  };
  const result = await run(stubs);
  assert.equal(result.status, 'completed');
  const resumed = stubs.calls.find((c) => c.type === 'resumeEpoch');
  assert.ok(resumed);
  const input = resumed.input as ResumeEpochInput;
  assert.equal(input.ckptPath, ckptAt(resumed.run, 1, 6).url);
  assert.equal(input.reason, 'infrastructure');
  assert.deepEqual(
    result.recoveries.map((r) => [r.kind, r.atEpoch, r.atBatch, r.fromCkpt]),
    [['infrastructure', 1, 8, input.ckptPath]],
  );
});

test('a worker lost after the last epoch-end heartbeat: the epoch is recorded and its log entry written', async () => {
  const stubs = new StubActivities();
  stubs.onCall = (call) => {
    if (call.input.epoch !== 2) return call.complete();
    const finished = call.result({ loss: 0.125 });
    call.crashAfter({ epoch: 2, batch: BATCHES, batches: BATCHES, loss: 1, ckpt: finished.ckpt, finished });
  };
  const result = await run(stubs);
  assert.equal(result.status, 'completed');
  assert.equal(stubs.calls.length, 3, 'no epoch trained again');
  assert.deepEqual(
    result.epochs.map((e) => [e.epoch, e.weightsSha256, e.metrics.loss]),
    [
      [0, 'w0', 1],
      [1, 'w1', 0.5],
      [2, 'w2', 0.125],
    ],
  );
  assert.equal(result.weightsSha256, 'w2', 'the final weights are those of the final checkpoint');
  assert.equal(result.finalCheckpoint?.url, ckptAt(stubs.calls[2]!.run, 3, 0).url);
  assert.deepEqual(
    result.recoveries.map((r) => [r.kind, r.atEpoch, r.atBatch, r.fromCkpt]),
    [['crash', 2, BATCHES, result.finalCheckpoint?.url]],
  );
  assert.deepEqual(
    stubs.retention.map((r) => r.epochLog?.epoch),
    [2],
    'retention writes the log entry (no policy: it is not called after epochs that completed)',
  );
});
