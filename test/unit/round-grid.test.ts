/**
 * How a data-parallel run is shown: the workflow's `progress` counts rounds and carries the shards of
 * the round in flight (workflows/parallel-progress.ts); `status` draws the round × shard grid and
 * `watch` narrates rounds (src/cli/render/round-grid.ts), from fake progress and results.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closingLines, narrate } from '../../src/cli/render/narrate';
import { gridRows, renderRoundGrid, roundsLine, shardCell } from '../../src/cli/render/round-grid';
import type { RunSnapshot } from '../../src/cli/render/run-state';
import { renderStatus, statusJson } from '../../src/cli/render/status-view';
import type {
  CheckpointRef,
  ParallelRunProgress,
  ParallelRunRecord,
  ParallelTrainingResult,
  RoundLog,
} from '../../src/contract';
import { parseSpec } from '../../src/spec';
import { markShard, parallelProgressOf } from '../../workflows/parallel-progress';

const global = (round: number) => `s3://b/run/parallel/round=${String(round).padStart(4, '0')}/global.ckpt`;
const ref = (round: number): CheckpointRef => ({
  url: global(round),
  sha256: 'ab'.repeat(32),
  bytes: 100,
  epoch: round,
  batch: 0,
  step: round * 50,
});
const roundLog = (round: number, recoveries: number[] = [0, 0, 0]): RoundLog => ({
  round,
  ckpt: global(round + 1),
  shards: recoveries.map((r, shard) => ({
    shard,
    ckpt: `s3://b/run/parallel/round=000${round}/shard=0${shard}/end-try=${r}.ckpt`,
    worker: `w${shard}`,
    recoveries: r,
  })),
  roundMs: 1234,
});

/** Round 2 of 12 in flight: shard 0 done, shard 1 at batch 30 of 50, shard 2 crashed once and resuming. */
function running(): RunSnapshot {
  const progress: ParallelRunProgress = {
    status: 'running',
    epoch: 2,
    epochs: 12,
    lastCheckpoint: ref(2),
    metrics: [{ loss: 0.9 }, { loss: 0.7 }],
    recoveries: [],
    recoveryCount: 0,
    parallel: {
      round: 2,
      rounds: 12,
      shards: 3,
      syncEverySteps: 50,
      dataEpoch: 1,
      dataEpochs: 4,
      global: global(2),
      current: {
        round: 2,
        shards: [
          { shard: 0, state: 'done', recoveries: 0 },
          { shard: 1, state: 'running', recoveries: 0 },
          { shard: 2, state: 'running', recoveries: 1 },
        ],
      },
      log: [roundLog(0), roundLog(1, [0, 1, 0])],
    },
  };
  const beat = (shard: number, round: number, batch: number) => ({
    details: { epoch: round, batch, batches: 50, loss: 0.5, round, shard },
    identity: `w${shard}`,
  });
  return {
    workflowId: 'run',
    runId: 'r1',
    execution: 'RUNNING',
    startTime: '2026-01-01T00:00:00.000Z',
    attributes: { task: 'synthetic' },
    progress,
    // Shard 1's heartbeat of this round; a stale one of round 1 (shard 2's dead attempt) is ignored.
    shards: [beat(1, 2, 30), beat(2, 1, 49)],
  };
}

test('a cell: ✓ done, ▶ b30/50 running, ⟲ recovering or resumed but silent, ‖ paused, r = recoveries', () => {
  assert.equal(shardCell({ shard: 0, state: 'done', recoveries: 0 }), '✓');
  assert.equal(shardCell({ shard: 0, state: 'done', recoveries: 1 }), '✓ r1');
  const beat = { epoch: 3, batch: 30, batches: 50, loss: 1, round: 3, shard: 0 };
  assert.equal(shardCell({ shard: 0, state: 'running', recoveries: 0 }, beat), '▶ b30/50');
  assert.equal(shardCell({ shard: 0, state: 'running', recoveries: 2 }, beat), '▶ b30/50 r2');
  assert.equal(shardCell({ shard: 0, state: 'running', recoveries: 0 }), '▶');
  assert.equal(shardCell({ shard: 0, state: 'running', recoveries: 1 }), '⟲ r1');
  assert.equal(shardCell({ shard: 0, state: 'recovering', recoveries: 1 }), '⟲ r1');
  assert.equal(shardCell({ shard: 0, state: 'paused', recoveries: 0 }), '‖');
});

