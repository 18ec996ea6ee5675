/**
 * The goodput ledger of a data-parallel run (issue 22; workflows/goodput.ts), for fault and
 * integration tests: it counts shard steps, so what a run keeps is K shards × H steps × the rounds
 * merged, and every step trained is either kept or redone after a failure.
 */
import assert from 'node:assert/strict';
import type { ParallelTrainingResult } from '../../src/contract';

export interface ParallelShape {
  /** Shards K. */
  shards: number;
  /** Steps per round H (`parallel.syncEverySteps`). */
  steps: number;
  /** Rounds merged (the run's rounds, for a completed run). */
  rounds: number;
}

/**
 * The result's ledger agrees with the run: kept = K × H × rounds, the recoveries' steps redone add
 * up to the ledger's (by kind too), every recovery says its steps redone, and trained = kept + redone.
 */
export function assertParallelLedgerConsistent(result: ParallelTrainingResult, shape: ParallelShape): void {
  const g = result.goodput;
  assert.ok(g, 'the result of a data-parallel run carries its goodput ledger');
  assert.equal(g.stepsKept, shape.shards * shape.steps * shape.rounds, 'kept = K × H × rounds merged');
  for (const r of result.recoveries)
    assert.notEqual(r.stepsRedone, undefined, `${r.kind} recovery at round ${r.atEpoch}: steps redone`);
  const redone = result.recoveries.reduce((sum, r) => sum + (r.stepsRedone ?? 0), 0);
  assert.equal(g.stepsRedone, redone, "ledger steps redone = the recoveries' steps redone");
  const byKind = Object.values(g.byKind).reduce((sum, k) => sum + k.stepsRedone, 0);
  assert.equal(byKind, g.stepsRedone, 'by kind adds up');
  const failures = Object.values(g.byKind).reduce((sum, k) => sum + k.failures, 0);
  assert.equal(failures, result.recoveryCount ?? result.recoveries.length, 'one ledger failure per recovery');
  assert.equal(g.stepsTrained, g.stepsKept + g.stepsRedone, 'trained = kept + redone');
  assert.ok(g.ratio > 0 && g.ratio <= 1, `goodput ratio ${g.ratio}`);
}
