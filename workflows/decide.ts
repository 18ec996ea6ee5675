/**
 * The training workflow's decisions as pure functions of its record: what the loop does next, and
 * what a failed epoch activity leads to. No Temporal calls here (the caller applies a decision:
 * sleeps, continue-as-new, throws), so every branch has its own unit test
 * (test/unit/workflow-decisions.test.ts). Patches that changed a decision come in as functions.
 */
import type {
  AttemptTiming,
  CheckpointRef,
  ControlState,
  EpochResult,
  RecoveryKind,
  RunRecord,
} from '../src/contract';
import type { FailureClass } from './recovery';
import { isNewer, newestUsable } from './recovery';
import { backoffMs, recordCheckpoint, recordEpoch, recordRecovery, streakOf } from './record-update';
import { afterCheckpoint, budgetMessage, counted, recentRecoveries, spentBudget } from './budget';
import { addAttempt, addFailure, ledgerOf } from './goodput';

/** What the loop does next. */
export type LoopStep =
  | { step: 'complete' }
  | { step: 'stop' }
  | { step: 'wait-while-paused' }
  | { step: 'continue-as-new' }
  | { step: 'train'; epoch: number }
  | { step: 'resume'; epoch: number; from: CheckpointRef; reason: RecoveryKind };

export interface LoopState {
  record: RunRecord;
  controls: ControlState;
  /** Epochs finished since this execution started (continue-as-new counts them afresh). */
  epochsThisExecution: number;
  /** The server suggests continue-as-new (history large). */
  continueAsNewSuggested: boolean;
  /**
   * Patch checks, asked only where the decision depends on them (as `wf.patched` must be: asking
   * records a marker): functions, not booleans.
   */
  patches: {
    /** `stop` ends a paused or recovering run at once (older histories: only between epochs). */
    stopInAnyState(): boolean;
    /** A paused run waits before it would continue-as-new (older histories: after). */
    pauseBeforeContinueAsNew(): boolean;
  };
}

export function nextStep(state: LoopState): LoopStep {
  const { record, controls, patches } = state;
  const epoch = record.position?.epoch ?? 0;
  const step = controlStep({
    done: epoch >= record.spec.epochs,
    controls,
    stopNow: () => !record.resumeReason || patches.stopInAnyState(),
    pauseFirst: patches.pauseBeforeContinueAsNew,
    continueAsNew: () =>
      state.epochsThisExecution >= record.spec.continueAsNewEvery || state.continueAsNewSuggested,
  });
  if (step) return { step };
  if (record.resumeReason && record.position)
    return { step: 'resume', epoch, from: record.position, reason: record.resumeReason };
  return { step: 'train', epoch };
}

/** What a pass of the loop does instead of training, if anything. */
export type ControlStep = 'complete' | 'stop' | 'wait-while-paused' | 'continue-as-new';

/**
 * The controls' part of every pass of the training loop, epochs and rounds alike: a finished run
 * completes; a stop ends it; a paused run waits; a long history continues as new. `stopNow` and
 * `pauseFirst` are asked only when a stop or a pause is there (epoch histories from before a patch
 * answered no: a stop waited for the recovery in flight, a pause came after continue-as-new);
 * undefined: train.
 */
export function controlStep(pass: {
  done: boolean;
  controls: ControlState;
  stopNow: () => boolean;
  pauseFirst: () => boolean;
  continueAsNew: () => boolean;
}): ControlStep | undefined {
  const { controls } = pass;
  if (pass.done) return 'complete';
  if (controls.stopRequested && pass.stopNow()) return 'stop';
  if (controls.paused && pass.pauseFirst()) return 'wait-while-paused';
  if (pass.continueAsNew()) return 'continue-as-new';
  if (controls.paused) return 'wait-while-paused';
  return undefined;
}

/** What a failed epoch activity leads to; `record` is the run's record after the failure. */
export type RecoveryDecision =
  | { action: 'fail'; type: string; message: string }
  /** Paused at a batch boundary: wait for `resume` (no recovery is counted). */
  | { action: 'pause'; record: RunRecord }
  /** Resume at once from an older checkpoint (this one was unusable): no backoff. */
  | { action: 'fall-back'; record: RunRecord }
  /**
   * Resume after `backoffMs` (0: at once). `finished`: the failed attempt had finished its epoch (the
   * completion was lost); it is recorded as any finished epoch, and its log entry is still to write.
   */
  | { action: 'resume'; record: RunRecord; kind: RecoveryKind; backoffMs: number; finished?: EpochResult };

