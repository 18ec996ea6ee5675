/**
 * Pure updates of the run record. They keep it bounded, so a run of any length carries a record of
 * about the same size through continue-as-new and sends retention a bounded input: recent epochs
 * and recoveries in windows, totals in counters, and only the checkpoints that retention or a
 * fallback can still need. The full per-epoch log is written to the bucket by the retention activity.
 */
import type {
  CheckpointRef,
  EpochResult,
  RecoveryEvent,
  RecoveryKind,
  RetentionInput,
} from '../src/contract';
import type { RunRecord } from '../src/contract';
import { better, monitored } from './record-read';
import type { Streak } from './budget';
import { afterCheckpoint, backoffFor, NO_STREAK } from './budget';

/** Finished epochs kept in the record (the result's `epochs`, the progress query's `metrics`). */
export const EPOCH_WINDOW = 20;
/** Recoveries and warnings kept in the record; `counts` keeps the totals. */
export const RECOVERY_WINDOW = 20;
/** Checkpoints kept for fallbacks when the retention policy keeps everything (the bucket still has all). */
export const CHECKPOINT_WINDOW = 20;

/** Records a finished epoch: its result, its checkpoint as the new position, and progress. */
export function recordEpoch(record: RunRecord, result: EpochResult): void {
  record.epochs = [...record.epochs.filter((e) => e.epoch < result.epoch), result].slice(-EPOCH_WINDOW);
  addCheckpoint(record, result.ckpt);
  record.scores = [...(record.scores ?? []), { url: result.ckpt.url, metrics: result.metrics }];
  record.best = better(record, record.best, monitored(record, result.metrics));
  record.position = result.ckpt;
  record.resumeReason = undefined;
  record.backend = result.backend;
  record.streak = { ...NO_STREAK }; // progress: both streaks end (workflows/budget.ts)
}

/** A newer durable checkpoint (e.g. from a failure's details) is progress too. */
export function recordCheckpoint(record: RunRecord, ckpt: CheckpointRef): void {
  addCheckpoint(record, ckpt);
  record.position = ckpt;
  record.streak = afterCheckpoint(streakOf(record));
}

/** Appends a recovery to the window and counts it. */
export function recordRecovery(record: RunRecord, event: RecoveryEvent): void {
  const counts = countsOf(record); // before the window moves: older records count from it
  record.counts = { ...counts, [event.kind]: (counts[event.kind] ?? 0) + 1 };
  record.recoveries = [...record.recoveries, event].slice(-RECOVERY_WINDOW);
}

/**
 * An epoch ended by the attempt that resumed it: the epoch's recovery (the newest, when it is at this
 * epoch and names no site yet) records the store that attempt used (`RecoveryEvent.site`).
 */
export function noteRecoverySite(record: RunRecord, epoch: number, site: string): void {
  const last = record.recoveries.at(-1);
  if (!last || last.site !== undefined || last.atEpoch !== epoch) return;
  record.recoveries = [...record.recoveries.slice(0, -1), { ...last, site }];
}

export function recordWarning(record: RunRecord, warning: string): void {
  record.warnings = [...(record.warnings ?? []), warning].slice(-RECOVERY_WINDOW);
}

/** Forgets deleted checkpoints; when the policy keeps everything, only the newest are remembered. */
export function recordRetention(record: RunRecord, deleted: readonly string[]): void {
  const gone = new Set(deleted);
  let kept = record.checkpoints.filter((c) => !gone.has(c.url));
  const { keepLast, topK } = record.spec.checkpoint;
  if (!keepLast && !topK) kept = kept.slice(-CHECKPOINT_WINDOW);
  const known = new Set(kept.map((c) => c.url));
  record.checkpoints = kept;
  record.scores = (record.scores ?? []).filter((s) => known.has(s.url));
  record.unusable = record.unusable.filter((url) => known.has(url));
}

/** The bounded retention input for the epoch that just finished (which the activity also logs). */
export function retentionInput(record: RunRecord, runName: string, result: EpochResult): RetentionInput {
  return { ...keptByRecord(record, runName, result.ckpt.url), epochLog: result };
}

/**
 * What any retention call is told: the record's checkpoints, the scored ones with their metrics (the
 * epoch ends, or a data-parallel run's round globals), the policy, and the target to keep.
 */
export function keptByRecord(record: RunRecord, runName: string, resumeTarget: string): RetentionInput {
  return {
    runName,
    checkpoints: record.checkpoints,
    epochCheckpoints: (record.scores ?? []).flatMap((s) => {
      const ckpt = record.checkpoints.find((c) => c.url === s.url);
      return ckpt ? [{ ckpt, metrics: s.metrics }] : [];
    }),
    policy: record.spec.checkpoint,
    resumeTarget,
  };
}

/** Milliseconds to wait before resuming after a failure of this kind (the run's streak counts it). */
export function backoffMs(record: RunRecord, kind: RecoveryKind): number {
  return backoffFor(record, kind, streakOf(record));
}

export function streakOf(record: RunRecord): Streak {
  return record.streak ?? NO_STREAK;
}

function addCheckpoint(record: RunRecord, ckpt: CheckpointRef): void {
  record.checkpoints = [...record.checkpoints.filter((c) => c.url !== ckpt.url), ckpt];
}

function countsOf(record: RunRecord): NonNullable<RunRecord['counts']> {
  if (record.counts) return record.counts;
  const counts: NonNullable<RunRecord['counts']> = {};
  for (const r of record.recoveries) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
  return counts;
}
