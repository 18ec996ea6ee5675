/**
 * `durable-fit status`: a summary table, the epochs (a data-parallel run: rounds, and its round ×
 * shard grid), the recoveries, and the loss curve.
 */
import * as asciichart from 'asciichart';
import Table from 'cli-table3';
import { formatMetrics } from './narrate';
import type { RunSnapshot } from './run-state';
import type { Goodput, SkippedData } from '../../contract';
import { batchOf, epochMetrics, epochsDone, firstWindowEpoch } from './run-state';
import { isParallel, renderRoundGrid, roundsLine, unitOf } from './round-grid';

/** The JSON that `status --json` prints. */
export function statusJson(s: RunSnapshot, ui: string) {
  const metrics = epochMetrics(s);
  return {
    workflowId: s.workflowId,
    runId: s.runId,
    execution: s.execution,
    status: s.progress?.status ?? s.result?.status ?? s.attributes.status,
    task: s.attributes.task,
    ...(dataset(s) ? { dataset: dataset(s) } : {}),
    epoch: epochsDone(s),
    epochs: s.progress?.epochs ?? (s.result ? epochsDone(s) : undefined),
    lastCheckpoint: s.result?.finalCheckpoint ?? s.progress?.lastCheckpoint,
    metrics,
    recoveries: s.result?.recoveries ?? s.progress?.recoveries ?? [],
    pending: s.pending,
    searchAttributes: s.attributes,
    ...(s.progress?.parallel ? { parallel: s.progress.parallel } : {}),
    ...(s.result?.rounds ? { rounds: s.result.rounds } : {}),
    ...(s.result ? { weightsSha256: s.result.weightsSha256 } : {}),
    ...goodputOf(s),
    ...skippedOf(s),
    ...(s.failure ? { failure: s.failure } : {}),
    startTime: s.startTime,
    closeTime: s.closeTime,
    ui,
  };
}

/** The dataset version a streamed run reads (resolved when it started). */
const dataset = (s: RunSnapshot) => s.result?.dataset ?? s.progress?.dataset;

export function renderStatus(s: RunSnapshot, ui: string, color = false): string {
  const json = statusJson(s, ui);
  const style = color ? {} : { style: { head: [], border: [] } };
  const summary = new Table(style);
  const rows: [string, unknown][] = [
    ['run', s.workflowId],
    ['status', `${json.status ?? '?'} (${s.execution})`],
    ['task', s.attributes.task],
    ['dataset', dataset(s)],
    isParallel(s)
      ? ['rounds', roundsLine(s)]
      : ['epochs', `${json.epoch}${json.epochs !== undefined ? ` / ${json.epochs}` : ''}`],
    ['backend', s.result?.backend ?? s.progress?.backend ?? s.attributes.backend],
    ['loss', s.attributes.loss?.toFixed(4)],
    ['best metric', s.attributes.bestMetric?.toFixed(4)],
    ['recoveries', json.recoveries.length],
    ['goodput', json.goodput && goodputLine(json.goodput)],
    [
      'skipped data',
      json.skipped
        ?.map(
          (w) =>
            `epoch ${w.epoch} batches ${w.fromBatch}-${w.toBatch} (samples ${w.firstSample}-${w.lastSample})`,
        )
        .join('; '),
    ],
    ['last checkpoint', json.lastCheckpoint?.url],
    ['weights sha256', s.result?.weightsSha256],
    ['running', runningLine(s)],
    ['failure', s.failure],
    ['started', s.startTime],
    ['closed', s.closeTime],
    ['UI', ui],
  ];
  for (const [k, v] of rows) if (v !== undefined && v !== '') summary.push({ [k]: String(v) });
  const parts = [summary.toString()];
  if (json.metrics.length) parts.push(epochTable(s, style));
  const grid = renderRoundGrid(s, style);
  if (grid) parts.push(grid);
  const unit = unitOf(s);
  for (const r of json.recoveries)
    parts.push(
      `⟲ ${r.kind} at ${unit} ${r.atEpoch} batch ${r.atBatch}: ${r.reason}\n  resumed from ${r.fromCkpt}` +
        (r.stepsRedone !== undefined ? ` (${r.stepsRedone} steps redone)` : '') +
        (r.site ? ` at ${r.site}` : ''),
    );
  const chart = lossChart(json.metrics, color, 48, unit);
  if (chart) parts.push(chart);
  return parts.join('\n') + '\n';
}

