// The workflow's record stays bounded however long a run is: 5,000 epochs with failures, pauses
// and retention leave a record (and a retention input) about as big as after 50.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointRef, EpochResult } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import type { TrainingSpecInput } from '../../src/spec';
import {
  backoffMs,
  CHECKPOINT_WINDOW,
  EPOCH_WINDOW,
  recordCheckpoint,
  recordEpoch,
  recordRecovery,
  recordRetention,
  recordWarning,
  retentionInput,
} from '../../workflows/record-update';
import type { RunRecord } from '../../src/contract';
import { bestMetric, countRecoveries, epochsDone, totalRecoveries } from '../../workflows/record-read';

const ref = (epoch: number, batch: number): CheckpointRef => ({
  url: `s3://b/run/epoch=${String(epoch).padStart(4, '0')}-step=${String(epoch * 100 + batch).padStart(7, '0')}.ckpt`,
  sha256: 'a'.repeat(64),
  bytes: 1000,
  epoch,
  batch,
  step: epoch * 100 + batch,
});

function newRecord(input: Partial<TrainingSpecInput>): RunRecord {
  const spec = parseSpec({ task: 'synthetic', epochs: 5000, seed: 1, ...input }, 'run');
  return { spec, checkpoints: [], epochs: [], recoveries: [], unusable: [] };
}

/** Simulates `n` epochs: a crash and a pause checkpoint every few epochs, retention after each. */
function simulate(
  record: RunRecord,
  n: number,
  deletes: (input: ReturnType<typeof retentionInput>) => string[],
) {
  const sizes: number[] = [];
  for (let epoch = 0; epoch < n; epoch++) {
    if (epoch % 3 === 0) {
      recordCheckpoint(record, ref(epoch, 50));
      recordRecovery(record, {
        kind: 'crash',
        reason: 'x'.repeat(80),
        atEpoch: epoch,
        atBatch: 50,
        fromCkpt: 'u',
      });
    }
    const result: EpochResult = {
      epoch,
      step: (epoch + 1) * 100,
      ckpt: ref(epoch + 1, 0),
      metrics: { loss: 1 / (epoch + 1), valLoss: Math.sin(epoch) + 2 },
      weightsSha256: 'f'.repeat(64),
      backend: 'cpu',
      durationMs: 1000,
    };
    recordEpoch(record, result);
    const input = retentionInput(record, 'run', result);
    recordRetention(record, deletes(input));
    if (epoch % 100 === 0) recordWarning(record, `retention after epoch ${epoch} failed: timeout`);
    sizes.push(JSON.stringify(record).length + JSON.stringify(input).length);
  }
  return sizes;
}

for (const [name, policy] of [
  ['keep everything', {}],
  ['keepLast 3', { keepLast: 3 }],
  ['topK 2 by valLoss', { topK: { k: 2, monitor: 'valLoss', mode: 'min' as const } }],
] as const) {
  test(`bounded record over 5,000 epochs (${name})`, () => {
    const record = newRecord({ checkpoint: policy });
    // Retention deletes what the policy does not keep (a stand-in for the activity: all but the newest few).
    const keep = 'keepLast' in policy ? 3 : 'topK' in policy ? 3 : Infinity;
    const sizes = simulate(record, 5000, (input) =>
      input.checkpoints.slice(0, Math.max(0, input.checkpoints.length - keep)).map((c) => c.url),
    );
    const early = Math.max(...sizes.slice(50, 100));
    const late = Math.max(...sizes.slice(4900));
    assert.ok(late <= early * 1.1, `record + retention input grew from ${early} to ${late} bytes`);
    assert.ok(late < 64 * 1024, `${late} bytes`);
    assert.equal(record.epochs.length, EPOCH_WINDOW);
    assert.ok(record.checkpoints.length <= CHECKPOINT_WINDOW);
    assert.equal(epochsDone(record), 5000);
    assert.equal(countRecoveries(record, 'crash'), 1667);
    assert.equal(totalRecoveries(record), 1667);
    assert.equal(record.position?.epoch, 5000);
    const best =
      'topK' in policy ? Math.min(...Array.from({ length: 5000 }, (_, e) => Math.sin(e) + 2)) : 1 / 5000;
    assert.equal(bestMetric(record), best, 'the best over the whole run, not only the window');
  });
}

test('an older record without counters counts from its recoveries', () => {
  const record = newRecord({});
  record.recoveries = [{ kind: 'crash', reason: '', atEpoch: 0, atBatch: 0, fromCkpt: '' }];
  recordRecovery(record, { kind: 'crash', reason: '', atEpoch: 1, atBatch: 0, fromCkpt: '' });
  assert.equal(countRecoveries(record, 'crash'), 2);
});

test('backoff: doubles per consecutive infrastructure failure up to the cap; crashes wait the base', () => {
  const record = newRecord({ recovery: { backoffSeconds: 1, maxBackoffSeconds: 60 } });
  const waits = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => {
    record.streak = { infrastructure: n, fallback: 0 };
    return backoffMs(record, 'infrastructure');
  });
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal(backoffMs(record, 'crash'), 1000);
  record.spec.recovery.backoffSeconds = 0;
  assert.equal(backoffMs(record, 'infrastructure'), 0);
  record.spec.recovery.backoffSeconds = 1e-7;
  assert.equal(backoffMs(record, 'crash'), 0, 'rounded to whole milliseconds, a number, never a string');
});

test('durations are validated: tiny, negative and huge values are refused with a message', () => {
  for (const [recovery, message] of [
    [{ backoffSeconds: 1e-7 }, /backoffSeconds must be 0 or at least 0.001/],
    [{ backoffSeconds: -1 }, /backoffSeconds must not be negative/],
    [{ maxBackoffSeconds: 1e9 }, /maxBackoffSeconds must be at most 1 day/],
    [{ heartbeatTimeoutSeconds: 1e9 }, /heartbeatTimeoutSeconds must be at most 1 day/],
  ] as const) {
    assert.throws(() => parseSpec({ task: 'synthetic', epochs: 1, seed: 1, recovery }), message);
  }
  const spec = parseSpec({ task: 'synthetic', epochs: 1, seed: 1, recovery: { backoffSeconds: 0 } });
  assert.equal(spec.recovery.maxFallbacks, 3);
  assert.equal(spec.recovery.maxBackoffSeconds, 60);
});
