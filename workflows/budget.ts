/**
 * The one recovery-budget rule of the training loop, for an epoch attempt and a data-parallel shard
 * alike (decide.ts, parallel-decide.ts), and the backoff before a resume:
 * - crashes, preemptions and divergence rollbacks count over the whole run (its record's counts);
 * - infrastructure failures and checkpoint fallbacks count in a row (a `Streak`) since the last
 *   progress of what failed (the run's epoch attempt, or one shard in its round): a finished epoch or
 *   round ends both streaks; a newer durable checkpoint ends the infrastructure streak (a fallback
 *   steps back past checkpoints, so only a finished epoch or round ends its streak). Other failures
 *   end neither: a crash between two storage errors is not progress. So an outage of any length that
 *   the backoff outlasts is ridden through, and one that makes no progress fails within the budget.
 * Pure: no Temporal calls, unit tests in test/unit/recovery-budget.test.ts.
 */
import type { RecoveryKind, RunRecord } from '../src/contract';
import { countRecoveries } from './record-read';

/** Infrastructure failures and fallbacks in a row since the last progress. */
export interface Streak {
  infrastructure: number;
  fallback: number;
}

export const NO_STREAK: Streak = { infrastructure: 0, fallback: 0 };

/** The streak after a newer durable checkpoint: the infrastructure failures before it are forgiven. */
export function afterCheckpoint(streak: Streak): Streak {
  return { ...streak, infrastructure: 0 };
}

/** The streak once a failure of `kind` is counted in it. */
export function counted(streak: Streak, kind: RecoveryKind): Streak {
  if (kind === 'infrastructure') return { ...streak, infrastructure: streak.infrastructure + 1 };
  if (kind === 'fallback') return { ...streak, fallback: streak.fallback + 1 };
  return streak;
}

/** A spent budget: its size and what it counts. */
export interface SpentBudget {
  budget: number;
  what: string;
}

/**
 * Whether a failure of `kind` finds its budget spent: `streak` is the one before this failure is
 * counted (after any progress the failure carried), `record` the run's, before this failure is
 * recorded. Undefined: the run may recover.
 */
export function spentBudget(record: RunRecord, kind: RecoveryKind, streak: Streak): SpentBudget | undefined {
  const { recovery, divergence } = record.spec;
  const [budget, used, what] =
    kind === 'crash'
      ? [recovery.maxCrashRecoveries, countRecoveries(record, 'crash'), 'crash']
      : kind === 'preemption'
        ? [recovery.maxPreemptions, countRecoveries(record, 'preemption'), 'preemption']
        : kind === 'divergence'
          ? [divergence?.maxRollbacks ?? 0, countRecoveries(record, 'divergence'), 'divergence rollback']
          : kind === 'fallback'
            ? [recovery.maxFallbacks ?? 3, streak.fallback, 'fallback'] // records from before that budget: 3
            : [recovery.maxInfraRetries, streak.infrastructure, 'consecutive infrastructure'];
  return used >= budget ? { budget, what } : undefined;
}

/** The failure message of a spent budget; `where` names a shard of a round. */
export function budgetMessage(spent: SpentBudget, reason: string, where?: string): string {
  return `${spent.what} budget of ${spent.budget} exhausted${where ? ` at ${where}` : ''}: ${reason}`;
}

/**
 * Milliseconds to wait before resuming: `backoffSeconds`, doubled for each infrastructure failure in
 * a row after the first (`streak` counts this one) up to `maxBackoffSeconds`; other kinds wait
 * `backoffSeconds`.
 */
export function backoffFor(record: RunRecord, kind: RecoveryKind, streak: Streak): number {
  const { backoffSeconds, maxBackoffSeconds } = record.spec.recovery;
  const doublings = kind === 'infrastructure' ? Math.max(0, streak.infrastructure - 1) : 0;
  const cap = Math.max(backoffSeconds, maxBackoffSeconds ?? 60);
  return Math.round(Math.min(backoffSeconds * 2 ** Math.min(doublings, 30), cap) * 1000);
}

/** The run's recent recoveries, for a budget's failure message. */
export function recentRecoveries(record: RunRecord): string {
  return `Recent recoveries: ${record.recoveries.map((r) => `${r.kind}@${r.atEpoch}:${r.atBatch}`).join(', ')}`;
}