/** Data windows divergence rollbacks skipped, from the result or the progress. */
function skippedOf(s: RunSnapshot): { skipped?: SkippedData[] } {
  const skipped =
    s.result?.skipped ?? (s.progress && 'skipped' in s.progress ? s.progress.skipped : undefined);
  return skipped?.length ? { skipped } : {};
}

/** The run's goodput ledger, from its result or its progress. */
function goodputOf(s: RunSnapshot): { goodput?: Goodput } {
  const goodput =
    s.result?.goodput ?? (s.progress && 'goodput' in s.progress ? s.progress.goodput : undefined);
  return goodput ? { goodput } : {};
}

/** e.g. `97.1 % of 84 s; steps kept 600 of 640 (40 redone: crash 40); lost 6.2 s: detection 2.1, …` */
export function goodputLine(g: Goodput): string {
  const kinds = Object.entries(g.byKind)
    .filter(([, k]) => k.stepsRedone > 0)
    .map(([kind, k]) => `${kind} ${k.stepsRedone}`);
  const lost = g.lostSeconds;
  const lostTotal = lost.detection + lost.recovery + lost.checkpointStall + lost.queueWait;
  return (
    `${(g.ratio * 100).toFixed(1)} % of ${g.wallSeconds.toFixed(0)} s trained productively; ` +
    `steps kept ${g.stepsKept} of ${g.stepsTrained}` +
    (g.stepsRedone ? ` (${g.stepsRedone} redone: ${kinds.join(', ')})` : '') +
    `; lost ${lostTotal.toFixed(1)} s: detection ${lost.detection.toFixed(1)}, recovery ` +
    `${lost.recovery.toFixed(1)}, checkpoint stall ${lost.checkpointStall.toFixed(1)}, queue ${lost.queueWait.toFixed(1)}`
  );
}

function runningLine(s: RunSnapshot): string | undefined {
  const p = s.pending;
  if (!p) return undefined;
  const d = p.details;
  const where = d ? ` epoch ${d.epoch} ${batchOf(d)}` : '';
  return `${p.activityType}${where} on ${p.identity ?? '(waiting for a worker)'}`;
}

function epochTable(s: RunSnapshot, style: Table.TableConstructorOptions): string {
  const metrics = epochMetrics(s);
  const names = [...new Set(metrics.flatMap((m) => Object.keys(m)))];
  const head = [unitOf(s), ...names, ...(s.result ? ['checkpoint'] : [])];
  const table = new Table({ ...style, head });
  const first = firstWindowEpoch(s);
  metrics.forEach((m, i) => {
    const ckpt = s.result?.epochs[i]?.ckpt.url;
    const epoch = s.result?.epochs[i]?.epoch ?? first + i;
    table.push([String(epoch), ...names.map((n) => fmt(m[n])), ...(s.result ? [ckpt ?? ''] : [])]);
  });
  return table.toString();
}

const fmt = (v: number | undefined) => (v === undefined ? '' : formatMetrics({ v }).slice(2));

/** Loss (and validation loss) per epoch, stretched to a readable width. */
export function lossChart(
  metrics: Record<string, number>[],
  color = false,
  width = 48,
  unit = 'epoch',
): string | undefined {
  // Without colours two series cannot be told apart: draw the training loss only.
  const names = (color ? ['loss', 'valLoss'] : ['loss']).filter((n) =>
    metrics.some((m) => m[n] !== undefined),
  );
  if (metrics.length === 0 || names.length === 0) return undefined;
  const series = names.map((n) =>
    stretch(
      metrics.map((m) => m[n] ?? NaN),
      width,
    ),
  );
  const colors = [asciichart.default, asciichart.green];
  const plot = asciichart.plot(series, {
    height: 10,
    ...(color ? { colors: colors.slice(0, series.length) } : {}),
    format: (x: number) => x.toFixed(4).padStart(9),
  });
  const legend = names.map((n, i) => (i === 0 ? `── ${n}` : `── ${n} (green)`)).join('   ');
  return `loss per ${unit} (${unit}s 0..${metrics.length - 1})   ${legend}\n${plot}`;
}

/** Linear interpolation of `values` to `width` points, so a few epochs still draw a curve. */
export function stretch(values: number[], width: number): number[] {
  if (values.length <= 1) return values.length ? new Array<number>(width).fill(values[0]!) : [];
  return Array.from({ length: width }, (_, i) => {
    const x = (i / (width - 1)) * (values.length - 1);
    const lo = Math.floor(x);
    const hi = Math.min(lo + 1, values.length - 1);
    return values[lo]! + (values[hi]! - values[lo]!) * (x - lo);
  });
}