test('the grid: a row per recent round with its global checkpoint, then the round in flight', () => {
  const rows = gridRows(running());
  assert.deepEqual(
    rows.map((r) => [r.round, r.cells, r.live]),
    [
      [0, ['✓', '✓', '✓'], false],
      [1, ['✓', '✓ r1', '✓'], false],
      [2, ['✓', '▶ b30/50', '⟲ r1'], true],
    ],
  );
  assert.equal(rows[1]?.ckpt, global(2), 'a finished round shows the global checkpoint it merged');
  assert.equal(rows[2]?.ckpt, `from ${global(2)}`, 'the round in flight shows where it started');
  const grid = renderRoundGrid(running()) ?? '';
  for (const text of ['shard 0', 'shard 2', '▶ b30/50', '⟲ r1', '✓ r1', '1.2 s', global(1), global(2)])
    assert.ok(grid.includes(text), `grid has ${text}:\n${grid}`);
  assert.match(grid, /every round: s3:\/\/b\/run\/log\/round=\*\.json/);
});

test('status of a running parallel run: rounds and data epoch instead of epochs, and the grid', () => {
  const out = renderStatus(running(), 'http://ui');
  assert.match(out, /rounds\s*│\s*round 2\/12 · data epoch 1\/4 · 3 shards × 50 steps/);
  assert.doesNotMatch(out, /│ epochs /);
  assert.match(out, /rounds × shards/);
  assert.match(out, /loss per round/);
  const json = statusJson(running(), 'http://ui');
  assert.equal(json.epochs, 12, 'progress counts rounds');
  assert.equal(json.parallel?.current?.shards.length, 3);
});

test('a completed parallel run: the grid from the result’s rounds; narration and closing count rounds', () => {
  const result: ParallelTrainingResult = {
    status: 'completed',
    runName: 'run',
    finalCheckpoint: ref(2),
    weightsSha256: 'cd'.repeat(32),
    epochs: [0, 1].map((epoch) => ({ epoch, ckpt: ref(epoch + 1), metrics: { loss: 1 }, weightsSha256: '' })),
    recoveries: [],
    recoveryCount: 0,
    rounds: [roundLog(0), roundLog(1, [2, 0, 0])],
  };
  const done: RunSnapshot = { ...running(), execution: 'COMPLETED', progress: undefined, result, shards: [] };
  assert.equal(roundsLine(done), 'round 2/2');
  assert.deepEqual(
    gridRows(done).map((r) => r.cells),
    [
      ['✓', '✓', '✓'],
      ['✓ r2', '✓', '✓'],
    ],
  );
  assert.match(renderStatus(done, 'http://ui'), /✓ r2/);
  assert.equal(closingLines(done)[0], '■ completed: 2 rounds, 0 recoveries');
  const lines = narrate(undefined, running());
  assert.match(lines[0] ?? '', /^✓ round 0 done: loss 0.9000/);
  assert.ok(lines.includes('  round 2/12 · data epoch 1/4 · 3 shards × 50 steps'), lines.join('\n'));
});

test('a plain run has no grid and keeps its epochs', () => {
  const plain: RunSnapshot = { ...running(), progress: { ...running().progress!, parallel: undefined } };
  plain.shards = [];
  assert.equal(renderRoundGrid(plain), undefined);
  assert.match(renderStatus(plain, 'http://ui'), /epochs\s*│\s*2 \/ 12/);
});

test('the workflow’s progress: rounds as epochs, the data epoch, and the shards of the round in flight', () => {
  const spec = parseSpec(
    { task: 'synthetic', seed: 1, epochs: 4, parallel: { shards: 3, syncEverySteps: 50 } },
    'wf',
  );
  const record: ParallelRunRecord = { spec, checkpoints: [], epochs: [], recoveries: [], unusable: [] };
  assert.equal(parallelProgressOf(record, 'starting').parallel, undefined, 'before initParallel');
  // 4 data epochs of 120 shard batches = 480 steps = 10 rounds of 50; round 5 starts at step 250.
  record.parallel = { round: 5, rounds: 10, global: ref(5), previous: [], log: [], shardBatches: 120 };
  record.position = ref(5);
  markShard(record, 1, { state: 'recovering', recoveries: 1 });
  const p = parallelProgressOf(record, 'recovering');
  assert.equal(p.epoch, 5);
  assert.equal(p.epochs, 10);
  assert.equal(p.parallel?.dataEpoch, 2);
  assert.equal(p.parallel?.dataEpochs, 4);
  assert.deepEqual(
    p.parallel?.current?.shards.map((s) => s.state),
    ['running', 'recovering', 'running'],
  );
  // After the round is merged, the old round's marks are not the next round's.
  record.parallel = { ...record.parallel, round: 6 };
  assert.equal(parallelProgressOf(record, 'running').parallel?.current, undefined);
  markShard(record, 0, { state: 'done', recoveries: 0 });
  assert.equal(parallelProgressOf(record, 'running').parallel?.current?.round, 6);
});
