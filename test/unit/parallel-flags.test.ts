/**
 * `durable-fit start --shards 4 --sync-every 50`: the flags become a valid `spec.parallel`; half of
 * them, or a bad outer optimizer, are refused with what to write instead.
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

test('--shards 4 --sync-every 50 sets spec.parallel, with the average merge by default', () => {
  const spec = parseSpec(specFromFlags(flagsOf('--shards', '4', '--sync-every', '50')));
  assert.deepEqual(spec.parallel, {
    shards: 4,
    syncEverySteps: 50,
    outer: { optimizer: 'average', lr: 0.7, momentum: 0.9 },
  });
  assert.equal(parseSpec(specFromFlags(flagsOf())).parallel, undefined, 'no flags: not parallel');
});

test('the nesterov merge takes its learning rate and momentum', () => {
  const flags = flagsOf(
    '--shards',
    '2',
    '--sync-every',
    '10',
    '--outer-optimizer',
    'nesterov',
    '--outer-lr',
    '0.5',
  );
  assert.deepEqual(parseSpec(specFromFlags(flags)).parallel?.outer, {
    optimizer: 'nesterov',
    lr: 0.5,
    momentum: 0.9,
  });
});

test('half the flags, a bad merge or K = 0 are refused with what to write', () => {
  assert.throws(
    () => specFromFlags(flagsOf('--shards', '4')),
    /needs both --shards <k> and --sync-every <h>/,
  );
  assert.throws(
    () => flagsOf('--shards', '2', '--sync-every', '3', '--outer-optimizer', 'adam'),
    /average or nesterov/,
  );
  assert.throws(
    () => parseSpec(specFromFlags(flagsOf('--shards', '0', '--sync-every', '3'))),
    /parallel\.shards: must be an integer from 1 to 256/,
  );
});