/**
 * Budgets (workflows/budget.ts, the rule shards follow too): crashes and preemptions count over the
 * whole run; infrastructure failures and fallbacks count since the last progress (a finished epoch or
 * a newer durable checkpoint), so an outage of any length that the backoff outlasts is ridden through.
 */
export function decideRecovery(
  current: RunRecord,
  failure: FailureClass,
  epoch: number,
  now?: number,
): RecoveryDecision {
  if (failure.kind === 'fatal') return { action: 'fail', type: failure.type, message: failure.reason };
  const record = copyOf(current);
  // The furthest the attempt is known to have got when it reported nothing itself.
  const reached = Math.max(current.position?.step ?? 0, 'ckpt' in failure ? (failure.ckpt?.step ?? 0) : 0);
  if (failure.kind === 'unusable-checkpoint') return fallBack(record, failure, epoch, now, reached);
  if (failure.kind === 'divergence') return rollBack(record, failure, now);
  const finished = failure.finished?.epoch === epoch ? failure.finished : undefined;
  if (finished) recordEpoch(record, finished);
  else if (failure.ckpt && isNewer(failure.ckpt, record.position)) recordCheckpoint(record, failure.ckpt);
  record.resumeReason = record.position ? failure.kind : undefined;
  if (failure.kind === 'pause') {
    if (now !== undefined) record.ledger = addAttempt(ledgerOf(record, now), failure.attempt);
    return { action: 'pause', record };
  }
  const streak = streakOf(record); // after the progress the failure carried
  if (failure.kind === 'infrastructure') record.streak = counted(streak, 'infrastructure');
  const spent = spentBudget(record, failure.kind, streak);
  if (spent) return budgetFailure(`${budgetMessage(spent, failure.reason)}. ${recentRecoveries(record)}`);
  const backoff = backoffMs(record, failure.kind);
  recordRecovery(record, {
    kind: failure.kind,
    reason: failure.reason,
    atEpoch: epoch,
    atBatch: failure.atBatch ?? (record.position?.epoch === epoch ? record.position.batch : 0),
    fromCkpt: record.position?.url ?? '(fresh start)',
    ...ledgerFailure(record, failure.kind, failure.attempt, reached, now, backoff),
  });
  return {
    action: 'resume',
    record,
    kind: failure.kind,
    backoffMs: backoff,
    ...(finished ? { finished } : {}),
  };
}

/**
 * Adds a failure to the record's ledger (when the workflow passed the time: older callers and unit
 * tests of other decisions do not) and returns what the recovery event shows of it.
 */
function ledgerFailure(
  record: RunRecord,
  kind: RecoveryKind,
  timing: AttemptTiming | undefined,
  reached: number,
  now: number | undefined,
  backoff: number,
): { stepsRedone?: number; detectionSeconds?: number } {
  if (now === undefined) return {};
  const resumeStep = record.position?.step ?? 0;
  const added = addFailure(ledgerOf(record, now), { kind, timing, reached }, resumeStep, now, backoff);
  record.ledger = added.ledger;
  return { stepsRedone: added.stepsRedone, detectionSeconds: added.detectionSeconds };
}

/**
 * The loss diverged at a step: skip the `skipBatches` batches that end with it (within its epoch),
 * and resume from the newest usable checkpoint before that window and at least `rollbackSteps` before
 * the step. Checkpoints inside or after the window are of the diverging stretch: never resumed from
 * again. Rollbacks have their own budget over the whole run; no backoff.
 */
