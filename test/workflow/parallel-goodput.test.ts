// The goodput ledger of a data-parallel run (issue 22): the real trainModel workflow with stub shard
// activities that report their own timing (K = 2, two rounds of H = 10 steps). Shard 1 fails in
// round 0 at batch 7, after a checkpoint at batch 5: the recovery redoes 2 steps, the resumed attempt
// is told so, pays the failure's recovery time, and the result's and progress's goodput count shard
// steps: kept = K × merged steps, trained = kept + redone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { TRAIN_MODEL } from '../../src/contract';
import type {
  AttemptTiming,
  CheckpointRef,
  ParallelRunProgress,
  ShardHeartbeat,
  ShardResult,
  TrainParallel,
  TrainShardInput,
} from '../../src/contract';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, withWorker } from './harness';
import { parallelRunStubs, stubCkpt } from './parallel-stubs';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

const H = 10;
const SPEC = {
  task: 'synthetic',
  epochs: 2,
  seed: 1,
  recovery: { backoffSeconds: 0 },
  parallel: { shards: 2, syncEverySteps: H },
};

const ref = (name: string, step: number): CheckpointRef =>
  stubCkpt(`run/${name}`, { epoch: Math.floor(step / H), batch: step % H, step });
const globalOf = (round: number) => ref(`parallel/round=000${round}/global`, round * H);
/** Shard 1's checkpoint inside round 0, at batch 5. */
const saved = ref('parallel/round=0000/shard=01/step=0000005-try=0', 5);

/** Every shard attempt reports 100 ms queue wait, 200 ms start-up, 1 s training, 50 ms stall. */
const timing = (fromStep: number, reachedStep: number, stallMs = 50): AttemptTiming => ({
  fromStep,
  reachedStep,
  queueMs: 100,
  startupMs: 200,
  trainMs: 1_000,
  stallMs,
  at: Date.now(),
});

test('a shard failure adds its redone steps and recovery to the ledger; goodput counts shard steps', async () => {
  const inputs: TrainShardInput[] = [];
  const activities = {
    ...parallelRunStubs({ globalOf, shardBatches: H }),
    trainShard: async (input: TrainShardInput): Promise<ShardResult> => {
      inputs.push(input);
      const from = input.resumeFrom?.step ?? input.previous?.step ?? 0;
      if (input.round === 0 && input.shard === 1 && input.attempt === 0) {
        const position: ShardHeartbeat = {
          epoch: 0,
          batch: 7,
          batches: H,
          loss: 1,
          round: 0,
          shard: 1,
          ckpt: saved,
          attempt: timing(from, 7, 0),
        };
        Context.current().heartbeat(position);
        throw ApplicationFailure.create({
          type: 'TrainerCrashedError',
          message: 'trainer process exited (signal SIGKILL)',
          details: [position],
        });
      }
      const end = (input.round + 1) * H;
      return {
        round: input.round,
        shard: input.shard,
        ckpt: ref(`parallel/round=000${input.round}/shard=0${input.shard}/end-try=${input.attempt}`, end),
        weightsSha256: `s${input.round}.${input.shard}`,
        metrics: { loss: 1 },
        worker: `worker-${input.shard}`,
        durationMs: 10,
        backend: 'stub',
        attempt: timing(from, end),
      };
    },
  };
  await withWorker(t, { activities: () => activities }, async (taskQueue) => {
    const h = await t.env.client.workflow.start<TrainParallel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: `wf-parallel-goodput-${process.pid}`,
      args: [SPEC],
    });
    const result = await h.result();
    assert.equal(result.status, 'completed');

    // The recovery: infrastructure, from the checkpoint at batch 5, at batch 7: 2 steps redone.
    assert.equal(result.recoveries.length, 1);
    const recovery = result.recoveries[0];
    assert.deepEqual(
      [recovery?.kind, recovery?.atEpoch, recovery?.atBatch, recovery?.fromCkpt, recovery?.stepsRedone],
      ['infrastructure', 0, 7, saved.url, 2],
    );
    assert.ok((recovery?.detectionSeconds ?? -1) >= 0);
    // Only the resumed attempt is told the steps it trains again (the worker's steps-redone counter).
    const resumed = inputs.filter((i) => i.attempt === 1);
    assert.equal(resumed.length, 1);
    assert.deepEqual(
      [resumed[0]?.reason, resumed[0]?.resumeFrom?.url, resumed[0]?.stepsRedone],
      ['infrastructure', saved.url, 2],
    );
    assert.deepEqual(
      inputs.filter((i) => i.attempt === 0).map((i) => i.stepsRedone),
      [undefined, undefined, undefined, undefined],
    );
    for (const i of inputs) assert.ok(i.goodput !== undefined && i.goodput > 0 && i.goodput <= 1);

    // Shard steps: 2 shards × 20 merged steps kept; trained 10 + 7 + 5 (round 0) + 10 + 10 (round 1).
    const g = result.goodput;
    assert.ok(g, 'the result of a data-parallel run carries its goodput');
    assert.deepEqual([g.stepsKept, g.stepsTrained, g.stepsRedone], [40, 42, 2]);
    assert.equal(g.stepsTrained, g.stepsKept + g.stepsRedone);
    assert.equal(g.stepRatio, Math.round((40 / 42) * 1e4) / 1e4);
    assert.deepEqual(
      g.byKind.infrastructure && [g.byKind.infrastructure.failures, g.byKind.infrastructure.stepsRedone],
      [1, 2],
    );
    // The resumed attempt's queue wait and start-up (no backoff) were the failure's recovery.
    assert.equal(g.byKind.infrastructure?.recoverySeconds, 0.3);
    // Seconds are the two shards' mean: recovery 0.3 s, queue wait of the 4 first attempts (the
    // failed one too) 4 × 0.3 s, stall of the 4 finished attempts 4 × 50 ms.
    assert.deepEqual(g.lostSeconds, {
      detection: g.lostSeconds.detection,
      recovery: 0.15,
      checkpointStall: 0.1,
      queueWait: 0.6,
    });
    assert.ok(g.ratio > 0 && g.ratio <= 1, `ratio ${g.ratio}`);

    // The progress query (what `status` reads) shows the same ledger.
    const progress = await h.query<ParallelRunProgress>('progress');
    assert.deepEqual(
      progress.goodput && [
        progress.goodput.stepsKept,
        progress.goodput.stepsTrained,
        progress.goodput.stepsRedone,
      ],
      [40, 42, 2],
    );
  });
});
