/**
 * The data-parallel workflow's decisions as pure functions (like decide.ts): what happens between
 * rounds, what a failed shard leads to, and how a finished round is recorded. No Temporal calls here;
 * unit tests in test/unit/parallel-decide.test.ts.
 */
import type {
  AggregateResult,
  AttemptTiming,
  CheckpointRef,
  ControlState,
  ParallelProgress,
  ParallelRunRecord,
  RecoveryKind,
  RetentionInput,
  RoundLog,
  ShardResult,
} from '../src/contract';
import { keptByRecord, recordCheckpoint, recordEpoch, recordRecovery, recordWarning } from './record-update';
import type { ControlStep } from './decide';
import { controlStep } from './decide';
import type { FailureClass } from './recovery';
import { isNewer } from './recovery';
import type { SpentBudget, Streak } from './budget';
import { afterCheckpoint, backoffFor, budgetMessage, counted, recentRecoveries, spentBudget } from './budget';
import type { PendingRecovery } from './goodput';
import { addShardFailure, ledgerOf } from './goodput';

/** Rounds kept in the record (the result's `rounds`). */
export const ROUND_WINDOW = 20;

export type RoundStep = ControlStep | 'train';

/**
 * What happens before the next round: the loop's control step (decide.ts; a data-parallel run has
 * no history from before its patches: a stop ends it at once, a pause waits before continue-as-new).
 */
export function nextRoundStep(
  progress: ParallelProgress,
  controls: ControlState,
  roundsThisRun: number,
  continueAt: number,
  continueAsNewSuggested: boolean,
): RoundStep {
  const step = controlStep({
    done: progress.round >= progress.rounds,
    controls,
    stopNow: () => true,
    pauseFirst: () => true,
    continueAsNew: () => roundsThisRun >= continueAt || continueAsNewSuggested,
  });
  return step ?? 'train';
}

/** Where a shard is when it failed: the checkpoint its attempt started from, if not the round's start. */
export interface ShardAttempt {
  round: number;
  shard: number;
  resumeFrom?: CheckpointRef;
  /** Infrastructure failures of this shard in a row since its last progress (workflows/budget.ts). */
  infraStreak: number;
  /** Fallbacks of this shard in its round (absent: none). */
  fallbackStreak?: number;
  /**
   * The run's one budget rule (workflows/budget.ts; absent: it). `false` replays histories from
   * before it (patch `one-recovery-budget-rule`): a shard's infrastructure streak ignored progress
   * and ended at any other failure, and fallbacks had no budget.
   */
  oneBudgetRule?: boolean;
  /**
   * The step every shard's cursor is at when the round starts (the round's global checkpoint's):
   * where a shard with no checkpoint in the round resumes. Absent (older callers): no ledger entry.
   */
  roundStep?: number;
  /** The failure the failed attempt had resumed from: its wait was that failure's recovery. */
  pending?: PendingRecovery;
}

export type ShardDecision =
  | { action: 'fail'; type: string; message: string }
  | {
      action: 'resume';
      /** Undefined: from the round's start (global weights + previous result). */
      from?: CheckpointRef;
      kind: RecoveryKind;
      backoffMs: number;
      /** The shard's streaks, this failure counted: its next attempt's `ShardAttempt`. */
      infraStreak: number;
      fallbackStreak: number;
      /** Steps of the shard trained past `from` by the failed attempt (the next attempt's input). */
      stepsRedone?: number;
      /** This failure, until the shard's next attempt reports its recovery time (the ledger). */
      pending?: PendingRecovery;
    };

/**
 * A failed shard resumes alone, from its newest durable checkpoint in the round (the failure's, or
 * the one it started from), else from the round's start. Budgets follow the run's one rule
 * (workflows/budget.ts): crashes and preemptions over the whole run; infrastructure failures and
 * fallbacks in a row per shard, since its last progress (a newer checkpoint of the round ends the
 * infrastructure streak; a finished round, both: the next round starts the shard afresh). Records
 * the recovery and, given the time (`now`) and the round's start step, adds the failure to the run's
 * ledger: the steps the attempt trained past where the shard resumes are redone.
 */
