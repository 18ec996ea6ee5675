// The CLI tells the user why: durations in Temporal CLI units, no stale progress line after a
// recovery, no bar fragments on logged lines, and a folder URL refused before anything starts.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { NotACkptError } from '../../src/checkpoint/errors';
import { assertCkptUrl } from '../../src/checkpoint/keys';
import { parseDurationMs } from '../../src/config/duration';
import { specFromFlags, withSpecFlags } from '../../src/cli/spec-flags';
import type { SpecFlags } from '../../src/cli/spec-flags';
import { barsView, reportsRecovery } from '../../src/cli/render/watch-view';
import type { RunSnapshot } from '../../src/cli/render/run-state';
import { batchOf } from '../../src/cli/render/run-state';

describe('durations', () => {
  test('Temporal CLI units, compounds, and bare numbers in the setting’s own unit', () => {
    assert.equal(parseDurationMs('30s', 's'), 30_000);
    assert.equal(parseDurationMs('2m', 's'), 120_000);
    assert.equal(parseDurationMs('500ms', 's'), 500);
    assert.equal(parseDurationMs('1h30m', 's'), 5_400_000);
    assert.equal(parseDurationMs('10', 's'), 10_000);
    assert.equal(parseDurationMs('10', 'ms'), 10);
    for (const bad of ['', 'abc', '1x', '-5s']) assert.equal(parseDurationMs(bad, 's'), undefined);
  });

  test('every duration flag goes through it and lands in seconds in the spec', () => {
    const command = withSpecFlags(new Command('t')).exitOverride();
    command.parse(
      [
        '--heartbeat-timeout',
        '30s',
        '--backoff',
        '500ms',
        '--max-backoff',
        '2m',
        '--checkpoint-every-seconds',
        '45',
      ],
      {
        from: 'user',
      },
    );
    const spec = specFromFlags(command.opts<SpecFlags>()) as {
      recovery: Record<string, number>;
      checkpoint: Record<string, number>;
    };
    assert.deepEqual(spec.recovery, {
      heartbeatTimeoutSeconds: 30,
      backoffSeconds: 0.5,
      maxBackoffSeconds: 120,
    });
    assert.deepEqual(spec.checkpoint, { everySeconds: 45 });
    assert.throws(
      () =>
        withSpecFlags(new Command('t'))
          .exitOverride()
          .configureOutput({ writeErr: () => undefined })
          .parse(['--backoff', 'soon'], { from: 'user' }),
      /not a duration/,
    );
  });
});

test('a folder URL is refused with the server’s NotACkptError message; a .ckpt passes', () => {
  assert.throws(
    () => assertCkptUrl('s3://bucket/run/'),
    (err: unknown) => {
      assert.ok(err instanceof NotACkptError);
      assert.match(err.message, /point at an s3:\/\/bucket\/…\/epoch=EEEE-step=SSSSSSS\.ckpt file/);
      return true;
    },
  );
  assert.equal(
    assertCkptUrl('s3://bucket/run/epoch=0001-step=0000010.ckpt'),
    'run/epoch=0001-step=0000010.ckpt',
  );
});

test('a look that reports a recovery prints no batch line (it may be the dead attempt’s)', () => {
  assert.equal(
    reportsRecovery(['⟲ crash at epoch 1 batch 59 (heartbeat) → resumed from s3://b/r/x.ckpt']),
    true,
  );
  assert.equal(reportsRecovery(['✓ epoch 0 done: loss 0.1']), false);
});

test('lines logged above the bars erase the rest of the line (no bar fragments)', async () => {
  let written = '';
  const out = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.toString();
        done();
      },
    }),
    { isTTY: true, columns: 110 },
  );
  const snapshot = {
    workflowId: 'w',
    execution: 'RUNNING',
    attributes: {},
    progress: { epochs: 4, epoch: 2, status: 'running', recoveries: [] },
    pending: {
      activityType: 'trainEpoch',
      identity: 'worker-1',
      details: { epoch: 2, batch: 1, batches: 250, loss: 1 },
    },
  } as unknown as RunSnapshot;
  const view = barsView(out);
  view.update(snapshot, []);
  view.update(snapshot, ['✓ epoch 2 done: loss 0.5', '▶ epoch 3: trainEpoch on worker-2']);
  await new Promise((resolve) => setTimeout(resolve, 150)); // the multibar redraws on its own timer
  view.stop();
  assert.ok(written.includes('✓ epoch 2 done: loss 0.5\x1b[K\n'), JSON.stringify(written.slice(0, 400)));
  assert.ok(written.includes('▶ epoch 3: trainEpoch on worker-2\x1b[K\n'));
});

test('a batch line never shows "/0" before the attempt knows its batch count', () => {
  assert.equal(batchOf({ batch: 122, batches: 0 }), 'batch 122');
  assert.equal(batchOf({ batch: 122, batches: 282 }), 'batch 122/282');
});