function rollBack(
  record: RunRecord,
  failure: Extract<FailureClass, { kind: RecoveryKind }>,
  now: number | undefined,
): RecoveryDecision {
  const policy = record.spec.divergence;
  const at = failure.diverged;
  if (!policy || !at) return { action: 'fail', type: 'DivergedError', message: failure.reason };
  const spent = spentBudget(record, 'divergence', streakOf(record));
  if (spent) {
    return budgetFailure(
      `${budgetMessage(spent, failure.reason)}. Skipped so far: ` +
        `${(record.skips ?? []).map((w) => `epoch ${w.epoch} batches ${w.fromBatch}-${w.toBatch}`).join(', ') || 'none'}. ` +
        'Lower the learning rate, or raise divergence.skipBatches or rollbackSteps, and resume from a checkpoint before the divergence.',
    );
  }
  // The window is fixed by the step alone, so a rerun skips the same data whichever checkpoint it
  // rolls back to; the checkpoint is the newest one before both the window and `rollbackSteps`.
  const fromBatch = Math.max(at.batch - policy.skipBatches + 1, 0);
  const skipStart = at.step - (at.batch - fromBatch);
  const known = [...record.checkpoints, ...(failure.saved ?? []), ...(failure.ckpt ? [failure.ckpt] : [])];
  const limit = Math.min(at.step - policy.rollbackSteps, skipStart);
  const target = newestUsable(
    known.filter((c) => c.step <= limit),
    record.unusable,
  );
  if (!target && record.spec.resumeFrom) {
    return {
      action: 'fail',
      type: 'NoValidCheckpointError',
      message: `${failure.reason}, and no checkpoint of this run is ${policy.rollbackSteps} steps before it: resume from an earlier .ckpt (durable-fit ckpt ls <run>).`,
    };
  }
  // Checkpoints past the start of the window hold batches the run now skips: another lineage.
  const diverging = known.filter((c) => c.step > skipStart).map((c) => c.url);
  record.unusable = [...new Set([...record.unusable, ...diverging])];
  const { batchSize } = record.spec;
  const window = {
    epoch: at.epoch,
    fromBatch,
    toBatch: at.batch,
    firstSample: fromBatch * batchSize,
    lastSample: (at.batch + 1) * batchSize - 1,
  };
  record.skips = [...(record.skips ?? []), window];
  if (target && !record.checkpoints.some((c) => c.url === target.url))
    record.checkpoints = [...record.checkpoints, target]; // retention must know what the run resumes
  record.position = target;
  record.resumeReason = target ? 'divergence' : undefined;
  record.streak = afterCheckpoint(streakOf(record)); // another lineage: its own progress
  recordRecovery(record, {
    kind: 'divergence',
    reason: `${failure.reason}; rolled back and skipping epoch ${at.epoch} batches ${fromBatch}-${at.batch}`,
    atEpoch: at.epoch,
    atBatch: at.batch,
    fromCkpt: target?.url ?? '(fresh start: no checkpoint before the divergence)',
    ...ledgerFailure(record, 'divergence', failure.attempt, at.step + 1, now, 0),
  });
  return { action: 'resume', record, kind: 'divergence', backoffMs: 0 };
}

/** The checkpoint the attempt started from is unusable: mark it and resume from an older one. */
function fallBack(
  record: RunRecord,
  failure: Extract<FailureClass, { kind: 'unusable-checkpoint' }>,
  epoch: number,
  now: number | undefined,
  reached: number,
): RecoveryDecision {
  const { reason } = failure;
  const bad = record.position;
  if (!bad) return { action: 'fail', type: 'CheckpointCorruptError', message: reason };
  const streak = streakOf(record);
  const spent = spentBudget(record, 'fallback', streak);
  if (spent) {
    return budgetFailure(
      `${budgetMessage(spent, reason)}. Checkpoints found unusable: ` +
        `${[...record.unusable, bad.url].join(', ')}. Check the object store, then start a new run ` +
        `with resumeFrom set to a checkpoint you trust (durable-fit ckpt ls <run>).`,
    );
  }
  record.streak = counted(streak, 'fallback');
  record.unusable = [...record.unusable, bad.url];
  record.position = newestUsable(record.checkpoints, record.unusable);
  if (!record.position && record.spec.resumeFrom) {
    return {
      action: 'fail',
      type: 'NoValidCheckpointError',
      message: `no usable checkpoint left: ${reason}. Point resumeFrom at another .ckpt (durable-fit ckpt ls <run>).`,
    };
  }
  const fromCkpt = record.position?.url ?? '(fresh start: no earlier checkpoint)';
  recordRecovery(record, {
    kind: 'fallback',
    reason,
    atEpoch: epoch,
    atBatch: bad.batch,
    fromCkpt,
    ...ledgerFailure(record, 'fallback', failure.attempt, reached, now, 0),
  });
  record.resumeReason = record.position ? 'fallback' : undefined;
  return { action: 'fall-back', record };
}

function budgetFailure(message: string): RecoveryDecision {
  return { action: 'fail', type: 'RecoveryBudgetExhaustedError', message };
}

/** A copy whose fields the record updates may replace without touching the caller's record. */
function copyOf(record: RunRecord): RunRecord {
  return { ...record, checkpoints: [...record.checkpoints], unusable: [...record.unusable] };
}