export function decideShardRecovery(
  record: ParallelRunRecord,
  failure: FailureClass,
  at: ShardAttempt,
  now?: number,
): ShardDecision {
  if (failure.kind === 'fatal') return { action: 'fail', type: failure.type, message: failure.reason };
  const where = `shard ${at.shard} of round ${at.round}`;
  const streak: Streak = { infrastructure: at.infraStreak, fallback: at.fallbackStreak ?? 0 };
  const oneRule = at.oneBudgetRule ?? true;
  if (failure.kind === 'unusable-checkpoint') {
    if (!at.resumeFrom)
      return { action: 'fail', type: 'CheckpointCorruptError', message: `${where}: ${failure.reason}` };
    const spent = oneRule ? spentBudget(record, 'fallback', streak) : undefined;
    if (spent) return budgetFailure(record, spent, failure.reason, where);
    const after = oneRule ? counted(streak, 'fallback') : streak;
    // Back to the round's start: the steps up to the unusable checkpoint are trained again.
    const lost = shardLedger(
      record,
      'fallback',
      failure.attempt,
      at.resumeFrom.step,
      at,
      at.roundStep,
      now,
      0,
    );
    recordRecovery(record, {
      ...event('fallback', failure.reason, at, at.resumeFrom.batch, '(round start)'),
      ...lost.event,
    });
    return {
      action: 'resume',
      kind: 'fallback',
      backoffMs: 0,
      infraStreak: after.infrastructure,
      fallbackStreak: after.fallback,
      ...lost.next,
    };
  }
  const kind: RecoveryKind = failure.kind === 'pause' ? 'preemption' : failure.kind;
  const from = newestInRound(failure.ckpt, at.resumeFrom, at.round);
  // Progress: the failed attempt saved a checkpoint of the round newer than the one it started from.
  const progressed = from !== undefined && isNewer(from, at.resumeFrom);
  const before = progressed && oneRule ? afterCheckpoint(streak) : streak;
  const spent = spentBudget(record, kind, before);
  if (spent) return budgetFailure(record, spent, failure.reason, where);
  const after = oneRule || kind === 'infrastructure' ? counted(before, kind) : afterCheckpoint(before);
  const backoff = backoffFor(record, kind, after);
  const resumeStep = from?.step ?? at.roundStep;
  const lost = shardLedger(record, kind, failure.attempt, from?.step ?? 0, at, resumeStep, now, backoff);
  // Where the attempt was: its report's batch, else (a stop at a batch boundary reports none) how far
  // it says it trained, else the checkpoint it resumes from.
  const atBatch = failure.atBatch ?? lost.atBatch ?? from?.batch ?? 0;
  recordRecovery(record, {
    ...event(kind, failure.reason, at, atBatch, from?.url ?? '(round start)'),
    ...lost.event,
  });
  return {
    action: 'resume',
    ...(from ? { from } : {}),
    kind,
    backoffMs: backoff,
    infraStreak: after.infrastructure,
    fallbackStreak: after.fallback,
    ...lost.next,
  };
}

function budgetFailure(record: ParallelRunRecord, spent: SpentBudget, reason: string, where: string) {
  const message = `${budgetMessage(spent, reason, where)}. ${recentRecoveries(record)}`;
  return { action: 'fail' as const, type: 'RecoveryBudgetExhaustedError', message };
}

/**
 * Adds a shard's failure to the run's ledger (when the workflow passed the time and the round's start
 * step: older callers do not): `known` is the furthest the attempt is known to have got without its
 * own report, `resumeStep` where the shard resumes. Returns what the recovery event shows, what the
 * decision carries to the shard's next attempt, and the batch of the round the attempt reached.
 */
