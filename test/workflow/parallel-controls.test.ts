// pause / resume / stop / checkpoint-now inside a running data-parallel round: the real trainModel
// workflow with stub shard activities the test drives (K = 2, two rounds).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type {
  AggregateRoundInput,
  CheckpointRef,
  ControlState,
  ShardResult,
  TrainParallel,
  TrainShardInput,
} from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, waitForProgress, withWorker } from './harness';
import { parallelRunStubs, stubCkpt } from './parallel-stubs';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

const SPEC: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 2,
  seed: 1,
  recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 0.05 },
  parallel: { shards: 2, syncEverySteps: 10 },
};

const ref = (url: string, epoch: number, batch: number): CheckpointRef =>
  stubCkpt(url, { epoch, batch, step: epoch * 10 + batch });
const globalOf = (round: number) => ref(`round=${round}/global`, round, 0);

/** One trainShard attempt, settled by the test (or by a cancellation, as the real activity does). */
class ShardCall {
  cancelled = false;
  private settle!: { resolve(r: ShardResult): void; reject(e: Error): void };
  readonly done = new Promise<ShardResult>((resolve, reject) => (this.settle = { resolve, reject }));
  constructor(readonly input: TrainShardInput) {}

  complete(): void {
    const { round, shard } = this.input;
    const ckpt = ref(`round=${round}/shard=${shard}/end-try=${this.input.attempt}`, round + 1, 0);
    this.settle.resolve({
      round,
      shard,
      ckpt,
      weightsSha256: `s${round}.${shard}`,
      metrics: { loss: 1 },
      worker: 'stub',
      durationMs: 1,
      backend: 'stub',
    });
  }

  /** The checkpoint the real activity saves where it stops, carried by its failure. */
  savedAt(batch: number): CheckpointRef {
    const { round, shard, attempt } = this.input;
    return ref(`round=${round}/shard=${shard}/step=${batch}-try=${attempt}`, round, batch);
  }

  pause(batch: number): CheckpointRef {
    const ckpt = this.savedAt(batch);
    this.settle.reject(ApplicationFailure.create({ type: 'Paused', message: 'paused', details: [{ ckpt }] }));
    return ckpt;
  }

  /** What the real activity does when cancelled (stop, shutdown): save at a boundary, fail with it. */
  onCancel(): void {
    this.cancelled = true;
    const ckpt = this.savedAt(3);
    this.settle.reject(
      ApplicationFailure.create({ type: 'Preempted', message: 'stop', details: [{ ckpt }] }),
    );
  }
}

class ShardStubs {
  readonly calls: ShardCall[] = [];
  readonly merges: AggregateRoundInput[] = [];

