/**
 * The one training loop of `trainModel`, for every kind of run: what each pass decides (complete,
 * stop, wait while paused, continue as new, or train) and the parts every kind shares: the loop
 * guard, the pause wait (left out of the goodput ledger's wall time), continue-as-new carrying the
 * record and the controls, the final status, and retention whose failure is a warning. What one
 * pass trains is the strategy's: an epoch attempt and its recovery (epochs.ts), or a round of shard
 * attempts and their merge (parallel.ts). Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type { ControlState, RetentionInput, RunRecord, RunStatus, TrainingResult } from '../src/contract';
import { loopGuard } from './loop-guard';
import { recordRetention, recordWarning } from './record-update';
import { addPaused, ledgerOf } from './goodput';

/** What the loop shares with its strategy: the live record and controls, and how to publish. */
export interface Loop<R extends RunRecord = RunRecord> {
  record: R;
  controls: ControlState;
  workflowId: string;
  publish(status: RunStatus): void;
}

/** What a pass of the loop does next; `train` carries the strategy's own work item. */
export type Pass<W> = 'complete' | 'stop' | 'wait-while-paused' | 'continue-as-new' | { train: W };

/** The per-kind part of the loop. */
export interface LoopStrategy<W> {
  /** The loop as the strategy publishes it (a data-parallel run shows its rounds). */
  loop: Loop;
  /** Called at the top of every pass, before `next`. */
  beforePass?(): void;
  /** What this pass does: asked once per pass (patch checks inside it record markers). */
  next(): Pass<W>;
  /** Trains one item: `stopped` when a stop ended it inside (the run ends stopped). */
  train(work: W): Promise<'stopped' | undefined>;
  /** The run's result once the loop ended completed or stopped. */
  result(status: 'completed' | 'stopped'): TrainingResult;
}

export type LoopOutcome = 'completed' | 'stopped' | 'continue-as-new';

/** Runs passes until the run completes, stops, or should continue as new (the caller does that). */
export async function runLoop<W>(strategy: LoopStrategy<W>): Promise<LoopOutcome> {
  const guard = loopGuard();
  for (;;) {
    guard(); // every pass must have waited for something: a busy loop would take down the worker
    strategy.beforePass?.();
    const next = strategy.next();
    if (next === 'complete') return 'completed';
    if (next === 'stop') return 'stopped';
    if (next === 'continue-as-new') return 'continue-as-new';
    if (next === 'wait-while-paused') await waitWhilePaused(strategy.loop);
    else if ((await strategy.train(next.train)) === 'stopped') return 'stopped';
  }
}

/** Waits for `resume` (or `stop`); the time paused is left out of the ledger's wall time. */
async function waitWhilePaused({ record, controls, publish }: Loop): Promise<void> {
  const pausedAt = Date.now();
  publish('paused');
  await wf.condition(() => !controls.paused || controls.stopRequested);
  record.ledger = addPaused(ledgerOf(record, pausedAt), Date.now() - pausedAt);
  publish('running');
}

/**
 * Before continue-as-new: every handler has finished, and the controls travel in the record (a
 * pause, stop or checkpoint-now must survive the new run).
 */
export async function beforeContinueAsNew({ record, controls }: Loop): Promise<void> {
  await wf.condition(wf.allHandlersFinished);
  record.controls = { ...controls };
}

/**
 * Retention (`apply` calls the activity): the record forgets what it deleted. A failure is a warning
 * in the record, not a reason to fail the training, unless `failureIsAWarning` says no (histories
 * from before that).
 */
export async function retainOrWarn(
  record: RunRecord,
  input: RetentionInput,
  after: string,
  apply: (input: RetentionInput) => Promise<{ deleted: string[] }>,
  failureIsAWarning: () => boolean = () => true,
): Promise<void> {
  try {
    const { deleted } = await apply(input);
    recordRetention(record, deleted);
  } catch (err) {
    if (!failureIsAWarning()) throw err;
    const message = `retention after ${after} failed: ${messageOf(err)}`;
    wf.log.warn(message);
    recordWarning(record, message);
    recordRetention(record, []);
  }
}

export function messageOf(err: unknown): string {
  const cause = err instanceof wf.ActivityFailure ? (err.cause ?? err) : err;
  return cause instanceof Error ? cause.message : String(cause);
}