function shardLedger(
  record: ParallelRunRecord,
  kind: RecoveryKind,
  timing: AttemptTiming | undefined,
  known: number,
  at: ShardAttempt,
  resumeStep: number | undefined,
  now: number | undefined,
  backoff: number,
): {
  event: { stepsRedone?: number; detectionSeconds?: number };
  next: { stepsRedone?: number; pending?: PendingRecovery };
  atBatch?: number;
} {
  if (now === undefined || resumeStep === undefined || at.roundStep === undefined)
    return { event: {}, next: {} };
  const reached = Math.max(known, resumeStep);
  const added = addShardFailure(
    ledgerOf(record, now),
    { kind, timing, reached },
    at.pending,
    resumeStep,
    now,
    backoff,
  );
  record.ledger = added.ledger;
  const { stepsRedone, detectionSeconds } = added;
  return {
    event: { stepsRedone, detectionSeconds },
    next: { stepsRedone, pending: added.pending },
    ...(timing ? { atBatch: Math.max(timing.reachedStep, reached) - at.roundStep } : {}),
  };
}

/** Records round 0's global checkpoint and the run's round count. */
export function recordInit(record: ParallelRunRecord, init: AggregateResult): ParallelProgress {
  recordCheckpoint(record, init.ckpt);
  record.backend = init.backend;
  return { round: 0, rounds: init.rounds ?? 0, global: init.ckpt, previous: [], log: [] };
}

/** Records a merged round: the next global checkpoint becomes the run's position. */
export function recordRound(
  record: ParallelRunRecord,
  merged: AggregateResult,
  shards: readonly ShardResult[],
  recoveries: readonly number[],
  timing: { roundMs: number; mergeMs: number },
): void {
  const progress = record.parallel;
  if (!progress) throw new Error('recordRound before initParallel');
  recordEpoch(record, {
    epoch: merged.round,
    step: merged.ckpt.step,
    ckpt: merged.ckpt,
    metrics: merged.metrics,
    weightsSha256: merged.weightsSha256,
    backend: merged.backend,
    durationMs: timing.roundMs,
  });
  const log: RoundLog = {
    round: merged.round,
    ckpt: merged.ckpt.url,
    shards: shards.map((s, i) => ({
      shard: s.shard,
      ckpt: s.ckpt.url,
      worker: s.worker,
      recoveries: recoveries[i] ?? 0,
    })),
    roundMs: timing.roundMs,
    shardMs: Math.max(0, ...shards.map((s) => s.durationMs)),
    mergeMs: timing.mergeMs,
    mergeBytes: merged.bytesMoved,
  };
  record.parallel = {
    ...progress,
    round: merged.round + 1,
    global: merged.ckpt,
    previous: shards.map((s) => s.ckpt),
    log: [...progress.log, log].slice(-ROUND_WINDOW),
  };
}

/**
 * A run stopped inside a round: its position stays the round's global checkpoint; the warning names
 * what each shard had saved in the round (the resume point is the round's start plus these).
 */
export function recordStoppedRound(
  record: ParallelRunRecord,
  round: number,
  shards: readonly (CheckpointRef | undefined)[],
): void {
  const saved = shards.map((c, s) => `shard ${s}: ${c?.url ?? '(round start)'}`).join(', ');
  const global = record.parallel?.global.url ?? '(none)';
  recordWarning(record, `stopped inside round ${round}; resume point ${global} plus ${saved}`);
}

/** The newer of two shard checkpoints, counting only those of this round. */
export function newestInRound(
  a: CheckpointRef | undefined,
  b: CheckpointRef | undefined,
  round: number,
): CheckpointRef | undefined {
  const ofRound = [a, b].filter((c): c is CheckpointRef => c !== undefined && c.epoch === round);
  return ofRound.reduce<CheckpointRef | undefined>(
    (best, c) => (!best || c.step > best.step ? c : best),
    undefined,
  );
}

function event(kind: RecoveryKind, reason: string, at: ShardAttempt, atBatch: number, fromCkpt: string) {
  return { kind, reason: `shard ${at.shard}: ${reason}`, atEpoch: at.round, atBatch, fromCkpt };
}

/**
 * Retention input after a merged round: round globals are the run's epoch ends (ranked by the merged
 * metrics); the new global is the resume target; the shards' results the next round needs are kept.
 */
export function parallelRetentionInput(record: ParallelRunRecord, runName: string): RetentionInput {
  const progress = record.parallel;
  if (!progress) throw new Error('parallelRetentionInput before initParallel');
  return {
    ...keptByRecord(record, runName, progress.global.url),
    parallel: { keep: progress.previous.map((c) => c.url) },
  };
}
