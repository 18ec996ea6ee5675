/**
 * `durable-fit start --rollback-on-nan --rollback-on-spike 3:100 …`: the divergence flags become a
 * valid `spec.divergence`; a malformed spike and divergence with data-parallel training are refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import type { SpecFlags } from '../../src/cli/spec-flags';
import { specFromFlags, withSpecFlags } from '../../src/cli/spec-flags';
import { parseSpec } from '../../src/spec';

function flagsOf(...args: string[]): SpecFlags {
  const command = withSpecFlags(new Command('t')).exitOverride();
  command.configureOutput({ writeErr: () => undefined });
  command.parse(['--task', 'synthetic', '--epochs', '2', '--seed', '1', ...args], { from: 'user' });
  return command.opts<SpecFlags>();
}

test('no divergence flag: rollback is off', () => {
  assert.equal(parseSpec(specFromFlags(flagsOf())).divergence, undefined);
});

test('--rollback-on-nan with the window and budget flags', () => {
  const spec = parseSpec(
    specFromFlags(
      flagsOf(
        '--rollback-on-nan',
        '--rollback-steps',
        '100',
        '--skip-batches',
        '300',
        '--max-rollbacks',
        '5',
      ),
    ),
  );
  assert.deepEqual(spec.divergence, {
    onNonFinite: true,
    rollbackSteps: 100,
    skipBatches: 300,
    maxRollbacks: 5,
  });
});

test('--rollback-on-spike alone watches spikes only; with --rollback-on-nan both', () => {
  assert.deepEqual(parseSpec(specFromFlags(flagsOf('--rollback-on-spike', '3:100'))).divergence, {
    onNonFinite: false,
    spike: { factor: 3, window: 100 },
    rollbackSteps: 0,
    skipBatches: 1,
    maxRollbacks: 3,
  });
  const both = parseSpec(specFromFlags(flagsOf('--rollback-on-spike', '2.5:50', '--rollback-on-nan')));
  assert.equal(both.divergence?.onNonFinite, true);
});

test('bad input says what to write', () => {
  assert.throws(() => flagsOf('--rollback-on-spike', '3'), /use e\.g\. 3:100/);
  assert.throws(
    () => parseSpec(specFromFlags(flagsOf('--rollback-on-spike', '1:10'))),
    /spike\.factor must be above 1/,
  );
  assert.throws(
    () =>
      parseSpec({
        task: 'synthetic',
        epochs: 1,
        seed: 1,
        divergence: {},
        parallel: { shards: 2, syncEverySteps: 5 },
      }),
    /divergence rollback works on single-worker runs only/,
  );
});
