/**
 * A data-parallel run's goodput as `status` shows it (issue 22): the workflow's `progress` for a
 * parallel run (workflows/parallel-progress.ts) carries the ledger in shard steps, and `status` and
 * `status --json` (src/cli/render/status-view.ts) read it from that shape like an epoch run's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunSnapshot } from '../../src/cli/render/run-state';
import { renderStatus, statusJson } from '../../src/cli/render/status-view';
import type { AttemptTiming, CheckpointRef, ParallelRunRecord } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import { addShardAttempt, addShardFailure, newLedger } from '../../workflows/goodput';
import { markShard, parallelProgressOf } from '../../workflows/parallel-progress';

const H = 20;
const ref = (name: string, step: number): CheckpointRef => ({
  url: `s3://b/run/parallel/${name}.ckpt`,
  sha256: 'ab'.repeat(32),
  bytes: 100,
  epoch: Math.floor(step / H),
  batch: step % H,
  step,
});
const timing = (fromStep: number, reachedStep: number): AttemptTiming => ({
  fromStep,
  reachedStep,
  queueMs: 0,
  startupMs: 0,
  trainMs: 1_000,
  stallMs: 0,
  at: 0,
});

/** Two rounds of K = 3 merged; in round 2 shard 0 is done and shard 1 resumes after a crash. */
function record(): ParallelRunRecord {
  let ledger = newLedger(Date.now() - 10_000, 0);
  for (let round = 0; round < 2; round++)
    for (let shard = 0; shard < 3; shard++)
      ledger = addShardAttempt(ledger, timing(round * H, (round + 1) * H), undefined);
  ledger = addShardAttempt(ledger, timing(40, 60), undefined);
  const crash = addShardFailure(
    ledger,
    { kind: 'crash', timing: timing(40, 49), reached: 47 },
    undefined,
    47,
    0,
    0,
  );
  const r: ParallelRunRecord = {
    spec: parseSpec(
      { task: 'synthetic', seed: 1, epochs: 4, parallel: { shards: 3, syncEverySteps: H } },
      'run',
    ),
    checkpoints: [],
    epochs: [],
    recoveries: [],
    unusable: [],
    position: ref('round=0002/global', 40),
    ledger: crash.ledger,
    parallel: { round: 2, rounds: 4, global: ref('round=0002/global', 40), previous: [], log: [] },
  };
  markShard(r, 0, { state: 'done', recoveries: 0, step: 60 });
  markShard(r, 1, { state: 'recovering', recoveries: 1, step: 47 });
  return r;
}

test('a parallel run’s progress carries its goodput in shard steps; status and status --json show it', () => {
  const progress = parallelProgressOf(record(), 'recovering');
  assert.ok(progress.goodput, 'the progress of a data-parallel run carries its goodput');
  assert.deepEqual(
    [progress.goodput.stepsKept, progress.goodput.stepsTrained, progress.goodput.stepsRedone],
    [3 * 40 + 20 + 7, 149, 2],
  );
  const snapshot: RunSnapshot = {
    workflowId: 'run',
    runId: 'r1',
    execution: 'RUNNING',
    startTime: '2026-01-01T00:00:00.000Z',
    attributes: { task: 'synthetic' },
    progress,
  };
  assert.deepEqual(statusJson(snapshot, 'http://ui').goodput, progress.goodput);
  assert.match(
    renderStatus(snapshot, 'http://ui'),
    /goodput\s*│.*steps kept 147 of 149 \(2 redone: crash 2\)/,
  );
});
