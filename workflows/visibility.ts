/** What the Temporal Web UI shows of a run: search attributes, memo, and the current-details line. */
import * as wf from '@temporalio/workflow';
import type { RunRecord, RunStatus } from '../src/contract';
import { bestMetric, epochsDone, summaryLine, totalRecoveries } from './record-read';
import { goodputOf } from './goodput';
import { BACKEND, BEST_METRIC, EPOCH, LOSS, RECOVERIES, RUN_NAME, STATUS, TASK } from '../src/contract';

export function publishProgress(record: RunRecord, status: RunStatus): void {
  const last = record.epochs[record.epochs.length - 1];
  const best = bestMetric(record);
  wf.upsertSearchAttributes([
    { key: TASK, value: record.spec.task },
    { key: RUN_NAME, value: record.spec.runName ?? wf.workflowInfo().workflowId },
    { key: STATUS, value: status },
    { key: EPOCH, value: epochsDone(record) },
    { key: RECOVERIES, value: totalRecoveries(record) },
    ...(last?.metrics.loss !== undefined ? [{ key: LOSS, value: last.metrics.loss }] : []),
    ...(best !== undefined ? [{ key: BEST_METRIC, value: best }] : []),
    ...(record.backend ? [{ key: BACKEND, value: record.backend }] : []),
  ]);
  const line = summaryLine(record, status);
  // A data-parallel run records one entry per merged round (workflows/parallel.ts).
  const unit = record.spec.parallel ? 'round' : 'epoch';
  wf.upsertMemo({
    summary: line,
    lastCheckpoint: record.position?.url ?? null,
    recoveries: totalRecoveries(record),
  });
  wf.setCurrentDetails(
    [
      `**${line}**`,
      '',
      ...record.epochs.map((e) => `- ${unit} ${e.epoch}: ${JSON.stringify(e.metrics)} → ${e.ckpt.url}`),
      ...record.recoveries.map(
        (r) =>
          `- ${r.kind} at epoch ${r.atEpoch} batch ${r.atBatch}: resumed from ${r.fromCkpt}` +
          (r.stepsRedone !== undefined ? ` (${r.stepsRedone} steps redone)` : ''),
      ),
      ...(record.skips ?? []).map(
        (w) => `- skipped after a divergence: epoch ${w.epoch} batches ${w.fromBatch}-${w.toBatch}`,
      ),
      ...goodputLines(record),
    ].join('\n'),
  );
}

/** The goodput ledger in one line (data-parallel runs count shard steps). */
function goodputLines(record: RunRecord): string[] {
  const g = goodputOf(record, Date.now());
  if (!g) return [];
  return [
    '',
    `goodput ${(g.ratio * 100).toFixed(1)} %: steps kept ${g.stepsKept} of ${g.stepsTrained}, ${g.stepsRedone} redone`,
  ];
}
