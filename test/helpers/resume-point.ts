/**
 * Where a recovery resumed, for fault tests (issue 22). A deterministic run ends with the same
 * weights whether it resumed from its newest checkpoint or from the start of the epoch, so final
 * weights cannot show lost work: these helpers read, from the run's history, the checkpoint each
 * recovery handed to the resumed attempt, and check it against what the test saw before the fault.
 */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type {
  CheckpointRef,
  RecoveryEvent,
  ResumeEpochInput,
  TrainingResult,
  TrainShardInput,
} from '../../src/contract';

/** A recovery and the checkpoint the attempt after it started from (absent: a fresh or round start). */
export interface ResumePoint {
  recovery: RecoveryEvent;
  ckpt?: CheckpointRef;
}

/** What the test knew before the fault, and how much re-training it allows. */
export interface ResumeExpectation {
  /** The newest durable checkpoint the test saw in the attempt's heartbeats before the fault. */
  newest?: CheckpointRef;
  /** The batch (of the recovery's epoch or round) the test saw the attempt reach before the fault. */
  reached?: number;
  /**
   * Batches the policy lets pass between two checkpoints (`checkpoint.everyBatches`; 0 for a
   * preemption, which saves where it stops). Absent: no bound, for faults that also stop the saves
   * (an object store down for the rest of the epoch).
   */
  interval?: number;
  /**
   * Batches that may also pass between a save falling due and its checkpoint being durable: the
   * trainer reports progress every 50 ms and keeps training while the upload runs. @default 0
   */
  slack?: number;
}

/**
 * The run's recoveries, each with the checkpoint its resumed attempt was handed (from the history),
 * or, after a recovery that needed no attempt (the last epoch had ended), the recorded checkpoint.
 */
export async function resumePoints(
  handle: WorkflowHandle,
  result: Pick<TrainingResult, 'recoveries' | 'epochs'>,
): Promise<ResumePoint[]> {
  const history = await handle.fetchHistory();
  const inputs = (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'resumeEpoch' || a?.activityType?.name === 'trainShard')
    .map((a) =>
      defaultPayloadConverter.fromPayload<ResumeEpochInput | TrainShardInput>(a!.input!.payloads![0]!),
    );
  const handed = inputs.flatMap((i) => {
    if ('ckptPath' in i) return i.ckpt ? [i.ckpt] : [];
    return i.resumeFrom ? [i.resumeFrom] : [];
  });
  const recorded = result.epochs.map((e) => e.ckpt);
  return result.recoveries.map((recovery) => {
    const ckpt = [...handed, ...recorded].find((c) => c.url === recovery.fromCkpt);
    return { recovery, ...(ckpt ? { ckpt } : {}) };
  });
}

/**
 * Steps trained again after a recovery: where the failed attempt had got to (`atBatch` of
 * `atEpoch`) minus the cursor it resumed from. An epoch that had ended (its checkpoint is the next
 * epoch's batch 0) redid nothing.
 */
export function stepsRedone(point: ResumePoint): number {
  const { recovery, ckpt } = point;
  const from = ckpt ?? { epoch: recovery.atEpoch, batch: 0 };
  if (from.epoch === recovery.atEpoch + 1 && from.batch === 0) return 0;
  if (from.epoch !== recovery.atEpoch) return Number.POSITIVE_INFINITY; // resumed from an earlier epoch
  return recovery.atBatch - from.batch;
}

/**
 * Asserts the recovery resumed from the newest durable checkpoint the failed attempt had (at least
 * the one the test saw), that `atBatch` says where the attempt was (at least where the test saw it),
 * and that the steps redone stay within the checkpoint interval (plus `slack`).
 */
export function assertResumedFromNewest(point: ResumePoint, expect: ResumeExpectation): void {
  const { recovery, ckpt } = point;
  const what = `${recovery.kind} recovery at epoch ${recovery.atEpoch} batch ${recovery.atBatch} from ${recovery.fromCkpt}`;
  if (expect.newest) {
    assert.ok(
      ckpt,
      `${what}: the resumed attempt was handed no checkpoint; ${expect.newest.url} was durable`,
    );
    assert.ok(
      ckpt.step >= expect.newest.step,
      `${what}: resumed from step ${ckpt.step}, but ${expect.newest.url} (step ${expect.newest.step}) was durable`,
    );
  }
  if (expect.reached !== undefined)
    assert.ok(recovery.atBatch >= expect.reached, `${what}: the attempt had reached batch ${expect.reached}`);
  const redone = stepsRedone(point);
  assert.ok(redone >= 0, `${what}: resumed ahead of where the attempt was`);
  // The run's own ledger (epoch runs) counts the same lost steps, from the attempt's own report.
  if (recovery.stepsRedone !== undefined && Number.isFinite(redone))
    assert.equal(recovery.stepsRedone, redone, `${what}: the ledger's steps redone`);
  if (expect.interval === undefined) return;
  const allowed = expect.interval + (expect.slack ?? 0);
  assert.ok(redone <= allowed, `${what}: ${redone} steps redone, more than ${allowed}`);
}

/**
 * The run's goodput ledger agrees with its recoveries: the steps each lost add up to the ledger's
 * `stepsRedone`, kept steps are the final cursor's, and nothing is counted twice.
 */
export function assertLedgerConsistent(result: TrainingResult, startStep = 0): void {
  const g = result.goodput;
  assert.ok(g, 'the result carries the goodput ledger');
  const redone = result.recoveries.reduce((sum, r) => sum + (r.stepsRedone ?? 0), 0);
  assert.equal(g.stepsRedone, redone, "ledger steps redone = the recoveries' steps redone");
  assert.equal(g.stepsKept, result.finalCheckpoint.step - startStep, 'kept = the final cursor');
  assert.equal(g.stepsTrained, g.stepsKept + g.stepsRedone, 'trained = kept + redone');
  assert.ok(g.ratio > 0 && g.ratio <= 1, `goodput ratio ${g.ratio}`);
  const byKind = Object.values(g.byKind).reduce((sum, k) => sum + k.stepsRedone, 0);
  assert.equal(byKind, g.stepsRedone, 'by kind adds up');
}