  async call(n: number): Promise<ShardCall> {
    const deadline = Date.now() + 20_000;
    while (!this.calls[n]) {
      if (Date.now() > deadline) throw new Error(`shard call ${n} never came; ${this.calls.length} so far`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.calls[n];
  }

  /** The attempt of `shard` in `round` with this attempt number. */
  async attempt(round: number, shard: number, attempt: number): Promise<ShardCall> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = this.calls.find(
        (c) => c.input.round === round && c.input.shard === shard && c.input.attempt === attempt,
      );
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`round ${round} shard ${shard} try ${attempt} never came`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  activities() {
    return {
      ...parallelRunStubs({ globalOf, merges: this.merges }),
      trainShard: async (input: TrainShardInput): Promise<ShardResult> => {
        const ctx = Context.current();
        const call = new ShardCall(input);
        this.calls.push(call);
        const beat = () => ctx.heartbeat({ epoch: input.round, batch: 1, batches: 10, loss: 1 });
        beat();
        const timer = setInterval(beat, 100);
        ctx.cancelled.catch(() => call.onCancel());
        try {
          return await call.done;
        } finally {
          clearInterval(timer);
        }
      },
    };
  }
}

let ids = 0;
async function run(
  stubs: ShardStubs,
  body: (h: WorkflowHandle<TrainParallel>) => Promise<void>,
): Promise<void> {
  const workflowId = `wf-parallel-controls-${process.pid}-${++ids}`;
  await withWorker(t, stubs, async (taskQueue) => {
    const h = await t.env.client.workflow.start<TrainParallel>(TRAIN_MODEL, {
      taskQueue,
      workflowId,
      args: [SPEC],
    });
    await body(h);
  });
}

async function noWorkflowTaskFailures(h: WorkflowHandle): Promise<void> {
  const { events } = await h.fetchHistory();
  assert.deepEqual(
    (events ?? []).filter((e) => e.workflowTaskFailedEventAttributes),
    [],
    'no workflow task failed',
  );
}

test('pause in a running round: the paused shard waits, resume continues it from its checkpoint', async () => {
  const stubs = new ShardStubs();
  await run(stubs, async (h) => {
    const [s0, s1] = [await stubs.attempt(0, 0, 0), await stubs.attempt(0, 1, 0)];
    await h.signal('pause');
    const saved = s0.pause(4); // shard 0 saw the pause at batch 4
    s1.complete(); // shard 1 finished its round before it noticed: its result stands
    await waitForProgress(h, (p) => p.status === 'paused');
    assert.equal(stubs.calls.length, 2, 'nothing starts while paused');
    assert.equal(stubs.merges.length, 0, 'the round does not merge while a shard is paused');
    await h.signal('resume');
    const resumed = await stubs.attempt(0, 0, 1);
    assert.deepEqual(resumed.input.resumeFrom, saved);
    assert.equal(resumed.input.reason, 'pause');
    assert.deepEqual(resumed.input.global, globalOf(0));
    resumed.complete();
    const next = await Promise.all([stubs.attempt(1, 0, 0), stubs.attempt(1, 1, 0)]);
    for (const c of next) c.complete();
    const r = await h.result();
    assert.equal(r.status, 'completed');
    assert.equal(r.recoveryCount, 0, 'a pause is not a recovery');
    assert.deepEqual(
      stubs.merges[0]?.shards.map((c) => c.url),
      [resumed.input, s1.input].map((i) => `s3://stub/round=0/shard=${i.shard}/end-try=${i.attempt}.ckpt`),
    );
    assert.deepEqual(
      r.rounds?.[0]?.shards.map((s) => s.recoveries),
      [0, 0],
    );
    assert.equal(stubs.calls.length, 5, 'only the paused shard ran again');
    await noWorkflowTaskFailures(h);
  });
});

test('stop in a running round: every running shard is cancelled, saves, and the run ends stopped', async () => {
  const stubs = new ShardStubs();
  await run(stubs, async (h) => {
    const [s0, s1] = [await stubs.attempt(0, 0, 0), await stubs.attempt(0, 1, 0)];
    await h.signal('stop');
    const r = await h.result();
    assert.equal(r.status, 'stopped');
    assert.ok(s0.cancelled && s1.cancelled, 'the stop reached both running shards');
    assert.deepEqual(r.finalCheckpoint, globalOf(0), 'the run names the round’s global checkpoint');
    const warning = r.warnings?.find((w) => w.startsWith('stopped inside round 0')) ?? '';
    assert.ok(warning.includes(s0.savedAt(3).url) && warning.includes(s1.savedAt(3).url), warning);
    assert.equal(stubs.merges.length, 0);
    assert.equal(stubs.calls.length, 2, 'no shard started after the stop');
    await noWorkflowTaskFailures(h);
  });
});

test('paused inside a round, then stop: the run ends at once naming the pause checkpoint', async () => {
  const stubs = new ShardStubs();
  await run(stubs, async (h) => {
    const [s0, s1] = [await stubs.attempt(0, 0, 0), await stubs.attempt(0, 1, 0)];
    await h.signal('pause');
    const saved = [s0.pause(2), s1.pause(6)];
    await waitForProgress(h, (p) => p.status === 'paused');
    await h.signal('stop');
    const r = await h.result();
    assert.equal(r.status, 'stopped');
    assert.deepEqual(r.finalCheckpoint, globalOf(0));
    const warning = r.warnings?.find((w) => w.startsWith('stopped inside round 0')) ?? '';
    for (const c of saved) assert.ok(warning.includes(c.url), warning);
    assert.equal(stubs.calls.length, 2);
    await noWorkflowTaskFailures(h);
  });
});

test('checkpoint-now in a running round: counted for the running shards; later attempts start served', async () => {
  const stubs = new ShardStubs();
  await run(stubs, async (h) => {
    const [s0, s1] = [await stubs.attempt(0, 0, 0), await stubs.attempt(0, 1, 0)];
    assert.deepEqual(
      [s0, s1].map((c) => c.input.checkpointRequestsServed),
      [0, 0],
    );
    await h.signal('checkpointNow');
    // The running shards poll `controls` (as an epoch does) and see a count above the one they served.
    assert.equal((await h.query<ControlState>('controls')).checkpointRequests, 1);
    s0.complete();
    s1.complete();
    const next = await Promise.all([stubs.attempt(1, 0, 0), stubs.attempt(1, 1, 0)]);
    assert.deepEqual(
      next.map((c) => c.input.checkpointRequestsServed),
      [1, 1],
      'no redundant save in the next round',
    );
    for (const c of next) c.complete();
    assert.equal((await h.result()).status, 'completed');
  });
});
