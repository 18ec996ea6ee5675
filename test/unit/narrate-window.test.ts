/**
 * The CLI's views of a long run: the result and the progress query list only the most recent epochs
 * and recoveries, so counts come from the cursor and the totals, and rows keep their epoch numbers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecoveryEvent } from '../../src/contract';
import { closingLines, narrate } from '../../src/cli/render/narrate';
import type { RunSnapshot } from '../../src/cli/render/run-state';
import { epochsDone, firstWindowEpoch } from '../../src/cli/render/run-state';
import type { Progress, TrainingResult } from '../../src/contract';

const ckpt = (epoch: number) => ({
  url: `s3://b/r/epoch=${epoch}.ckpt`,
  sha256: 'h',
  bytes: 1,
  epoch,
  batch: 0,
  step: epoch * 10,
});
const recovery = (i: number): RecoveryEvent => ({
  kind: 'crash',
  reason: `r${i}`,
  atEpoch: i,
  atBatch: 1,
  fromCkpt: 'x',
});

function progressAt(done: number, recoveries: number): RunSnapshot {
  const window = Array.from({ length: Math.min(done, 20) }, (_, i) => ({ loss: done - 20 + i }));
  const progress: Progress = {
    status: 'running',
    epoch: done,
    epochs: 50,
    lastCheckpoint: ckpt(done),
    metrics: window,
    recoveries: Array.from({ length: Math.min(recoveries, 20) }, (_, i) => recovery(recoveries - 20 + i)),
    recoveryCount: recoveries,
  };
  return { workflowId: 'w', runId: 'r', execution: 'RUNNING', startTime: '', attributes: {}, progress };
}

test('narrate prints each newly finished epoch once, by its own number, past the window start', () => {
  const lines = narrate(progressAt(28, 22), progressAt(30, 25));
  assert.deepEqual(
    lines.filter((l) => l.startsWith('✓')),
    ['✓ epoch 28 done: loss 28', `✓ epoch 29 done: loss 29 → ${ckpt(30).url}`],
  );
  assert.deepEqual(
    lines.filter((l) => l.startsWith('⟲')).map((l) => /\((r\d+)\)/.exec(l)?.[1]),
    ['r22', 'r23', 'r24'],
  );
  assert.equal(firstWindowEpoch(progressAt(30, 0)), 10);
});

test('the closing lines count every epoch and recovery, not the window', () => {
  const epochs = Array.from({ length: 20 }, (_, i) => ({
    epoch: 30 + i,
    ckpt: ckpt(31 + i),
    metrics: { loss: i },
    weightsSha256: 'w',
  }));
  const result: TrainingResult = {
    status: 'completed',
    runName: 'r',
    finalCheckpoint: ckpt(50),
    weightsSha256: 'w',
    epochs,
    recoveries: Array.from({ length: 20 }, (_, i) => recovery(i)),
    recoveryCount: 31,
  };
  const snapshot: RunSnapshot = {
    workflowId: 'w',
    runId: 'r',
    execution: 'COMPLETED',
    startTime: '',
    attributes: {},
    result,
  };
  assert.equal(epochsDone(snapshot), 50);
  assert.match(closingLines(snapshot)[0] ?? '', /completed: 50 epochs, 31 recoveries/);
});
