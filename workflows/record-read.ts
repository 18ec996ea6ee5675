/** Reading the durable record of a training run: counts, the best metric, the one-line summary. */
import type { ParallelRunRecord, RecoveryEvent, RunRecord, RunStatus } from '../src/contract';

/** The one-line story shown as the workflow's current details in the Web UI. */
export function summaryLine(record: RunRecord, status: RunStatus): string {
  const last = record.epochs[record.epochs.length - 1];
  const rounds = (record as ParallelRunRecord).parallel;
  const position = rounds
    ? `round ${rounds.round}/${rounds.rounds} (K=${record.spec.parallel?.shards ?? 1})`
    : `epoch ${epochsDone(record)}/${record.spec.epochs}`;
  const parts = [`${status}`, position];
  if (last?.metrics.loss !== undefined) parts.push(`loss ${last.metrics.loss.toFixed(4)}`);
  const n = totalRecoveries(record);
  if (n) parts.push(`${n} ${n === 1 ? 'recovery' : 'recoveries'}`);
  if (record.position) parts.push(`last checkpoint ${record.position.url}`);
  return parts.join(' · ');
}

/** Finished epochs: the epoch of the last finished one + 1 (the window may hold fewer). */
export function epochsDone(record: RunRecord): number {
  const last = record.epochs[record.epochs.length - 1];
  return last ? last.epoch + 1 : 0;
}

export function countRecoveries(record: RunRecord, kind: RecoveryEvent['kind']): number {
  return record.counts?.[kind] ?? record.recoveries.filter((r) => r.kind === kind).length;
}

export function totalRecoveries(record: RunRecord): number {
  if (!record.counts) return record.recoveries.length;
  return Object.values(record.counts).reduce((sum, n) => sum + (n ?? 0), 0);
}

/** The best monitored value of the run (older records: of the epochs they still hold). */
export function bestMetric(record: RunRecord): number | undefined {
  const values = record.epochs.map((e) => monitored(record, e.metrics));
  return [record.best, ...values].reduce((a, b) => better(record, a, b), undefined);
}

/** The metric the run is ranked by: `topK.monitor`, else `loss`. */
export function monitored(record: RunRecord, metrics: Record<string, number>): number | undefined {
  return metrics[record.spec.checkpoint.topK?.monitor ?? 'loss'];
}

/** The better of two values under the run's mode (`max` for an accuracy, else `min`). */
export function better(record: RunRecord, a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || !Number.isFinite(a)) return b;
  if (b === undefined || !Number.isFinite(b)) return a;
  return record.spec.checkpoint.topK?.mode === 'max' ? Math.max(a, b) : Math.min(a, b);
}
