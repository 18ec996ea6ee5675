// The `progress` query of a data-parallel run: the real trainModel workflow with stub shard
// activities the test settles one by one (K = 2, two rounds of one data epoch each). Progress counts
// rounds, places them in data epochs, and marks each shard of the round in flight running, done or
// recovering with its recoveries; the merge is told who trained each shard.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type {
  AggregateRoundInput,
  CheckpointRef,
  ParallelRunProgress,
  ShardResult,
  TrainParallel,
  TrainShardInput,
} from '../../src/contract';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, waitForProgress, withWorker } from './harness';
import { parallelRunStubs, stubCkpt } from './parallel-stubs';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

/** Backoff 60 s: a failed shard stays `recovering` until the test has looked (then it terminates). */
const SPEC = {
  task: 'synthetic',
  epochs: 2,
  seed: 1,
  recovery: { backoffSeconds: 60 },
  parallel: { shards: 2, syncEverySteps: 10 },
};

const ref = (name: string, epoch: number): CheckpointRef =>
  stubCkpt(`run/${name}`, { epoch, batch: 0, step: epoch * 10 });
const globalOf = (round: number) => ref(`parallel/round=000${round}/global`, round);

/** Shard attempts wait for the test: `settle(round, shard, attempt)` completes or fails one. */
class Shards {
  private readonly waiting = new Map<string, { ok(r: ShardResult): void; fail(e: Error): void }>();
  readonly merges: AggregateRoundInput[] = [];

  async settle(round: number, shard: number, attempt: number, failure?: Error): Promise<void> {
    const key = `${round}/${shard}/${attempt}`;
    const deadline = Date.now() + 20_000;
    while (!this.waiting.has(key)) {
      if (Date.now() > deadline) throw new Error(`shard attempt ${key} never started`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const call = this.waiting.get(key);
    if (failure) call?.fail(failure);
    else
      call?.ok({
        round,
        shard,
        ckpt: ref(`parallel/round=000${round}/shard=0${shard}/end-try=${attempt}`, round + 1),
        weightsSha256: `s${round}.${shard}`,
        metrics: { loss: 1 },
        worker: `worker-${shard}`,
        durationMs: 10 + shard,
        backend: 'stub',
      });
  }

  activities() {
    return {
      ...parallelRunStubs({ globalOf, shardBatches: 10, merges: this.merges }),
      trainShard: (input: TrainShardInput): Promise<ShardResult> => {
        const ctx = Context.current();
        ctx.heartbeat({ epoch: input.round, batch: 1, batches: 10, loss: 1 });
        return new Promise((ok, fail) => {
          this.waiting.set(`${input.round}/${input.shard}/${input.attempt}`, { ok, fail });
          ctx.cancelled.catch(fail); // a worker shutting down after a failed assertion ends it
        });
      },
    };
  }
}

const view = async (h: WorkflowHandle, check: (p: ParallelRunProgress) => boolean) =>
  (await waitForProgress(h, (p) => check(p as ParallelRunProgress))) as ParallelRunProgress;
/** The memo's summary line once it matches `want` (the memo is upserted by a later workflow task). */
async function memoSummary(h: WorkflowHandle, want: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const summary = String((await h.describe()).memo?.summary ?? '');
    if (want.test(summary) || Date.now() > deadline) return summary;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const states = (p: ParallelRunProgress) =>
  p.parallel?.current?.shards.map((s) => `${s.state}${s.recoveries ? ` r${s.recoveries}` : ''}`);

test('progress counts rounds and marks each shard of the round in flight; the merge learns who trained', async () => {
  const shards = new Shards();
  await withWorker(t, shards, async (taskQueue) => {
    const h = await t.env.client.workflow.start<TrainParallel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: `wf-parallel-progress-${process.pid}`,
      args: [SPEC],
    });
    let p = await view(h, (x) => x.parallel?.current?.shards.length === 2);
    assert.deepEqual([p.epoch, p.epochs], [0, 2], 'epoch/epochs count rounds');
    assert.deepEqual([p.parallel?.dataEpoch, p.parallel?.dataEpochs], [0, 2]);
    assert.equal(p.parallel?.global, globalOf(0).url);
    assert.deepEqual(states(p), ['running', 'running']);

    await shards.settle(0, 0, 0);
    p = await view(h, (x) => states(x)?.[0] === 'done');
    assert.deepEqual(states(p), ['done', 'running'], 'one shard done, the other still running');
    await shards.settle(0, 1, 0);

    // Round 1 (data epoch 1): the merged round is in the log; the merge was told who trained.
    p = await view(h, (x) => x.parallel?.round === 1 && x.parallel.current?.round === 1);
    assert.deepEqual([p.epoch, p.parallel?.dataEpoch], [1, 1]);
    // The Web UI's memo line and current details count rounds too, not data epochs.
    assert.match(await memoSummary(h, /round 1\//), /^running · round 1\/2 \(K=2\)/);
    const details = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(details.currentDetails ?? '', /^- round 0: /m);
    assert.doesNotMatch(details.currentDetails ?? '', /epoch/);
    assert.deepEqual(
      p.parallel?.log.map((r) => r.shards.map((s) => s.worker)),
      [['worker-0', 'worker-1']],
    );
    assert.deepEqual(shards.merges[0]?.shardInfo, [
      { worker: 'worker-0', recoveries: 0, durationMs: 10 },
      { worker: 'worker-1', recoveries: 0, durationMs: 11 },
    ]);

    await shards.settle(1, 0, 0);
    const preempted = ApplicationFailure.create({ type: 'Preempted', message: 'worker shutting down' });
    await shards.settle(1, 1, 0, preempted);
    p = await view(h, (x) => states(x)?.[1] === 'recovering r1');
    assert.deepEqual(states(p), ['done', 'recovering r1']);
    assert.equal(p.status, 'recovering');
    await h.terminate('the test has seen the recovering shard');
  });
});
